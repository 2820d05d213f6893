package inventory

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// The tests here take the inventory's rules at their edges: a time equal
// to a limit, a reason that changes while the site does not, a VM that
// leaves and comes back.

func TestHostReasonChangesWhileUnplaced(t *testing.T) {
	var logs bytes.Buffer
	inv := stretched()
	inv.log = slog.New(slog.NewTextHandler(&logs, nil))
	inv.Apply([]types.ObjectUpdate{hostEnter(ha1, "esx-a1"), hostEnter(hNew, "esx-new"),
		groups([]types.ManagedObjectReference{ha1}, nil)}, t0)
	if h := inv.Hosts()[1]; h.Site != "" || h.Why != "in no DRS host group" {
		t.Fatalf("host %+v, want esx-new in no group", h)
	}
	for _, want := range []string{`level=WARN msg="host not placed at any site: its VMs keep their last known site" host=esx-new`,
		`level=INFO msg="host placed" host=esx-a1 cluster=stretched site=A`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	// Still unplaced, for another reason: status says the new one.
	inv.Apply([]types.ObjectUpdate{groups([]types.ManagedObjectReference{ha1, hNew}, []types.ManagedObjectReference{hNew})}, t0.Add(time.Minute))
	if h := inv.Hosts()[1]; h.Site != "" || h.Why != `in DRS host groups ["hosts-a" "hosts-b"] of sites A and B: ambiguous` {
		t.Errorf("host %+v, want esx-new ambiguous", h)
	}
}

func TestGuestGraceEndsAfterItsLength(t *testing.T) {
	inv, change := placed(t, guestNet(ip("192.0.2.10", "preferred", "manual")))
	change(t0.Add(time.Minute), types.PropertyChange{Name: "guest.net", Val: types.ArrayOfGuestNicInfo{}})
	inv.Apply(nil, t0.Add(time.Minute+opts.GuestGrace))
	if got := addrsOf(t, inv); got != "[192.0.2.10]" {
		t.Errorf("at the end of the grace: %s, want the address kept", got)
	}
	inv.Apply(nil, t0.Add(time.Minute+opts.GuestGrace+time.Nanosecond))
	if got := addrsOf(t, inv); got != "[]" {
		t.Errorf("past the grace: %s, want none", got)
	}
}

func TestEmptyGuestNetOfAVMWithoutAddresses(t *testing.T) {
	inv, change := placed(t)
	change(t0.Add(time.Minute), types.PropertyChange{Name: "guest.net", Val: types.ArrayOfGuestNicInfo{}})
	if f := inv.Flags(); len(f.ToolsSilent) != 0 {
		t.Errorf("flags %+v: a VM that never had an address is not silent", f)
	}
}

func TestLandingEventsAtTheEdgeOfTheirAge(t *testing.T) {
	event := migrated
	for _, tt := range []struct {
		name       string
		held, move time.Duration // after the event: a batch without the move, then the move
	}{
		{"kept over a batch within its age", eventAge / 2, eventAge * 3 / 4},
		{"kept over a batch at its age", eventAge, eventAge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv, _ := placed(t)
			at := t0.Add(time.Minute)
			inv.Apply([]types.ObjectUpdate{event(at)}, at)
			inv.Apply(nil, at.Add(tt.held))
			inv.Apply(move(h2), at.Add(tt.move))
			if got := inv.Snapshot()["cl-b"][0].LandedAt; !got.Equal(at) {
				t.Errorf("landed at %v, want the event's %v", got, at)
			}
		})
	}
}

func TestDuplicateUUIDReportsTheSameVMEveryTime(t *testing.T) {
	// The map of VMs is read in random order: repeat to see every order.
	for range 30 {
		inv, _ := placed(t, guestNet(ip("192.0.2.10", "preferred", "manual")))
		running := vmEnter(h1)
		running.Obj = ref("VirtualMachine", "vm-2") // a running copy, above vm-1
		running.ChangeSet[1].Val = "web-1-copy"
		off := vmEnter(h1)
		off.Obj = ref("VirtualMachine", "vm-0") // a powered-off copy, below vm-1
		off.ChangeSet[1].Val = "web-1-off"
		off.ChangeSet[3].Val = types.VirtualMachinePowerStatePoweredOff
		inv.Apply([]types.ObjectUpdate{running, off}, t0.Add(time.Minute))
		if vms := inv.Snapshot()["cl-a"]; len(vms) != 1 || vms[0].Name != "web-1" {
			t.Fatalf("snapshot %+v, want web-1 (vm-1): running, and the lowest running object", vms)
		}
	}
}

