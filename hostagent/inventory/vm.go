package inventory

import (
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/shared/wire"
)

func (inv *Inventory) applyVM(u types.ObjectUpdate) {
	if u.Kind == types.ObjectUpdateKindLeave {
		// Out of every watched cluster, or deleted: its coming back is a
		// landing, whatever site it had.
		if v := inv.vms[u.Obj]; v != nil && v.uuid != "" && inv.where[v.uuid] != "" {
			inv.where[v.uuid] = ""
		}
		delete(inv.vms, u.Obj)
		return
	}
	v := inv.vms[u.Obj]
	if v == nil {
		v = &vm{guest: map[string][]netip.Addr{}}
		inv.vms[u.Obj] = v
	}
	for _, c := range u.ChangeSet {
		val := c.Val
		if c.Op == types.PropertyChangeOpRemove || c.Op == types.PropertyChangeOpIndirectRemove {
			val = nil
		}
		switch c.Name {
		case "config.instanceUuid":
			v.uuid, _ = val.(string)
		case "name":
			v.name, _ = val.(string)
		case "runtime.host":
			ref, _ := val.(types.ManagedObjectReference)
			v.host = ref
		case "runtime.powerState":
			v.power, _ = val.(types.VirtualMachinePowerState)
		case "runtime.bootTime":
			t, _ := val.(time.Time)
			v.boot = nil
			if !t.IsZero() {
				v.boot = &t
			}
		case "config.hardware.device":
			devs, _ := val.(types.ArrayOfVirtualDevice)
			v.nics = inv.nics(u.Obj, devs.VirtualDevice)
		case "guest.net":
			nics, _ := val.(types.ArrayOfGuestNicInfo)
			v.guest = inv.guestNet(u.Obj, nics.GuestNicInfo)
		}
	}
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

// guestNet reads the addresses VMware Tools reports per MAC, leaving out
// what is not a usable address.
func (inv *Inventory) guestNet(obj types.ManagedObjectReference, infos []types.GuestNicInfo) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, g := range infos {
		hw, err := net.ParseMAC(g.MacAddress)
		if err != nil {
			continue
		}
		key := hw.String()
		for _, s := range g.IpAddress {
			a, err := netip.ParseAddr(s)
			if err != nil {
				inv.log.Warn("vCenter reports a guest address that is not one: left out", "vm", obj.Value, "addr", s)
				continue
			}
			a = a.WithZone("").Unmap()
			if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || slices.Contains(out[key], a) {
				continue
			}
			out[key] = append(out[key], a)
		}
	}
	return out
}

