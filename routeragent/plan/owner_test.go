package plan

import (
	"encoding/json"
	"net/netip"
	"time"

	"fmt"
	"github.com/vmroute/vmroute/shared/wire"
	"slices"
	"strings"
	"testing"
)

// Catches the owner rule counting addresses: one guest with 200 addresses
// in a subnet moved its summary to its site, over two VMs at home. Rule 2
// counts members, and a VM is one; a pinned address is one.
func TestOwnerCountsVMsNotAddresses(t *testing.T) {
	var many []string
	for i := range 200 {
		many = append(many, fmt.Sprintf("198.51.100.%d", 10+i))
	}
	p, err := New(testConfig("A"))
	if err != nil {
		t.Fatal(err)
	}
	setCluster(p, "A", "cl-a", []wire.VM{vm("a1", 0, "198.51.100.2"), vm("a2", 0, "198.51.100.3")})
	setCluster(p, "B", "cl-b", []wire.VM{vm("big", 0, strings.Join(many, " "))})
	if got := ownerOf(t, p, "198.51.100.0/24"); got != "A" {
		t.Errorf("owner %s: one VM with 200 addresses at B against two VMs at A, want A", got)
	}
	// Three pinned addresses at home B are three members: B owns again.
	cfg := testConfig("A")
	for _, a := range []string{"198.51.100.250", "198.51.100.251", "198.51.100.252"} {
		cfg.Subnets[1].Pinned = append(cfg.Subnets[1].Pinned, netip.MustParseAddr(a))
	}
	p, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	setCluster(p, "A", "cl-a", []wire.VM{vm("a1", 0, "198.51.100.2"), vm("a2", 0, "198.51.100.3")})
	if got := ownerOf(t, p, "198.51.100.0/24"); got != "B" {
		t.Errorf("owner %s: three pinned addresses at B against two VMs at A, want B", got)
	}
}

func ownerOf(t *testing.T, p *Planner, prefix string) string {
	t.Helper()
	for _, s := range p.Plan(t0.Add(time.Hour)).Subnets {
		if s.Prefix.String() == prefix {
			return s.Owner
		}
	}
	t.Fatalf("no subnet %s", prefix)
	return ""
}

// Catches host routes for the reserved subnet anycast addresses of an
// IPv6 prefix (RFC 2526): a VM that sets one would draw the subnet's
// anycast traffic to a /128.
func TestSubnetAnycastAddressesGetNoRoute(t *testing.T) {
	p := mustPlanner(t, testConfig("B"))
	anycast := []string{"2001:db8:1::ffff:ffff:ffff:ff80", "2001:db8:1::ffff:ffff:ffff:ffff", "2001:db8:1::fdff:ffff:ffff:ffaa"}
	plain := []string{"2001:db8:1::80", "2001:db8:1::ffff:ffff:ffff:ff7f", "2001:db8:1::fdff:ffff:ffff:ff7f"}
	setCluster(p, "B", "cl-b", []wire.VM{vm("v1", 0, strings.Join(append(slices.Clone(anycast), plain...), " ")), vm("v2", 0, "192.0.2.20")})
	setCluster(p, "A", "cl-a", []wire.VM{vm("a1", 0, "192.0.2.10", "2001:db8:1::10"), vm("a2", 0, "192.0.2.11", "2001:db8:1::11")})
	res := p.Plan(t0)
	got := routes(res, "B")
	for _, a := range anycast {
		if slices.Contains(got, "B host "+netip.MustParseAddr(a).String()+"/128") {
			t.Errorf("subnet anycast address %s has a host route", a)
		}
	}
	for _, a := range plain {
		if !slices.Contains(got, "B host "+netip.MustParseAddr(a).String()+"/128") {
			t.Errorf("%s, no subnet anycast address, has no host route: %q", a, got)
		}
	}
	var infra []string
	for _, f := range res.Findings.Infrastructure {
		if f.What == "subnet anycast address" {
			infra = append(infra, f.Addr.String())
		}
	}
	if len(infra) != len(anycast) {
		t.Errorf("findings %v, want the 3 anycast addresses as infrastructure", res.Findings.Infrastructure)
	}
}

