package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/tests/vcsim"
)

// The stretched cluster's hosts (stretchHost+"0" to "3") and its pool.
const (
	stretchHost = "/DC0/host/DC0_C0/DC0_C0_H"
	stretchPool = "/DC0/host/DC0_C0/Resources"
	web3        = "10.50.0.12"
)

// stretchedCluster is the hostagent's configuration of the stretched
// cluster: its hosts placed at sites by DRS host group.
const stretchedCluster = `[[clusters]]
path = "/DC0/host/DC0_C0"
sites_by = "host_group"
[clusters.sites]
A = ["hosts-a"]
B = ["hosts-b"]
`

// routerClusters is the routeragents' [[clusters]]: the stretched cluster
// over both sites, or a cluster per site.
func (l *lab) routerClusters() string {
	if l.layout == stretched {
		return "[[clusters]]\nname = \"/DC0/host/DC0_C0\"\nsites = [\"A\", \"B\"]\nclients = [\"hostagent-ab\"]\n"
	}
	return "[[clusters]]\nname = \"/DC0/host/DC0_C0\"\nsite = \"A\"\nclients = [\"hostagent-a\"]\n" +
		"[[clusters]]\nname = \"/DC0/host/DC0_C1\"\nsite = \"B\"\nclients = [\"hostagent-b\"]\n"
}

// stretch splits DC0_C0 into the sites' DRS host groups, as a vMSC admin
// does, and places the VMs: web-1 on H0, web-2 and web-3 on H1 (site A),
// the VM with an outside address on H2 (site B).
func (l *lab) stretch(ctx context.Context) error {
	f := find.NewFinder(l.c, false)
	cl, err := f.ClusterComputeResource(ctx, "/DC0/host/DC0_C0")
	if err != nil {
		return err
	}
	spec := &types.ClusterConfigSpecEx{}
	for _, g := range []struct {
		name  string
		hosts []string
	}{{"hosts-a", []string{"0", "1"}}, {"hosts-b", []string{"2", "3"}}} {
		hg := &types.ClusterHostGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: g.name}}
		for _, h := range g.hosts {
			host, err := f.HostSystem(ctx, stretchHost+h)
			if err != nil {
				return err
			}
			hg.Host = append(hg.Host, host.Reference())
		}
		spec.GroupSpec = append(spec.GroupSpec, types.ClusterGroupSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd}, Info: hg})
	}
	task, err := cl.Reconfigure(ctx, spec, true)
	if err != nil {
		return err
	}
	if err := vcsim.WaitTask(ctx, l.c, task); err != nil {
		return fmt.Errorf("DRS host groups: %w", err)
	}
	for vm, host := range map[string]string{"DC0_C0_RP0_VM0": "0", "DC0_C0_RP0_VM1": "1", "DC0_C0_RP0_VM2": "1", "DC0_C0_RP0_VM3": "2"} {
		if err := l.relocate(ctx, vm, stretchHost+host, stretchPool); err != nil {
			return err
		}
	}
	return nil
}

// enterMaintenance puts the stretched cluster's hosts into maintenance
// mode, one after the other.
func (l *lab) enterMaintenance(ctx context.Context, hosts ...string) error {
	for _, h := range hosts {
		if err := l.hostTask(ctx, h, func(host *object.HostSystem) (*object.Task, error) {
			return host.EnterMaintenanceMode(ctx, 60, false, nil)
		}); err != nil {
			return fmt.Errorf("maintenance mode of %s%s: %w", stretchHost, h, err)
		}
	}
	return nil
}

// hostTask runs a task on one of the stretched cluster's hosts.
func (l *lab) hostTask(ctx context.Context, h string, start func(*object.HostSystem) (*object.Task, error)) error {
	host, err := find.NewFinder(l.c, false).HostSystem(ctx, stretchHost+h)
	if err != nil {
		return err
	}
	task, err := start(host)
	if err != nil {
		return err
	}
	return vcsim.WaitTask(ctx, l.c, task)
}

// haRestart does what vSphere HA does for a VM whose host died: the VM is
// powered on again on another host, and VMware Tools reports its address
// once it has booted.
func (l *lab) haRestart(ctx context.Context, name, h, ip string) error {
	vm, err := find.NewFinder(l.c, false).VirtualMachine(ctx, "/DC0/vm/"+name)
	if err != nil {
		return err
	}
	task, err := vm.PowerOff(ctx)
	if err == nil {
		err = vcsim.WaitTask(ctx, l.c, task)
	}
	if err != nil {
		return fmt.Errorf("power off %s: %w", name, err)
	}
	if err := l.relocate(ctx, name, stretchHost+h, stretchPool); err != nil {
		return err
	}
	if task, err = vm.PowerOn(ctx); err == nil {
		err = vcsim.WaitTask(ctx, l.c, task)
	}
	if err != nil {
		return fmt.Errorf("power on %s: %w", name, err)
	}
	return l.setGuest(ctx, name, ip)
}

