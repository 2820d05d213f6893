package agent

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/vcenter"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/pki"
	"github.com/vmroute/vmroute/tests/vcsim"
)

// The tests in this file run the hostagent against a vCenter as harsh as
// a real one (tests/vcsim.Harsh): paged answers, expired sessions,
// objects deleted under a re-read, late events, refused logins.

// newHarshLab is newLab with the harsh behaviours installed before the
// hostagent starts, and more VMs: 4 per cluster.
func newHarshLab(t *testing.T, prepare func(*vcsim.Harsh)) (*lab, *vcsim.Harsh) {
	t.Helper()
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 2, 0, 4
	l := newLabModel(t, m)
	h := vcsim.Install(m)
	if prepare != nil {
		prepare(h)
	}
	l.start(t)
	return l, h
}

// newRewriteLab is newHarshLab with a vcsim.Rewrite between the hostagent
// and vcsim; prepare runs before the hostagent starts.
func newRewriteLab(t *testing.T, prepare func(*lab, *vcsim.Rewrite)) (*lab, *vcsim.Harsh, *vcsim.Rewrite) {
	t.Helper()
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 2, 0, 4
	l := newLabModel(t, m)
	h := vcsim.Install(m)
	rw := vcsim.NewRewrite(l.url)
	t.Cleanup(rw.Close)
	l.via(t, rw.URL, rw.CertificatePEM())
	prepare(l, rw)
	l.start(t)
	return l, h, rw
}

// landedTimes returns the landing time the routeragent holds for every VM,
// by name.
func (r *routeragent) landedTimes() map[string]time.Time {
	out := map[string]time.Time{}
	for _, st := range r.intake.States() {
		for _, v := range st.VMs {
			out[v.Name] = v.LandedAt
		}
	}
	return out
}

func TestHarshPagedResyncLandsNothing(t *testing.T) {
	l, h := newHarshLab(t, func(h *vcsim.Harsh) { h.PageSize(3); h.VMsFirst() })
	r := l.r
	r.wait("8 VMs", func() bool { a, b := r.counts(); return a+b == 8 })
	l.relocate(t, vmA, hB0, rpB)
	r.wait("moved to B", func() bool { _, c := r.vm(vmA); return c == "cl-b" })
	before, landed := r.landedTimes(), l.agent.Status().VCenter.Landings
	logins := h.Calls("Login")

	// The session expires; the hostagent logs in again and resyncs, in
	// pages of 3 objects: VMs come before their hosts, on earlier pages.
	h.ExpireSession()
	l.waitStatus(t, "a resync", func(s Status) bool { return s.VCenter.Resyncs == 1 && s.VCenter.Connected })
	if h.Calls("Login") != logins+1 {
		t.Errorf("%d logins after the session expired, want one more than %d", h.Calls("Login"), logins)
	}
	const other = "DC0_C1_RP0_VM3"
	l.setGuestNet(t, other, []types.GuestNicInfo{{MacAddress: l.mac(t, other), Connected: true, IpAddress: []string{"192.0.2.33"}}})
	r.wait("a change after the resync", func() bool { v, _ := r.vm(other); return fmt.Sprint(v.NICs[0].Addresses) == "[192.0.2.33]" })
	if n := l.agent.Status().VCenter.Landings; n != landed {
		t.Errorf("%d landings after the resync, want %d: no VM moved", n, landed)
	}
	for name, at := range r.landedTimes() {
		if !at.Equal(before[name]) {
			t.Errorf("%s: landed at %v after the resync, was %v", name, at, before[name])
		}
	}
}