// Catches an address the router gains after start getting a route: the
// VMs that claim an address as it becomes the router's lose their route,
// and get it back when the router gives it up.
func TestSetReservedPlacesTheVMsAgain(t *testing.T) {
	p := mustPlanner(t, testConfig("B"))
	setCluster(p, "B", "cl-b", []wire.VM{vm("v1", 0, "192.0.2.77")})
	setCluster(p, "A", "cl-a", []wire.VM{vm("a1", 0, "192.0.2.10"), vm("a2", 0, "192.0.2.11")})
	if got := routes(p.Plan(t0), "B"); !slices.Contains(got, "B host 192.0.2.77/32") {
		t.Fatalf("before: %q", got)
	}
	p.SetReserved([]netip.Addr{netip.MustParseAddr("192.0.2.77")})
	res := p.Plan(t0.Add(time.Second))
	if got := routes(res, "B"); slices.Contains(got, "B host 192.0.2.77/32") || len(res.Findings.Infrastructure) != 1 {
		t.Errorf("192.0.2.77 now the router's: %q, findings %v", got, res.Findings.Infrastructure)
	}
	p.SetReserved(nil)
	if got := routes(p.Plan(t0.Add(2*time.Second)), "B"); !slices.Contains(got, "B host 192.0.2.77/32") {
		t.Errorf("192.0.2.77 given up: %q, want v1's host route back", got)
	}
}

// Catches a reload that drops takeovers (issue 28): a new configuration
// made a new planner, whose empty takeovers withdrew at once the host
// routes of a takeover under way; a restart likewise (the pair test of
// issue 24). Follow, saved as JSON, and Resume carry them over.
// takingOver is site B's planner that takes the subnet over from A at
// at, A's VMs having moved to B (moved), A still heard announcing it.
func takingOver(t *testing.T, at time.Time) (p *Planner, moved []wire.VM, res *Result) {
	t.Helper()
	p = lossWorld(t, "B")
	p.SetLiveness(live(map[string]SiteState{"A": {Heard: t0, Summaries: []netip.Prefix{s24}}}))
	p.Plan(t0)
	moved = []wire.VM{vm("b1", 0, "192.0.2.21"), vm("a1", 1, "192.0.2.11"), vm("a2", 1, "192.0.2.12"), vm("a3", 1, "192.0.2.13")}
	setCluster(p, "A", "cl-A", nil)
	setCluster(p, "B", "cl-B", moved)
	return p, moved, p.Plan(at)
}

func TestANewPlannerContinuesTheTakeovers(t *testing.T) {
	p, moved, res := takingOver(t, t0.Add(time.Second))
	tk := res.Subnets[0].Takeover
	if tk == nil {
		t.Fatalf("no takeover: %q", routes(res, "B"))
	}
	want := routes(res, "B")
	cfg := testConfig("B")
	cfg.Guards.HostRouteCeiling = 1000 // any change to [plan]: a new planner
	next := mustPlanner(t, cfg)
	next.Resume(saved(t, p), t0.Add(time.Hour))
	setCluster(next, "A", "cl-A", nil)
	setCluster(next, "B", "cl-B", moved)
	next.SetLiveness(live(map[string]SiteState{"A": {Heard: t0.Add(2 * time.Second), Summaries: []netip.Prefix{s24}}}))
	res = next.Plan(t0.Add(2 * time.Second))
	if got := routes(res, "B"); !slices.Equal(got, want) || res.Subnets[0].Takeover == nil || !res.Subnets[0].Takeover.Until.Equal(tk.Until) {
		t.Errorf("after the reload: %q, takeover %+v\nwant %q, takeover until %s", got, res.Subnets[0].Takeover, want, tk.Until)
	}
}

