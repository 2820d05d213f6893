package agent

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/config"
	"github.com/vmroute/vmroute/hostagent/inventory"
	"github.com/vmroute/vmroute/hostagent/preflight"
	"github.com/vmroute/vmroute/routeragent/intake"
	"github.com/vmroute/vmroute/shared/wire"
)

// stretchedLayout is one cluster over two sites, split by DRS host group:
// hosts H0 and H1 of DC0_C0 in "hosts-a", H2 and H3 in "hosts-b".
var stretchedLayout = layout{toml: `[[clusters]]
path = "/DC0/host/DC0_C0"
name = "stretched"
sites_by = "host_group"
[clusters.sites]
A = ["hosts-a"]
B = ["hosts-b"]
`, clusters: []intake.Cluster{{Name: "stretched", Sites: []string{"A", "B"}, Clients: []string{"hostagent"}}}}

const (
	sh   = "/DC0/host/DC0_C0/DC0_C0_H"
	sp   = "/DC0/host/DC0_C0/Resources"
	web1 = "DC0_C0_RP0_VM0"
	web2 = "DC0_C0_RP0_VM1"
)

// newStretchedLab is vcsim with one cluster of four hosts and two VMs on
// each, the DRS host groups of both sites, and a hostagent watching it.
func newStretchedLab(t testing.TB) *lab {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 1, 4, 0, 8
	l := newLabLayout(t, m, stretchedLayout)
	l.setHostGroups(t, map[string][]int{"hosts-a": {0, 1}, "hosts-b": {2, 3}}, false)
	// vcsim spreads the VMs over the hosts at random: the tests' two VMs
	// start on H0 and H1, at site A.
	l.relocate(t, web1, sh+"0", sp)
	l.relocate(t, web2, sh+"1", sp)
	l.start(t)
	return l
}

// setHostGroups replaces the cluster's DRS host groups through
// ReconfigureComputeResource_Task, as an admin does. With notify, it also
// tells vcsim's property collectors, which its task leaves out (vCenter
// tells them).
func (l *lab) setHostGroups(t testing.TB, groups map[string][]int, notify bool) {
	t.Helper()
	ctx := context.Background()
	cref := l.obj(t, "/DC0/host/DC0_C0").Reference()
	cluster := object.NewClusterComputeResource(l.c, cref)
	var spec types.ClusterConfigSpecEx
	cfg, err := cluster.Configuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range cfg.Group {
		spec.GroupSpec = append(spec.GroupSpec, types.ClusterGroupSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{
			Operation: types.ArrayUpdateOperationRemove, RemoveKey: g.GetClusterGroupInfo().Name}})
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range groups {
			if !yield(k) {
				return
			}
		}
	}) {
		g := &types.ClusterHostGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: name}}
		for _, i := range groups[name] {
			g.Host = append(g.Host, l.obj(t, fmt.Sprintf("%s%d", sh, i)).Reference())
		}
		spec.GroupSpec = append(spec.GroupSpec, types.ClusterGroupSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd}, Info: g})
	}
	task, err := cluster.Reconfigure(ctx, &spec, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.waitTask(task); err != nil {
		t.Fatalf("host groups: %v", err)
	}
	if notify {
		sctx := l.model.Service.Context
		sim := sctx.Map.Get(cref).(*simulator.ClusterComputeResource)
		sctx.WithLock(sim, func() {
			sctx.Update(sim, []types.PropertyChange{{Name: "configurationEx", Val: sim.ConfigurationEx}})
		})
	}
}

