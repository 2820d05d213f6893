package vcsim

import (
	"cmp"
	"context"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Harsh makes a simulated vCenter behave where vcsim is kinder than a
// real vCenter 7 or 8, each behaviour behind its own switch. What vcsim
// already does as vCenter does is used as it is: it pages the first
// answer of a property filter (at most 100 objects, vCenter's default,
// even when the client set no limit), and a RetrieveProperties over a
// set holding a deleted object fails whole with ManagedObjectNotFound
// (reportMissingObjectsInResults unset). Install it on a model after
// Create; its methods are safe from any goroutine.
type Harsh struct {
	mu sync.Mutex
	// pageSize caps the objects of every paged answer, below vcsim's 100.
	pageSize int32
	// refuseLogins answers every Login with InvalidLogin.
	refuseLogins bool
	// vmsFirst puts, in every new filter, the VMs of the hosts a
	// ContainerView holds before the view itself.
	vmsFirst bool
	// slowSync delays the answer to a filter's first wait (its first
	// page of a full sync).
	slowSync time.Duration
	// expire answers the next WaitForUpdatesEx with NotAuthenticated, as
	// vCenter does when a session expired or was terminated.
	expire bool
	// vanished are objects a RetrieveProperties fails on, whole, as if
	// they were deleted between a change and its re-read.
	vanished map[types.ManagedObjectReference]bool
	// failed counts the reads failed for a vanished object.
	failed int
	calls  map[string]int
	// byAgent counts calls by the session's User-Agent, then method.
	byAgent map[string]map[string]int
}

// Install puts the harsh behaviours in front of the model's methods.
func Install(m *simulator.Model) *Harsh {
	h := &Harsh{vanished: map[types.ManagedObjectReference]bool{}, calls: map[string]int{}, byAgent: map[string]map[string]int{}}
	m.Map().Handler = h.handle
	return h
}

// PageSize makes every paged answer (a filter's first sync, or a
// resync) hold at most n objects.
func (h *Harsh) PageSize(n int32) { h.mu.Lock(); h.pageSize = n; h.mu.Unlock() }

// VMsFirst makes a filter's first sync list the VMs before their hosts,
// as vCenter may: its pages follow no order, so a VM may come on a page
// before the host it runs on. (vcsim walks a filter's traversal depth
// first, each host before its VMs.)
func (h *Harsh) VMsFirst() { h.mu.Lock(); h.vmsFirst = true; h.mu.Unlock() }

// SlowSync makes vCenter take d to answer a filter's first wait, as a
// real vCenter takes minutes to gather the first page of a large
// inventory.
func (h *Harsh) SlowSync(d time.Duration) { h.mu.Lock(); h.slowSync = d; h.mu.Unlock() }

// RefuseLogins makes vCenter refuse (true) or accept every login.
func (h *Harsh) RefuseLogins(refuse bool) { h.mu.Lock(); h.refuseLogins = refuse; h.mu.Unlock() }

// ExpireSession makes the next WaitForUpdatesEx fail with
// NotAuthenticated.
func (h *Harsh) ExpireSession() { h.mu.Lock(); h.expire = true; h.mu.Unlock() }

// Vanish makes every RetrieveProperties naming obj fail whole with
// ManagedObjectNotFound, as vCenter does for an object deleted between
// a change the client saw and its read of it.
func (h *Harsh) Vanish(obj types.ManagedObjectReference) {
	h.mu.Lock()
	h.vanished[obj] = true
	h.mu.Unlock()
}

// VanishedReads returns how many reads failed for a vanished object.
func (h *Harsh) VanishedReads() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failed
}

// CallsFrom returns how many calls of each method vCenter was sent in
// sessions whose client's User-Agent begins with agent.
func (h *Harsh) CallsFrom(agent string) map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for ua, calls := range h.byAgent {
		if strings.HasPrefix(ua, agent) {
			for m, n := range calls {
				out[m] += n
			}
		}
	}
	return out
}

// Calls returns how many calls of a method vCenter answered or failed.
func (h *Harsh) Calls(method string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[method]
}

