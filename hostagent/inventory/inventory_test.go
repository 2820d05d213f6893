package inventory

import (
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/sitemap"
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

func newInv() *Inventory { return New(twoClusters(), opts, discard) }

// twoClusters are cl-a (clA), all at site A, and cl-b (clB), all at B.
func twoClusters() map[types.ManagedObjectReference]Cluster {
	return map[types.ManagedObjectReference]Cluster{clA: whole("cl-a", "A"), clB: whole("cl-b", "B")}
}

var (
	discard = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts    = Options{GuestGrace: 10 * time.Minute}
)

func whole(name, site string) Cluster {
	return Cluster{Name: name, Sites: sitemap.Rule{By: sitemap.Cluster, Site: site}}
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
		{Name: "guest.net", Val: types.ArrayOfGuestNicInfo{GuestNicInfo: []types.GuestNicInfo{{MacAddress: "00:50:56:00:00:01", Connected: true, IpAddress: ips}}}},
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
	if !v.LandedAt.IsZero() || inv.Landed != 0 {
		t.Errorf("a VM found in place landed at %v (%d landings), want its landing unknown", v.LandedAt, inv.Landed)
	}
	if v.Site != "A" || v.NICs[0].Network != "VLAN100" || len(v.NICs[0].Addresses) != 2 {
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
	onlyB := New(map[types.ManagedObjectReference]Cluster{clB: whole("cl-b", "B")}, opts, discard)
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

// A stretched cluster: esx-a1 and esx-a2 in DRS host group "hosts-a",
// esx-b1 and esx-b2 in "hosts-b", esx-new in none yet.
var (
	clS                      = ref("ClusterComputeResource", "c-s")
	ha1, ha2, hb1, hb2, hNew = ref("HostSystem", "ha1"), ref("HostSystem", "ha2"), ref("HostSystem", "hb1"), ref("HostSystem", "hb2"), ref("HostSystem", "hnew")
)

func stretched() *Inventory {
	return New(map[types.ManagedObjectReference]Cluster{clS: {Name: "stretched",
		Sites: sitemap.Rule{By: sitemap.HostGroup, Sites: map[string][]string{"A": {"hosts-a"}, "B": {"hosts-b"}}}}}, opts, discard)
}

func hostEnter(h types.ManagedObjectReference, name string) types.ObjectUpdate {
	return types.ObjectUpdate{Obj: h, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: name}, {Name: "parent", Val: clS}}}
}

// groups is the cluster's configurationEx as vCenter sends it.
func groups(a, b []types.ManagedObjectReference) types.ObjectUpdate {
	return types.ObjectUpdate{Obj: clS, Kind: types.ObjectUpdateKindModify, ChangeSet: []types.PropertyChange{{Name: "configurationEx", Op: types.PropertyChangeOpAssign,
		Val: types.ClusterConfigInfoEx{Group: []types.BaseClusterGroupInfo{
			&types.ClusterHostGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: "hosts-a"}, Host: a},
			&types.ClusterHostGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: "hosts-b"}, Host: b},
			&types.ClusterVmGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: "web-vms"}, Vm: []types.ManagedObjectReference{vm1}},
		}}}}}
}

