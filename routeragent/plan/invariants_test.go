package plan

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// world is a random history of VMs moving between the sites of 2 to 4
// sites, through per-site clusters and stretched clusters that span two
// sites, from which any site's view (the report of each cluster as of
// some moment) can be taken.
type world struct {
	sites    []string
	clusters []string
	spans    map[string][]string // cluster -> the sites its hosts are in
	cfg      Config
	vms      []*history
	steps    int
}

type history struct {
	uuid  string
	bios  string
	nics  []wire.NIC
	stint []stint // in time order
}

// A stint is the VM's time in one cluster, under an instance UUID: a
// move to another cluster (a cross-vCenter vMotion) may change it.
type stint struct {
	cluster string
	site    string
	uuid    string
	from    int // step of the landing
	on      bool
}

func newWorld(seed1, seed2 uint64) *world {
	r := rand.New(rand.NewPCG(seed1, seed2))
	w := &world{spans: map[string][]string{}, steps: 2 + r.IntN(6)}
	for i := range 2 + r.IntN(3) {
		w.sites = append(w.sites, fmt.Sprintf("S%d", i))
	}
	for _, s := range w.sites {
		for j := range r.IntN(3) {
			c := fmt.Sprintf("%s-c%d", s, j)
			w.clusters = append(w.clusters, c)
			w.spans[c] = []string{s}
		}
	}
	// Stretched clusters, each over two sites; at least one cluster in all.
	for j := range r.IntN(3) + btoi(len(w.clusters) == 0) {
		a := r.IntN(len(w.sites))
		b := (a + 1 + r.IntN(len(w.sites)-1)) % len(w.sites)
		c := fmt.Sprintf("stretched-%d", j)
		w.clusters = append(w.clusters, c)
		w.spans[c] = []string{w.sites[a], w.sites[b]}
	}
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	prefixes := []string{"192.0.2.0/26", "192.0.2.64/26", "198.51.100.0/25", "2001:db8:1::/120", "2001:db8:2::/120"}
	for _, p := range prefixes[:2+r.IntN(4)] {
		sn := Subnet{Prefix: netip.MustParsePrefix(p), Home: pick(w.sites)}
		if r.IntN(4) == 0 {
			sn.Pinned = []netip.Addr{sn.Prefix.Addr().Next()}
		}
		if r.IntN(3) == 0 {
			sn.HostRouteCeiling = 1 + r.IntN(4)
		}
		w.cfg.Subnets = append(w.cfg.Subnets, sn)
	}
	if r.IntN(2) == 0 {
		w.cfg.Guards.Owner = OwnerHome
	}
	if r.IntN(3) == 0 {
		w.cfg.Guards.TotalHostRouteCeiling = 1 + r.IntN(8)
	}
	// Addresses come from a small pool so that conflicts happen, with a
	// few outside every subnet and a few link-local ones.
	addr := func() netip.Addr {
		switch r.IntN(12) {
		case 0:
			return netip.MustParseAddr("203.0.113.9")
		case 1:
			return netip.MustParseAddr("fe80::9")
		}
		p := w.cfg.Subnets[r.IntN(len(w.cfg.Subnets))].Prefix
		a := p.Addr()
		for range 2 + r.IntN(30) {
			a = a.Next()
		}
		return a
	}
	for i := range 5 + r.IntN(40) {
		h := &history{uuid: fmt.Sprintf("vm%d", i), bios: fmt.Sprintf("bios%d", i)}
		for n := range 1 + r.IntN(2) {
			nic := wire.NIC{MAC: wire.MAC{2, 0, 0, 0, byte(i), byte(n)}}
			for range r.IntN(3) {
				if a := addr(); !slices.Contains(nic.Addresses, a) {
					nic.Addresses = append(nic.Addresses, a)
				}
			}
			h.nics = append(h.nics, nic)
		}
		for step := 0; step < w.steps; step++ {
			if step == 0 || r.IntN(3) == 0 {
				c := pick(w.clusters)
				id := h.uuid
				if n := len(h.stint); n > 0 {
					id = h.stint[n-1].uuid
					if h.stint[n-1].cluster != c && r.IntN(3) == 0 {
						id = fmt.Sprintf("%s-%d", h.uuid, step)
					}
				}
				h.stint = append(h.stint, stint{cluster: c, site: pick(w.spans[c]), uuid: id, from: step, on: r.IntN(8) != 0})
			}
		}
		w.vms = append(w.vms, h)
	}
	return w
}

