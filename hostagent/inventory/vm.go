package inventory

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/shared/wire"
)

type vm struct {
	uuid, name string
	// bios is config.uuid, the BIOS UUID: it names the VM across a
	// cross-vCenter vMotion that changed its instance UUID.
	bios  string
	host  types.ManagedObjectReference
	power types.VirtualMachinePowerState
	conn  types.VirtualMachineConnectionState
	// Copies that claim nothing: a template, a placeholder or copy that
	// SRM or vSphere Replication manages (managedBy holds any product's
	// extension key), a Fault Tolerance secondary.
	template    bool
	managedBy   string
	ftSecondary bool
	nics        []nic
	// others are the keys of the VM's devices that are no adapter: a
	// change to one of them (a disk's backing after a snapshot) does not
	// read the device list again.
	others map[int32]bool
	guest  map[string][]netip.Addr // MAC -> addresses
	// truncated says VMware Tools reported more addresses on an adapter
	// than a report carries; the first ones are kept.
	truncated bool
	// guestLost is when guest.net went empty while the VM ran (VMware
	// Tools restarting or upgrading): its last addresses are kept for the
	// grace period. Zero otherwise.
	guestLost time.Time
	// last is what was last reported of the VM, and in which cluster,
	// kept while vCenter cannot reach it (inaccessible, orphaned,
	// disconnected) or its host was removed from vCenter.
	last        *wire.VM
	lastCluster string
}

type nic struct {
	mac            wire.MAC
	network, pgKey string
	// connected is the adapter's connectable.connected: one that is not
	// connected claims no address.
	connected bool
}

// copyOf says what kind of copy that claims nothing a VM is, or "":
// "template", "managed" (by another product) or "ft_secondary".
func (v *vm) copyOf() string {
	if v.template {
		return "template"
	}
	if placeholderProducts[v.managedBy] {
		return "managed"
	}
	if v.ftSecondary {
		return "ft_secondary"
	}
	return ""
}

// reachable says vCenter can read the VM (runtime.connectionState).
func (v *vm) reachable() bool {
	return v.conn == "" || v.conn == types.VirtualMachineConnectionStateConnected
}

// watched returns the watched property a change is about, and whether
// the change names it whole: vCenter may name a part of it instead
// ("config.hardware.device[4000].macAddress").
func watched(name string) (prop string, whole bool) {
	for _, p := range VMProperties {
		if name == p {
			return p, true
		}
		if partOf(name, p) {
			return p, false
		}
	}
	return "", false
}

// partOf says a change's name is a part of a property
// ("configurationEx.group[...]" of "configurationEx").
func partOf(name, prop string) bool {
	rest, ok := strings.CutPrefix(name, prop)
	return ok && (strings.HasPrefix(rest, "[") || strings.HasPrefix(rest, "."))
}

// markDirty has a property of an object read again whole.
func (inv *Inventory) markDirty(obj types.ManagedObjectReference, prop string) {
	if !slices.Contains(inv.dirty[obj], prop) {
		inv.dirty[obj] = append(inv.dirty[obj], prop)
	}
}