func TestManagedByChanges(t *testing.T) {
	inv, change := placed(t)
	change(t0.Add(time.Minute), types.PropertyChange{Name: "config.managedBy.extensionKey", Val: "com.vmware.vcDr"})
	if d := inv.Dirty()[vm1]; !slices.Equal(d, []string{"config.managedBy"}) {
		t.Errorf("dirty %v after a change to a part of config.managedBy, want it read again", d)
	}
	change(t0.Add(2*time.Minute), types.PropertyChange{Name: "config.managedBy", Val: &types.ManagedByInfo{ExtensionKey: "com.vmware.vcDr"}})
	if why := inv.vms[vm1].copyOf(); why != "managed" {
		t.Errorf("with a pointer to ManagedByInfo: %q, want managed", why)
	}
	change(t0.Add(3*time.Minute), types.PropertyChange{Name: "config.managedBy", Val: (*types.ManagedByInfo)(nil)})
	if why := inv.vms[vm1].copyOf(); why != "" {
		t.Errorf("with a nil ManagedByInfo: %q, want no copy", why)
	}
}

func TestLeavingAndComingBackIsALanding(t *testing.T) {
	inv, _ := placed(t)
	inv.Apply([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindLeave}}, t0.Add(time.Minute))
	if vms := inv.Snapshot()["cl-a"]; len(vms) != 0 {
		t.Fatalf("a VM that left is reported: %+v", vms)
	}
	inv.Apply([]types.ObjectUpdate{vmEnter(h1)}, t0.Add(2*time.Minute))
	if vms := inv.Snapshot()["cl-a"]; len(vms) != 1 || !vms[0].LandedAt.Equal(t0.Add(2*time.Minute)) || inv.Landed != 1 {
		t.Errorf("coming back: %+v (%d landings), want a landing at %v", vms, inv.Landed, t0.Add(2*time.Minute))
	}
}

func TestLeavingToAnUnwatchedHostBeforeTheFirstSync(t *testing.T) {
	// The unwatched host is known (hOut, of another cluster) before the
	// first sync completes: the VM left all the same.
	inv := newInv()
	inv.Apply(append(hosts(), vmEnter(h1)), t0)
	inv.Apply(move(hOut), t0.Add(time.Minute))
	inv.Apply(move(h1), t0.Add(2*time.Minute))
	if vms := inv.Snapshot()["cl-a"]; len(vms) != 1 || !vms[0].LandedAt.Equal(t0.Add(2*time.Minute)) || inv.Landed != 1 {
		t.Errorf("coming back: %+v (%d landings), want a landing at %v", vms, inv.Landed, t0.Add(2*time.Minute))
	}
}

