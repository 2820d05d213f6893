package plan

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// The tests here take the planner's rules at their edges: a count equal
// to a limit, a time equal to a window, ties broken the same way in every
// order of arrival.

func TestConfigCheckNamesEveryField(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string // "" when valid
	}{
		{"no prefix", func(c *Config) { c.Subnets[0].Prefix = netip.Prefix{} }, "subnets[0].prefix: missing"},
		{"no home", func(c *Config) { c.Subnets[1].Home = "" }, "subnets[1].home: missing"},
		{"gateways without an interface", func(c *Config) { c.Subnets[0].Interface = "" }, "subnets[0].interface: missing: gateways are announced on it"},
		{"a gateway of the other family", func(c *Config) { c.Subnets[2].Gateways[1] = netip.MustParseAddr("192.0.2.1") }, "subnets[2].gateways[1]: 192.0.2.1 is not of the family of 2001:db8:1::/64"},
		{"a negative subnet ceiling", func(c *Config) { c.Subnets[1].HostRouteCeiling = -1 }, "subnets[1].host_route_ceiling: must not be negative"},
		{"a negative ceiling", func(c *Config) { c.Guards.HostRouteCeiling = -1 }, "guards.host_route_ceiling: must not be negative"},
		{"a negative total ceiling", func(c *Config) { c.Guards.TotalHostRouteCeiling = -1 }, "guards.total_host_route_ceiling: must not be negative"},
		{"one flap move", func(c *Config) { c.Guards.FlapMoves, c.Guards.FlapWindow = 1, time.Minute }, "guards.flap_moves: needs 2 or more moves"},
		{"two flap moves without a window", func(c *Config) { c.Guards.FlapMoves = 2 }, "guards.flap_moves: needs 2 or more moves"},
		{"two flap moves in the shortest window", func(c *Config) { c.Guards.FlapMoves, c.Guards.FlapWindow = 2, time.Nanosecond }, ""},
		{"no site", func(c *Config) { c.Site = "" }, "site: missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("A")
			tt.edit(&cfg)
			err := cfg.Check()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("Check() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNetworkAndBroadcastAddressesAtEveryLength(t *testing.T) {
	cfg := Config{Site: "A", Subnets: []Subnet{
		{Prefix: netip.MustParsePrefix("192.0.2.0/30"), Home: "A"},
		{Prefix: netip.MustParsePrefix("192.0.2.4/31"), Home: "A"},
		{Prefix: netip.MustParsePrefix("192.0.2.8/32"), Home: "A"},
		{Prefix: netip.MustParsePrefix("2001:db8::/126"), Home: "A"},
		{Prefix: netip.MustParsePrefix("2001:db8::4/127"), Home: "A"},
	}}
	p := mustPlanner(t, cfg)
	for _, tt := range []struct {
		subnet int
		addr   string
		want   string
	}{
		{0, "192.0.2.0", "network address"},
		{0, "192.0.2.3", "broadcast address"},
		{0, "192.0.2.1", ""},
		{1, "192.0.2.4", ""}, // a /31 is a point-to-point link: both addresses are hosts (RFC 3021)
		{1, "192.0.2.5", ""},
		{2, "192.0.2.8", ""},
		{3, "2001:db8::", "network address"}, // the subnet-router anycast address
		{3, "2001:db8::3", ""},               // IPv6 has no broadcast
		{4, "2001:db8::4", ""},               // a /127 (RFC 6164)
	} {
		if got := p.reserved(tt.subnet, netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("reserved(%s, %s) = %q, want %q", cfg.Subnets[tt.subnet].Prefix, tt.addr, got, tt.want)
		}
	}
	for pfx, want := range map[string]string{"192.0.2.0/27": "192.0.2.31", "198.51.96.0/20": "198.51.111.255", "192.0.2.4/31": "192.0.2.5",
		"192.0.2.8/32": "192.0.2.8", "0.0.0.0/0": "255.255.255.255", "2001:db8::/127": "2001:db8::1"} {
		if got := lastAddr(netip.MustParsePrefix(pfx)); got.String() != want {
			t.Errorf("lastAddr(%s) = %s, want %s", pfx, got, want)
		}
	}
}

func TestEqualLandingsGoToTheGreaterSiteAndCluster(t *testing.T) {
	// Two claims landed at the same instant: every routeragent, whatever
	// order the reports came in, picks the greater site, then the greater
	// cluster.
	for _, order := range [][]report{
		{{"A", "cl-A", []wire.VM{vm("v1", 10, "192.0.2.11")}}, {"B", "cl-B", []wire.VM{vm("v1", 10, "192.0.2.11")}}},
		{{"B", "cl-B", []wire.VM{vm("v1", 10, "192.0.2.11")}}, {"A", "cl-A", []wire.VM{vm("v1", 10, "192.0.2.11")}}},
	} {
		p := mustPlanner(t, testConfig("A"))
		for _, r := range order {
			setCluster(p, r.site, r.cluster, r.vms)
		}
		// v1, the subnet's only member, is at B: B owns the subnet.
		if got := routes(p.Plan(t0.Add(10*time.Second)), "A", "B"); !slices.Contains(got, "B summary 192.0.2.0/24") {
			t.Errorf("reports in order %s, %s: %q, want v1 at B", order[0].site, order[1].site, got)
		}
	}
	for _, order := range [][]string{{"cl-1", "cl-2"}, {"cl-2", "cl-1"}} {
		p := mustPlanner(t, testConfig("A"))
		for _, c := range order {
			setCluster(p, "A", c, []wire.VM{vm("v1", 10, "192.0.2.11")})
		}
		if l := p.Locations(); len(l) != 1 || l[0].Cluster != "cl-2" {
			t.Errorf("clusters in order %v: %+v, want v1 from cl-2", order, l)
		}
	}
}

func TestANewLandingAtTheSameSiteIsAnnouncedAgain(t *testing.T) {
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 10, "192.0.2.11")})
	if res := p.Plan(t0.Add(10 * time.Second)); len(res.Landed) != 1 {
		t.Fatalf("landed %v, want v1", res.Landed)
	}
	// The same landing again: nothing due.
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 10, "192.0.2.11")})
	if res := p.Plan(t0.Add(11 * time.Second)); len(res.Landed) != 0 {
		t.Errorf("landed %v for the same landing", res.Landed)
	}
	// Away and back between two reports: a new landing time at A.
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 20, "192.0.2.11")})
	if res := p.Plan(t0.Add(20 * time.Second)); len(res.Landed) != 1 || res.Landed[0].VM != "v1" {
		t.Errorf("landed %v, want v1 again", res.Landed)
	}
}