func (inv *Inventory) applyVM(u types.ObjectUpdate, now time.Time) {
	if u.Kind == types.ObjectUpdateKindLeave {
		// Out of every watched cluster, or deleted: its coming back is a
		// landing, whatever site it had. Unless its host left with it
		// (depart decides once the batch is read).
		if v := inv.vms[u.Obj]; v != nil && v.uuid != "" {
			inv.departing = append(inv.departing, v)
		}
		delete(inv.vms, u.Obj)
		delete(inv.missing, u.Obj)
		delete(inv.dirty, u.Obj)
		return
	}
	v := inv.vms[u.Obj]
	if v == nil {
		v = &vm{guest: map[string][]netip.Addr{}}
		inv.vms[u.Obj] = v
	}
	inv.noteMissing(u)
	for _, c := range u.ChangeSet {
		prop, whole := watched(c.Name)
		if prop == "" {
			continue
		}
		val := c.Val
		if !whole && prop == "config.hardware.device" && v.others[deviceKey(c.Name)] {
			// A disk or another device that is no adapter changed.
			continue
		}
		if !whole || c.Op == types.PropertyChangeOpAdd {
			// A part of the property changed: read it whole again.
			inv.markDirty(u.Obj, prop)
			continue
		}
		if c.Op == types.PropertyChangeOpRemove || c.Op == types.PropertyChangeOpIndirectRemove {
			val = nil
		}
		switch prop {
		case "config.instanceUuid":
			v.uuid, _ = val.(string)
		case "config.uuid":
			v.bios, _ = val.(string)
		case "name":
			v.name, _ = val.(string)
		case "runtime.host":
			ref, _ := val.(types.ManagedObjectReference)
			v.host = ref
		case "runtime.powerState":
			v.power, _ = val.(types.VirtualMachinePowerState)
		case "runtime.connectionState":
			v.conn, _ = val.(types.VirtualMachineConnectionState)
		case "config.template":
			v.template, _ = val.(bool)
		case "config.managedBy":
			v.managedBy = ""
			if m, ok := val.(types.ManagedByInfo); ok {
				v.managedBy = m.ExtensionKey
			} else if m, ok := val.(*types.ManagedByInfo); ok && m != nil {
				v.managedBy = m.ExtensionKey
			}
			if k := v.managedBy; k != "" && !placeholderProducts[k] && !inv.managers[k] {
				inv.managers[k] = true
				inv.log.Info("a VM managed by another product is reported as any VM: only SRM and vSphere Replication make placeholders",
					"vm", u.Obj.Value, "name", v.name, "managed_by", k)
			}
		case "config.ftInfo":
			v.ftSecondary = ftSecondary(val)
		case "config.hardware.device":
			devs, _ := val.(types.ArrayOfVirtualDevice)
			v.nics, v.others = inv.nics(u.Obj, devs.VirtualDevice)
		case "guest.net":
			nics, _ := val.(types.ArrayOfGuestNicInfo)
			inv.setGuest(u.Obj, v, nics.GuestNicInfo, now)
		}
	}
}

// ftSecondary reads config.ftInfo: role 1 is the primary.
func ftSecondary(val any) bool {
	var role int32
	switch f := val.(type) {
	case types.BaseFaultToleranceConfigInfo:
		role = f.GetFaultToleranceConfigInfo().Role
	case types.FaultToleranceConfigInfo:
		role = f.Role
	case types.FaultTolerancePrimaryConfigInfo:
		role = f.Role
	case types.FaultToleranceSecondaryConfigInfo:
		role = f.Role
	default:
		return false
	}
	return role > 1
}

// setGuest takes a new guest.net. An empty one while the VM runs keeps
// the last addresses, from now on, for the grace period: VMware Tools
// restarting or upgrading is no departure.
func (inv *Inventory) setGuest(obj types.ManagedObjectReference, v *vm, infos []types.GuestNicInfo, now time.Time) {
	addrs, truncated := inv.guestNet(obj, infos)
	if len(addrs) == 0 && v.power == types.VirtualMachinePowerStatePoweredOn && len(v.guest) > 0 {
		if v.guestLost.IsZero() {
			v.guestLost = now
			inv.log.Warn("VMware Tools reports no address for a running VM: keeping its last ones for the grace period",
				"vm", v.uuid, "name", v.name, "grace", inv.opts.GuestGrace)
		}
		return
	}
	v.guest, v.truncated, v.guestLost = addrs, truncated, time.Time{}
}

// deviceKey returns the device key a change to a part of the device list
// names ("config.hardware.device[2000].backing" is 2000), or -1.
func deviceKey(name string) int32 {
	rest, ok := strings.CutPrefix(name, "config.hardware.device[")
	if !ok {
		return -1
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return -1
	}
	k, err := strconv.ParseInt(rest[:end], 10, 32)
	if err != nil {
		return -1
	}
	return int32(k)
}