func (h *Harsh) handle(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
	if w, ok := m.Body.(*types.WaitForUpdatesEx); ok && w.Version == "" {
		h.mu.Lock()
		d := h.slowSync
		h.mu.Unlock()
		time.Sleep(d)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls[m.Name]++
	if ctx.Session != nil {
		ua := ctx.Session.UserAgent
		if h.byAgent[ua] == nil {
			h.byAgent[ua] = map[string]int{}
		}
		h.byAgent[ua][m.Name]++
	}
	switch req := m.Body.(type) {
	case *types.Login:
		if h.refuseLogins {
			return nil, new(types.InvalidLogin)
		}
	case *types.WaitForUpdatesEx:
		if h.expire {
			h.expire = false
			return nil, &types.NotAuthenticated{NoPermission: types.NoPermission{Object: &m.This, PrivilegeId: "System.View"}}
		}
		if h.pageSize > 0 {
			if req.Options == nil {
				req.Options = new(types.WaitOptions)
			}
			if req.Options.MaxObjectUpdates == 0 || req.Options.MaxObjectUpdates > h.pageSize {
				req.Options.MaxObjectUpdates = h.pageSize
			}
		}
	case *types.CreateFilter:
		if h.vmsFirst {
			req.Spec.ObjectSet = append(vmsOf(ctx, req.Spec.ObjectSet), req.Spec.ObjectSet...)
		}
	case *types.RetrieveProperties:
		return nil, h.gone(req.SpecSet)
	case *types.RetrievePropertiesEx:
		return nil, h.gone(req.SpecSet)
	}
	return nil, nil
}

// vmsOf returns an object spec for each VM of each host that the
// ContainerViews in specs hold.
func vmsOf(ctx *simulator.Context, specs []types.ObjectSpec) []types.ObjectSpec {
	var out []types.ObjectSpec
	for _, o := range specs {
		cv, ok := ctx.Session.Get(o.Obj).(*simulator.ContainerView)
		if !ok {
			continue
		}
		for _, ref := range cv.View {
			host, ok := ctx.Map.Get(ref).(*simulator.HostSystem)
			if !ok {
				continue
			}
			ctx.WithLock(host, func() {
				for _, vm := range host.Vm {
					out = append(out, types.ObjectSpec{Obj: vm})
				}
			})
		}
	}
	return out
}

// gone returns ManagedObjectNotFound for the first vanished object specs
// name, or nil.
func (h *Harsh) gone(specs []types.PropertyFilterSpec) types.BaseMethodFault {
	for _, s := range specs {
		for _, o := range s.ObjectSet {
			if h.vanished[o.Obj] {
				h.failed++
				return &types.ManagedObjectNotFound{Obj: o.Obj}
			}
		}
	}
	return nil
}

// MoveLate moves a running VM to a host as vMotion does, in the order a
// busy vCenter shows it: runtime.host changes in one update, and the
// migration's VmMigratedEvent (naming the new host, and the old one as
// its source) is logged delay later, in a later update. vcsim's own
// relocation logs its event first, naming the old host as the new one.
// The event is posted through c, a client logged in to the model.
func MoveLate(ctx context.Context, m *simulator.Model, c *vim25.Client, vm, host types.ManagedObjectReference, delay time.Duration) error {
	sctx := m.Service.Context
	sim, ok := sctx.Map.Get(vm).(*simulator.VirtualMachine)
	if !ok {
		return fmt.Errorf("no VM %s", vm.Value)
	}
	var from types.ManagedObjectReference
	var name string
	sctx.WithLock(sim, func() {
		from, name = *sim.Runtime.Host, sim.Name
		sctx.Update(sim, []types.PropertyChange{{Name: "runtime.host", Val: host}, {Name: "summary.runtime.host", Val: host}})
	})
	HostMoved(m, vm)
	time.Sleep(delay)
	return event.NewManager(c).PostEvent(ctx, &types.VmMigratedEvent{
		VmEvent: types.VmEvent{Event: types.Event{
			Vm:   &types.VmEventArgument{Vm: vm, EntityEventArgument: types.EntityEventArgument{Name: name}},
			Host: &types.HostEventArgument{Host: host},
		}},
		SourceHost: types.HostEventArgument{Host: from},
	})
}

// RestartByHA moves a VM to a host as vSphere HA restarts it there after
// its host failed, and logs the EventEx HA logs for it
// (com.vmware.vc.ha.VmRestartedByHAEvent) first; it returns the event's
// time by vCenter's clock.
func RestartByHA(ctx context.Context, m *simulator.Model, c *vim25.Client, vm, host types.ManagedObjectReference) (time.Time, error) {
	em := event.NewManager(c)
	err := em.PostEvent(ctx, &types.EventEx{
		Event: types.Event{
			Vm:   &types.VmEventArgument{Vm: vm},
			Host: &types.HostEventArgument{Host: host},
		},
		EventTypeId: "com.vmware.vc.ha.VmRestartedByHAEvent",
		ObjectId:    vm.Value,
		ObjectType:  "VirtualMachine",
	})
	if err != nil {
		return time.Time{}, err
	}
	events, err := em.QueryEvents(ctx, types.EventFilterSpec{EventTypeId: []string{"com.vmware.vc.ha.VmRestartedByHAEvent"},
		Entity: &types.EventFilterSpecByEntity{Entity: vm, Recursion: types.EventFilterSpecRecursionOptionSelf}})
	if err != nil || len(events) == 0 {
		return time.Time{}, fmt.Errorf("the HA event is not logged: %v", err)
	}
	at := events[0].GetEvent().CreatedTime
	for _, e := range events {
		at = latest(at, e.GetEvent().CreatedTime)
	}
	sctx := m.Service.Context
	sim, ok := sctx.Map.Get(vm).(*simulator.VirtualMachine)
	if !ok {
		return time.Time{}, fmt.Errorf("no VM %s", vm.Value)
	}
	sctx.WithLock(sim, func() {
		sctx.Update(sim, []types.PropertyChange{{Name: "runtime.host", Val: host}, {Name: "summary.runtime.host", Val: host}})
	})
	HostMoved(m, vm)
	return at, nil
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Realistic gives a VM the devices of a real one beside vcsim's few: two
// more disks whose backings are snapshot chains, an adapter on a
// distributed port group, and one on "VM Network" that is not connected
// (connectable.connected false, as for a clone powered on unplugged),
// 13 devices or more in all. It returns the MACs of the new adapters:
// the connected one, then the unplugged one.
func Realistic(m *simulator.Model, vm types.ManagedObjectReference) (plugged, unplugged string, err error) {
	sctx := m.Service.Context
	sim, ok := sctx.Map.Get(vm).(*simulator.VirtualMachine)
	if !ok {
		return "", "", fmt.Errorf("no VM %s", vm.Value)
	}
	var pgKey string
	for _, e := range sctx.Map.All("DistributedVirtualPortgroup") {
		if pg := e.(*simulator.DistributedVirtualPortgroup); pg.Config.Uplink == nil || !*pg.Config.Uplink {
			pgKey = pg.Key
			break
		}
	}
	if pgKey == "" {
		return "", "", fmt.Errorf("the model has no distributed port group")
	}
	sum := crc32.ChecksumIEEE([]byte(vm.Value))
	plugged = fmt.Sprintf("00:50:56:a1:%02x:%02x", byte(sum>>8), byte(sum))
	unplugged = fmt.Sprintf("00:50:56:a2:%02x:%02x", byte(sum>>8), byte(sum))
	disk := func(key int32, chain int) types.BaseVirtualDevice {
		var backing *types.VirtualDiskFlatVer2BackingInfo
		for i := range chain {
			backing = &types.VirtualDiskFlatVer2BackingInfo{
				VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: fmt.Sprintf("[LocalDS_0] %s/disk%d-%06d.vmdk", sim.Name, key, i)},
				DiskMode:                     string(types.VirtualDiskModePersistent), Parent: backing,
			}
		}
		return &types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: key, ControllerKey: 1000, UnitNumber: types.NewInt32(key - 2000), Backing: backing},
			CapacityInBytes: 40 << 30}
	}
	nic := func(key int32, mac string, connected bool, backing types.BaseVirtualDeviceBackingInfo) types.BaseVirtualDevice {
		return &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
			VirtualDevice: types.VirtualDevice{Key: key, Backing: backing,
				Connectable: &types.VirtualDeviceConnectInfo{StartConnected: connected, Connected: connected, AllowGuestControl: true}},
			AddressType: string(types.VirtualEthernetCardMacTypeAssigned), MacAddress: mac}}}
	}
	sctx.WithLock(sim, func() {
		devs := append([]types.BaseVirtualDevice(nil), sim.Config.Hardware.Device...)
		devs = append(devs,
			disk(2010, 3), disk(2011, 2),
			nic(4010, plugged, true, &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{
				Port: types.DistributedVirtualSwitchPortConnection{PortgroupKey: pgKey}}),
			nic(4011, unplugged, false, &types.VirtualEthernetCardNetworkBackingInfo{
				VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"}}),
			&types.VirtualUSBController{VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: 7000}}},
			&types.VirtualMachineVMCIDevice{VirtualDevice: types.VirtualDevice{Key: 12000}},
		)
		sctx.Update(sim, []types.PropertyChange{{Name: "config.hardware.device", Val: devs}})
	})
	if got := len(sim.Config.Hardware.Device); got < 13 {
		return "", "", fmt.Errorf("%s has %d devices, want 13 or more", sim.Name, got)
	}
	return plugged, unplugged, nil
}