func TestFlapWindowIncludesItsEnd(t *testing.T) {
	cfg := testConfig("A")
	cfg.Guards.FlapMoves, cfg.Guards.FlapWindow = 2, time.Minute
	p := mustPlanner(t, cfg)
	setCluster(p, "B", "cl-B", []wire.VM{vm("v1", 0, "198.51.100.11")})
	p.Plan(t0)
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 30, "198.51.100.11")}) // move 1
	p.Plan(t0.Add(30 * time.Second))
	setCluster(p, "B", "cl-B", []wire.VM{vm("v1", 90, "198.51.100.11")}) // move 2, exactly a window later
	res := p.Plan(t0.Add(90 * time.Second))
	if len(res.Findings.Held) != 1 || res.Findings.Held[0].Site != "A" {
		t.Fatalf("held %+v, want v1 held at A", res.Findings.Held)
	}
	if l := p.Locations(); len(l) != 1 || !l[0].Held || l[0].Site != "A" {
		t.Errorf("locations %+v, want v1 held at A", l)
	}
	p.Plan(t0.Add(151 * time.Second))
	if l := p.Locations(); len(l) != 1 || l[0].Held || l[0].Site != "B" {
		t.Errorf("locations %+v after the hold, want v1 at B, not held", l)
	}
}