func TestDeviceKeys(t *testing.T) {
	for name, want := range map[string]int32{
		"config.hardware.device[2000].backing": 2000,
		"config.hardware.device[4000]":         4000,
		"config.hardware.device":               -1,
		"config.hardware.device[":              -1,
		"config.hardware.device[x].backing":    -1,
		"config.hardware.device[].backing":     -1,
		"guest.net[0]":                         -1,
	} {
		if got := deviceKey(name); got != want {
			t.Errorf("deviceKey(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestAHostRemovedAndAddedBackLandsNothing(t *testing.T) {
	inv, _ := placed(t)
	before := inv.Snapshot()["cl-a"]
	// The host is removed from vCenter: it and its VM leave.
	inv.Apply([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindLeave}, {Obj: h1, Kind: types.ObjectUpdateKindLeave}}, t0.Add(time.Minute))
	if got := inv.Snapshot()["cl-a"]; fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("host removed: %+v, want web-1 reported as it was: %+v", got, before)
	}
	// Added back: new managed-object IDs for the host and the VM.
	h1b, vm1b := ref("HostSystem", "h1-new"), ref("VirtualMachine", "vm-1-new")
	back := vmEnter(h1b)
	back.Obj = vm1b
	inv.Apply([]types.ObjectUpdate{{Obj: h1b, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx1"}, {Name: "parent", Val: clA}}}, back},
		t0.Add(3*time.Minute))
	if got := inv.Snapshot()["cl-a"]; len(got) != 1 || !got[0].LandedAt.Equal(before[0].LandedAt) || inv.Landed != 0 {
		t.Errorf("host added back: %+v (%d landings), want web-1 as it was, not landed", got, inv.Landed)
	}
	// Removed for longer than the grace: gone, and its return lands.
	inv.Apply([]types.ObjectUpdate{{Obj: vm1b, Kind: types.ObjectUpdateKindLeave}, {Obj: h1b, Kind: types.ObjectUpdateKindLeave}}, t0.Add(4*time.Minute))
	inv.Apply(nil, t0.Add(4*time.Minute+HostGrace))
	if got := inv.Snapshot()["cl-a"]; len(got) != 1 {
		t.Errorf("host gone for exactly the grace: %+v, want web-1 still reported", got)
	}
	inv.Apply(nil, t0.Add(4*time.Minute+HostGrace+time.Second))
	if got := inv.Snapshot()["cl-a"]; len(got) != 0 {
		t.Errorf("host gone past the grace: %+v still reported", got)
	}
	inv.Apply(append(hosts(), vmEnter(h1)), t0.Add(20*time.Minute))
	if got := inv.Snapshot()["cl-a"]; len(got) != 1 || !got[0].LandedAt.Equal(t0.Add(20*time.Minute)) || inv.Landed != 1 {
		t.Errorf("back after the grace: %+v (%d landings), want a landing", got, inv.Landed)
	}
}

func TestAHostRemovedOverPagesParksItsVMs(t *testing.T) {
	// vCenter pages the removal: the VM leaves on one page, its host on
	// the next. The VM is reported as it was meanwhile, and parked.
	inv, _ := placed(t)
	before := inv.Snapshot()["cl-a"]
	inv.ApplyPage([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindLeave}}, t0.Add(time.Minute))
	if got := inv.Snapshot()["cl-a"]; fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("between the pages: %+v, want web-1 reported as it was: %+v", got, before)
	}
	inv.Apply([]types.ObjectUpdate{{Obj: h1, Kind: types.ObjectUpdateKindLeave}}, t0.Add(time.Minute))
	if got := inv.Snapshot()["cl-a"]; fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("after the last page: %+v, want web-1 parked as it was: %+v", got, before)
	}
	back := vmEnter(h1)
	back.Obj = ref("VirtualMachine", "vm-1-new")
	inv.Apply([]types.ObjectUpdate{hosts()[0], back}, t0.Add(2*time.Minute))
	if got := inv.Snapshot()["cl-a"]; len(got) != 1 || !got[0].LandedAt.Equal(before[0].LandedAt) || inv.Landed != 0 {
		t.Errorf("added back: %+v (%d landings), want web-1 as it was, not landed", got, inv.Landed)
	}
}

func TestAVMThatLeavesAndComesBackWithinAnAnswerStays(t *testing.T) {
	inv, _ := placed(t)
	before := inv.Snapshot()["cl-a"]
	inv.ApplyPage([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindLeave}}, t0.Add(time.Minute))
	inv.Apply([]types.ObjectUpdate{vmEnter(h1)}, t0.Add(time.Minute))
	inv.Apply(nil, t0.Add(2*time.Minute))
	if got := inv.Snapshot()["cl-a"]; len(got) != 1 || !got[0].LandedAt.Equal(before[0].LandedAt) || inv.Landed != 0 {
		t.Errorf("%+v (%d landings), want web-1 as it was, not landed", got, inv.Landed)
	}
}

func TestAVMDeletedFromAHostThatStaysLeavesAtOnce(t *testing.T) {
	inv, _ := placed(t)
	inv.Apply([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindLeave}}, t0.Add(time.Minute))
	if got := inv.Snapshot()["cl-a"]; len(got) != 0 {
		t.Errorf("deleted: %+v still reported", got)
	}
}

func TestAParkedVMSeenElsewhereIsNoLongerReportedWhereItWas(t *testing.T) {
	inv, _ := placed(t)
	if len(inv.Snapshot()["cl-a"]) != 1 { // as the watcher takes one after every batch
		t.Fatal("web-1 is not reported at A")
	}
	inv.Apply([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindLeave}, {Obj: h1, Kind: types.ObjectUpdateKindLeave}}, t0.Add(time.Minute))
	inv.Apply([]types.ObjectUpdate{vmEnter(hOut)}, t0.Add(2*time.Minute))
	if got := inv.Snapshot()["cl-a"]; len(got) != 0 {
		t.Errorf("seen on a host outside the watched clusters: %+v still reported at A", got)
	}
}