// nics reads the VM's Ethernet adapters, and the keys of its other
// devices; an adapter with a MAC vCenter has not assigned yet, or a
// broken one, is left out with a warning.
func (inv *Inventory) nics(obj types.ManagedObjectReference, devs []types.BaseVirtualDevice) (out []nic, others map[int32]bool) {
	others = map[int32]bool{}
	for _, d := range devs {
		card, ok := d.(types.BaseVirtualEthernetCard)
		if !ok {
			others[d.GetVirtualDevice().Key] = true
			continue
		}
		e := card.GetVirtualEthernetCard()
		if e.MacAddress == "" {
			continue
		}
		mac, err := wire.ParseMAC(e.MacAddress)
		if err != nil || !mac.IsUnicast() {
			inv.log.Warn("vCenter reports an adapter with a bad MAC: left out", "vm", obj.Value, "mac", e.MacAddress)
			continue
		}
		n := nic{mac: mac, connected: e.Connectable == nil || e.Connectable.Connected}
		switch b := e.Backing.(type) {
		case *types.VirtualEthernetCardNetworkBackingInfo:
			n.network = b.DeviceName
		case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
			n.pgKey = b.Port.PortgroupKey
		case *types.VirtualEthernetCardOpaqueNetworkBackingInfo:
			n.network = b.OpaqueNetworkId
		}
		out = append(out, n)
	}
	return out, others
}

// guestAddrs returns the addresses VMware Tools reports for an adapter:
// from ipConfig, those in state "preferred" and not IPv6 temporary ones
// (origin "random"); without ipConfig (older Tools), the plain list.
func guestAddrs(g types.GuestNicInfo) []string {
	if g.IpConfig == nil {
		return g.IpAddress
	}
	var out []string
	for _, a := range g.IpConfig.IpAddress {
		if a.State == string(types.NetIpConfigInfoIpAddressStatusPreferred) && a.Origin != string(types.NetIpConfigInfoIpAddressOriginRandom) {
			out = append(out, a.IpAddress)
		}
	}
	return out
}

// guestNet reads the addresses VMware Tools reports per MAC, leaving out
// what is not a usable address, and keeping the first wire.MaxAddresses
// of an adapter (open-vm-tools reports up to 2048): truncated says some
// were left out.
func (inv *Inventory) guestNet(obj types.ManagedObjectReference, infos []types.GuestNicInfo) (out map[string][]netip.Addr, truncated bool) {
	out = map[string][]netip.Addr{}
	for _, g := range infos {
		hw, err := net.ParseMAC(g.MacAddress)
		if err != nil {
			continue
		}
		key := hw.String()
		if !g.Connected {
			// A NIC the guest sees unplugged claims nothing, and is no
			// silence of VMware Tools.
			out[key] = nil
			continue
		}
		for _, s := range guestAddrs(g) {
			a, err := netip.ParseAddr(s)
			if err != nil {
				inv.log.Warn("vCenter reports a guest address that is not one: left out", "vm", obj.Value, "addr", s)
				continue
			}
			a = a.WithZone("").Unmap()
			if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || slices.Contains(out[key], a) {
				continue
			}
			if len(out[key]) == wire.MaxAddresses {
				truncated = true
				break
			}
			out[key] = append(out[key], a)
		}
	}
	return out, truncated
}

// noteMissing records the properties vCenter could not read for an object
// (MissingSet: no permission, most often), logging each once.
func (inv *Inventory) noteMissing(u types.ObjectUpdate) {
	for _, c := range u.ChangeSet {
		delete(inv.missing[u.Obj], c.Name)
	}
	for _, m := range u.MissingSet {
		if inv.missing[u.Obj] == nil {
			inv.missing[u.Obj] = map[string]string{}
		}
		why := "not readable"
		if m.Fault.Fault != nil {
			why = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(typeName(m.Fault.Fault), "*"), "types."), "Fault")
		}
		if _, seen := inv.missing[u.Obj][m.Path]; !seen {
			inv.log.Warn("vCenter withholds a property: check the vCenter user's role", "object", u.Obj.Value, "type", u.Obj.Type,
				"property", m.Path, "why", why)
		}
		inv.missing[u.Obj][m.Path] = why
	}
	if len(inv.missing[u.Obj]) == 0 {
		delete(inv.missing, u.Obj)
	}
}
