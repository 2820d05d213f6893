package inventory

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/shared/wire"
)

// The tests in this file feed the inventory literal data shaped as a
// real vCenter 7 or 8 sends it, beyond what vcsim produces.

// placed returns an inventory holding web-1 (vm-1) on h1 at site A after
// the first sync, and a function that applies one change to web-1.
func placed(t *testing.T, changes ...types.PropertyChange) (*Inventory, func(time.Time, ...types.PropertyChange)) {
	t.Helper()
	inv := newInv()
	enter := vmEnter(h1)
	enter.ChangeSet = append(enter.ChangeSet, changes...)
	inv.Apply(append(hosts(), enter), t0)
	inv.Prune()
	return inv, func(at time.Time, cs ...types.PropertyChange) {
		inv.Apply([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindModify, ChangeSet: cs}}, at)
	}
}

func guestNet(addrs ...types.NetIpConfigInfoIpAddress) types.PropertyChange {
	return types.PropertyChange{Name: "guest.net", Op: types.PropertyChangeOpAssign, Val: types.ArrayOfGuestNicInfo{GuestNicInfo: []types.GuestNicInfo{{
		MacAddress: "00:50:56:00:00:01", Connected: true,
		IpAddress: []string{"198.51.100.99"}, // the deprecated list: must not be read when ipConfig is there
		IpConfig:  &types.NetIpConfigInfo{IpAddress: addrs},
	}}}}
}

func ip(addr, state, origin string) types.NetIpConfigInfoIpAddress {
	return types.NetIpConfigInfoIpAddress{IpAddress: addr, PrefixLength: 24, State: state, Origin: origin}
}

func addrsOf(t *testing.T, inv *Inventory) string {
	t.Helper()
	vms := inv.Snapshot()["cl-a"]
	if len(vms) != 1 {
		t.Fatalf("cl-a reports %d VMs, want web-1", len(vms))
	}
	return fmt.Sprint(vms[0].NICs[0].Addresses)
}

func TestGuestAddressesFromIPConfig(t *testing.T) {
	inv, _ := placed(t, guestNet(
		ip("192.0.2.10", "preferred", "manual"),
		ip("192.0.2.11", "tentative", "manual"),
		ip("192.0.2.12", "duplicate", "manual"),
		ip("2001:db8::10", "deprecated", "linklayer"),
		ip("2001:db8::11", "preferred", "random"), // an IPv6 temporary address
		ip("2001:db8::12", "preferred", "linklayer"),
		ip("fe80::1", "preferred", "linklayer"),
	))
	if got := addrsOf(t, inv); got != "[192.0.2.10 2001:db8::12 fe80::1]" {
		t.Errorf("addresses %s, want the preferred, non-temporary ones", got)
	}
}

func TestTooManyAddressesAreTruncatedNotDropped(t *testing.T) {
	var many []types.NetIpConfigInfoIpAddress
	for i := range 2048 { // open-vm-tools reports up to 2048
		many = append(many, ip(fmt.Sprintf("2001:db8::%x", i+1), "preferred", "manual"))
	}
	inv, _ := placed(t, guestNet(many...))
	vms := inv.Snapshot()["cl-a"]
	if len(vms) != 1 || len(vms[0].NICs[0].Addresses) != wire.MaxAddresses {
		t.Fatalf("snapshot %d VMs, want web-1 with its first %d addresses", len(vms), wire.MaxAddresses)
	}
	if f := inv.Flags(); !slices.Equal(f.Truncated, []string{"web-1"}) {
		t.Errorf("flags %+v, want web-1 truncated", f)
	}
}

