package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The maintenance-mode evacuation benchmark, in the stretched cluster:
// maintVMs VMs beside web-1, web-2 and web-3 (maintTotal in all), spread
// over maintSubnets subnets homed at A, all on site A's hosts, move to
// site B's hosts as DRS does when both of A's hosts enter maintenance
// mode: maintParallel migrations at a time, through vcsim, the real
// hostagent and routeragents, to BIRD.
const (
	maintVMs      = 497
	maintTotal    = maintVMs + 3
	maintSubnets  = 5
	maintParallel = 8
)

// maintVM returns the name and address of the i-th benchmark VM: the VMs
// after the lab's four, in subnet i % maintSubnets (10.51.0.0/24 onwards).
func maintVM(i int) (name string, addr netip.Addr) {
	a := evacSubnet(i % maintSubnets).Addr().As4()
	a[3] = byte(2 + i/maintSubnets)
	return fmt.Sprintf("DC0_C0_RP0_VM%d", 4+i), netip.AddrFrom4(a)
}

// maintConfig is the routeragents' configuration of the benchmark's
// subnets, homed at A.
func maintConfig() string {
	var b strings.Builder
	for i := range maintSubnets {
		p := evacSubnet(i)
		fmt.Fprintf(&b, "[[subnets]]\nprefix = %q\nhome = \"A\"\ninterface = \"lan0\"\ngateways = [%q]\n", p, p.Addr().Next())
	}
	return b.String()
}

// placeMaintVMs gives the benchmark's VMs their addresses and puts them on
// site A's hosts, before the agents start.
func (l *lab) placeMaintVMs(ctx context.Context) error {
	return parallel(maintVMs, func(i int) error {
		name, addr := maintVM(i)
		if err := l.setGuest(ctx, name, addr.String()); err != nil {
			return err
		}
		return l.relocate(ctx, name, stretchHost+fmt.Sprint(i%2), stretchPool)
	})
}

