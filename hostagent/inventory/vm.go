package inventory

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/shared/wire"
)

type vm struct {
	uuid, name string
	host       types.ManagedObjectReference
	power      types.VirtualMachinePowerState
	conn       types.VirtualMachineConnectionState
	// Copies that claim nothing: a template, a VM another product manages
	// (an SRM or vSphere Replication placeholder), a Fault Tolerance
	// secondary.
	template    bool
	managedBy   string
	ftSecondary bool
	nics        []nic
	guest       map[string][]netip.Addr // MAC -> addresses
	// truncated says VMware Tools reported more addresses on an adapter
	// than a report carries; the first ones are kept.
	truncated bool
	// guestLost is when guest.net went empty while the VM ran (VMware
	// Tools restarting or upgrading): its last addresses are kept for the
	// grace period. Zero otherwise.
	guestLost time.Time
	// last is what was last reported of the VM, kept while vCenter cannot
	// reach it (inaccessible, orphaned, disconnected).
	last *wire.VM
}

type nic struct {
	mac            wire.MAC
	network, pgKey string
}

// copyOf says what kind of copy that claims nothing a VM is, or "":
// "template", "managed" (by another product) or "ft_secondary".
func (v *vm) copyOf() string {
	if v.template {
		return "template"
	}
	if v.managedBy != "" {
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
		if strings.HasPrefix(name, p) && (name[len(p)] == '[' || name[len(p)] == '.') {
			return p, false
		}
	}
	return "", false
}

func (inv *Inventory) applyVM(u types.ObjectUpdate, now time.Time) {
	if u.Kind == types.ObjectUpdateKindLeave {
		// Out of every watched cluster, or deleted: its coming back is a
		// landing, whatever site it had.
		if v := inv.vms[u.Obj]; v != nil && v.uuid != "" && inv.where[v.uuid] != "" {
			inv.where[v.uuid] = ""
		}
		delete(inv.vms, u.Obj)
		delete(inv.missing, u.Obj)
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
		if !whole || c.Op == types.PropertyChangeOpAdd {
			// A part of the property changed: read it whole again.
			if !slices.Contains(inv.dirty[u.Obj], prop) {
				inv.dirty[u.Obj] = append(inv.dirty[u.Obj], prop)
			}
			continue
		}
		if c.Op == types.PropertyChangeOpRemove || c.Op == types.PropertyChangeOpIndirectRemove {
			val = nil
		}
		switch prop {
		case "config.instanceUuid":
			v.uuid, _ = val.(string)
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
		case "config.ftInfo":
			v.ftSecondary = ftSecondary(val)
		case "config.hardware.device":
			devs, _ := val.(types.ArrayOfVirtualDevice)
			v.nics = inv.nics(u.Obj, devs.VirtualDevice)
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

// nics reads the VM's Ethernet adapters; an adapter with a MAC vCenter
// has not assigned yet, or a broken one, is left out with a warning.
func (inv *Inventory) nics(obj types.ManagedObjectReference, devs []types.BaseVirtualDevice) []nic {
	var out []nic
	for _, d := range devs {
		card, ok := d.(types.BaseVirtualEthernetCard)
		if !ok {
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
		n := nic{mac: mac}
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
	return out
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