func TestEmptyGuestNetKeepsAddressesForTheGrace(t *testing.T) {
	inv, change := placed(t, guestNet(ip("192.0.2.10", "preferred", "manual")))
	change(t0.Add(time.Minute), types.PropertyChange{Name: "guest.net", Op: types.PropertyChangeOpAssign, Val: types.ArrayOfGuestNicInfo{}})
	if got := addrsOf(t, inv); got != "[192.0.2.10]" {
		t.Errorf("while Tools restart: %s, want the last address kept", got)
	}
	if f := inv.Flags(); !slices.Equal(f.ToolsSilent, []string{"web-1"}) {
		t.Errorf("flags %+v, want web-1 flagged", f)
	}
	inv.Apply(nil, t0.Add(10*time.Minute)) // within the grace
	if got := addrsOf(t, inv); got != "[192.0.2.10]" {
		t.Errorf("within the grace: %s", got)
	}
	inv.Apply(nil, t0.Add(12*time.Minute))
	if got := addrsOf(t, inv); got != "[]" {
		t.Errorf("after the grace: %s, want none", got)
	}

	// Tools back within the grace: the new addresses, no flag.
	inv, change = placed(t, guestNet(ip("192.0.2.10", "preferred", "manual")))
	change(t0.Add(time.Minute), types.PropertyChange{Name: "guest.net", Op: types.PropertyChangeOpAssign, Val: types.ArrayOfGuestNicInfo{}})
	change(t0.Add(2*time.Minute), guestNet(ip("192.0.2.20", "preferred", "manual")))
	if got, f := addrsOf(t, inv), inv.Flags(); got != "[192.0.2.20]" || len(f.ToolsSilent) != 0 {
		t.Errorf("Tools back: %s, flags %+v", got, f)
	}
}

func TestCopiesClaimNothing(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change types.PropertyChange
	}{
		{"template", types.PropertyChange{Name: "config.template", Val: true}},
		{"SRM placeholder", types.PropertyChange{Name: "config.managedBy", Val: types.ManagedByInfo{ExtensionKey: "com.vmware.vcDr", Type: "placeholderVm"}}},
		{"Fault Tolerance secondary", types.PropertyChange{Name: "config.ftInfo", Val: &types.FaultToleranceSecondaryConfigInfo{
			FaultToleranceConfigInfo: types.FaultToleranceConfigInfo{Role: 2, InstanceUuids: []string{"502e-0001", "502e-0002"}}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv, _ := placed(t, tt.change)
			if vms := inv.Snapshot()["cl-a"]; len(vms) != 0 {
				t.Errorf("a %s is reported: %+v", tt.name, vms)
			}
			if f := inv.Flags(); len(f.Copies) != 1 || f.Copies[inv.vms[vm1].copyOf()] != 1 {
				t.Errorf("flags %+v, want one copy counted", f)
			}
		})
	}
	t.Run("Fault Tolerance primary", func(t *testing.T) {
		inv, _ := placed(t, types.PropertyChange{Name: "config.ftInfo", Val: &types.FaultTolerancePrimaryConfigInfo{
			FaultToleranceConfigInfo: types.FaultToleranceConfigInfo{Role: 1}}})
		if vms := inv.Snapshot()["cl-a"]; len(vms) != 1 {
			t.Errorf("the FT primary is not reported")
		}
	})
}

func TestPoweredOffCopyWithTheSameUUIDDoesNotHideTheRunningVM(t *testing.T) {
	inv, _ := placed(t, guestNet(ip("192.0.2.10", "preferred", "manual")))
	clone := vmEnter(h1)
	clone.Obj = ref("VirtualMachine", "vm-2") // a copy registered from the same files
	for i, c := range clone.ChangeSet {
		if c.Name == "runtime.powerState" {
			clone.ChangeSet[i].Val = types.VirtualMachinePowerStatePoweredOff
		}
	}
	inv.Apply([]types.ObjectUpdate{clone}, t0.Add(time.Minute))
	vms := inv.Snapshot()["cl-a"]
	if len(vms) != 1 || vms[0].PowerState != wire.PoweredOn || fmt.Sprint(vms[0].NICs[0].Addresses) != "[192.0.2.10]" {
		t.Errorf("snapshot %+v, want the running web-1 once", vms)
	}
}