// Added tells a VM's watchers that an element was added to one of its
// array properties (op "add"), as vCenter names such a change and vcsim
// does not: a watcher reads the property whole again. val is the
// property's whole new value.
func Added(m *simulator.Model, vm types.ManagedObjectReference, prop string, val any) error {
	sctx := m.Service.Context
	sim, ok := sctx.Map.Get(vm).(*simulator.VirtualMachine)
	if !ok {
		return fmt.Errorf("no VM %s", vm.Value)
	}
	sctx.WithLock(sim, func() {
		sctx.Update(sim, []types.PropertyChange{{Name: prop, Op: types.PropertyChangeOpAdd, Val: val}})
	})
	return nil
}

// CrossVMotion moves a running VM from one vCenter to another as a
// cross-vCenter vMotion does: the destination (dst, a client logged in
// to it; dm, its model) registers the VM on a host there, with the same
// instance UUID, BIOS UUID and MACs, powers it on and logs
// DstVmMigratedEvent by its own clock; then the source (src) deletes its
// copy (unregisters it). A newUUID that is not empty is the VM's instance UUID at the
// destination, as a destination vCenter that already held the VM's gives
// it. Paths are inventory paths in each vCenter, whose datacenter is DC0.
// It returns the event's time by the destination's clock.
//
// The VM is registered on the destination's standalone host (its model
// needs one, Host = 1), then moved to hostPath: vcsim's CreateVM writes a
// host's list of VMs while a watch of that host reads it without a lock,
// which the race detector reports.
func CrossVMotion(ctx context.Context, src, dst *vim25.Client, dm *simulator.Model, vmPath, hostPath, poolPath, network, newUUID string) (time.Time, error) {
	sf, df := find.NewFinder(src, false), find.NewFinder(dst, false)
	vm, err := sf.VirtualMachine(ctx, vmPath)
	if err != nil {
		return time.Time{}, err
	}
	var v mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"name", "config.instanceUuid", "config.uuid", "config.hardware.device"}, &v); err != nil {
		return time.Time{}, err
	}
	host, err := df.HostSystem(ctx, hostPath)
	if err != nil {
		return time.Time{}, err
	}
	pool, err := df.ResourcePool(ctx, poolPath)
	if err != nil {
		return time.Time{}, err
	}
	var macs []string
	for _, d := range v.Config.Hardware.Device {
		if card, ok := d.(types.BaseVirtualEthernetCard); ok {
			macs = append(macs, card.GetVirtualEthernetCard().MacAddress)
		}
	}
	staging, err := df.HostSystem(ctx, "/DC0/host/DC0_H0/DC0_H0")
	if err != nil {
		return time.Time{}, fmt.Errorf("the destination's standalone host: %w", err)
	}
	stagingPool, err := df.ResourcePool(ctx, "/DC0/host/DC0_H0/Resources")
	if err != nil {
		return time.Time{}, err
	}
	moved, err := register(ctx, dst, v.Name, cmp.Or(newUUID, v.Config.InstanceUuid), v.Config.Uuid, macs, network, stagingPool, staging)
	if err != nil {
		return time.Time{}, err
	}
	hr, pr := host.Reference(), pool.Reference()
	task, err := moved.Relocate(ctx, types.VirtualMachineRelocateSpec{Host: &hr, Pool: &pr}, types.VirtualMachineMovePriorityDefaultPriority)
	if err == nil {
		err = WaitTask(ctx, dst, task)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("move %s onto %s: %w", v.Name, hostPath, err)
	}
	HostMoved(dm, moved.Reference())
	em := event.NewManager(dst)
	if err := em.PostEvent(ctx, &types.EventEx{EventTypeId: "com.vmware.vc.vm.DstVmMigratedEvent", ObjectId: moved.Reference().Value, ObjectType: "VirtualMachine",
		Event: types.Event{Vm: &types.VmEventArgument{Vm: moved.Reference()}, Host: &types.HostEventArgument{Host: hr}}}); err != nil {
		return time.Time{}, err
	}
	events, err := em.QueryEvents(ctx, types.EventFilterSpec{EventTypeId: []string{"com.vmware.vc.vm.DstVmMigratedEvent"},
		Entity: &types.EventFilterSpecByEntity{Entity: moved.Reference(), Recursion: types.EventFilterSpecRecursionOptionSelf}})
	if err != nil || len(events) == 0 {
		return time.Time{}, fmt.Errorf("the destination's event is not logged: %v", err)
	}
	if task, err = vm.PowerOff(ctx); err == nil {
		err = WaitTask(ctx, src, task)
	}
	if err == nil {
		// Unregistered, not destroyed: vcsim's Destroy rewrites the
		// device list in place while a watch may be reading it.
		err = vm.Unregister(ctx)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("remove %s at the source: %w", v.Name, err)
	}
	return events[0].GetEvent().CreatedTime, nil
}