// Catches a new planner that forgets the halves beating a lost site's
// lingering summary: after the reload, the lost site is no longer newly
// lost, so only what Follow and Resume carry keeps the halves.
func TestANewPlannerContinuesTheBeats(t *testing.T) {
	// B starts with A already lost, last heard announcing the subnet: the
	// halves beat A's lingering summary (a beat, no takeover).
	p := lossWorld(t, "B")
	lost := live(map[string]SiteState{"A": {Lost: t0, Silent: true, Heard: t0.Add(-time.Second), Summaries: []netip.Prefix{s24}}})
	p.SetLiveness(lost)
	if res := p.Plan(t0); !slices.Equal(res.Subnets[0].Halves, []string{"B"}) || res.Subnets[0].Takeover == nil {
		t.Fatalf("halves %v, takeover %+v; want B's halves over A's summary", res.Subnets[0].Halves, res.Subnets[0].Takeover)
	}
	cfg := testConfig("B")
	cfg.Guards.HostRouteCeiling = 1000
	next := mustPlanner(t, cfg)
	next.Resume(saved(t, p), t0.Add(time.Hour))
	setCluster(next, "A", "cl-A", []wire.VM{vm("a1", 0, "192.0.2.11"), vm("a2", 0, "192.0.2.12"), vm("a3", 0, "192.0.2.13")})
	setCluster(next, "B", "cl-B", []wire.VM{vm("b1", 0, "192.0.2.21")})
	next.SetLiveness(lost)
	if res := next.Plan(t0.Add(time.Second)); !slices.Equal(res.Subnets[0].Halves, []string{"B"}) {
		t.Errorf("after the reload: halves %v, want B's kept until the linger ends", res.Subnets[0].Halves)
	}
}

// saved is what p follows, through the JSON of a state file.
func saved(t *testing.T, p *Planner) Follow {
	t.Helper()
	b, err := json.Marshal(p.Follow())
	if err != nil {
		t.Fatal(err)
	}
	var f Follow
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// Catches a saved takeover whose start is past the clock (a clock that
// ran ahead before a restart): it counts from the clock, so that it ends
// one linger from now at the latest, not one linger from a future.
func TestAResumedTakeoverStartsNoLaterThanTheClock(t *testing.T) {
	p, moved, res := takingOver(t, t0.Add(24*time.Hour))
	if res.Subnets[0].Takeover == nil {
		t.Fatal("no takeover")
	}
	next := mustPlanner(t, testConfig("B"))
	next.Resume(saved(t, p), t0.Add(time.Second))
	setCluster(next, "A", "cl-A", nil)
	setCluster(next, "B", "cl-B", moved)
	next.SetLiveness(live(map[string]SiteState{"A": {Heard: t0, Summaries: []netip.Prefix{s24}}}))
	res = next.Plan(t0.Add(2 * time.Second))
	if tk := res.Subnets[0].Takeover; tk == nil || !tk.Since.Equal(t0.Add(time.Second)) {
		t.Errorf("takeover %+v, want one since the clock at resume, %s", tk, t0.Add(time.Second))
	}
}

// Catches members counted when they no longer claim anything: b2 claims
// b1's address too (a conflict), and when it leaves, B holds two VMs, as
// many as home A: A owns the subnet again.
func TestAMemberThatLeavesCountsNoMore(t *testing.T) {
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-a", []wire.VM{vm("a1", 0, "192.0.2.2"), vm("a2", 0, "192.0.2.3")})
	setCluster(p, "B", "cl-b", []wire.VM{vm("b1", 0, "192.0.2.20"), vm("b2", 0, "192.0.2.20"), vm("b3", 0, "192.0.2.30")})
	if got := ownerOf(t, p, "192.0.2.0/24"); got != "B" {
		t.Fatalf("owner %s with three VMs at B, want B", got)
	}
	setCluster(p, "B", "cl-b", []wire.VM{vm("b1", 0, "192.0.2.20"), vm("b3", 0, "192.0.2.30")})
	if got := ownerOf(t, p, "192.0.2.0/24"); got != "A" {
		t.Errorf("owner %s once b2 left, two VMs a site, want home A", got)
	}
	// And when b1, the first claimant, leaves while b2 stays.
	setCluster(p, "B", "cl-b", []wire.VM{vm("b1", 0, "192.0.2.20"), vm("b2", 0, "192.0.2.20"), vm("b3", 0, "192.0.2.30")})
	setCluster(p, "B", "cl-b", []wire.VM{vm("b2", 0, "192.0.2.20"), vm("b3", 0, "192.0.2.30")})
	if got := ownerOf(t, p, "192.0.2.0/24"); got != "A" {
		t.Errorf("owner %s once b1 left, two VMs a site, want home A", got)
	}
}
