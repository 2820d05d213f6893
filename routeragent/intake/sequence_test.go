package intake_test

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/intake"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/routeragent/state"
	"github.com/vmroute/vmroute/shared/wire"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// router is a routeragent without its network parts: the intake, the
// state directory and the planner, fed as the daemon feeds them.
type router struct {
	in    *intake.Intake
	store *state.Store
	p     *plan.Planner
}

func newRouter(t *testing.T, dir string, clusters []intake.Cluster, cfg plan.Config, restore bool) *router {
	t.Helper()
	store, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &router{in: intake.New(clusters, 2*time.Minute, 2*time.Second), store: store, p: p}
	if restore {
		states, problems := store.Load()
		if len(problems) > 0 {
			t.Fatalf("state: %v", problems)
		}
		for _, st := range states {
			if err := r.in.Restore(st); err != nil {
				t.Fatal(err)
			}
			p.SetCluster(st.Cluster, slices.Collect(maps.Values(st.VMs)), st.Gone)
		}
	}
	return r
}

func (r *router) accept(t *testing.T, rep *wire.Report, now time.Time) *intake.Refusal {
	ch, ref := r.in.Accept(rep, []string{"hostagent"}, now, r.store.Save)
	if ch == nil {
		return ref
	}
	if ch.Full {
		r.p.SetCluster(ch.Cluster, ch.VMs, nil)
	} else if err := r.p.ApplyDelta(ch.Cluster, ch.VMs, ch.Removed); err != nil {
		t.Fatal(err)
	}
	return nil
}

// sequence is a random world of 2 to 4 sites, per-site and stretched
// clusters, and a sequence of reports from them: full or delta, with
// arbitrary landing times (some unknown, some ahead of the clock),
// generations (some stale or repeated), sites and addresses, as broken or
// hostile hostagents send them.
type sequence struct {
	clusters []intake.Cluster
	cfg      plan.Config
	steps    []step
}

type step struct {
	report *wire.Report
	now    time.Time
	stale  map[string]bool // clusters past their lease after this step
}

