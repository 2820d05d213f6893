package inventory

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

var (
	clA, clB     = ref("ClusterComputeResource", "c-a"), ref("ClusterComputeResource", "c-b")
	h1, h2, hOut = ref("HostSystem", "h1"), ref("HostSystem", "h2"), ref("HostSystem", "h-out")
	vm1          = ref("VirtualMachine", "vm-1")
	t0           = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
)

func ref(typ, v string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: typ, Value: v}
}

func newInv() *Inventory {
	return New(map[types.ManagedObjectReference]Cluster{clA: {Name: "cl-a", Site: "A"}, clB: {Name: "cl-b", Site: "B"}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func hosts() []types.ObjectUpdate {
	return []types.ObjectUpdate{
		{Obj: h1, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx1"}, {Name: "parent", Val: clA}}},
		{Obj: h2, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx2"}, {Name: "parent", Val: clB}}},
		{Obj: hOut, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx9"}, {Name: "parent", Val: ref("ClusterComputeResource", "other")}}},
	}
}

func vmEnter(host types.ManagedObjectReference, ips ...string) types.ObjectUpdate {
	return types.ObjectUpdate{Obj: vm1, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{
		{Name: "config.instanceUuid", Val: "502e-0001"},
		{Name: "name", Val: "web-1"},
		{Name: "runtime.host", Val: host},
		{Name: "runtime.powerState", Val: types.VirtualMachinePowerStatePoweredOn},
		{Name: "config.hardware.device", Val: types.ArrayOfVirtualDevice{VirtualDevice: []types.BaseVirtualDevice{
			&types.VirtualE1000{VirtualEthernetCard: types.VirtualEthernetCard{MacAddress: "00:50:56:00:00:01",
				VirtualDevice: types.VirtualDevice{Backing: &types.VirtualEthernetCardNetworkBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VLAN100"}}}}},
		}}},
		{Name: "guest.net", Val: types.ArrayOfGuestNicInfo{GuestNicInfo: []types.GuestNicInfo{{MacAddress: "00:50:56:00:00:01", IpAddress: ips}}}},
	}}
}

func move(host types.ManagedObjectReference) []types.ObjectUpdate {
	return []types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindModify, ChangeSet: []types.PropertyChange{{Name: "runtime.host", Val: host}}}}
}

func TestLandings(t *testing.T) {
	inv := newInv()
	inv.Apply(append(hosts(), vmEnter(h1, "192.0.2.10", "fe80::1%eth0", "not-an-address")), t0)
	inv.Prune()
	snap := inv.Snapshot()
	if len(snap["cl-a"]) != 1 || len(snap["cl-b"]) != 0 {
		t.Fatalf("snapshot %v", snap)
	}
	v := snap["cl-a"][0]
	if !v.LandedAt.Equal(LongAgo) || inv.Landed != 0 {
		t.Errorf("a VM found in place landed at %v (%d landings)", v.LandedAt, inv.Landed)
	}
	if v.Host != "esx1" || v.NICs[0].Network != "VLAN100" || len(v.NICs[0].Addresses) != 2 {
		t.Errorf("vm %+v", v)
	}

	inv.Apply(move(h2), t0.Add(time.Minute))
	snap = inv.Snapshot()
	if len(snap["cl-b"]) != 1 || !snap["cl-b"][0].LandedAt.Equal(t0.Add(time.Minute)) || inv.Landed != 1 {
		t.Errorf("after the move: %v, %d landings", snap, inv.Landed)
	}

	// A restarted hostagent restores the landings: no new landing.
	again := newInv()
	again.Restore(inv.Landings())
	again.Apply(append(hosts(), vmEnter(h2, "192.0.2.10")), t0.Add(time.Hour))
	again.Prune()
	if got := again.Snapshot()["cl-b"][0].LandedAt; !got.Equal(t0.Add(time.Minute)) || again.Landed != 0 {
		t.Errorf("after a restart: landed %v, %d landings", got, again.Landed)
	}

	// Leaving every watched cluster and coming back is a landing.
	again.Apply(move(hOut), t0.Add(2*time.Hour))
	if n := len(again.Snapshot()["cl-b"]); n != 0 {
		t.Errorf("a VM on an unwatched host is still reported (%d)", n)
	}
	again.Apply(move(h2), t0.Add(3*time.Hour))
	if got := again.Snapshot()["cl-b"][0].LandedAt; !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("coming back: landed %v", got)
	}

	// A hostagent that watches only cl-b sees a VM arrive from cl-a as a
	// new VM: after its first sync, that is a landing, now.
	onlyB := New(map[types.ManagedObjectReference]Cluster{clB: {Name: "cl-b", Site: "B"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	onlyB.Apply(hosts(), t0)
	onlyB.Prune()
	onlyB.Apply([]types.ObjectUpdate{vmEnter(h2, "192.0.2.10")}, t0.Add(5*time.Hour))
	if got := onlyB.Snapshot()["cl-b"]; len(got) != 1 || !got[0].LandedAt.Equal(t0.Add(5*time.Hour)) || onlyB.Landed != 1 {
		t.Errorf("a VM arriving at a hostagent that did not watch its source: %v, %d landings", got, onlyB.Landed)
	}

	// A deleted VM leaves the report; its landing is forgotten on Prune.
	again.Apply([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindLeave}}, t0.Add(4*time.Hour))
	again.Prune()
	if len(again.Snapshot()["cl-b"]) != 0 || len(again.Landings()) != 0 {
		t.Errorf("after deletion: %v, landings %v", again.Snapshot(), again.Landings())
	}
}
