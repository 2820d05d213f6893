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

// migrated is the event collector's latest page with web-1's migration,
// created at created.
func migrated(created time.Time) types.ObjectUpdate {
	return types.ObjectUpdate{Obj: ref("EventHistoryCollector", "session[1]1"), Kind: types.ObjectUpdateKindModify,
		ChangeSet: []types.PropertyChange{{Name: "latestPage",
			Val: types.ArrayOfEvent{Event: []types.BaseEvent{&types.VmMigratedEvent{VmEvent: types.VmEvent{Event: types.Event{
				CreatedTime: created, Vm: &types.VmEventArgument{Vm: vm1}}}}}}}}}
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