// parallel runs f for 0 to n-1, maintParallel at a time, and returns the
// first error.
func parallel(n int, f func(int) error) error {
	work := make(chan int)
	errs := make(chan error, maintParallel)
	var wg sync.WaitGroup
	for range maintParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := f(i); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// maintenance is the benchmark's result.
type maintenance struct {
	VMs     int `json:"vms"`
	Subnets int `json:"subnets"`
	// FinalS is from the first migration's start until BIRD holds every
	// subnet via B and no host route in them.
	FinalS float64 `json:"seconds_to_final_state"`
	// TasksS is until vCenter completed the last migration; SeenS until
	// the hostagent had seen every landing; BareS until a bare watch on
	// its own session (a ContainerView of the cluster's VMs, runtime.host
	// alone) saw every VM on site B's hosts. vcsim's WaitForUpdatesEx
	// gathers every watched object again for each change, so with 500
	// VMs it answers slowly, to both.
	TasksS float64 `json:"seconds_to_last_task"`
	SeenS  float64 `json:"seconds_to_last_landing_seen"`
	BareS  float64 `json:"seconds_to_last_move_seen_bare"`
	// UpdateMessages are the UPDATE messages both routeragents sent BIRD;
	// Prefixes the announcements and withdrawals BIRD received.
	UpdateMessages int `json:"bgp_update_messages"`
	Prefixes       int `json:"bgp_prefixes_received"`
	// Floor is 2 × VMs + 2 × subnets: each VM's /32 announced and
	// withdrawn once, each subnet's summary announced by B and withdrawn
	// by A.
	Floor          int `json:"floor"`
	PeakHostRoutes int `json:"peak_host_routes"`
}

// updatesSent sums the UPDATE messages a routeragent sent its peers.
func (l *lab) updatesSent(mgmt string) (int, error) {
	var st struct {
		Peers []struct {
			UpdatesSent int `json:"updates_sent"`
		}
	}
	if err := l.routerJSON(mgmt, "/v1/status", &st); err != nil {
		return 0, err
	}
	n := 0
	for _, p := range st.Peers {
		n += p.UpdatesSent
	}
	return n, nil
}

// benchMaintenance evacuates site A's hosts of the stretched cluster and
// measures it at BIRD; it writes bench-results/maintenance.json.
func (l *lab) benchMaintenance(ctx context.Context) error {
	subnets := []string{subnet}
	for i := range maintSubnets {
		subnets = append(subnets, evacSubnet(i).String())
	}
	table := func() (hosts, atB int) {
		r := l.birdRoutes()
		for _, s := range subnets {
			if site(r[s]) == "B" {
				atB++
			}
		}
		for p := range r {
			if strings.HasSuffix(p, "/32") && strings.HasPrefix(p, "10.5") {
				hosts++
			}
		}
		return hosts, atB
	}
	if _, ok := l.waitFor("BGP sessions and every subnet via site A", time.Minute, func() bool {
		r := l.birdRoutes()
		for _, s := range subnets {
			if site(r[s]) != "A" {
				return false
			}
		}
		return true
	}); !ok {
		return fmt.Errorf("the lab did not come up; logs in %s", l.dir)
	}
	time.Sleep(time.Second) // let the counters settle
	counts := func() (msgs, prefixes int, err error) {
		a, err := l.updatesSent(raMgmt)
		if err != nil {
			return 0, 0, err
		}
		b, err := l.updatesSent(rbMgmt)
		if err != nil {
			return 0, 0, err
		}
		return a + b, l.birdStat("site_a", "Import updates") + l.birdStat("site_a", "Import withdraws") +
			l.birdStat("site_b", "Import updates") + l.birdStat("site_b", "Import withdraws"), nil
	}
	msgs0, prefixes0, err := counts()
	if err != nil {
		return err
	}
	l.say("maintenance mode on site A's hosts: %d VMs in %d subnets move to site B, %d migrations at a time", maintTotal, len(subnets), maintParallel)
	landings := func() int {
		resp, err := http.Get("http://127.0.0.1:9180/v1/status")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var st struct{ VCenter struct{ Landings int } }
		if json.NewDecoder(resp.Body).Decode(&st) != nil {
			return -1
		}
		return st.VCenter.Landings
	}
	bare, err := l.bareWatch(ctx)
	if err != nil {
		return err
	}
	landed0 := landings()
	start := time.Now()
	peak, seen := 0, time.Duration(0)
	sampling, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			hosts, _ := table()
			peak = max(peak, hosts)
			if seen == 0 && landings()-landed0 >= maintTotal {
				seen = time.Since(start)
			}
			select {
			case <-sampling:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	err = parallel(maintTotal, func(i int) error {
		name := fmt.Sprintf("DC0_C0_RP0_VM%d", i-maintVMs) // web-1, web-2, web-3
		if i < maintVMs {
			name, _ = maintVM(i)
		}
		return l.relocate(ctx, name, stretchHost+fmt.Sprint(2+i%2), stretchPool)
	})
	if err != nil {
		return err
	}
	if err := l.enterMaintenance(ctx, "0", "1"); err != nil {
		return err
	}
	tasks := time.Since(start)
	if _, ok := l.waitFor("every subnet via site B, no host route", 5*time.Minute, func() bool {
		hosts, atB := table()
		return hosts == 0 && atB == len(subnets)
	}); !ok {
		return fmt.Errorf("maintenance: BIRD does not end with the %d subnets via site B alone; logs in %s", len(subnets), l.dir)
	}
	final := time.Since(start)
	close(sampling)
	<-sampled
	bareSeen := bare(start)
	time.Sleep(time.Second) // updates still on their way would count
	msgs, prefixes, err := counts()
	if err != nil {
		return err
	}
	res := maintenance{VMs: maintTotal, Subnets: len(subnets), FinalS: final.Seconds(), TasksS: tasks.Seconds(), SeenS: seen.Seconds(), BareS: bareSeen.Seconds(),
		UpdateMessages: msgs - msgs0, Prefixes: prefixes - prefixes0, Floor: 2*maintTotal + 2*len(subnets), PeakHostRoutes: peak}
	fmt.Printf("\n%-52s %8.2f s (vCenter's last migration done at %.2f s, the hostagent saw the last landing at %.2f s, a bare watch at %.2f s)\n",
		"maintenance evacuation: until BIRD's final state", res.FinalS, res.TasksS, res.SeenS, res.BareS)
	fmt.Printf("%-52s %8d messages, %d prefixes (floor %d)\n", "BGP UPDATEs BIRD received", res.UpdateMessages, res.Prefixes, res.Floor)
	fmt.Printf("%-52s %8d\n\n", "peak host routes at BIRD", res.PeakHostRoutes)
	if err := os.MkdirAll("bench-results", 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(map[string]any{"maintenance": res, "when": time.Now().UTC()}, "", "  ")
	return os.WriteFile(filepath.Join("bench-results", "maintenance.json"), b, 0o644)
}

// bareWatch watches, on a session of its own, every VM of the stretched
// cluster for runtime.host, as bare as a watch gets. The function it
// returns waits until the watch has seen every benchmark VM on one of
// site B's hosts (stretchHost 2 and 3) and returns when that was, after
// start; then the watch ends.
func (l *lab) bareWatch(ctx context.Context) (func(start time.Time) time.Duration, error) {
	c, err := vim25.NewClient(ctx, soap.NewClient(l.vcs.URL, true))
	if err != nil {
		return nil, err
	}
	if err := session.NewManager(c).Login(ctx, l.vcs.URL.User); err != nil {
		return nil, err
	}
	f := find.NewFinder(c, false)
	cluster, err := f.ClusterComputeResource(ctx, stretchHost[:strings.LastIndex(stretchHost, "/")])
	if err != nil {
		return nil, err
	}
	siteB := map[types.ManagedObjectReference]bool{}
	for _, h := range []string{"2", "3"} {
		host, err := f.HostSystem(ctx, stretchHost+h)
		if err != nil {
			return nil, err
		}
		siteB[host.Reference()] = true
	}
	cv, err := view.NewManager(c).CreateContainerView(ctx, cluster.Reference(), []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, err
	}
	pc, err := property.DefaultCollector(c).Create(ctx)
	if err != nil {
		return nil, err
	}
	filter := new(property.WaitFilter)
	filter.Spec.ObjectSet = []types.ObjectSpec{{Obj: cv.Reference(), Skip: types.NewBool(true),
		SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}}}}
	filter.Spec.PropSet = []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"runtime.host"}}}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan time.Time, 1)
	go func() {
		atB := map[types.ManagedObjectReference]bool{}
		_ = property.WaitForUpdatesEx(wctx, pc, filter, func(updates []types.ObjectUpdate) bool {
			for _, u := range updates {
				for _, ch := range u.ChangeSet {
					if h, ok := ch.Val.(types.ManagedObjectReference); ok && ch.Name == "runtime.host" {
						atB[u.Obj] = siteB[h]
					}
				}
			}
			n := 0
			for _, b := range atB {
				if b {
					n++
				}
			}
			if n >= maintTotal {
				done <- time.Now()
				return true
			}
			return false
		})
	}()
	return func(start time.Time) time.Duration {
		defer stop()
		select {
		case t := <-done:
			return t.Sub(start)
		case <-time.After(time.Minute):
			return -1
		}
	}, nil
}