func TestStretchedClusterLandings(t *testing.T) {
	inv := stretched()
	inv.Apply([]types.ObjectUpdate{
		hostEnter(ha1, "esx-a1"), hostEnter(ha2, "esx-a2"), hostEnter(hb1, "esx-b1"), hostEnter(hb2, "esx-b2"), hostEnter(hNew, "esx-new"),
		groups([]types.ManagedObjectReference{ha1, ha2}, []types.ManagedObjectReference{hb1, hb2}),
		vmEnter(ha1, "192.0.2.10"),
	}, t0)
	inv.Prune()
	first := inv.Snapshot()["stretched"]
	if len(first) != 1 || first[0].Site != "A" || !first[0].LandedAt.IsZero() {
		t.Fatalf("snapshot %+v, want web-1 at A, its landing unknown", first)
	}
	wantHosts := []HostSite{{"esx-a1", "stretched", "A", ""}, {"esx-a2", "stretched", "A", ""}, {"esx-b1", "stretched", "B", ""},
		{"esx-b2", "stretched", "B", ""}, {"esx-new", "stretched", "", "in no DRS host group"}}
	if got := inv.Hosts(); !reflect.DeepEqual(got, wantHosts) {
		t.Errorf("hosts\n got %v\nwant %v", got, wantHosts)
	}

	// DRS moves the VM inside site A: no landing, and the report is the
	// same to the last field, so no delta is sent.
	inv.Apply(move(ha2), t0.Add(time.Minute))
	if got := inv.Snapshot()["stretched"]; !reflect.DeepEqual(got, first) || inv.Landed != 0 {
		t.Errorf("a move inside site A changed the report: %+v (%d landings)", got, inv.Landed)
	}

	// vMotion to a host of site B, inside the same cluster: a landing.
	inv.Apply(move(hb1), t0.Add(2*time.Minute))
	if got := inv.Snapshot()["stretched"]; got[0].Site != "B" || !got[0].LandedAt.Equal(t0.Add(2*time.Minute)) || inv.Landed != 1 {
		t.Errorf("after vMotion to site B: %+v (%d landings)", got, inv.Landed)
	}

	// To a host no rule places: the VM keeps its last site and landing.
	inv.Apply(move(hNew), t0.Add(3*time.Minute))
	if got := inv.Snapshot()["stretched"]; got[0].Site != "B" || !got[0].LandedAt.Equal(t0.Add(2*time.Minute)) || inv.Landed != 1 {
		t.Errorf("on an unplaced host: %+v (%d landings)", got, inv.Landed)
	}

	// The admin adds that host to site A's group: placed without a
	// restart, and the VM on it lands at A.
	inv.Apply([]types.ObjectUpdate{groups([]types.ManagedObjectReference{ha1, ha2, hNew}, []types.ManagedObjectReference{hb1, hb2})}, t0.Add(4*time.Minute))
	if got := inv.Snapshot()["stretched"]; got[0].Site != "A" || !got[0].LandedAt.Equal(t0.Add(4*time.Minute)) || inv.Landed != 2 {
		t.Errorf("after the host joined site A's group: %+v (%d landings)", got, inv.Landed)
	}

	// A host in both sites' groups is ambiguous: unplaced, nothing moves.
	inv.Apply([]types.ObjectUpdate{groups([]types.ManagedObjectReference{ha1, ha2, hNew}, []types.ManagedObjectReference{hb1, hb2, hNew})}, t0.Add(5*time.Minute))
	if got := inv.Snapshot()["stretched"]; got[0].Site != "A" || inv.Landed != 2 {
		t.Errorf("on an ambiguous host: %+v (%d landings)", got, inv.Landed)
	}
	if h := inv.Hosts()[4]; h.Site != "" || h.Why != `in DRS host groups ["hosts-a" "hosts-b"] of sites A and B: ambiguous` {
		t.Errorf("ambiguous host %+v", h)
	}
}

func TestUnplacedVMIsLeftOut(t *testing.T) {
	inv := stretched()
	inv.Apply([]types.ObjectUpdate{hostEnter(hNew, "esx-new"), vmEnter(hNew, "192.0.2.10")}, t0)
	inv.Prune()
	if got := inv.Snapshot()["stretched"]; len(got) != 0 || inv.Unplaced() != 1 {
		t.Errorf("a VM never placed: reported %+v, %d unplaced; want left out, 1 unplaced", got, inv.Unplaced())
	}
}