// MoveCluster moves a cluster into a new folder, folder, beside it, as
// vCenter's MoveIntoFolder does and vcsim refuses (NotSupported): the
// cluster keeps its managed-object ID and its hosts and VMs, and its
// inventory path changes. It returns the cluster's new path.
func MoveCluster(ctx context.Context, m *simulator.Model, c *vim25.Client, cluster types.ManagedObjectReference, folder string) (string, error) {
	sctx := m.Service.Context
	cl, ok := sctx.Map.Get(cluster).(*simulator.ClusterComputeResource)
	if !ok {
		return "", fmt.Errorf("no cluster %s", cluster.Value)
	}
	parent := object.NewFolder(c, *cl.Parent)
	made, err := parent.CreateFolder(ctx, folder)
	if err != nil {
		return "", fmt.Errorf("create folder %s: %w", folder, err)
	}
	old, ok := sctx.Map.Get(*cl.Parent).(*simulator.Folder)
	if !ok {
		return "", fmt.Errorf("the cluster's parent %s is no folder", cl.Parent.Value)
	}
	moved := sctx.Map.Get(made.Reference()).(*simulator.Folder)
	sctx.WithLock(old, func() {
		sctx.Update(old, []types.PropertyChange{{Name: "childEntity", Val: slices.DeleteFunc(slices.Clone(old.ChildEntity),
			func(r types.ManagedObjectReference) bool { return r == cluster })}})
	})
	sctx.WithLock(moved, func() {
		sctx.Update(moved, []types.PropertyChange{{Name: "childEntity", Val: append(slices.Clone(moved.ChildEntity), cluster)}})
	})
	sctx.WithLock(cl, func() {
		sctx.Update(cl, []types.PropertyChange{{Name: "parent", Val: made.Reference()}})
	})
	path, err := find.NewFinder(c, false).ObjectReference(ctx, cluster)
	if err != nil {
		return "", err
	}
	return path.(*object.ClusterComputeResource).InventoryPath, nil
}