func TestUnreachableVMKeepsItsLastState(t *testing.T) {
	inv, change := placed(t, guestNet(ip("192.0.2.10", "preferred", "manual")))
	before := inv.Snapshot()["cl-a"]
	// Storage all paths down: vCenter marks the VM inaccessible and loses
	// what it knew.
	change(t0.Add(time.Minute),
		types.PropertyChange{Name: "runtime.connectionState", Val: types.VirtualMachineConnectionStateInaccessible},
		types.PropertyChange{Name: "runtime.powerState", Val: types.VirtualMachinePowerStatePoweredOff},
		types.PropertyChange{Name: "guest.net", Op: types.PropertyChangeOpRemove})
	if got := inv.Snapshot()["cl-a"]; fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("inaccessible: %+v, want as it was: %+v", got, before)
	}
	if f := inv.Flags(); !slices.Equal(f.Unreachable, []string{"web-1"}) {
		t.Errorf("flags %+v", f)
	}
	change(t0.Add(2*time.Minute), types.PropertyChange{Name: "runtime.connectionState", Val: types.VirtualMachineConnectionStateConnected})
	if got := inv.Snapshot()["cl-a"]; got[0].PowerState != wire.PoweredOff {
		t.Errorf("connected again: %+v, want what vCenter says now", got)
	}
}

func TestChangesToPartsOfAPropertyAreReadAgain(t *testing.T) {
	inv, change := placed(t)
	change(t0.Add(time.Minute),
		types.PropertyChange{Name: "config.hardware.device[4000].macAddress", Op: types.PropertyChangeOpAssign, Val: "00:50:56:00:00:99"},
		types.PropertyChange{Name: "guest.net", Op: types.PropertyChangeOpAdd, Val: types.GuestNicInfo{MacAddress: "00:50:56:00:00:01"}})
	d := inv.Dirty()
	if got := d[vm1]; !slices.Equal(got, []string{"config.hardware.device", "guest.net"}) {
		t.Errorf("dirty %v, want the device list and guest.net read again", d)
	}
	if inv.Dirty() != nil {
		t.Error("Dirty returned the same properties twice")
	}
}

func TestMissingPropertiesAreShown(t *testing.T) {
	inv := newInv()
	enter := vmEnter(h1)
	enter.MissingSet = []types.MissingProperty{{Path: "guest.net", Fault: types.LocalizedMethodFault{Fault: &types.NoPermission{}}}}
	inv.Apply(append(hosts(), enter), t0)
	if f := inv.Flags(); !slices.Equal(f.Missing, []string{"vm-1 guest.net: NoPermission"}) {
		t.Errorf("flags %+v, want guest.net withheld", f)
	}
	inv.Apply([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindModify, ChangeSet: []types.PropertyChange{
		{Name: "guest.net", Val: types.ArrayOfGuestNicInfo{}}}}}, t0)
	if f := inv.Flags(); len(f.Missing) != 0 {
		t.Errorf("flags %+v once guest.net came", f)
	}
}

// migrated is the event collector's latest page with web-1's migration
// to h2, created at created.
func migrated(created time.Time) types.ObjectUpdate {
	return page(&types.VmMigratedEvent{VmEvent: types.VmEvent{Event: eventOf(h2, created)}})
}

// eventOf is the part of an event that names web-1, a host and a time.
func eventOf(host types.ManagedObjectReference, created time.Time) types.Event {
	return types.Event{CreatedTime: created, Vm: &types.VmEventArgument{Vm: vm1}, Host: &types.HostEventArgument{Host: host}}
}

// page is the event collector's latest page holding events.
func page(events ...types.BaseEvent) types.ObjectUpdate {
	return types.ObjectUpdate{Obj: ref("EventHistoryCollector", "session[1]1"), Kind: types.ObjectUpdateKindModify,
		ChangeSet: []types.PropertyChange{{Name: "latestPage", Val: types.ArrayOfEvent{Event: events}}}}
}