func TestIntegrationStretchedCluster(t *testing.T) {
	l := newStretchedLab(t)
	r := l.r
	r.wait("the cluster's 8 VMs", func() bool { return len(r.intake.States()) == 1 && len(r.intake.States()[0].VMs) == 8 })
	st := r.intake.States()[0]
	for _, v := range st.VMs {
		if v.Site != "A" && v.Site != "B" {
			t.Errorf("%s at site %q", v.Name, v.Site)
		}
	}
	hosts := l.agent.Status().VCenter.Hosts
	want := []inventory.HostSite{{Name: "DC0_C0_H0", Cluster: "stretched", Site: "A"}, {Name: "DC0_C0_H1", Cluster: "stretched", Site: "A"},
		{Name: "DC0_C0_H2", Cluster: "stretched", Site: "B"}, {Name: "DC0_C0_H3", Cluster: "stretched", Site: "B"}}
	if fmt.Sprint(hosts) != fmt.Sprint(want) {
		t.Errorf("hosts %v, want %v", hosts, want)
	}

	first, _ := r.vm(web1)
	if first.Site != "A" {
		t.Fatalf("%s on H0 at site %q, want A", web1, first.Site)
	}

	t.Run("vMotion to a host of the other site is a landing there", func(t *testing.T) {
		l.relocate(t, web1, sh+"2", sp)
		r.wait("web-1 at B", func() bool { v, _ := r.vm(web1); return v.Site == "B" && v.LandedAt.After(first.LandedAt) })
	})

	t.Run("a DRS move inside site B sends nothing", func(t *testing.T) {
		before, _ := r.vm(web1)
		posts := r.postCount()
		l.relocate(t, web1, sh+"3", sp)
		// A change that is reported marks when the hostagent has seen the
		// move: it alone may reach the routeragent.
		l.setGuestNet(t, web2, []types.GuestNicInfo{{MacAddress: l.mac(t, web2), Connected: true, IpAddress: []string{"192.0.2.77"}}})
		r.wait("the marker change", func() bool {
			v, _ := r.vm(web2)
			return len(v.NICs) == 1 && fmt.Sprint(v.NICs[0].Addresses) == "[192.0.2.77]"
		})
		if n := r.postCount() - posts; n != 1 {
			t.Errorf("%d reports for a move inside site B and one address change, want 1", n)
		}
		if v, _ := r.vm(web1); v.Site != "B" || !v.LandedAt.Equal(before.LandedAt) {
			t.Errorf("after the move inside B: at %s, landed %v (was %v)", v.Site, v.LandedAt, before.LandedAt)
		}
	})

	t.Run("a host regrouped to the other site takes its VMs along, without a restart", func(t *testing.T) {
		before, _ := r.vm(web1) // on H3, in hosts-b
		l.setHostGroups(t, map[string][]int{"hosts-a": {0, 1, 3}, "hosts-b": {2}}, true)
		r.wait("web-1 at A", func() bool { v, _ := r.vm(web1); return v.Site == "A" && v.LandedAt.After(before.LandedAt) })
	})

	t.Run("a host in no group is unplaced and its VMs stay where they were", func(t *testing.T) {
		before, _ := r.vm(web1) // on H3, now at A
		l.setHostGroups(t, map[string][]int{"hosts-a": {0, 1}, "hosts-b": {2}}, true)
		l.waitStatus(t, "H3 unplaced", func(s Status) bool {
			return slices.ContainsFunc(s.VCenter.Hosts, func(h inventory.HostSite) bool {
				return h.Name == "DC0_C0_H3" && h.Site == "" && h.Why == "in no DRS host group"
			})
		})
		if v, _ := r.vm(web1); v.Site != "A" || !v.LandedAt.Equal(before.LandedAt) {
			t.Errorf("a VM on an unplaced host: at %s, landed %v; want A, %v", v.Site, v.LandedAt, before.LandedAt)
		}
	})

	t.Run("HA restarts a VM at the other site: it lands there", func(t *testing.T) {
		vm := l.vmObj(t, web1)
		if task, err := vm.PowerOff(context.Background()); err != nil || l.waitTask(task) != nil {
			t.Fatal(err)
		}
		r.wait("web-1 off", func() bool { v, _ := r.vm(web1); return v.PowerState == wire.PoweredOff })
		l.relocate(t, web1, sh+"2", sp)
		if task, err := vm.PowerOn(context.Background()); err != nil || l.waitTask(task) != nil {
			t.Fatal(err)
		}
		r.wait("web-1 on at B", func() bool { v, _ := r.vm(web1); return v.Site == "B" && v.PowerState == wire.PoweredOn })
	})
}

// waitStatus waits until cond holds for the hostagent's status.
func (l *lab) waitStatus(t testing.TB, what string, cond func(Status) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(l.agent.Status()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hostagent: %s: not within 10s; status %+v", what, l.agent.Status())
		}
	}
}