func TestHarshADeletedVMEndsNoSession(t *testing.T) {
	l, h := newHarshLab(t, nil)
	r := l.r
	r.wait("8 VMs", func() bool { a, b := r.counts(); return a+b == 8 })
	logins := h.Calls("Login")
	gone := l.vmObj(t, "DC0_C0_RP0_VM2").Reference()
	const other = "DC0_C0_RP0_VM3"
	// An address added to the VM's guest.net, which the hostagent reads
	// again whole; the VM is deleted before it does.
	mac := l.mac(t, "DC0_C0_RP0_VM2")
	h.Vanish(gone)
	if err := vcsim.Added(l.model, gone, "guest.net", []types.GuestNicInfo{{MacAddress: mac, Connected: true, IpAddress: []string{"192.0.2.43"}}}); err != nil {
		t.Fatal(err)
	}
	l.setGuestNet(t, other, []types.GuestNicInfo{{MacAddress: l.mac(t, other), Connected: true, IpAddress: []string{"192.0.2.44"}}})
	r.wait("the other VM's change", func() bool { v, _ := r.vm(other); return fmt.Sprint(v.NICs[0].Addresses) == "[192.0.2.44]" })
	if n, s := h.Calls("Login"), l.agent.Status().VCenter; n != logins || s.Resyncs != 0 || !s.Connected {
		t.Errorf("after a re-read of a deleted VM: %d logins (was %d), %d resyncs, connected %v; want the session kept", n, logins, s.Resyncs, s.Connected)
	}
	if h.VanishedReads() == 0 {
		t.Error("the hostagent did not read the deleted VM again: the test tests nothing")
	}
}

func TestHarshRefusedLoginsWaitFiveMinutes(t *testing.T) {
	l, h := newHarshLab(t, func(h *vcsim.Harsh) { h.RefuseLogins(true) })
	l.waitStatus(t, "a refused login", func(s Status) bool { return s.VCenter.LoginsRefused == 1 })
	time.Sleep(1500 * time.Millisecond) // the usual backoff would have tried again by now
	s := l.agent.Status().VCenter
	if n := h.Calls("Login"); n != 1 || s.LoginsRefused != 1 {
		t.Errorf("%d logins (%d refused) within 1.5 s, want 1", n, s.LoginsRefused)
	}
	if wait := time.Until(s.RetryAt); wait < 4*time.Minute {
		t.Errorf("next login in %v, want about %v", wait, vcenter.RefusedWait)
	}
}

func TestHarshLandingTimesFromTheirOwnEvents(t *testing.T) {
	l, _ := newHarshLab(t, nil)
	r := l.r
	r.wait("8 VMs", func() bool { a, b := r.counts(); return a+b == 8 })
	ctx := context.Background()
	vm := l.vmObj(t, vmA).Reference()
	host := func(path string) types.ManagedObjectReference { return l.obj(t, path).Reference() }

	// vCenter shows the move first and logs its event a second later.
	if err := vcsim.MoveLate(ctx, l.model, l.c, vm, host(hB0), time.Second); err != nil {
		t.Fatal(err)
	}
	r.wait("at B", func() bool { _, c := r.vm(vmA); return c == "cl-b" })
	// Back to A, its event late again: the landing at A is not stamped
	// with the late event of the move to B.
	back := time.Now()
	if err := vcsim.MoveLate(ctx, l.model, l.c, vm, host(hA1), time.Second); err != nil {
		t.Fatal(err)
	}
	r.wait("back at A", func() bool { _, c := r.vm(vmA); return c == "cl-a" })
	if v, _ := r.vm(vmA); v.LandedAt.Before(back) {
		t.Errorf("landed back at A at %v, before the move began (%v): stamped with the event of another move", v.LandedAt, back)
	}

	// vSphere HA restarts the VM at B: its EventEx stamps the landing.
	at, err := vcsim.RestartByHA(ctx, l.model, l.c, vm, host(hB0))
	if err != nil {
		t.Fatal(err)
	}
	r.wait("restarted at B", func() bool { _, c := r.vm(vmA); return c == "cl-b" })
	if v, _ := r.vm(vmA); !v.LandedAt.Equal(at) {
		t.Errorf("restarted by HA: landed at %v, want the HA event's %v", v.LandedAt, at)
	}
}