func TestOnlyAnEventOfThisMoveStampsALanding(t *testing.T) {
	landed := func(inv *Inventory) time.Time { return inv.Snapshot()["cl-b"][0].LandedAt }
	batch := t0.Add(2 * time.Minute)
	for _, tt := range []struct {
		name  string
		event types.BaseEvent
		want  time.Time
	}{
		{"vMotion to the new host", &types.VmMigratedEvent{VmEvent: types.VmEvent{Event: eventOf(h2, batch.Add(-time.Second))}}, batch.Add(-time.Second)},
		{"DRS to the new host", &types.DrsVmMigratedEvent{VmMigratedEvent: types.VmMigratedEvent{VmEvent: types.VmEvent{Event: eventOf(h2, batch.Add(-2*time.Second))}}}, batch.Add(-2 * time.Second)},
		{"vSphere HA's restart", &types.EventEx{Event: eventOf(h2, batch.Add(-3*time.Second)), EventTypeId: HARestartEvent}, batch.Add(-3 * time.Second)},
		{"a cross-vCenter vMotion", &types.EventEx{Event: eventOf(h2, batch.Add(-4*time.Second)), EventTypeId: CrossVCenterEvent}, batch.Add(-4 * time.Second)},
		{"another EventEx", &types.EventEx{Event: eventOf(h2, batch.Add(-4*time.Second)), EventTypeId: "com.vmware.vc.vm.SrcVmMigratedEvent"}, batch},
		{"a move to another host", &types.VmMigratedEvent{VmEvent: types.VmEvent{Event: eventOf(h1, batch.Add(-time.Second))}}, batch},
		{"a power-on", &types.VmPoweredOnEvent{VmEvent: types.VmEvent{Event: eventOf(h2, batch.Add(-time.Second))}}, batch},
		{"before the previous landing", &types.VmMigratedEvent{VmEvent: types.VmEvent{Event: eventOf(h2, t0.Add(30*time.Second))}}, batch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv, _ := placed(t)
			// The VM landed at A a minute after t0 (it came from B).
			inv.Apply(move(h2), t0.Add(10*time.Second))
			inv.Apply(move(h1), t0.Add(time.Minute))
			inv.Apply(append(move(h2), page(tt.event)), batch)
			if got := landed(inv); !got.Equal(tt.want) {
				t.Errorf("landed at %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLandingTimesComeFromVCenter(t *testing.T) {
	event := migrated
	// The event of the move comes with it: its createdTime is the landing.
	inv, _ := placed(t)
	migrated := t0.Add(59 * time.Second)
	inv.Apply(append(move(h2), event(migrated)), t0.Add(time.Minute))
	if got := inv.Snapshot()["cl-b"][0].LandedAt; !got.Equal(migrated) {
		t.Errorf("landed at %v, want the event's %v", got, migrated)
	}
	// No event: vCenter's time of the batch.
	inv.Apply(move(h1), t0.Add(2*time.Minute))
	if got := inv.Snapshot()["cl-a"][0].LandedAt; !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("landed at %v, want the batch's vCenter time", got)
	}
	// An event too old, or after the batch, is not this landing's.
	for _, at := range []time.Time{t0.Add(time.Minute), t0.Add(4 * time.Minute)} {
		inv.Apply([]types.ObjectUpdate{event(at)}, t0.Add(3*time.Minute-time.Second))
		inv.Apply(move(h2), t0.Add(3*time.Minute))
		if got := inv.Snapshot()["cl-b"][0].LandedAt; !got.Equal(t0.Add(3 * time.Minute)) {
			t.Errorf("with an event at %v: landed at %v, want the batch's time", at, got)
		}
		inv.Apply(move(h1), t0.Add(3*time.Minute))
	}
	if strings.Contains(fmt.Sprint(inv.events), "vm-1") {
		t.Errorf("events kept: %v", inv.events)
	}
}

func TestSuspendedVMIsReportedSuspended(t *testing.T) {
	inv, change := placed(t, guestNet(ip("192.0.2.10", "preferred", "manual")))
	change(t0.Add(time.Minute), types.PropertyChange{Name: "runtime.powerState", Val: types.VirtualMachinePowerStateSuspended})
	vms := inv.Snapshot()["cl-a"]
	if len(vms) != 1 || vms[0].PowerState != wire.Suspended {
		t.Fatalf("snapshot %+v, want web-1 suspended", vms)
	}
	if got := fmt.Sprint(vms[0].NICs[0].Addresses); got != "[192.0.2.10]" {
		t.Errorf("a suspended VM reports %s; want its last addresses", got)
	}
}

// A NIC on a distributed port group is backed by the group's key; the
// report names the group by its name, follows a rename, and falls back
// to the key for a group vCenter does not show.
func TestPortGroupNames(t *testing.T) {
	pg := ref("DistributedVirtualPortgroup", "dvportgroup-10")
	dvs := func(key string) types.PropertyChange {
		return types.PropertyChange{Name: "config.hardware.device", Val: types.ArrayOfVirtualDevice{VirtualDevice: []types.BaseVirtualDevice{
			&types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{MacAddress: "00:50:56:00:00:01",
				VirtualDevice: types.VirtualDevice{Backing: &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
					Port: types.DistributedVirtualSwitchPortConnection{SwitchUuid: "50 2e", PortgroupKey: key}}}}}},
		}}}
	}
	inv, change := placed(t, dvs("dvportgroup-10"))
	network := func() string {
		t.Helper()
		vms := inv.Snapshot()["cl-a"]
		if len(vms) != 1 {
			t.Fatalf("snapshot %+v, want web-1", vms)
		}
		return vms[0].NICs[0].Network
	}
	if got := network(); got != "dvportgroup-10" {
		t.Errorf("before vCenter shows the port group: network %q, want its key", got)
	}
	inv.Apply([]types.ObjectUpdate{{Obj: pg, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{
		{Name: "key", Val: "dvportgroup-10"}, {Name: "name", Val: "VLAN100-web"}}}}, t0.Add(time.Minute))
	if got := network(); got != "VLAN100-web" {
		t.Errorf("network %q, want the port group's name VLAN100-web", got)
	}
	inv.Apply([]types.ObjectUpdate{{Obj: pg, Kind: types.ObjectUpdateKindModify, ChangeSet: []types.PropertyChange{
		{Name: "name", Val: "VLAN100-web-renamed"}}}}, t0.Add(2*time.Minute))
	if got := network(); got != "VLAN100-web-renamed" {
		t.Errorf("after a rename: network %q, want VLAN100-web-renamed", got)
	}
	change(t0.Add(3*time.Minute), dvs("dvportgroup-99"))
	if got := network(); got != "dvportgroup-99" {
		t.Errorf("on a port group vCenter does not show: network %q, want its key", got)
	}
}