// report returns cluster's full report as of step.
func (w *world) report(cluster string, step int) []wire.VM {
	var out []wire.VM
	for _, h := range w.vms {
		var cur *stint
		for i := range h.stint {
			if h.stint[i].from <= step {
				cur = &h.stint[i]
			}
		}
		if cur == nil || cur.cluster != cluster {
			continue
		}
		ps := wire.PoweredOn
		if !cur.on {
			ps = wire.PoweredOff
		}
		out = append(out, wire.VM{UUID: cur.uuid, BIOSUUID: h.bios, Name: h.uuid, Site: cur.site, PowerState: ps,
			LandedAt: t0.Add(time.Duration(cur.from) * time.Second), NICs: h.nics})
	}
	return out
}

// view plans for site from one version of each cluster's report: the
// current one for the clusters with hosts at the site, any older one or
// none for the others, as a partitioned or lagging routeragent holds them.
func (w *world) view(site string, r *rand.Rand) *Result {
	cfg := w.cfg
	cfg.Site = site
	p, err := New(cfg)
	if err != nil {
		panic(err)
	}
	last := w.steps - 1
	for _, c := range w.clusters {
		step := last
		if !slices.Contains(w.spans[c], site) && r != nil {
			step = r.IntN(w.steps+1) - 1 // -1: never heard
		}
		if step >= 0 {
			p.SetCluster(c, w.report(c, step), nil)
			p.SetStale(c, step < last)
		}
	}
	return p.Plan(t0.Add(time.Hour))
}

func checkInvariants(t *testing.T, seed1, seed2 uint64) {
	w := newWorld(seed1, seed2)
	// Agreement: with the same reports every site computes the same plan.
	var full []*Result
	for _, s := range w.sites {
		full = append(full, w.view(s, nil))
	}
	all := func(res *Result) []string {
		var out []string
		for _, s := range w.sites {
			for _, rt := range res.Routes(s) {
				out = append(out, fmt.Sprintf("%s %s %s", s, rt.Kind, rt.Prefix))
			}
		}
		return out
	}
	ref := all(full[0])
	for i, res := range full[1:] {
		if got := all(res); !slices.Equal(got, ref) {
			t.Fatalf("agreement: %s and %s disagree:\n%q\n%q", w.sites[0], w.sites[i+1], ref, got)
		}
	}
	// Below the ceilings each prefix is announced by exactly one site,
	// and every subnet by at least one.
	if len(full[0].Findings.Ceilings) == 0 {
		seen := map[netip.Prefix]string{}
		for _, s := range w.sites {
			for _, rt := range full[0].Routes(s) {
				if other, dup := seen[rt.Prefix]; dup {
					t.Fatalf("exactly one: %s announced by %s and %s", rt.Prefix, other, s)
				}
				seen[rt.Prefix] = s
			}
		}
		for _, sn := range w.cfg.Subnets {
			if seen[sn.Prefix] == "" {
				t.Fatalf("subnet %s announced by no site", sn.Prefix)
			}
		}
	}
	// Safety: an address claimed twice gets no host route, at any site,
	// whatever the order the claims came in.
	for _, res := range full {
		for _, c := range res.Findings.Conflicts {
			host := netip.PrefixFrom(c.Addr, c.Addr.BitLen())
			for _, s := range w.sites {
				if slices.ContainsFunc(res.Routes(s), func(rt Route) bool { return rt.Prefix == host }) {
					t.Fatalf("conflict: %s announces %s, claimed by %v", s, host, c.VMs)
				}
			}
		}
	}
	checkSiteLoss(t, w, full[0], rand.New(rand.NewPCG(seed1^seed2, seed2)))
	// Locality, for every site with any subset of the others' reports:
	// every present address the site holds is covered by its own routes.
	r := rand.New(rand.NewPCG(seed2, seed1))
	for _, site := range w.sites {
		for range 3 {
			res := w.view(site, r)
			checkLocality(t, w, site, res)
			checkInside(t, w, res)
			checkOneVMNoConflict(t, w, res)
		}
	}
}