// reportsSent returns how many reports the stretched cluster's hostagent
// delivered to each routeragent.
func reportsSent() ([]int, error) {
	resp, err := http.Get("http://127.0.0.1:9180/v1/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st struct {
		Routeragents []struct{ Sent int }
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	var out []int
	for _, r := range st.Routeragents {
		out = append(out, r.Sent)
	}
	return out, nil
}

// stretchedScenarios tell the common layout's story, one cluster over
// both sites: 1, web-1 moves to site B by vMotion inside the cluster; 2,
// DRS moves it between site B's hosts, and nothing is sent; 3, site A's
// hosts enter maintenance mode and their VMs move to B at once; 4, web-1
// returns, and the subnet's summary stays with the majority at B; 5, site
// A is lost while vCenter survives, and HA restarts A's VMs on B's hosts
// (site loss b, with the client's longest gap).
func (l *lab) stretchedScenarios(ctx context.Context) error {
	if err := l.up(); err != nil {
		return err
	}

	l.say("--- Scenario 1: web-1 moves to site B by vMotion inside the stretched cluster (host H0 to H2)")
	if err := l.firstMove(ctx, stretchHost+"2", stretchPool); err != nil {
		return err
	}

	l.say("--- Scenario 2: DRS moves web-1 between site B's hosts (H2 to H3)")
	before, err := reportsSent()
	if err != nil {
		return err
	}
	if err := l.relocate(ctx, "DC0_C0_RP0_VM0", stretchHost+"3", stretchPool); err != nil {
		return err
	}
	// A change made after the move marks when the hostagent has seen it:
	// each routeragent must get that one report, and nothing for the move.
	const marker = "203.0.113.78"
	if err := l.setGuest(ctx, "DC0_C0_RP0_VM3", outside, marker); err != nil {
		return err
	}
	if _, ok := l.waitFor("the address change at both routeragents", 5*time.Second, func() bool {
		return strings.Contains(l.status(raMgmt), marker) && strings.Contains(l.status(rbMgmt), marker)
	}); !ok {
		return fmt.Errorf("scenario 2: the routeragents did not get the address change")
	}
	after, err := reportsSent()
	if err != nil {
		return err
	}
	if len(after) != 2 || after[0]-before[0] != 1 || after[1]-before[1] != 1 {
		return fmt.Errorf("scenario 2: the hostagent sent %v reports before and %v after a move inside site B and one address change; want one more each", before, after)
	}
	l.say("the move inside site B sent nothing: each routeragent got one report since, for an address change made after it")
	if err := l.web1At("scenario 2", "B"); err != nil {
		return err
	}

	l.say("--- Scenario 3: site A's hosts enter maintenance mode: DRS moves web-2 and web-3 to site B at once")
	if err := parallel(2, func(i int) error { // web-2 to H2, web-3 to H3
		return l.relocate(ctx, fmt.Sprintf("DC0_C0_RP0_VM%d", 1+i), stretchHost+fmt.Sprint(2+i), stretchPool)
	}); err != nil {
		return err
	}
	if err := l.enterMaintenance(ctx, "0", "1"); err != nil {
		return fmt.Errorf("scenario 3: %w", err)
	}
	if _, ok := l.waitFor("the summary at site B, no host route", 5*time.Second, func() bool {
		r := l.birdRoutes()
		return site(r[subnet]) == "B" && !hostRoutes(r)
	}); !ok {
		return fmt.Errorf("scenario 3: BIRD holds %v, want only %s via site B", l.birdRoutes(), subnet)
	}
	l.say("site A's hosts are empty: the WAN router reaches %s via site B and holds no host route", subnet)
	if err := l.web1At("scenario 3", "B"); err != nil {
		return err
	}

	l.say("--- Scenario 4: maintenance ends and web-1 returns to site A")
	for _, h := range []string{"0", "1"} {
		if err := l.hostTask(ctx, h, func(host *object.HostSystem) (*object.Task, error) { return host.ExitMaintenanceMode(ctx, 60) }); err != nil {
			return fmt.Errorf("scenario 4: %w", err)
		}
	}
	if err := l.moveWeb1("br-a", stretchHost+"0", stretchPool); err != nil {
		return err
	}
	if _, ok := l.waitFor("web-1's /32 at A, the summary at B", 5*time.Second, func() bool {
		r := l.birdRoutes()
		return site(r[subnet]) == "B" && site(r[web1+"/32"]) == "A"
	}); !ok {
		return fmt.Errorf("scenario 4: BIRD holds %v", l.birdRoutes())
	}
	l.say("the summary stays with site B, which holds 2 of the subnet's 3 VMs (the owner is the majority); site A announces web-1's /32")
	if err := l.web1At("scenario 4", "A"); err != nil {
		return err
	}
	for vm, h := range map[string]string{"DC0_C0_RP0_VM1": "1", "DC0_C0_RP0_VM2": "1"} {
		if err := l.relocate(ctx, vm, stretchHost+h, stretchPool); err != nil {
			return err
		}
	}
	if _, ok := l.waitFor("the subnet whole at A", 5*time.Second, func() bool {
		r := l.birdRoutes()
		return site(r[subnet]) == "A" && !hostRoutes(r)
	}); !ok {
		return fmt.Errorf("scenario 4: BIRD holds %v", l.birdRoutes())
	}
	l.say("web-2 and web-3 return too: %s via site A, no host route", subnet)

	l.say("--- Scenario 5: site A is lost, vCenter survives: vSphere HA restarts A's VMs on site B's hosts of the same cluster (site loss b)")
	if err := l.lossVCenterAlive(ctx); err != nil {
		return err
	}
	l.say("done; tearing the lab down")
	return nil
}

// hostRoutes reports whether BIRD holds a host route in the lab's subnet.
func hostRoutes(r map[string]string) bool {
	for p := range r {
		if strings.HasPrefix(p, "10.50.0.") && strings.HasSuffix(p, "/32") {
			return true
		}
	}
	return false
}