// register creates a VM in DC0's VM folder, on host in pool, with the
// given name, instance and BIOS UUIDs and adapters on network with the
// given MACs, and powers it on: a VM that vCenter registers again. Its
// files go to a folder of their own, beside any an unregistered VM left.
func register(ctx context.Context, c *vim25.Client, name, instanceUUID, biosUUID string, macs []string, network string,
	pool *object.ResourcePool, host *object.HostSystem) (*object.VirtualMachine, error) {
	folder, err := find.NewFinder(c, false).Folder(ctx, "/DC0/vm")
	if err != nil {
		return nil, err
	}
	spec := types.VirtualMachineConfigSpec{Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
		InstanceUuid: instanceUUID, Uuid: biosUUID, Files: &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[LocalDS_0] %s-%s/%s.vmx", name, instanceUUID, name)}}
	for _, mac := range macs {
		spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
			Device: &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
				VirtualDevice: types.VirtualDevice{Backing: &types.VirtualEthernetCardNetworkBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: network}},
					Connectable: &types.VirtualDeviceConnectInfo{StartConnected: true, Connected: true}},
				AddressType: string(types.VirtualEthernetCardMacTypeManual), MacAddress: mac}}}})
	}
	task, err := folder.CreateVM(ctx, spec, pool, host)
	if err != nil {
		return nil, err
	}
	if err := WaitTask(ctx, c, task); err != nil {
		return nil, fmt.Errorf("register %s: %w", name, err)
	}
	vm, err := find.NewFinder(c, false).VirtualMachine(ctx, "/DC0/vm/"+name)
	if err != nil {
		return nil, err
	}
	if task, err = vm.PowerOn(ctx); err == nil {
		err = WaitTask(ctx, c, task)
	}
	if err != nil {
		return nil, fmt.Errorf("power on %s: %w", name, err)
	}
	return vm, nil
}

