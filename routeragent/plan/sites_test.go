package plan

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// lossWorld is subnet 192.0.2.0/24, homed at A, with three VMs at A and
// one at B, planned at site.
func lossWorld(t *testing.T, site string) *Planner {
	t.Helper()
	p := mustPlanner(t, testConfig(site))
	setCluster(p, "A", "cl-A", []wire.VM{vm("a1", 0, "192.0.2.11"), vm("a2", 0, "192.0.2.12"), vm("a3", 0, "192.0.2.13")})
	setCluster(p, "B", "cl-B", []wire.VM{vm("b1", 0, "192.0.2.21")})
	return p
}

const linger = 120 * time.Second

var s24 = netip.MustParsePrefix("192.0.2.0/24")

func live(sites map[string]SiteState) Liveness {
	return Liveness{Sites: sites, Linger: linger, Current: true}
}

func TestALostSiteOwnsNothing(t *testing.T) {
	p := lossWorld(t, "B")
	p.SetLiveness(live(map[string]SiteState{"A": {Heard: t0, Summaries: []netip.Prefix{s24}}}))
	if got := routes(p.Plan(t0), "B"); !slices.Contains(got, "B host 192.0.2.21/32") {
		t.Fatalf("before the loss: %q, want b1's host route", got)
	}
	// A is lost at t0+5s, last heard at t0+2s.
	lost := t0.Add(5 * time.Second)
	p.SetLiveness(live(map[string]SiteState{"A": {Lost: lost, Silent: true, Heard: t0.Add(2 * time.Second)}}))
	res := p.Plan(lost)
	want := []string{"B half 192.0.2.0/25", "B half 192.0.2.128/25", "B half 2001:db8:1:0:8000::/65", "B half 2001:db8:1::/65",
		"B host 192.0.2.21/32", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24", "B summary 2001:db8:1::/64"}
	if got := routes(res, "B"); !slices.Equal(got, want) {
		t.Errorf("A lost:\n got %q\nwant %q", got, want)
	}
	// The gateway goes to the VMs last known at A, at once: HA may have
	// restarted them here without a report.
	var adopted []string
	for _, n := range res.Landed {
		adopted = append(adopted, n.VM+" "+n.Subnet.String())
	}
	if want := []string{"a1 192.0.2.0/24", "a2 192.0.2.0/24", "a3 192.0.2.0/24"}; !slices.Equal(adopted, want) {
		t.Errorf("landed %q, want %q", adopted, want)
	}
	if res := p.Plan(lost.Add(time.Second)); len(res.Landed) != 0 || len(res.Neighbors()) != 4 {
		t.Errorf("a plan later: landed %v, %d neighbors; want no new burst, and b1 and A's three VMs as neighbors", res.Landed, len(res.Neighbors()))
	}
	tk := res.Subnets[0].Takeover
	if tk == nil || tk.From != "A" || !tk.Halves || !tk.Until.Equal(lost.Add(linger)) || !res.NextWake.Equal(tk.Until) {
		t.Errorf("takeover %+v, next wake %v; want from A with halves until the loss + linger", tk, res.NextWake)
	}
	// Once A's routes can no longer be live or stale anywhere: S alone.
	res = p.Plan(tk.Until)
	if got, want := routes(res, "B"), []string{"B summary 192.0.2.0/24", "B summary 198.51.100.0/24", "B summary 2001:db8:1::/64"}; !slices.Equal(got, want) || res.Subnets[0].Takeover != nil {
		t.Errorf("after the linger: %q, takeover %+v; want %q", got, res.Subnets[0].Takeover, want)
	}
	// A's VMs stay listed at A.
	for _, l := range p.Locations() {
		if l.Name == "vm-a1" && (l.Site != "A" || !l.SiteLost) || l.Name == "vm-b1" && l.SiteLost {
			t.Errorf("%s listed at %s, site lost %v; want A's VMs at A, flagged", l.Name, l.Site, l.SiteLost)
		}
	}
}

func TestAPartitionMovesNothing(t *testing.T) {
	for _, st := range []SiteState{
		{Silent: true, Heard: t0},                   // the API path failed
		{Heard: t0, Summaries: []netip.Prefix{s24}}, // the probe path failed: nothing the planner sees
	} {
		p := lossWorld(t, "B")
		p.SetLiveness(live(map[string]SiteState{"A": {Heard: t0, Summaries: []netip.Prefix{s24}}}))
		before := routes(p.Plan(t0), "A", "B")
		p.SetLiveness(live(map[string]SiteState{"A": st}))
		if got := routes(p.Plan(t0.Add(time.Minute)), "A", "B"); !slices.Equal(got, before) {
			t.Errorf("partition %+v: %q, want %q", st, got, before)
		}
	}
}

func TestTakeoverKeepsHostRoutesUntilThePreviousOwnerWithdraws(t *testing.T) {
	// The measured order: A's routeragent dies (silent, not lost: its
	// router still answers the probe); HA restarts A's VMs at B one by
	// one; once all are at B, B owns the subnet.
	for _, llgr := range []bool{false, true} {
		p := lossWorld(t, "B")
		l := live(map[string]SiteState{"A": {Silent: true, Heard: t0, Summaries: []netip.Prefix{s24}}})
		l.AllLLGR = llgr
		p.SetLiveness(l)
		p.Plan(t0)
		setCluster(p, "A", "cl-A", []wire.VM{vm("a2", 0, "192.0.2.12"), vm("a3", 0, "192.0.2.13")})
		setCluster(p, "B", "cl-B", []wire.VM{vm("b1", 0, "192.0.2.21"), vm("a1", 10, "192.0.2.11")})
		if got := routes(p.Plan(t0.Add(10*time.Second)), "B"); !slices.Contains(got, "B host 192.0.2.11/32") {
			t.Fatalf("a1 back at B: %q, want its host route", got)
		}
		setCluster(p, "A", "cl-A", nil)
		setCluster(p, "B", "cl-B", []wire.VM{vm("b1", 0, "192.0.2.21"), vm("a1", 10, "192.0.2.11"), vm("a2", 20, "192.0.2.12"), vm("a3", 20, "192.0.2.13")})
		res := p.Plan(t0.Add(20 * time.Second))
		want := []string{"B host 192.0.2.11/32", "B host 192.0.2.12/32", "B host 192.0.2.13/32", "B host 192.0.2.21/32", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24"}
		if !llgr {
			want = append([]string{"B half 192.0.2.0/25", "B half 192.0.2.128/25"}, want...)
		}
		if got := routes(res, "B"); !slices.Equal(got, want) {
			t.Errorf("LLGR %v, the summary swap:\n got %q\nwant %q", llgr, got, want)
		}
		// A's routeragent answers again, without the subnet: done.
		l.Sites = map[string]SiteState{"A": {Heard: t0.Add(21 * time.Second)}}
		p.SetLiveness(l)
		if got, want := routes(p.Plan(t0.Add(21*time.Second)), "B"), []string{"B summary 192.0.2.0/24", "B summary 198.51.100.0/24"}; !slices.Equal(got, want) {
			t.Errorf("LLGR %v, once A withdrew: %q, want %q", llgr, got, want)
		}
	}
}

func TestAnAnswerFromBeforeTheTakeoverConfirmsNothing(t *testing.T) {
	p := lossWorld(t, "B")
	p.SetLiveness(live(map[string]SiteState{"A": {Heard: t0}}))
	p.Plan(t0)
	setCluster(p, "A", "cl-A", nil)
	setCluster(p, "B", "cl-B", []wire.VM{vm("b1", 0, "192.0.2.21"), vm("a1", 10, "192.0.2.11")})
	if res := p.Plan(t0.Add(10 * time.Second)); res.Subnets[0].Takeover == nil {
		t.Errorf("routes %q: an answer of A older than the takeover ended it", routes(res, "B"))
	}
}

func TestAReturningSiteTakesNothingBeforeItIsCurrent(t *testing.T) {
	// Site A comes back: its reports still put the VMs at A, and B
	// announces the subnet.
	p := lossWorld(t, "A")
	l := Liveness{Sites: map[string]SiteState{"B": {Heard: t0, Summaries: []netip.Prefix{s24}}}, Linger: linger}
	p.SetLiveness(l)
	res := p.Plan(t0)
	if got := routes(res, "A"); slices.ContainsFunc(got, func(s string) bool { return s == "A summary 192.0.2.0/24" }) || res.Subnets[0].DeferredTo != "B" {
		t.Errorf("not current: %q, deferred to %q; want the subnet left to B", got, res.Subnets[0].DeferredTo)
	}
	// Current: A takes the subnet over, make-before-break.
	l.Current = true
	l.Sites = map[string]SiteState{"B": {Heard: t0.Add(time.Second), Summaries: []netip.Prefix{s24}}}
	p.SetLiveness(l)
	res = p.Plan(t0.Add(time.Second))
	if tk := res.Subnets[0].Takeover; tk == nil || tk.From != "B" || tk.Halves {
		t.Errorf("takeover %+v, want from B without halves", tk)
	}
	// And B, seeing A return but not current, keeps the subnet.
	pb := lossWorld(t, "B")
	pb.SetLiveness(live(map[string]SiteState{"A": {Returning: true, Heard: t0}}))
	if got := pb.Plan(t0).Subnets[0].Owner; got != "B" {
		t.Errorf("B's plan with A returning: owner %s, want B", got)
	}
}

func TestLostHomeWithoutMembersGoesToTheFirstSurvivor(t *testing.T) {
	cfg := testConfig("C")
	p := mustPlanner(t, cfg)
	p.SetLiveness(live(map[string]SiteState{"A": {Lost: t0, Silent: true}, "B": {Heard: t0}}))
	if got := p.Plan(t0).Subnets[0].Owner; got != "B" {
		t.Errorf("owner %s of a subnet without members whose home A is lost, want B", got)
	}
}

func TestHalves(t *testing.T) {
	for p, want := range map[string][2]string{
		"192.0.2.0/24": {"192.0.2.0/25", "192.0.2.128/25"}, "10.0.0.0/9": {"10.0.0.0/10", "10.64.0.0/10"},
		"2001:db8:1::/64": {"2001:db8:1::/65", "2001:db8:1:0:8000::/65"}, "198.51.100.0/31": {"198.51.100.0/32", "198.51.100.1/32"},
	} {
		h := halves(netip.MustParsePrefix(p))
		if h[0].String() != want[0] || h[1].String() != want[1] {
			t.Errorf("halves(%s) = %v, want %v", p, h, want)
		}
	}
}

func TestAPreviousOwnerLostDuringTheTakeoverIsBeaten(t *testing.T) {
	// B takes the subnet over while A is still heard (its routeragent
	// just died); then A is found lost: the halves come.
	p := lossWorld(t, "B")
	p.SetLiveness(live(map[string]SiteState{"A": {Heard: t0, Summaries: []netip.Prefix{s24}}}))
	p.Plan(t0)
	setCluster(p, "A", "cl-A", nil)
	setCluster(p, "B", "cl-B", []wire.VM{vm("b1", 0, "192.0.2.21"), vm("a1", 1, "192.0.2.11"), vm("a2", 1, "192.0.2.12"), vm("a3", 1, "192.0.2.13")})
	if res := p.Plan(t0.Add(time.Second)); res.Subnets[0].Takeover == nil || len(res.Subnets[0].Halves) != 0 {
		t.Fatalf("takeover %+v, halves %v; want a takeover without halves", res.Subnets[0].Takeover, res.Subnets[0].Halves)
	}
	p.SetLiveness(live(map[string]SiteState{"A": {Lost: t0.Add(3 * time.Second), Silent: true, Heard: t0, Summaries: []netip.Prefix{s24}}}))
	if res := p.Plan(t0.Add(3 * time.Second)); !slices.Equal(res.Subnets[0].Halves, []string{"B"}) {
		t.Errorf("halves %v once A is lost, want B's", res.Subnets[0].Halves)
	}
}

func TestTakeoverEdges(t *testing.T) {
	// A never answered: its loss is beaten all the same, once B is
	// taking the subnet over from it.
	p := lossWorld(t, "B")
	p.SetLiveness(live(map[string]SiteState{"A": {}}))
	p.Plan(t0)
	setCluster(p, "A", "cl-A", nil)
	setCluster(p, "B", "cl-B", []wire.VM{vm("b1", 0, "192.0.2.21"), vm("a1", 1, "192.0.2.11")})
	p.Plan(t0.Add(time.Second))
	l := live(map[string]SiteState{"A": {Lost: t0.Add(3 * time.Second), Silent: true}})
	l.AllLLGR = true // no halves for a silent previous owner alone
	p.SetLiveness(l)
	if res := p.Plan(t0.Add(3 * time.Second)); !slices.Equal(res.Subnets[0].Halves, []string{"B"}) {
		t.Errorf("halves %v once A, never heard, is lost; want B's", res.Subnets[0].Halves)
	}

	// A /32 subnet has no halves; a subnet without gateways announces
	// nothing to the lost site's VMs.
	cfg := Config{Site: "B", Subnets: []Subnet{
		{Prefix: netip.MustParsePrefix("192.0.2.9/32"), Home: "A"},
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Home: "A"},
	}}
	p = mustPlanner(t, cfg)
	setCluster(p, "A", "cl-A", []wire.VM{vm("a1", 0, "192.0.2.9"), vm("a2", 0, "198.51.100.10")})
	p.SetLiveness(live(map[string]SiteState{"A": {Heard: t0, Summaries: []netip.Prefix{netip.MustParsePrefix("192.0.2.9/32"), netip.MustParsePrefix("198.51.100.0/24")}}}))
	p.Plan(t0)
	p.SetLiveness(live(map[string]SiteState{"A": {Lost: t0.Add(3 * time.Second), Silent: true, Heard: t0}}))
	res := p.Plan(t0.Add(3 * time.Second))
	want := []string{"B half 198.51.100.0/25", "B half 198.51.100.128/25", "B summary 192.0.2.9/32", "B summary 198.51.100.0/24"}
	if got := routes(res, "B"); !slices.Equal(got, want) {
		t.Errorf("routes %q, want %q", got, want)
	}
	if n := res.Neighbors(); len(n) != 0 || len(res.Landed) != 0 {
		t.Errorf("neighbors %v, landed %v; want none without gateways", n, res.Landed)
	}
}

// Catches a site that is not current deferring to any site that claims
// its subnet: a buggy C that answers it announces A's subnet made A, just
// restarted, announce nothing. A defers only to the site its own rules
// give the subnet to while it returns (B, which holds a member), and
// only while that site announces it.
func TestADeferralGoesOnlyToTheOwnerByTheRules(t *testing.T) {
	p := lossWorld(t, "A")
	l := Liveness{Sites: map[string]SiteState{"B": {Heard: t0}, "C": {Heard: t0, Summaries: []netip.Prefix{s24}}}, Linger: linger}
	p.SetLiveness(l)
	res := p.Plan(t0)
	if got := routes(res, "A"); !slices.Contains(got, "A summary 192.0.2.0/24") || res.Subnets[0].DeferredTo != "" {
		t.Errorf("C claims A's subnet: %q, deferred to %q; want A to keep announcing it", got, res.Subnets[0].DeferredTo)
	}
	l.Sites = map[string]SiteState{"B": {Heard: t0, Summaries: []netip.Prefix{s24}}, "C": {Heard: t0, Summaries: []netip.Prefix{s24}}}
	p.SetLiveness(l)
	if res := p.Plan(t0.Add(time.Second)); res.Subnets[0].DeferredTo != "B" {
		t.Errorf("B, the owner while A returns, announces the subnet: deferred to %q, want B", res.Subnets[0].DeferredTo)
	}
}

// Catches a takeover kept going by a peer that keeps claiming the subnet:
// its host routes and halves had no end while the peer answered. It ends
// one linger after it began, whatever the peer says.
func TestATakeoverEndsOneLingerAfterItBegan(t *testing.T) {
	p := lossWorld(t, "A")
	claims := func(at time.Time) Liveness {
		return Liveness{Sites: map[string]SiteState{"B": {Heard: at, Summaries: []netip.Prefix{s24}}}, Linger: linger, Current: true}
	}
	// A restarted, deferred to B, then became current: it takes over.
	l := claims(t0)
	l.Current = false
	p.SetLiveness(l)
	p.Plan(t0)
	p.SetLiveness(claims(t0.Add(time.Second)))
	res := p.Plan(t0.Add(time.Second))
	tk := res.Subnets[0].Takeover
	if tk == nil || tk.From != "B" || !tk.Until.Equal(t0.Add(time.Second+linger)) {
		t.Fatalf("takeover %+v, want from B until it began + linger", tk)
	}
	// B keeps answering that it announces the subnet.
	for _, at := range []time.Time{t0.Add(time.Minute), tk.Until.Add(-time.Second)} {
		p.SetLiveness(claims(at))
		if res := p.Plan(at); res.Subnets[0].Takeover == nil {
			t.Errorf("takeover ended at +%s, before one linger", at.Sub(t0))
		}
	}
	p.SetLiveness(claims(tk.Until))
	res = p.Plan(tk.Until)
	if res.Subnets[0].Takeover != nil || slices.ContainsFunc(routes(res, "A"), func(r string) bool { return strings.Contains(r, "host") }) {
		t.Errorf("one linger after it began, with B still claiming: takeover %+v, routes %q; want it over", res.Subnets[0].Takeover, routes(res, "A"))
	}
}

// Catches deferring to a silent site: its summaries are from its last
// answer, and a site that does not answer may have withdrawn them.
func TestNoDeferralToASilentSite(t *testing.T) {
	p := lossWorld(t, "A")
	p.SetLiveness(Liveness{Sites: map[string]SiteState{"B": {Silent: true, Heard: t0, Summaries: []netip.Prefix{s24}}}, Linger: linger})
	if res := p.Plan(t0.Add(time.Second)); res.Subnets[0].DeferredTo != "" {
		t.Errorf("deferred to %q, a silent site", res.Subnets[0].DeferredTo)
	}
}

// Catches a newly lost site's summary left unbeaten when this planner
// had no plan of it announcing the subnet (it just started): what the
// lost site last said it announced is beaten with the halves too.
func TestALostSitesLastWordIsBeaten(t *testing.T) {
	p := lossWorld(t, "B")
	p.SetLiveness(live(map[string]SiteState{"A": {Lost: t0, Silent: true, Heard: t0.Add(-time.Second), Summaries: []netip.Prefix{s24}}}))
	res := p.Plan(t0)
	if !slices.Equal(res.Subnets[0].Halves, []string{"B"}) {
		t.Errorf("halves %v, want B's over A's lingering summary", res.Subnets[0].Halves)
	}
}

// Catches a plan kept when the lost sites change but their number does
// not: C returns as A is lost, and A's subnets are B's now.
func TestTheLostSitesChangingAtOnceArePlanned(t *testing.T) {
	p := lossWorld(t, "B")
	p.SetLiveness(live(map[string]SiteState{"A": {Heard: t0}, "C": {Lost: t0, Silent: true}}))
	if got := p.Plan(t0).Subnets[0].Owner; got != "A" {
		t.Fatalf("owner %s with C lost, want A", got)
	}
	p.SetLiveness(live(map[string]SiteState{"A": {Lost: t0.Add(time.Second), Silent: true, Heard: t0}, "C": {Heard: t0.Add(time.Second)}}))
	if got := p.Plan(t0.Add(time.Second)).Subnets[0].Owner; got != "B" {
		t.Errorf("owner %s with A lost and C back, want B", got)
	}
}