func TestHarshRealisticVMs(t *testing.T) {
	l, _ := newHarshLab(t, nil)
	r := l.r
	r.wait("8 VMs", func() bool { a, b := r.counts(); return a+b == 8 })
	vm := l.vmObj(t, vmA).Reference()
	plugged, unplugged, err := vcsim.Realistic(l.model, vm)
	if err != nil {
		t.Fatal(err)
	}
	// The guest reports an address on each; the unplugged adapter's is a
	// clone's copy of the production address, and claims nothing.
	l.setGuestNet(t, vmA, []types.GuestNicInfo{
		{MacAddress: plugged, Connected: true, IpAddress: []string{"192.0.2.50"}},
		{MacAddress: unplugged, Connected: true, IpAddress: []string{"192.0.2.51"}},
	})
	want := map[string]string{plugged: "[192.0.2.50]", unplugged: "[]"}
	r.wait("the adapters", func() bool {
		v, _ := r.vm(vmA)
		got := map[string]string{}
		for _, n := range v.NICs {
			got[n.MAC.String()] = fmt.Sprint(n.Addresses)
		}
		return got[plugged] == want[plugged] && got[unplugged] == want[unplugged]
	})
}

// TestHarshARenamedOrMovedClusterIsStillWatched renames a watched
// cluster, or moves it to another folder, which changes its path.
func TestHarshARenamedOrMovedClusterIsStillWatched(t *testing.T) {
	for _, how := range []string{"renamed", "moved"} {
		t.Run(how, func(t *testing.T) {
			l, h := newHarshLab(t, nil)
			r := l.r
			r.wait("8 VMs", func() bool { a, b := r.counts(); return a+b == 8 })
			ctx := context.Background()
			ref := l.obj(t, "/DC0/host/DC0_C0").Reference()
			var err error
			if how == "renamed" {
				var task *object.Task
				if task, err = object.NewClusterComputeResource(l.c, ref).Rename(ctx, "DC0_C0-renamed"); err == nil {
					err = l.waitTask(task)
				}
			} else {
				var path string
				if path, err = vcsim.MoveCluster(ctx, l.model, l.c, ref, "stretched"); err == nil && path != "/DC0/host/stretched/DC0_C0" {
					t.Fatalf("the cluster moved to %s", path)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			// The session expires: the hostagent logs in again and finds the
			// cluster by the ID it had, not by the path of its config.
			h.ExpireSession()
			l.waitStatus(t, "a resync", func(s Status) bool { return s.VCenter.Resyncs == 1 && s.VCenter.Connected })
			const other = "DC0_C0_RP0_VM3"
			l.setGuestNet(t, other, []types.GuestNicInfo{{MacAddress: l.mac(t, other), Connected: true, IpAddress: []string{"192.0.2.60"}}})
			r.wait("a change in the cluster", func() bool { v, _ := r.vm(other); return fmt.Sprint(v.NICs[0].Addresses) == "[192.0.2.60]" })
			if s := l.agent.Status().VCenter; !s.Connected || s.Resyncs != 1 || s.Landings != 0 {
				t.Errorf("status %+v, want connected after one resync, no landing", s)
			}
		})
	}
}

// TestHarshAHostRemovedAndAddedBackLandsNothing removes a host with its
// VMs from vCenter, in answers of one object each, so that the VMs leave
// pages before their host; then adds it back, its VMs under new IDs. The
// routeragent holds every VM all along, and nothing lands.
func TestHarshAHostRemovedAndAddedBackLandsNothing(t *testing.T) {
	l, _ := newHarshLab(t, func(h *vcsim.Harsh) { h.PageSize(1) })
	r := l.r
	r.wait("8 VMs", func() bool { a, b := r.counts(); return a+b == 8 })
	ctx := context.Background()
	var v mo.VirtualMachine
	if err := l.vmObj(t, vmA).Properties(ctx, l.vmObj(t, vmA).Reference(), []string{"runtime.host"}, &v); err != nil {
		t.Fatal(err)
	}
	landed := r.landedTimes()
	fewest := make(chan int)
	stop := make(chan struct{})
	go func() {
		n := 8
		for {
			a, b := r.counts()
			n = min(n, a+b)
			select {
			case <-stop:
				fewest <- n
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	removed, err := vcsim.RemoveHost(l.model, *v.Runtime.Host)
	if err != nil {
		t.Fatal(err)
	}
	l.waitStatus(t, "the host removed", func(s Status) bool { return len(s.VCenter.Hosts) == 3 })
	time.Sleep(100 * time.Millisecond) // the debounce, and a report if one were due
	back, err := vcsim.AddHostBack(ctx, l.model, l.c, removed)
	if err != nil {
		t.Fatal(err)
	}
	l.waitStatus(t, "the host and its VMs back", func(s Status) bool { return len(s.VCenter.Hosts) == 4 && s.VCenter.VMs == 8 })
	time.Sleep(100 * time.Millisecond)
	close(stop)
	if n := <-fewest; n != 8 {
		t.Errorf("the routeragent held %d VMs at the fewest, want all 8 all along", n)
	}
	if s := l.agent.Status().VCenter; s.Landings != 0 || !maps.Equal(r.landedTimes(), landed) {
		t.Errorf("%d landings; landing times %v, want %v", s.Landings, r.landedTimes(), landed)
	}
	if back == *v.Runtime.Host {
		t.Errorf("the host came back as %s, its old ID", back.Value)
	}
}

// TestHarshARoleThatHidesObjects has the vCenter user's role hide a VM (a
// folder permission), a host with its VMs, and the distributed port group
// of one of web-1's adapters. The hostagent reports what it may see,
// names the hidden host, and flags the adapter it can only name by key.
func TestHarshARoleThatHidesObjects(t *testing.T) {
	ctx := context.Background()
	const hiddenVM = "DC0_C0_RP0_VM1"
	var hiddenHost string
	var hiddenVMs []string
	var pgKey string
	l, _, _ := newRewriteLab(t, func(l *lab, rw *vcsim.Rewrite) {
		rw.Hide(l.vmObj(t, hiddenVM).Reference())
		host := l.obj(t, "/DC0/host/DC0_C1/DC0_C1_H1").Reference()
		var hs mo.HostSystem
		if err := object.NewHostSystem(l.c, host).Properties(ctx, host, []string{"name", "vm"}, &hs); err != nil {
			t.Fatal(err)
		}
		hiddenHost = hs.Name
		rw.Hide(append(hs.Vm, host)...)
		for _, ref := range hs.Vm {
			var v mo.VirtualMachine
			if err := object.NewVirtualMachine(l.c, ref).Properties(ctx, ref, []string{"name"}, &v); err != nil {
				t.Fatal(err)
			}
			hiddenVMs = append(hiddenVMs, v.Name)
		}
		if _, _, err := vcsim.Realistic(l.model, l.vmObj(t, vmA).Reference()); err != nil {
			t.Fatal(err)
		}
		devs, err := l.vmObj(t, vmA).Device(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			if b, ok := d.GetVirtualDevice().Backing.(*types.VirtualEthernetCardDistributedVirtualPortBackingInfo); ok {
				pgKey = b.Port.PortgroupKey
			}
		}
		rw.Hide(types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: pgKey})
	})
	r := l.r
	want := 8 - 1 - len(hiddenVMs)
	r.wait(fmt.Sprintf("%d VMs", want), func() bool { a, b := r.counts(); return a+b == want })
	for _, name := range append(hiddenVMs, hiddenVM) {
		if _, c := r.vm(name); c != "" {
			t.Errorf("hidden %s reported in %s", name, c)
		}
	}
	l.waitStatus(t, "the hidden host named", func(s Status) bool { return len(s.VCenter.HiddenHosts) == 1 })
	if got := l.agent.Status().VCenter.HiddenHosts[0]; !strings.HasPrefix(got, "cl-b/") {
		t.Errorf("hidden host %q, want cl-b's %s", got, hiddenHost)
	}
	web1, _ := r.vm(vmA)
	var networks []string
	for _, n := range web1.NICs {
		networks = append(networks, n.Network)
	}
	if !slices.Contains(networks, pgKey) {
		t.Errorf("web-1's adapters on %q, want one on the hidden port group's key %s", networks, pgKey)
	}
	// Flagged: every VM reported with an adapter on the hidden port
	// group (vcsim's VMs may have their first adapter on it too).
	var onKey []string
	for _, st := range r.intake.States() {
		for _, v := range st.VMs {
			if slices.ContainsFunc(v.NICs, func(n wire.NIC) bool { return n.Network == pgKey }) {
				onKey = append(onKey, v.Name)
			}
		}
	}
	slices.Sort(onKey)
	if f := l.agent.Status().VCenter.Flags; !slices.Contains(f.HiddenPortgroup, vmA) || !slices.Equal(f.HiddenPortgroup, onKey) {
		t.Errorf("flagged on a hidden port group: %q, want %q, with %s", f.HiddenPortgroup, onKey, vmA)
	}
}

// TestHarshNestedDeviceChanges sends web-1's device changes as vCenter
// names them, by the part that changed: a disk's backing after a
// snapshot is read again by nobody; an adapter unplugged has the device
// list read again, and its address goes.
func TestHarshNestedDeviceChanges(t *testing.T) {
	var plugged string
	l, h, rw := newRewriteLab(t, func(l *lab, _ *vcsim.Rewrite) {
		var err error
		if plugged, _, err = vcsim.Realistic(l.model, l.vmObj(t, vmA).Reference()); err != nil {
			t.Fatal(err)
		}
	})
	r := l.r
	vm := l.vmObj(t, vmA).Reference()
	addr := func(ips ...string) {
		l.setGuestNet(t, vmA, []types.GuestNicInfo{{MacAddress: plugged, Connected: true, IpAddress: ips}})
	}
	reported := func(want string) {
		t.Helper()
		r.wait("web-1 with "+want, func() bool {
			v, _ := r.vm(vmA)
			var got []string
			for _, n := range v.NICs {
				for _, a := range n.Addresses {
					got = append(got, a.String())
				}
			}
			return fmt.Sprint(got) == want
		})
	}
	reads := func() int {
		c := h.CallsFrom(vcenter.UserAgent)
		return c["RetrieveProperties"] + c["RetrievePropertiesEx"]
	}
	addr("192.0.2.70")
	reported("[192.0.2.70]")

	// A snapshot: the disk's backing gains a link.
	before := reads()
	disk, err := vcsim.ChangeDevice(l.model, vm, 2010, func(d types.BaseVirtualDevice) types.BaseVirtualDevice {
		nd := *d.(*types.VirtualDisk)
		nd.Backing = &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[LocalDS_0] web-1/disk2010-000009.vmdk"},
			DiskMode: string(types.VirtualDiskModePersistent), Parent: nd.Backing.(*types.VirtualDiskFlatVer2BackingInfo)}
		return &nd
	})
	if err != nil {
		t.Fatal(err)
	}
	rw.Nest(vm, "config.hardware.device", "config.hardware.device[2010].backing", disk.GetVirtualDevice().Backing)
	r.wait("the backing's change sent", rw.Nested)
	addr("192.0.2.71")
	reported("[192.0.2.71]")
	if n := reads() - before; n != 0 {
		t.Errorf("a disk's new backing had vCenter read %d times, want none", n)
	}

	// The adapter is unplugged: the list is read again, and its address goes.
	before = reads()
	nic, err := vcsim.ChangeDevice(l.model, vm, 4010, func(d types.BaseVirtualDevice) types.BaseVirtualDevice {
		nd := *d.(*types.VirtualVmxnet3)
		conn := *nd.Connectable
		conn.Connected = false
		nd.Connectable = &conn
		return &nd
	})
	if err != nil {
		t.Fatal(err)
	}
	rw.Nest(vm, "config.hardware.device", "config.hardware.device[4010].connectable", nic.GetVirtualDevice().Connectable)
	reported("[]")
	if n := reads() - before; n != 1 {
		t.Errorf("an adapter's change had vCenter read %d times, want once", n)
	}
}

// TestHarshNestedHostGroupChanges moves a host between the stretched
// cluster's DRS host groups, the change sent as vCenter names it, by the
// group that changed: the groups are read again, and the VM on that host
// lands at the other site.
func TestHarshNestedHostGroupChanges(t *testing.T) {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 1, 4, 0, 8
	l := newLabLayout(t, m, stretchedLayout)
	l.setHostGroups(t, map[string][]int{"hosts-a": {0, 1}, "hosts-b": {2, 3}}, false)
	l.relocate(t, web2, sh+"1", sp)
	rw := vcsim.NewRewrite(l.url)
	t.Cleanup(rw.Close)
	l.via(t, rw.URL, rw.CertificatePEM())
	l.start(t)
	r := l.r
	r.wait("web-2 at A", func() bool { v, _ := r.vm(web2); return v.Site == "A" })
	cref := l.obj(t, "/DC0/host/DC0_C0").Reference()
	group := &types.ClusterHostGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: "hosts-b"}}
	for _, i := range []int{1, 2, 3} {
		group.Host = append(group.Host, l.obj(t, fmt.Sprintf("%s%d", sh, i)).Reference())
	}
	rw.Nest(cref, "configurationEx", `configurationEx.group["hosts-b"]`, group)
	l.setHostGroups(t, map[string][]int{"hosts-a": {0}, "hosts-b": {1, 2, 3}}, true)
	r.wait("the group's change sent", rw.Nested)
	r.wait("web-2 at B", func() bool { v, _ := r.vm(web2); return v.Site == "B" })
}

// twoVCenters serves two vCenters with the harsh world, and runs a
// hostagent on each, both reporting to one routeragent: vCenter 1's
// cluster is cl-a at site A, with 2 VMs; vCenter 2's is cl-b at site B,
// with none (vcsim names VMs, and derives their UUIDs and MACs, the same
// way in every instance), and a standalone host for vcsim.CrossVMotion.
func twoVCenters(t *testing.T) (la, lb *lab, r *routeragent) {
	t.Helper()
	one, two := simulator.VPX(), simulator.VPX()
	one.Cluster, one.ClusterHost, one.Host, one.Machine = 1, 2, 0, 2
	two.Cluster, two.ClusterHost, two.Host, two.Machine = 1, 2, 1, 0
	ca := pki.New(t)
	ca.Issue(t, "hostagent")
	r = newRouteragent(t, ca, perSite.clusters...)
	la = newLabWith(t, one, layout{toml: "[[clusters]]\npath = \"/DC0/host/DC0_C0\"\nname = \"cl-a\"\nsite = \"A\"\n"}, ca, r)
	lb = newLabWith(t, two, layout{toml: "[[clusters]]\npath = \"/DC0/host/DC0_C0\"\nname = \"cl-b\"\nsite = \"B\"\n"}, ca, r)
	vcsim.Install(one)
	vcsim.Install(two)
	la.start(t)
	lb.start(t)
	return la, lb, r
}

// TestHarshCrossVCenterVMotion runs two vCenters, a hostagent each, both
// reporting to one routeragent: vCenter 1's cluster is site A, vCenter
// 2's site B. A cross-vCenter vMotion lands at B, by vCenter 2's clock,
// and leaves A.
func TestHarshCrossVCenterVMotion(t *testing.T) {
	la, lb, r := twoVCenters(t)
	r.wait("both vCenters reported", func() bool { a, _ := r.counts(); return a == 2 && len(r.intake.States()) == 2 })
	ctx := context.Background()
	before, _ := r.vm(vmA)
	start := time.Now()
	at, err := vcsim.CrossVMotion(ctx, la.c, lb.c, lb.model, "/DC0/vm/"+vmA, "/DC0/host/DC0_C0/DC0_C0_H1", "/DC0/host/DC0_C0/Resources", "VM Network", "")
	if err != nil {
		t.Fatal(err)
	}
	r.wait("the VM at B only", func() bool {
		a, b := r.counts()
		v, c := r.vm(vmA)
		return c == "cl-b" && v.UUID == before.UUID && a == 1 && b == 1
	})
	// The VM lands when it appears in vCenter 2, by its clock: at the
	// event, if both came in one answer, else at the answer that brought
	// it, before the routeragent had it.
	seen := time.Now()
	if v, _ := r.vm(vmA); v.LandedAt.Before(start) || v.LandedAt.After(seen) || len(v.NICs) != 1 || v.NICs[0].MAC != before.NICs[0].MAC {
		t.Errorf("at B: landed %v with %+v, want between the move's start %v and %v (vCenter 2's event: %v), and the MAC %s",
			v.LandedAt, v.NICs, start, seen, at, before.NICs[0].MAC)
	}
}

// TestHarshCrossVCenterVMotionNewInstanceUUID moves a VM to a vCenter
// that gives it a new instance UUID, while vCenter 1's hostagent is down
// and its last report still holds the VM at A. The VM keeps its BIOS
// UUID and MACs, and the routeragent's planner takes the two claims for
// one VM, at B: its address is no conflict, and B holds its host route.
func TestHarshCrossVCenterVMotionNewInstanceUUID(t *testing.T) {
	la, lb, r := twoVCenters(t)
	guest := []types.GuestNicInfo{{MacAddress: la.mac(t, vmA), Connected: true, IpAddress: []string{"192.0.2.50"}}}
	la.setGuestNet(t, vmA, guest)
	r.wait("the VM at A with its address", func() bool {
		v, c := r.vm(vmA)
		return c == "cl-a" && len(v.NICs) == 1 && len(v.NICs[0].Addresses) == 1 && v.BIOSUUID != ""
	})
	before, _ := r.vm(vmA)
	la.stop()
	const newUUID = "5012aaaa-bbbb-cccc-dddd-000000000001"
	if _, err := vcsim.CrossVMotion(context.Background(), la.c, lb.c, lb.model, "/DC0/vm/"+vmA, "/DC0/host/DC0_C0/DC0_C0_H1", "/DC0/host/DC0_C0/Resources", "VM Network", newUUID); err != nil {
		t.Fatal(err)
	}
	lb.setGuestNet(t, vmA, guest)
	var after wire.VM
	r.wait("the VM at B under its new instance UUID, with its address", func() bool {
		for _, st := range r.intake.States() {
			if v, ok := st.VMs[newUUID]; ok && st.Cluster == "cl-b" && len(v.NICs) == 1 && len(v.NICs[0].Addresses) == 1 {
				after = v
				return true
			}
		}
		return false
	})
	if after.BIOSUUID != before.BIOSUUID || after.NICs[0].MAC != before.NICs[0].MAC {
		t.Fatalf("at B: BIOS UUID %q, MAC %s; at A: %q, %s", after.BIOSUUID, after.NICs[0].MAC, before.BIOSUUID, before.NICs[0].MAC)
	}
	p, err := plan.New(plan.Config{Site: "B", Subnets: []plan.Subnet{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Home: "A",
		Interface: "eth0", Gateways: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range r.intake.States() {
		p.SetCluster(st.Cluster, slices.Collect(maps.Values(st.VMs)), st.Gone)
	}
	res := p.Plan(time.Now())
	var locs []string
	for _, l := range p.Locations() {
		locs = append(locs, fmt.Sprintf("%s %s %s claims=%d", l.Name, l.VM, l.Site, l.Claims))
	}
	if !slices.Contains(locs, fmt.Sprintf("%s %s B claims=2", vmA, before.UUID)) || len(res.Findings.Conflicts) != 0 {
		t.Errorf("locations %q, conflicts %v: want %s once, at B, claimed by both clusters", locs, res.Findings.Conflicts, vmA)
	}
	addr := netip.MustParseAddr("192.0.2.50")
	covers := func(site string) bool {
		return slices.ContainsFunc(res.Routes(site), func(rt plan.Route) bool { return rt.Prefix.Contains(addr) })
	}
	if !covers("B") || covers("A") {
		t.Errorf("A announces %v, B %v: want the VM's address covered from B only", res.Routes("A"), res.Routes("B"))
	}
}

// TestHarshASlowFirstSyncIsNotCut has vCenter take 2 s for the first page
// of the sync, longer than any other call may take (1.5 s here): the
// sync's answers have a bound of their own.
func TestHarshASlowFirstSyncIsNotCut(t *testing.T) {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 2, 0, 4
	l := newLabModel(t, m)
	h := vcsim.Install(m)
	h.SlowSync(2 * time.Second)
	l.start(t, func(a *Agent) { a.watcher.CallTimeout = 1500 * time.Millisecond })
	l.r.wait("8 VMs", func() bool { a, b := l.r.counts(); return a+b == 8 })
	if n, s := h.Calls("Login"), l.agent.Status().VCenter; n != 1 || s.Resyncs != 0 {
		t.Errorf("%d logins, %d resyncs: the slow first answer was cut", n, s.Resyncs)
	}
}