// checkOneVMNoConflict checks that the claims of one VM never conflict,
// whichever instance UUIDs they carry: an older claim, under the instance
// UUID the VM had before a cross-vCenter vMotion, is the same VM.
func checkOneVMNoConflict(t *testing.T, w *world, res *Result) {
	t.Helper()
	of := map[string]string{}
	for _, h := range w.vms {
		for _, st := range h.stint {
			of[st.uuid] = h.uuid
		}
	}
	for _, c := range res.Findings.Conflicts {
		seen := map[string]bool{}
		for _, id := range c.VMs {
			if id != pinnedClaimant {
				id = of[id]
			}
			if seen[id] {
				t.Fatalf("one VM: %s is in conflict between the claims %v, some of one VM %s", c.Addr, c.VMs, id)
			}
			seen[id] = true
		}
	}
}

// planner returns site's planner holding every cluster's current report.
func (w *world) planner(site string) *Planner {
	cfg := w.cfg
	cfg.Site = site
	p, err := New(cfg)
	if err != nil {
		panic(err)
	}
	for _, c := range w.clusters {
		p.SetCluster(c, w.report(c, w.steps-1), nil)
	}
	return p
}

// checkSiteLoss checks rule 6 in world w, whose plan with every site
// alive is ref: a partition alone never moves a prefix; when a site is
// lost, the survivors cover every present address at every moment of
// the change, whichever of them has planned it yet; and a site whose
// reports are not current never takes a subnet another site announces.
func checkSiteLoss(t *testing.T, w *world, ref *Result, r *rand.Rand) {
	t.Helper()
	t1 := t0.Add(time.Hour)
	t2 := t1.Add(10 * time.Second)
	heard := func(except string, lost string, silent string, at time.Time) Liveness {
		l := Liveness{Sites: map[string]SiteState{}, Linger: 2 * time.Minute, Current: true, AllLLGR: r.IntN(2) == 0}
		for _, o := range w.sites {
			if o == except {
				continue
			}
			st := SiteState{Heard: at}
			for _, rt := range ref.Routes(o) {
				if rt.Kind == Summary {
					st.Summaries = append(st.Summaries, rt.Prefix)
				}
			}
			switch o {
			case lost:
				st = SiteState{Lost: at, Silent: true, Heard: t1}
			case silent:
				st.Silent, st.Summaries = true, nil
			}
			l.Sites[o] = st
		}
		return l
	}
	routesOf := func(res *Result, site string) []string {
		var out []string
		for _, rt := range res.Routes(site) {
			out = append(out, fmt.Sprintf("%s %s", rt.Kind, rt.Prefix))
		}
		return out
	}
	lost := w.sites[r.IntN(len(w.sites))]
	silent := w.sites[r.IntN(len(w.sites))]
	var survivors []string
	before, after := map[string]*Result{}, map[string]*Result{}
	for _, s := range w.sites {
		// A partition alone (another site's API silent) moves nothing.
		p := w.planner(s)
		if silent != s {
			p.SetLiveness(heard(s, "", silent, t1))
			if got, want := routesOf(p.Plan(t1), s), routesOf(ref, s); !slices.Equal(got, want) {
				t.Fatalf("partition: %s silent changes %s's routes:\n got %q\nwant %q", silent, s, got, want)
			}
		}
		if s == lost {
			continue
		}
		survivors = append(survivors, s)
		p = w.planner(s)
		p.SetLiveness(heard(s, "", "", t1))
		before[s] = p.Plan(t1)
		p.SetLiveness(heard(s, lost, "", t2))
		after[s] = p.Plan(t2)
		for _, sn := range after[s].Subnets {
			if sn.Owner == lost {
				t.Fatalf("loss: %s plans lost %s as the owner of %s", s, lost, sn.Prefix)
			}
		}
	}
	// Every moment of the change: each survivor has planned it or not.
	conflicted := map[netip.Addr]bool{}
	for _, c := range ref.Findings.Conflicts {
		conflicted[c.Addr] = true
	}
	type held struct {
		addr netip.Addr
		site string
	}
	var present []held
	for _, c := range w.clusters {
		for _, vm := range w.report(c, w.steps-1) {
			for _, nic := range vm.NICs {
				for _, a := range nic.Addresses {
					inside := slices.ContainsFunc(w.cfg.Subnets, func(sn Subnet) bool { return sn.Prefix.Contains(a) })
					if vm.Present() && inside && !conflicted[a] && a.IsGlobalUnicast() {
						present = append(present, held{a, vm.Site})
					}
				}
			}
		}
	}
	// The WAN may still hold the lost site's routes, live or stale: a
	// survivor's route must win by longest match, not tie.
	stale := ref.Routes(lost)
	longest := func(rs []Route, a netip.Addr) int {
		best := -1
		for _, rt := range rs {
			if rt.Prefix.Contains(a) && rt.Prefix.Bits() > best {
				best = rt.Prefix.Bits()
			}
		}
		return best
	}
	for mask := range 1 << len(survivors) {
		var announced []Route
		for i, s := range survivors {
			res := before[s]
			if mask&(1<<i) != 0 {
				res = after[s]
			}
			announced = append(announced, res.Routes(s)...)
		}
		for _, h := range present {
			// Before everyone planned the loss, the lost site's own
			// addresses may still rely on its routes; a host route of the
			// lost site no survivor can beat.
			if h.site == lost && (mask != 1<<len(survivors)-1 || longest(stale, h.addr) == h.addr.BitLen()) {
				continue
			}
			// An address the lost site's route already tied for before
			// the loss (a survivor over a ceiling announces the subnet
			// beside its owner) is won only once every survivor planned.
			var others []Route
			for _, s := range survivors {
				others = append(others, ref.Routes(s)...)
			}
			if mask != 1<<len(survivors)-1 && longest(others, h.addr) <= longest(stale, h.addr) {
				continue
			}
			if got, old := longest(announced, h.addr), longest(stale, h.addr); got <= old {
				t.Fatalf("loss of %s: %s at %s: the survivors' longest route is /%d, the lost site's /%d (survivors %v, planned the loss: %b)\nlost site's routes %v\nsurvivors' routes %v",
					lost, h.addr, h.site, got, old, survivors, mask, stale, announced)
			}
		}
	}
	// A site whose reports are not current takes no subnet that the
	// others' plans give to another site while it returns, when that site
	// announces it; another site's answer alone makes it defer nothing.
	summary := func(res *Result, site string, prefix netip.Prefix) bool {
		return slices.Contains(res.Routes(site), Route{Prefix: prefix, Kind: Summary, Site: site})
	}
	for i, s := range w.sites {
		p := w.planner(s)
		l := heard(s, "", "", t1)
		l.Current = false
		p.SetLiveness(l)
		res := p.Plan(t1)
		other := w.sites[(i+1)%len(w.sites)]
		po := w.planner(other)
		lo := heard(other, "", "", t1)
		st := lo.Sites[s]
		st.Returning = true
		lo.Sites[s] = st
		po.SetLiveness(lo)
		for _, sn := range po.Plan(t1).Subnets {
			if summary(ref, sn.Owner, sn.Prefix) && summary(res, s, sn.Prefix) {
				t.Fatalf("comeback: %s, not current, announces %s, which %s, its owner while %s returns, announces", s, sn.Prefix, sn.Owner, s)
			}
		}
		for _, sn := range res.Subnets {
			if sn.DeferredTo != "" && !summary(ref, sn.DeferredTo, sn.Prefix) {
				t.Fatalf("comeback: %s defers %s to %s, which does not announce it", s, sn.Prefix, sn.DeferredTo)
			}
		}
		// It keeps its own members' host routes: whatever it defers, the
		// VMs it holds stay covered by its own routes.
		for _, rt := range ref.Routes(s) {
			if rt.Kind == Host && !slices.Contains(res.Routes(s), rt) {
				t.Fatalf("comeback: %s, not current, withdraws its own host route %s", s, rt.Prefix)
			}
		}
	}
}