func TestOnlySRMAndReplicationMakeCopies(t *testing.T) {
	for key, copied := range map[string]bool{
		"com.vmware.vcDr":                true,  // Site Recovery Manager's placeholder
		"com.vmware.vcHms":               true,  // vSphere Replication's
		"com.vmware.vcloud":              false, // a Cloud Director tenant's VM
		"com.vmware.vcenter.wcp":         false, // a Tanzu Supervisor VM
		"com.vmware.nsx.management.nsxt": false,
	} {
		inv, _ := placed(t, types.PropertyChange{Name: "config.managedBy", Val: types.ManagedByInfo{ExtensionKey: key, Type: "vm"}})
		if n := len(inv.Snapshot()["cl-a"]); n == 1 == copied {
			t.Errorf("managed by %s: %d VMs reported, want a copy: %v", key, n, copied)
		}
	}
}

func TestDisconnectedNICsClaimNothing(t *testing.T) {
	dev := func(connected bool) types.PropertyChange {
		return types.PropertyChange{Name: "config.hardware.device", Val: types.ArrayOfVirtualDevice{VirtualDevice: []types.BaseVirtualDevice{
			&types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: 2000}},
			&types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{MacAddress: "00:50:56:00:00:01",
				VirtualDevice: types.VirtualDevice{Key: 4000, Connectable: &types.VirtualDeviceConnectInfo{StartConnected: true, Connected: connected}}}}},
		}}}
	}
	guest := guestNet(ip("192.0.2.10", "preferred", "manual"))
	// A clone powered on with its adapter unplugged in vCenter.
	inv, change := placed(t, dev(false), guest)
	if got := addrsOf(t, inv); got != "[]" {
		t.Errorf("adapter not connected: claims %s", got)
	}
	change(t0.Add(time.Minute), dev(true))
	if got := addrsOf(t, inv); got != "[192.0.2.10]" {
		t.Errorf("adapter connected: claims %s, want 192.0.2.10", got)
	}
	// The guest sees its NIC unplugged.
	unplugged := guestNet(ip("192.0.2.10", "preferred", "manual"))
	unplugged.Val.(types.ArrayOfGuestNicInfo).GuestNicInfo[0].Connected = false
	change(t0.Add(2*time.Minute), unplugged)
	if got := addrsOf(t, inv); got != "[]" {
		t.Errorf("NIC unplugged in the guest: claims %s", got)
	}
	// A snapshot changes the disk's backing: no reason to read the
	// devices again. A change to the adapter is.
	change(t0.Add(3*time.Minute), types.PropertyChange{Name: "config.hardware.device[2000].backing.fileName", Val: "[ds] web-1/web-1-000001.vmdk"})
	if d := inv.Dirty(); d != nil {
		t.Errorf("a disk's change: %v read again", d)
	}
	change(t0.Add(4*time.Minute), types.PropertyChange{Name: "config.hardware.device[4000].connectable.connected", Val: false})
	if d := inv.Dirty()[vm1]; !slices.Equal(d, []string{"config.hardware.device"}) {
		t.Errorf("an adapter's change: %v read again, want the device list", d)
	}
	change(t0.Add(5*time.Minute), types.PropertyChange{Name: "config.hardware.device[4001]", Op: types.PropertyChangeOpAdd})
	if d := inv.Dirty()[vm1]; !slices.Equal(d, []string{"config.hardware.device"}) {
		t.Errorf("a device added: %v read again, want the device list", d)
	}
}

