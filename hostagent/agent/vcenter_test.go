package agent

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/vcsim"
)

// TestIntegrationVCenterData runs what a real vCenter sends, as far as
// vcsim can produce it: an appliance clock that is minutes off, a
// template, a powered-off copy of a running VM with its instance UUID,
// MAC and address, and VMware Tools that report no address for a while.
func TestIntegrationVCenterData(t *testing.T) {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 2, 0, 2
	l := newLabModel(t, m)
	var skew atomic.Int64
	l.start(t, func(a *Agent) {
		a.watcher.Clock = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	r := l.r
	r.wait("both clusters reported", func() bool { _, c := r.vm(vmA); return c == "cl-a" && len(r.intake.States()) == 2 })
	ctx := context.Background()

	for _, d := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(fmt.Sprintf("appliance clock %+v off: landings by vCenter's clock", d), func(t *testing.T) {
			skew.Store(int64(d))
			defer skew.Store(0)
			before, _ := r.vm(vmA)
			host, pool := hB0, rpB
			if before.Site == "B" {
				host, pool = "/DC0/host/DC0_C0/DC0_C0_H0", rpA
			}
			// vcsim's VmMigratedEvent names the old host as the VM's host, so
			// it stamps no landing: the time is vCenter's CurrentTime of the
			// batch that brought the move, before the routeragent had it.
			start := time.Now()
			l.relocate(t, vmA, host, pool)
			r.wait("the landing", func() bool { v, _ := r.vm(vmA); return v.Site != before.Site })
			seen := time.Now()
			if v, _ := r.vm(vmA); v.LandedAt.Before(start) || v.LandedAt.After(seen) {
				t.Errorf("landed at %v; the migration began at %v and the routeragent had it at %v, by vCenter's clock", v.LandedAt, start, seen)
			}
		})
	}

	t.Run("a template claims nothing", func(t *testing.T) {
		const tmpl = "DC0_C1_RP0_VM1"
		vm := l.vmObj(t, tmpl)
		if task, err := vm.PowerOff(ctx); err != nil || l.waitTask(task) != nil {
			t.Fatal(err)
		}
		if err := vm.MarkAsTemplate(ctx); err != nil {
			t.Fatal(err)
		}
		// vcsim's MarkAsTemplate does not tell the property collectors;
		// vCenter does. Tell them as it would.
		sctx := l.model.Service.Context
		sim := sctx.Map.Get(vm.Reference()).(*simulator.VirtualMachine)
		sctx.WithLock(sim, func() { sctx.Update(sim, []types.PropertyChange{{Name: "config.template", Val: true}}) })
		r.wait("the template gone from the report", func() bool { v, _ := r.vm(tmpl); return v.UUID == "" })
		l.waitStatus(t, "the template counted", func(s Status) bool { return s.VCenter.Flags.Copies["template"] == 1 })
	})

	t.Run("a powered-off copy with the running VM's UUID, MAC and address hides nothing", func(t *testing.T) {
		orig := l.vmObj(t, vmA)
		v, _ := r.vm(vmA)
		uuid := v.UUID
		folder := object.NewFolder(l.c, l.obj(t, "/DC0/vm").Reference())
		pool := l.obj(t, rpA).Reference()
		if v.Site == "B" {
			pool = l.obj(t, rpB).Reference()
		}
		task, err := orig.Clone(ctx, folder, "web-1-copy", types.VirtualMachineCloneSpec{
			Location: types.VirtualMachineRelocateSpec{Pool: &pool},
			Config:   &types.VirtualMachineConfigSpec{InstanceUuid: uuid}, PowerOn: false})
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.taskResult(task)
		if err != nil {
			t.Fatal(err)
		}
		clone := object.NewVirtualMachine(l.c, res.(types.ManagedObjectReference))
		vcsim.HostMoved(l.model, clone.Reference())
		l.setGuestNet(t, "web-1-copy", []types.GuestNicInfo{{MacAddress: l.mac(t, vmA), Connected: true, IpAddress: []string{"192.0.2.10"}}})
		var got mo.VirtualMachine
		if err := clone.Properties(ctx, clone.Reference(), []string{"config.instanceUuid"}, &got); err != nil {
			t.Fatal(err)
		}
		if got.Config == nil || got.Config.InstanceUuid != uuid {
			// vcsim gave the copy a UUID of its own: give it the original's,
			// as a backup product's copy has it.
			task, err := clone.Reconfigure(ctx, types.VirtualMachineConfigSpec{InstanceUuid: uuid})
			if err != nil {
				t.Fatal(err)
			}
			if err := task.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if err := clone.Properties(ctx, clone.Reference(), []string{"config.instanceUuid"}, &got); err != nil {
				t.Fatal(err)
			}
			if got.Config == nil || got.Config.InstanceUuid != uuid {
				t.Fatalf("vcsim keeps the copy's instance UUID %v, not the original's %s: the test cannot make a duplicate", got.Config, uuid)
			}
		}
		l.waitStatus(t, "the hostagent sees the copy", func(s Status) bool { return slices.Contains(s.VCenter.Flags.Duplicates, uuid) })
		if v, _ := r.vm(vmA); v.PowerState != wire.PoweredOn || v.UUID != uuid {
			t.Errorf("the routeragent holds %+v, want the running web-1", v)
		}
	})

	t.Run("VMware Tools silent: the last addresses are kept", func(t *testing.T) {
		l.setGuestNet(t, vmA, []types.GuestNicInfo{{MacAddress: l.mac(t, vmA), Connected: true, IpAddress: []string{"192.0.2.10"}}})
		r.wait("web-1's address", func() bool { v, _ := r.vm(vmA); return fmt.Sprint(v.NICs[0].Addresses) == "[192.0.2.10]" })
		before, _ := r.vm(vmA)
		l.setGuestNet(t, vmA, nil)
		l.waitStatus(t, "Tools flagged silent", func(s Status) bool { return slices.Contains(s.VCenter.Flags.ToolsSilent, vmA) })
		if v, _ := r.vm(vmA); fmt.Sprint(v.NICs) != fmt.Sprint(before.NICs) {
			t.Errorf("adapters %v, want %v kept", v.NICs, before.NICs)
		}
	})
}
