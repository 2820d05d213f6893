// Package vcsim fills in what govmomi's simulator leaves out when a VM
// moves, so that tests and the lab see what a real vCenter shows. vcsim's
// RelocateVM_Task changes the VM's runtime.host but leaves every host's
// vm list as it was (and its ContainerViews follow no move); vCenter
// moves the VM from the old host's list to the new one's, and a
// hostagent, which watches the VMs through its hosts' vm lists, relies on
// it.
package vcsim

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
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

// Relocate moves a VM (its inventory path) to a host and, when pool is
// set, a resource pool, as vMotion does; it returns once vCenter's task
// completed and HostMoved fixed the hosts' vm lists.
func Relocate(ctx context.Context, m *simulator.Model, c *vim25.Client, vmPath, hostPath, poolPath string) error {
	f := find.NewFinder(c, false)
	vm, err := f.VirtualMachine(ctx, vmPath)
	if err != nil {
		return err
	}
	h, err := f.HostSystem(ctx, hostPath)
	if err != nil {
		return err
	}
	hr := h.Reference()
	spec := types.VirtualMachineRelocateSpec{Host: &hr}
	if poolPath != "" {
		p, err := f.ResourcePool(ctx, poolPath)
		if err != nil {
			return err
		}
		pr := p.Reference()
		spec.Pool = &pr
	}
	task, err := vm.Relocate(ctx, spec, types.VirtualMachineMovePriorityDefaultPriority)
	if err != nil {
		return err
	}
	if err := WaitTask(ctx, c, task); err != nil {
		return fmt.Errorf("relocate %s: %w", vmPath, err)
	}
	HostMoved(m, vm.Reference())
	return nil
}

// WaitTask waits for a vCenter task by reading its state. (govmomi's
// task.Wait makes and destroys a property filter per task, which races
// inside vcsim with a hostagent's wait.)
func WaitTask(ctx context.Context, c *vim25.Client, task *object.Task) error {
	for {
		var t mo.Task
		if err := property.DefaultCollector(c).RetrieveOne(ctx, task.Reference(), []string{"info"}, &t); err != nil {
			return err
		}
		switch t.Info.State {
		case types.TaskInfoStateSuccess:
			return nil
		case types.TaskInfoStateError:
			if t.Info.Error != nil {
				return fmt.Errorf("task %s: %s", task.Reference().Value, t.Info.Error.LocalizedMessage)
			}
			return fmt.Errorf("task %s failed", task.Reference().Value)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