func TestAVMThatLeavesIsNotReadAgain(t *testing.T) {
	inv, change := placed(t)
	change(t0.Add(time.Minute), types.PropertyChange{Name: "guest.net", Op: types.PropertyChangeOpAdd, Val: types.GuestNicInfo{}})
	inv.Apply([]types.ObjectUpdate{{Obj: vm1, Kind: types.ObjectUpdateKindLeave}}, t0.Add(time.Minute))
	if d := inv.Dirty(); d != nil {
		t.Errorf("a deleted VM is read again: %v", d)
	}
}

func TestAPagedResyncLandsNothing(t *testing.T) {
	inv, _ := placed(t)
	inv.Reset(twoClusters())
	// The resync's first page has the VM, the next its host.
	inv.Apply([]types.ObjectUpdate{vmEnter(h1)}, t0.Add(time.Minute))
	inv.Apply(hosts(), t0.Add(time.Minute))
	inv.Prune()
	if vms := inv.Snapshot()["cl-a"]; len(vms) != 1 || !vms[0].LandedAt.IsZero() || inv.Landed != 0 {
		t.Errorf("after the resync: %+v (%d landings), want web-1 where it was, not landed", vms, inv.Landed)
	}
	// A VM that moved while the session was down lands.
	inv.Reset(twoClusters())
	inv.Apply([]types.ObjectUpdate{vmEnter(h2)}, t0.Add(2*time.Minute))
	inv.Apply(hosts(), t0.Add(2*time.Minute))
	inv.Prune()
	if vms := inv.Snapshot()["cl-b"]; len(vms) != 1 || !vms[0].LandedAt.Equal(t0.Add(2*time.Minute)) || inv.Landed != 1 {
		t.Errorf("moved while down: %+v (%d landings), want a landing", vms, inv.Landed)
	}
}

func TestNestedHostGroupChangesAreReadAgain(t *testing.T) {
	inv := stretched()
	inv.Apply([]types.ObjectUpdate{{Obj: clS, Kind: types.ObjectUpdateKindModify, ChangeSet: []types.PropertyChange{
		{Name: "configurationEx.group[\"site-a\"].host", Op: types.PropertyChangeOpAssign}}}}, t0)
	if d := inv.Dirty()[clS]; !slices.Equal(d, []string{GroupsProperty}) {
		t.Errorf("dirty %v, want the cluster's groups read again", d)
	}
}

func TestAResyncTakesTheClustersAsFoundAgain(t *testing.T) {
	inv, _ := placed(t)
	// The cluster's ID was lost (removed and created again by the path
	// the config names): the resync finds it under a new one.
	clA2 := ref("ClusterComputeResource", "c-a-2")
	inv.Reset(map[types.ManagedObjectReference]Cluster{clA2: whole("cl-a", "A"), clB: whole("cl-b", "B")})
	inv.Apply([]types.ObjectUpdate{
		{Obj: h1, Kind: types.ObjectUpdateKindEnter, ChangeSet: []types.PropertyChange{{Name: "name", Val: "esx1"}, {Name: "parent", Val: clA2}}},
		vmEnter(h1)}, t0.Add(time.Minute))
	inv.Prune()
	if vms := inv.Snapshot()["cl-a"]; len(vms) != 1 || inv.Landed != 0 {
		t.Errorf("after the resync: %+v (%d landings), want web-1 in cl-a, not landed", vms, inv.Landed)
	}
}