func newSequence(seed1, seed2 uint64) *sequence {
	r := rand.New(rand.NewPCG(seed1, seed2))
	sq := &sequence{}
	var sites []string
	for i := range 2 + r.IntN(3) {
		sites = append(sites, fmt.Sprintf("S%d", i))
	}
	for i := range 2 + r.IntN(3) {
		c := intake.Cluster{Name: fmt.Sprintf("c%d", i), Clients: []string{"hostagent"}}
		a := r.IntN(len(sites))
		c.Sites = []string{sites[a]}
		if r.IntN(2) == 0 {
			c.Sites = append(c.Sites, sites[(a+1)%len(sites)])
		}
		sq.clusters = append(sq.clusters, c)
	}
	for i, p := range []string{"192.0.2.0/26", "198.51.100.0/25", "2001:db8:1::/120"} {
		sq.cfg.Subnets = append(sq.cfg.Subnets, plan.Subnet{Prefix: netip.MustParsePrefix(p), Home: sites[i%len(sites)]})
	}
	if r.IntN(2) == 0 {
		sq.cfg.Guards.Owner = plan.OwnerHome
	}
	sq.cfg.ClockSkew = time.Duration(r.IntN(3)) * time.Second
	held := map[string]map[string]wire.VM{} // what each cluster's last accepted report leaves
	gens := map[string]uint64{}
	now := t0
	for range 5 + r.IntN(25) {
		now = now.Add(time.Duration(r.IntN(10)) * time.Second)
		c := sq.clusters[r.IntN(len(sq.clusters))]
		vms := maps.Clone(held[c.Name])
		if vms == nil {
			vms = map[string]wire.VM{}
		}
		for range 1 + r.IntN(4) {
			id := fmt.Sprintf("vm%d", r.IntN(12))
			if r.IntN(4) == 0 {
				delete(vms, id)
				continue
			}
			vm := wire.VM{UUID: id, Name: id, Site: c.Sites[r.IntN(len(c.Sites))], PowerState: wire.PoweredOn,
				LandedAt: now.Add(-time.Duration(r.IntN(20)) * time.Second)}
			switch r.IntN(8) {
			case 0:
				vm.LandedAt = time.Time{}
			case 1:
				vm.LandedAt = now.Add(time.Hour) // from the future: refused
			case 2:
				vm.PowerState = wire.PoweredOff
			}
			if r.IntN(10) == 0 {
				vm.Site = "elsewhere" // not a site of the cluster: refused
			}
			a := sq.cfg.Subnets[r.IntN(len(sq.cfg.Subnets))].Prefix.Addr()
			for range 1 + r.IntN(20) {
				a = a.Next()
			}
			vm.NICs = []wire.NIC{{MAC: wire.MAC{2, 0, 0, 0, byte(len(id)), id[len(id)-1]}, Addresses: []netip.Addr{a}}}
			vms[id] = vm
		}
		gen := gens[c.Name] + 1 + uint64(r.IntN(3))
		if r.IntN(10) == 0 {
			gen = gens[c.Name] // a repeat, or an old generation
		}
		rep := &wire.Report{Cluster: c.Name, Generation: max(gen, 1), Kind: wire.KindFull, VMs: []wire.VM{}}
		if base, ok := gens[c.Name]; ok && r.IntN(2) == 0 {
			rep.Kind, rep.Base = wire.KindDelta, base
			if r.IntN(8) == 0 {
				rep.Base = base + 1 // the wrong base: refused
			}
			for id, vm := range vms {
				if old, had := held[c.Name][id]; !had || fmt.Sprint(old) != fmt.Sprint(vm) {
					rep.VMs = append(rep.VMs, vm)
				}
			}
			for id := range held[c.Name] {
				if _, ok := vms[id]; !ok {
					rep.Removed = append(rep.Removed, id)
				}
			}
		} else {
			for _, vm := range vms {
				rep.VMs = append(rep.VMs, vm)
			}
		}
		slices.SortFunc(rep.VMs, func(a, b wire.VM) int { return cmpString(a.UUID, b.UUID) })
		slices.Sort(rep.Removed)
		if rep.Kind == wire.KindDelta && rep.Base >= rep.Generation {
			rep.Kind, rep.Base, rep.Removed = wire.KindFull, 0, nil
			rep.VMs = slices.Collect(maps.Values(vms))
			slices.SortFunc(rep.VMs, func(a, b wire.VM) int { return cmpString(a.UUID, b.UUID) })
		}
		st := step{report: rep, now: now, stale: map[string]bool{}}
		for _, cl := range sq.clusters {
			st.stale[cl.Name] = r.IntN(4) == 0
		}
		sq.steps = append(sq.steps, st)
		// What the intake will hold, if it accepts: the sequence's own
		// bookkeeping follows only valid, in-order reports.
		if accepted(rep, c, gens, now) {
			held[c.Name], gens[c.Name] = vms, rep.Generation
		}
	}
	return sq
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// accepted predicts whether the intake accepts rep, from the rules it
// documents: valid sites and landings, a generation above the held one,
// a delta on the held base.
func accepted(rep *wire.Report, c intake.Cluster, gens map[string]uint64, now time.Time) bool {
	for _, vm := range rep.VMs {
		if !slices.Contains(c.Sites, vm.Site) || vm.LandedAt.After(now.Add(2*time.Minute)) {
			return false
		}
	}
	held, ok := gens[c.Name]
	switch {
	case rep.Generation <= held:
		return false
	case rep.Kind == wire.KindDelta:
		return ok && rep.Base == held
	}
	return true
}

// checkSequence feeds one sequence to a routeragent that runs throughout
// and to one restarted from its state directory at a random step; both
// must end with the same plan, and no VM that a live cluster's accepted
// state holds present may be missing from it.
func checkSequence(t *testing.T, seed1, seed2 uint64) {
	sq := newSequence(seed1, seed2)
	r := rand.New(rand.NewPCG(seed2, seed1))
	for _, site := range []string{"S0", "S1"} {
		cfg := sq.cfg
		cfg.Site = site
		long := newRouter(t, t.TempDir(), sq.clusters, cfg, false)
		dir := t.TempDir()
		other := newRouter(t, dir, sq.clusters, cfg, false)
		restartAt := r.IntN(len(sq.steps) + 1)
		var now time.Time
		for i, st := range sq.steps {
			if i == restartAt {
				other = newRouter(t, dir, sq.clusters, cfg, true)
			}
			r1, r2 := long.accept(t, st.report, st.now), other.accept(t, st.report, st.now)
			if (r1 == nil) != (r2 == nil) || r1 != nil && r1.Msg != r2.Msg {
				t.Fatalf("step %d: the two routeragents answer %v and %v", i, r1, r2)
			}
			for _, x := range []*router{long, other} {
				for c, stale := range st.stale {
					x.p.SetStale(c, stale)
				}
			}
			now = st.now
		}
		if restartAt == len(sq.steps) {
			other = newRouter(t, dir, sq.clusters, cfg, true)
			for c, stale := range sq.steps[len(sq.steps)-1].stale {
				other.p.SetStale(c, stale)
			}
		}
		a, b := long.p.Plan(now), other.p.Plan(now)
		if ra, rb := fmt.Sprint(a.Routes(site), a.Findings), fmt.Sprint(b.Routes(site), b.Findings); ra != rb {
			t.Fatalf("site %s: restarted at step %d of %d, the plans differ:\n%s\n%s", site, restartAt, len(sq.steps), ra, rb)
		}
		if la, lb := fmt.Sprint(long.p.Locations()), fmt.Sprint(other.p.Locations()); la != lb {
			t.Fatalf("site %s: restarted at step %d, the locations differ:\n%s\n%s", site, restartAt, la, lb)
		}
		// No sequence removes a VM that a live cluster holds present.
		live := map[string]bool{}
		for c, stale := range sq.steps[len(sq.steps)-1].stale {
			live[c] = !stale
		}
		present := map[string]bool{}
		for _, l := range long.p.Locations() {
			present[l.VM] = l.Present
		}
		for _, st := range long.in.States() {
			if !live[st.Cluster] {
				continue
			}
			for id, vm := range st.VMs {
				if vm.Present() && !present[id] {
					t.Fatalf("seeds %d, %d: site %s: live cluster %s reports %s present (%+v), and the plan does not place it: %+v", seed1, seed2, site, st.Cluster, id, vm, long.p.Locations())
				}
			}
		}
	}
}

// FuzzReportSequences checks whole report sequences against the
// planner's invariants; its seeds run with every `go test`.
func FuzzReportSequences(f *testing.F) {
	for i := range 8 {
		f.Add(binary.LittleEndian.AppendUint64(nil, uint64(i)*0x9e3779b97f4a7c15))
	}
	f.Fuzz(func(t *testing.T, seed []byte) {
		var b [16]byte
		copy(b[:], seed)
		checkSequence(t, binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:]))
	})
}