func checkLocality(t *testing.T, w *world, site string, res *Result) {
	t.Helper()
	conflicted := map[netip.Addr]bool{}
	for _, c := range res.Findings.Conflicts {
		conflicted[c.Addr] = true
	}
	own := map[netip.Prefix]bool{}
	for _, rt := range res.Routes(site) {
		own[rt.Prefix] = true
	}
	covered := func(a netip.Addr) bool {
		for p := range own {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	var present []netip.Addr
	for _, sn := range w.cfg.Subnets {
		if sn.Home == site {
			present = append(present, sn.Pinned...)
		}
	}
	for _, c := range w.clusters {
		for _, vm := range w.report(c, w.steps-1) {
			if !vm.Present() || vm.Site != site {
				continue
			}
			for _, nic := range vm.NICs {
				present = append(present, nic.Addresses...)
			}
		}
	}
	for _, a := range present {
		inside := slices.ContainsFunc(w.cfg.Subnets, func(s Subnet) bool { return s.Prefix.Contains(a) })
		if !inside || conflicted[a] || !a.IsGlobalUnicast() {
			continue
		}
		if !covered(a) {
			t.Fatalf("locality: %s holds %s but announces no route covering it; it announces %v", site, a, res.Routes(site))
		}
	}
}

func checkInside(t *testing.T, w *world, res *Result) {
	t.Helper()
	for _, s := range w.sites {
		for _, rt := range res.Routes(s) {
			if !slices.ContainsFunc(w.cfg.Subnets, func(sn Subnet) bool {
				return sn.Prefix.Bits() <= rt.Prefix.Bits() && sn.Prefix.Contains(rt.Prefix.Addr())
			}) {
				t.Fatalf("%s announces %s, inside no configured subnet", s, rt.Prefix)
			}
		}
	}
}

// FuzzPlanInvariants checks DESIGN.md's invariants over random worlds; its
// seed corpus (testdata/fuzz) runs with every `go test`.
func FuzzPlanInvariants(f *testing.F) {
	for i := range 8 {
		f.Add(binary.LittleEndian.AppendUint64(nil, uint64(i)*0x9e3779b97f4a7c15))
	}
	f.Fuzz(func(t *testing.T, seed []byte) {
		var b [16]byte
		copy(b[:], seed)
		checkInvariants(t, binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:]))
	})
}

// TestPlanInvariants runs the invariants over many more worlds than the
// fuzz seeds: 2,000, or 200 with -short or VMROUTE_WORLDS=short (make
// mutate, which runs the tests once per mutant).
func TestPlanInvariants(t *testing.T) {
	n := 2000
	if testing.Short() || os.Getenv("VMROUTE_WORLDS") == "short" {
		n = 200
	}
	for i := range n {
		checkInvariants(t, uint64(i), 42)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