func TestFreshLandingIncludesItsEnd(t *testing.T) {
	cfg := testConfig("A")
	cfg.Guards.FreshLanding = 30 * time.Second
	p := mustPlanner(t, cfg)
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "192.0.2.11"), vm("v2", 0, "192.0.2.12")})
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "192.0.2.11")})
	if res := p.Plan(t0.Add(30 * time.Second)); len(res.Landed) != 1 || res.Landed[0].VM != "v1" {
		t.Errorf("landed %v at the end of FreshLanding, want v1", res.Landed)
	}
}

func TestNeighborsHoldOnlyTheSubnetsAddresses(t *testing.T) {
	cfg := testConfig("A")
	cfg.Subnets[1].Gateways, cfg.Subnets[1].Interface = nil, ""
	p := mustPlanner(t, cfg)
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "192.0.2.11 2001:db8:1::11 198.51.100.11")})
	res := p.Plan(t0)
	var got []string
	for _, n := range res.Neighbors() {
		got = append(got, n.Subnet.String()+" "+fmtAddrs(n.Addrs))
	}
	// 198.51.100.0/24 has no gateway: no announcement target there.
	want := []string{"192.0.2.0/24 192.0.2.11", "2001:db8:1::/64 2001:db8:1::11"}
	if !slices.Equal(got, want) {
		t.Errorf("neighbors %q, want %q", got, want)
	}
}

func fmtAddrs(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, " ")
}

func TestCeilingsIncludeTheirLimit(t *testing.T) {
	// Two host routes at B in each of two subnets homed at A.
	cfg := testConfig("A")
	cfg.Subnets[1].Home = "A"
	vms := []wire.VM{vm("b1", 0, "192.0.2.11"), vm("b2", 0, "192.0.2.12"), vm("b3", 0, "198.51.100.13"), vm("b4", 0, "198.51.100.14"),
		vm("a1", 0, "192.0.2.21"), vm("a2", 0, "192.0.2.22"), vm("a3", 0, "198.51.100.23"), vm("a4", 0, "198.51.100.24"), vm("a5", 0, "192.0.2.25"), vm("a6", 0, "198.51.100.26")}
	plan := func(ceiling, total int) []string {
		c := cfg
		c.Guards.HostRouteCeiling, c.Guards.TotalHostRouteCeiling = ceiling, total
		p := mustPlanner(t, c)
		setCluster(p, "B", "cl-B", vms[:4])
		setCluster(p, "A", "cl-A", vms[4:])
		return routes(p.Plan(t0), "B")
	}
	hosts := []string{"B host 192.0.2.11/32", "B host 192.0.2.12/32", "B host 198.51.100.13/32", "B host 198.51.100.14/32"}
	if got := plan(2, 4); !slices.Equal(got, hosts) {
		t.Errorf("at both ceilings: %q, want the host routes", got)
	}
	// One over the total: the first subnet of the two, equal in size, is
	// summarised.
	if got, want := plan(2, 3), []string{"B host 198.51.100.13/32", "B host 198.51.100.14/32", "B summary 192.0.2.0/24"}; !slices.Equal(got, want) {
		t.Errorf("one over the total ceiling: %q, want %q", got, want)
	}
}

func TestRemovingAnUnknownClusterChangesNothing(t *testing.T) {
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "B", "cl-B", []wire.VM{vm("v1", 0, "192.0.2.11")})
	before := routes(p.Plan(t0), "A", "B")
	p.RemoveCluster("cl-X")
	if got := routes(p.Plan(t0), "A", "B"); !slices.Equal(got, before) {
		t.Errorf("routes %q after removing an unknown cluster, want %q", got, before)
	}
}