// TestReportSequences runs many more sequences than the fuzz seeds.
func TestReportSequences(t *testing.T) {
	n := 150
	if testing.Short() {
		n = 30
	}
	for i := range n {
		checkSequence(t, uint64(i), 7)
	}
}

// Catches a landing accepted ahead of the routeragent's clock (vCenter X
// 100 s fast, within the future tolerance) voiding a later real landing:
// the VM moves to cluster Y, X withdraws it, Y falls silent for a lease,
// and the VM must stay at Y with its /32: losing reports changes no route.
func TestALandingAheadNeverVoidsALaterRealOne(t *testing.T) {
	clusters := []intake.Cluster{{Name: "x", Sites: []string{"A"}, Clients: []string{"hostagent"}},
		{Name: "y", Sites: []string{"B"}, Clients: []string{"hostagent"}}}
	cfg := plan.Config{Site: "B", ClockSkew: 2 * time.Second,
		Subnets: []plan.Subnet{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Home: "A", Pinned: []netip.Addr{netip.MustParseAddr("192.0.2.250")}}}}
	r := newRouter(t, t.TempDir(), clusters, cfg, false)
	web := func(site string, landed time.Time) wire.VM {
		return wire.VM{UUID: "web-1", Name: "web-1", Site: site, PowerState: wire.PoweredOn, LandedAt: landed,
			NICs: []wire.NIC{{MAC: wire.MAC{2, 0, 0, 0, 0, 1}, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.10")}}}}
	}
	rep := func(cluster string, gen uint64, kind wire.Kind, base uint64, vms []wire.VM, removed ...string) *wire.Report {
		return &wire.Report{Cluster: cluster, Generation: gen, Kind: kind, Base: base, VMs: vms, Removed: removed}
	}
	if ref := r.accept(t, rep("x", 1, wire.KindFull, 0, []wire.VM{web("A", t0.Add(100*time.Second))}), t0); ref != nil {
		t.Fatal(ref)
	}
	// The real move to B, 30 s later by an honest clock; X still lists it.
	if ref := r.accept(t, rep("y", 1, wire.KindFull, 0, []wire.VM{web("B", t0.Add(30*time.Second))}), t0.Add(30*time.Second)); ref != nil {
		t.Fatal(ref)
	}
	hostRoute := func(when string) {
		t.Helper()
		res := r.p.Plan(t0.Add(time.Minute))
		if got := res.Routes("B"); len(got) != 1 || got[0].Prefix != netip.MustParsePrefix("192.0.2.10/32") {
			t.Errorf("%s: site B announces %s, want web-1's /32", when, got)
		}
	}
	hostRoute("both clusters claim web-1")
	if ref := r.accept(t, rep("x", 2, wire.KindDelta, 1, nil, "web-1"), t0.Add(31*time.Second)); ref != nil {
		t.Fatal(ref)
	}
	r.p.SetStale("y", true)
	hostRoute("X withdrew web-1 and Y is stale")
}
