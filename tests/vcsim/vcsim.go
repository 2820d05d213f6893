// Package vcsim fills in what govmomi's simulator leaves out when a VM
// moves, so that tests and the lab see what a real vCenter shows. vcsim's
// RelocateVM_Task changes the VM's runtime.host but leaves every host's
// vm list as it was (and its ContainerViews follow no move); vCenter
// moves the VM from the old host's list to the new one's, and a
// hostagent, which watches the VMs through its hosts' vm lists, relies on
// it.
package vcsim

import (
	"slices"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// fixing makes HostMoved calls take turns: vcsim's object locks are
// reentrant for one Context, and every caller shares the model's, so they
// would not keep two moves onto one host apart.
var fixing sync.Mutex

// HostMoved lists the VM on the host it runs on (runtime.host) and on no
// other, telling the property collectors of each host it changed: first
// the new host, then the old, so that the VM is never on no host. Call it
// after a relocation's task completed.
func HostMoved(m *simulator.Model, vm types.ManagedObjectReference) {
	fixing.Lock()
	defer fixing.Unlock()
	ctx := m.Service.Context
	sim, ok := ctx.Map.Get(vm).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	var host types.ManagedObjectReference
	ctx.WithLock(sim, func() {
		if sim.Runtime.Host != nil {
			host = *sim.Runtime.Host
		}
	})
	hosts := ctx.Map.All("HostSystem")
	for _, onNew := range []bool{true, false} {
		for _, e := range hosts {
			h := e.(*simulator.HostSystem)
			if (h.Self == host) != onNew {
				continue
			}
			ctx.WithLock(h, func() {
				listed := slices.Contains(h.Vm, vm)
				switch {
				case onNew && !listed:
					h.Vm = append(slices.Clone(h.Vm), vm)
				case !onNew && listed:
					h.Vm = slices.DeleteFunc(slices.Clone(h.Vm), func(r types.ManagedObjectReference) bool { return r == vm })
				default:
					return
				}
				ctx.Update(h, []types.PropertyChange{{Name: "vm", Val: h.Vm}})
			})
		}
	}
}