// A RemovedHost is a host RemoveHost removed, with what AddHostBack needs
// to add it again with its VMs.
type RemovedHost struct {
	name    string
	cluster types.ManagedObjectReference
	vms     []mo.VirtualMachine
	// like is another host of the cluster, whose configuration (its
	// datastores) vcsim gives the host added back.
	like string
}

// RemoveHost removes a host and the VMs registered on it from vCenter in
// one step, as vCenter does when a host is removed (vcsim refuses to
// remove a host that has VMs): the VMs and the host leave in one update.
func RemoveHost(m *simulator.Model, host types.ManagedObjectReference) (*RemovedHost, error) {
	sctx := m.Service.Context
	h, ok := sctx.Map.Get(host).(*simulator.HostSystem)
	if !ok {
		return nil, fmt.Errorf("no host %s", host.Value)
	}
	cl, ok := sctx.Map.Get(*h.Parent).(*simulator.ClusterComputeResource)
	if !ok {
		return nil, fmt.Errorf("host %s is in no cluster", h.Name)
	}
	r := &RemovedHost{name: h.Name, cluster: cl.Self}
	for _, o := range cl.Host {
		if other, ok := sctx.Map.Get(o).(*simulator.HostSystem); ok && o != host {
			r.like = other.Name
		}
	}
	if r.like == "" {
		return nil, fmt.Errorf("host %s is the only one of its cluster", h.Name)
	}
	for _, ref := range slices.Clone(h.Vm) {
		vm := sctx.Map.Get(ref).(*simulator.VirtualMachine)
		var fault types.BaseMethodFault
		sctx.WithLock(vm, func() {
			r.vms = append(r.vms, vm.VirtualMachine)
			vm.Runtime.PowerState = types.VirtualMachinePowerStatePoweredOff
			if res := vm.UnregisterVM(sctx, &types.UnregisterVM{This: ref}); res.Fault() != nil {
				fault = res.Fault().VimFault().(types.BaseMethodFault)
			}
		})
		if fault != nil {
			return nil, fmt.Errorf("unregister %s: %#v", vm.Name, fault)
		}
	}
	sctx.WithLock(cl, func() { sctx.Map.RemoveReference(sctx, cl, &cl.Host, host) })
	if eb, ok := sctx.Map.Get(*cl.EnvironmentBrowser).(*simulator.EnvironmentBrowser); ok {
		sctx.WithLock(eb, func() {
			for i := range eb.QueryConfigOptionDescriptorResponse.Returnval {
				d := &eb.QueryConfigOptionDescriptorResponse.Returnval[i]
				d.Host = slices.DeleteFunc(d.Host, func(r types.ManagedObjectReference) bool { return r == host })
			}
		})
	}
	sctx.Map.Remove(sctx, host)
	return r, nil
}