// TestIntegrationScopedWatch measures what one hostagent watches in a
// vCenter of 10 clusters: one ContainerView per watched cluster, against
// the single view of the whole inventory it used before.
func TestIntegrationScopedWatch(t *testing.T) {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 10, 2, 0, 4
	l := newLabLayout(t, m, layout{toml: "[[clusters]]\npath = \"/DC0/host/DC0_C0\"\nname = \"cl-a\"\nsite = \"A\"\n",
		clusters: []intake.Cluster{{Name: "cl-a", Sites: []string{"A"}, Clients: []string{"hostagent"}}}})
	type count struct{ objects, properties int }
	got := make(chan count, 1)
	l.start(t, func(a *Agent) {
		a.watcher.Watched = func(o, p int) { got <- count{o, p} }
	})
	var scoped count
	select {
	case scoped = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no first sync within 10s")
	}

	// Before: one view of VMs, hosts and port groups from the root folder.
	ctx := context.Background()
	cv, err := view.NewManager(l.c).CreateContainerView(ctx, l.c.ServiceContent.RootFolder,
		[]string{"VirtualMachine", "HostSystem", "DistributedVirtualPortgroup"}, true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := property.DefaultCollector(l.c).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{{
		ObjectSet: []types.ObjectSpec{{Obj: cv.Reference(), Skip: types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}}}},
		PropSet: []types.PropertySpec{
			{Type: "VirtualMachine", PathSet: inventory.VMProperties},
			{Type: "HostSystem", PathSet: inventory.HostProperties},
			{Type: "DistributedVirtualPortgroup", PathSet: inventory.PortgroupProperties},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	var root count
	for _, c := range res.Returnval {
		root.objects++
		root.properties += len(c.PropSet)
	}
	t.Logf("one hostagent of 10 clusters watches %d objects, %d properties (the whole inventory: %d objects, %d properties)",
		scoped.objects, scoped.properties, root.objects, root.properties)
	// Its cluster: 2 hosts and 4 VMs, and the port groups they use.
	if scoped.objects > root.objects/5 || scoped.objects < 6 {
		t.Errorf("the scoped watch saw %d objects of the inventory's %d; want its own cluster's, about a tenth", scoped.objects, root.objects)
	}
}

// TestIntegrationFaultDomains runs a vSAN stretched cluster: hosts placed
// by their vSAN fault domain, which vcsim carries in each host's
// config.vsanHostConfig.
func TestIntegrationFaultDomains(t *testing.T) {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 1, 4, 0, 8
	l := newLabLayout(t, m, layout{toml: `[[clusters]]
path = "/DC0/host/DC0_C0"
name = "stretched"
sites_by = "fault_domain"
[clusters.sites]
A = ["fd-a"]
B = ["fd-b"]
`, clusters: stretchedLayout.clusters})
	// setFaultDomain puts host i in a vSAN fault domain and tells the
	// property collectors of the changed property.
	setFaultDomain := func(i int, fd string) {
		sctx := l.model.Service.Context
		host := sctx.Map.Get(l.obj(t, fmt.Sprintf("%s%d", sh, i)).Reference()).(*simulator.HostSystem)
		sctx.WithLock(host, func() {
			cfg := *host.Config
			cfg.VsanHostConfig = &types.VsanHostConfigInfo{FaultDomainInfo: &types.VsanHostFaultDomainInfo{Name: fd}}
			host.Config = &cfg
			sctx.Update(host, []types.PropertyChange{{Name: "config.vsanHostConfig.faultDomainInfo.name", Val: fd}})
		})
	}
	for i, fd := range []string{"fd-a", "fd-a", "fd-b", "fd-b"} {
		setFaultDomain(i, fd)
	}
	l.relocate(t, web1, sh+"0", sp)
	l.start(t)
	r := l.r
	r.wait("web-1 at A", func() bool { v, _ := r.vm(web1); return v.Site == "A" })
	l.relocate(t, web1, sh+"3", sp)
	r.wait("web-1 at B", func() bool { v, _ := r.vm(web1); return v.Site == "B" })
	// vSAN moves H3 to site A's fault domain: its VMs land at A.
	setFaultDomain(3, "fd-a")
	r.wait("web-1 at A again", func() bool { v, _ := r.vm(web1); return v.Site == "A" })
}

// TestIntegrationPreflight runs vmroute-hostagent --check's checks against
// vcsim and a routeragent: all OK for the stretched lab, and a FAIL that
// names the cluster when a routeragent does not allow the certificate.
func TestIntegrationPreflight(t *testing.T) {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 1, 4, 0, 2
	l := newLabLayout(t, m, stretchedLayout)
	l.setHostGroups(t, map[string][]int{"hosts-a": {0, 1}, "hosts-b": {2}}, false)
	cfg, err := config.Load(filepath.Join(l.dir, "hostagent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	var lines []string
	for _, r := range preflight.Run(context.Background(), cfg, quiet) {
		lines = append(lines, r.String())
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"OK   client certificate",
		"OK   vCenter 127.0.0.1",
		"OK   cluster /DC0/host/DC0_C0: 4 hosts, by site map[A:2 B:1]",
		"WARN cluster /DC0/host/DC0_C0: host DC0_C0_H3 is placed at no site: in no DRS host group",
		"OK   routeragent " + l.r.srv.URL + ": reachable over mutual TLS, accepts this certificate for cluster stretched",
		"OK   vCenter's clock is within a minute of this appliance's",
		"OK   vCenter events: an event collector for landing events",
		"OK   cluster /DC0/host/DC0_C0: 2 distributed port groups readable",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("preflight lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "FAIL") {
		t.Errorf("preflight fails:\n%s", got)
	}
	// A host group the config names that holds no host: a typo, or a
	// group renamed in vCenter.
	cfg.Clusters[0].Sites.Sites["B"] = append(cfg.Clusters[0].Sites.Sites["B"], "hosts-b-old")
	got = ""
	for _, r := range preflight.Run(context.Background(), cfg, quiet) {
		if r.Level == preflight.Fail {
			got += r.String() + "\n"
		}
	}
	if want := "FAIL cluster /DC0/host/DC0_C0: site B: host_group \"hosts-b-old\" matches no host of the cluster\n"; got != want {
		t.Errorf("fails %q, want %q", got, want)
	}
	cfg.Clusters[0].Sites.Sites["B"] = cfg.Clusters[0].Sites.Sites["B"][:1]
	cfg.Clusters[0].Name = "not-allowed"
	var fails []string
	for _, r := range preflight.Run(context.Background(), cfg, quiet) {
		if r.Level == preflight.Fail {
			fails = append(fails, r.String())
		}
	}
	if len(fails) != 1 || !strings.Contains(fails[0], "does not accept this certificate for cluster not-allowed") {
		t.Errorf("fails %q, want the routeragent refusing cluster not-allowed", fails)
	}
}