func TestHostsByFaultDomainAndName(t *testing.T) {
	clF, clN := ref("ClusterComputeResource", "c-f"), ref("ClusterComputeResource", "c-n")
	hf, hn := ref("HostSystem", "hf"), ref("HostSystem", "hn")
	inv := New(map[types.ManagedObjectReference]Cluster{
		clF: {Name: "vsan", Sites: sitemap.Rule{By: sitemap.FaultDomain, Sites: map[string][]string{"A": {"fd-a"}, "B": {"fd-b"}}}},
		clN: {Name: "named", Sites: sitemap.Rule{By: sitemap.HostName, Sites: map[string][]string{"A": {"esx-a*"}, "B": {"esx-b*"}}}},
	}, opts, discard)
	inv.Apply([]types.ObjectUpdate{
		{Obj: hf, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx7"}, {Name: "parent", Val: clF},
			{Name: FaultDomainProperty, Val: "fd-b"}}},
		{Obj: hn, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx-a7"}, {Name: "parent", Val: clN}}},
	}, t0)
	want := []HostSite{{"esx-a7", "named", "A", ""}, {"esx7", "vsan", "B", ""}}
	if got := inv.Hosts(); !reflect.DeepEqual(got, want) {
		t.Errorf("hosts %v, want %v", got, want)
	}
	// The host is renamed into the other site's pattern, and the vSAN host
	// moved to another fault domain: both follow without a restart.
	inv.Apply([]types.ObjectUpdate{
		{Obj: hf, Kind: types.ObjectUpdateKindModify, ChangeSet: []types.PropertyChange{{Name: FaultDomainProperty, Val: "fd-a"}}},
		{Obj: hn, Kind: types.ObjectUpdateKindModify, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx-b7"}}},
	}, t0)
	want = []HostSite{{"esx-b7", "named", "B", ""}, {"esx7", "vsan", "A", ""}}
	if got := inv.Hosts(); !reflect.DeepEqual(got, want) {
		t.Errorf("after the changes: hosts %v, want %v", got, want)
	}
}

func TestRestoreLegacyLandings(t *testing.T) {
	inv := New(map[types.ManagedObjectReference]Cluster{clA: whole("cl-a", "A"), clS: {Name: "stretched",
		Sites: sitemap.Rule{By: sitemap.HostGroup, Sites: map[string][]string{"A": {"hosts-a"}, "B": {"hosts-b"}}}}}, opts, discard)
	inv.Restore(map[string]Landing{
		"v1": {Cluster: "cl-a", At: t0},      // written before sites were made of hosts
		"v2": {Cluster: "stretched", At: t0}, // its site cannot be known: dropped
		"v3": {Site: "B", At: t0},
	})
	got := inv.Landings()
	if len(got) != 2 || got["v1"].Site != "A" || got["v3"].Site != "B" {
		t.Errorf("landings %+v, want v1 at A and v3 at B", got)
	}
}

func TestLeavingToAnUnwatchedHostIsALanding(t *testing.T) {
	// A hostagent that watches only cl-a knows no host of cl-b: the VM's
	// runtime.host names a host it never saw. It left, so its coming back
	// is a landing, with a new time, not its old one.
	onlyA := New(map[types.ManagedObjectReference]Cluster{clA: whole("cl-a", "A")}, opts, discard)
	onlyA.Apply([]types.ObjectUpdate{hosts()[0], vmEnter(h1, "192.0.2.10")}, t0)
	onlyA.Prune()
	onlyA.Apply(move(ref("HostSystem", "h-in-cl-b")), t0.Add(time.Minute))
	if n := len(onlyA.Snapshot()["cl-a"]); n != 0 {
		t.Fatalf("a VM on a host outside the watched clusters is still reported (%d)", n)
	}
	onlyA.Apply(move(h1), t0.Add(2*time.Minute))
	if got := onlyA.Snapshot()["cl-a"]; len(got) != 1 || !got[0].LandedAt.Equal(t0.Add(2*time.Minute)) || onlyA.Landed != 1 {
		t.Errorf("coming back: %+v (%d landings), want landed at %v", got, onlyA.Landed, t0.Add(2*time.Minute))
	}
}

func TestBIOSUUID(t *testing.T) {
	for _, tt := range []struct{ bios, want string }{
		{"4229aa11-bb22-cc33-dd44-ee5566778899", "4229aa11-bb22-cc33-dd44-ee5566778899"},
		// One a report cannot carry is left out, not the VM.
		{"4229 aa11", ""},
		{"", ""},
	} {
		inv := newInv()
		enter := vmEnter(h1, "192.0.2.10")
		enter.ChangeSet = append(enter.ChangeSet, types.PropertyChange{Name: "config.uuid", Val: tt.bios})
		inv.Apply(append(hosts(), enter), t0)
		inv.Prune()
		if got := inv.Snapshot()["cl-a"]; len(got) != 1 || got[0].BIOSUUID != tt.want || got[0].UUID != "502e-0001" {
			t.Errorf("config.uuid %q: reported %+v, want the VM with BIOS UUID %q", tt.bios, got, tt.want)
		}
	}
}