// AddHostBack adds a removed host to its cluster again, under a new
// managed-object ID, and registers its VMs on it again, running, under new
// IDs with their instance UUIDs, BIOS UUIDs and MACs, as vCenter does
// when a host is added back with its VMs. It returns the host's new ID.
func AddHostBack(ctx context.Context, m *simulator.Model, c *vim25.Client, r *RemovedHost) (types.ManagedObjectReference, error) {
	cl := object.NewClusterComputeResource(c, r.cluster)
	task, err := cl.AddHost(ctx, types.HostConnectSpec{HostName: r.name, UserName: r.like, Force: true}, true, nil, nil)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	if err := WaitTask(ctx, c, task); err != nil {
		return types.ManagedObjectReference{}, fmt.Errorf("add host %s back: %w", r.name, err)
	}
	var cc mo.ClusterComputeResource
	if err := cl.Properties(ctx, r.cluster, []string{"host", "resourcePool"}, &cc); err != nil {
		return types.ManagedObjectReference{}, err
	}
	var host *object.HostSystem
	for _, h := range cc.Host {
		var hs mo.HostSystem
		if err := cl.Properties(ctx, h, []string{"name"}, &hs); err == nil && hs.Name == r.name {
			host = object.NewHostSystem(c, h)
		}
	}
	if host == nil {
		return types.ManagedObjectReference{}, fmt.Errorf("host %s added back, but not in its cluster", r.name)
	}
	pool := object.NewResourcePool(c, *cc.ResourcePool)
	for _, v := range r.vms {
		var macs []string
		for _, d := range v.Config.Hardware.Device {
			if card, ok := d.(types.BaseVirtualEthernetCard); ok {
				macs = append(macs, card.GetVirtualEthernetCard().MacAddress)
			}
		}
		if _, err := register(ctx, c, v.Name, v.Config.InstanceUuid, v.Config.Uuid, macs, "VM Network", pool, host); err != nil {
			return types.ManagedObjectReference{}, err
		}
	}
	// vcsim tells the container views of a new host before the host is
	// in its cluster, so they never show it: tell them now, with its VMs
	// registered (vcsim's CreateVM writes a host's list of VMs while a
	// watch of that host reads it without a lock).
	sctx := m.Service.Context
	sctx.Map.Put(sctx.Map.Get(host.Reference()))
	return host.Reference(), nil
}

// ChangeDevice changes the device of a VM with the given key, as change
// returns it from a copy, and tells the VM's watchers that
// config.hardware.device changed (whole, as vcsim does; Rewrite.Nest
// names the part). It returns the changed device.
func ChangeDevice(m *simulator.Model, vm types.ManagedObjectReference, key int32, change func(types.BaseVirtualDevice) types.BaseVirtualDevice) (types.BaseVirtualDevice, error) {
	sctx := m.Service.Context
	sim, ok := sctx.Map.Get(vm).(*simulator.VirtualMachine)
	if !ok {
		return nil, fmt.Errorf("no VM %s", vm.Value)
	}
	var changed types.BaseVirtualDevice
	sctx.WithLock(sim, func() {
		devs := slices.Clone(sim.Config.Hardware.Device)
		for i, d := range devs {
			if d.GetVirtualDevice().Key == key {
				changed = change(d)
				devs[i] = changed
			}
		}
		if changed != nil {
			sctx.Update(sim, []types.PropertyChange{{Name: "config.hardware.device", Val: devs}})
		}
	})
	if changed == nil {
		return nil, fmt.Errorf("VM %s has no device %d", vm.Value, key)
	}
	return changed, nil
}
