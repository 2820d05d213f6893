package plan

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// testConfig has two sites, A and B, and three subnets.
func testConfig(site string) Config {
	return Config{
		Site: site,
		Subnets: []Subnet{
			{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Home: "A", Interface: "br100",
				Gateways: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
			{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Home: "B", Interface: "br200",
				Gateways: []netip.Addr{netip.MustParseAddr("198.51.100.1")}},
			{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), Home: "A", Interface: "br100",
				Gateways: []netip.Addr{netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8:1::1")}},
		},
	}
}

// vm returns a powered-on VM with one adapter per address group; landed
// is in seconds after t0.
func vm(id string, landed int, addrGroups ...string) wire.VM {
	v := wire.VM{UUID: id, Name: "vm-" + id, PowerState: wire.PoweredOn, LandedAt: t0.Add(time.Duration(landed) * time.Second)}
	for i, g := range addrGroups {
		nic := wire.NIC{MAC: testMAC(id, i), Network: "pg"}
		for _, a := range strings.Fields(g) {
			nic.Addresses = append(nic.Addresses, netip.MustParseAddr(a))
		}
		v.NICs = append(v.NICs, nic)
	}
	return v
}

func testMAC(id string, i int) wire.MAC {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", id, i)
	s := h.Sum32()
	return wire.MAC{0x02, 0x50, byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}
}

// at puts vms at site, as a hostagent reports them.
func at(site string, vms ...wire.VM) []wire.VM {
	for i := range vms {
		vms[i].Site = site
	}
	return vms
}

// setCluster applies a full report of cluster with every VM at site.
func setCluster(p *Planner, site, cluster string, vms []wire.VM) {
	p.SetCluster(cluster, at(site, vms...), nil)
}

type report struct {
	site, cluster string
	vms           []wire.VM
}

func rep(site string, vms ...wire.VM) report {
	return report{site: site, cluster: "cl-" + site, vms: vms}
}

// routes renders every site's announcements as "SITE KIND PREFIX", sorted.
func routes(r *Result, sites ...string) []string {
	var out []string
	for _, site := range sites {
		for _, rt := range r.Routes(site) {
			out = append(out, fmt.Sprintf("%s %s %s", site, rt.Kind, rt.Prefix))
		}
	}
	slices.Sort(out)
	return out
}

func mustPlanner(t testing.TB, cfg Config) *Planner {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanScenarios(t *testing.T) {
	a1, a2, a3 := "192.0.2.11", "192.0.2.12", "192.0.2.13"
	tests := []struct {
		name    string
		cfg     func(Config) Config
		reports []report
		want    []string
	}{
		{
			name:    "nothing reported: each subnet at home",
			reports: nil,
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B summary 198.51.100.0/24"},
		},
		{
			name:    "one VM moves A to B: host route at B, summary stays at A",
			reports: []report{rep("A", vm("v1", 0, a1), vm("v2", 0, a2)), rep("B", vm("v3", 10, a3))},
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.13/32", "B summary 198.51.100.0/24"},
		},
		{
			name:    "last member moves: summary moves to B, no host routes, A withdraws",
			reports: []report{rep("A"), rep("B", vm("v1", 10, a1), vm("v2", 10, a2), vm("v3", 10, a3))},
			want:    []string{"A summary 2001:db8:1::/64", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24"},
		},
		{
			name: "one VM returns, home policy: summary back at home A, host routes at B",
			cfg: func(c Config) Config {
				c.Guards.Owner = OwnerHome
				return c
			},
			reports: []report{rep("A", vm("v1", 20, a1)), rep("B", vm("v2", 10, a2), vm("v3", 10, a3))},
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.12/32", "B host 192.0.2.13/32", "B summary 198.51.100.0/24"},
		},
		{
			name:    "one VM returns, majority policy (DESIGN rule 2, the default): summary stays at B plus one host route at A",
			reports: []report{rep("A", vm("v1", 20, a1)), rep("B", vm("v2", 10, a2), vm("v3", 10, a3))},
			want:    []string{"A host 192.0.2.11/32", "A summary 2001:db8:1::/64", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24"},
		},
		{
			name:    "majority policy: a tie goes to the home site",
			reports: []report{rep("A", vm("v1", 20, a1)), rep("B", vm("v2", 10, a2))},
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.12/32", "B summary 198.51.100.0/24"},
		},
		{
			name: "home policy: pinned addresses keep the summary at home",
			cfg: func(c Config) Config {
				c.Guards.Owner = OwnerHome
				c.Subnets[0].Pinned = []netip.Addr{netip.MustParseAddr("192.0.2.250")}
				return c
			},
			reports: []report{rep("B", vm("v1", 10, a1), vm("v2", 10, a2))},
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.11/32", "B host 192.0.2.12/32", "B summary 198.51.100.0/24"},
		},
		{
			name: "majority policy: pinned addresses are members at home, and outnumbered get a host route there",
			cfg: func(c Config) Config {
				c.Subnets[0].Pinned = []netip.Addr{netip.MustParseAddr("192.0.2.250")}
				return c
			},
			reports: []report{rep("B", vm("v1", 10, a1), vm("v2", 10, a2))},
			want:    []string{"A host 192.0.2.250/32", "A summary 2001:db8:1::/64", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24"},
		},
		{
			name:    "IPv6 /128 alongside /32",
			reports: []report{rep("A", vm("v1", 0, a1+" 2001:db8:1::11")), rep("B", vm("v2", 10, a2+" 2001:db8:1::12 fe80::12"))},
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.12/32", "B host 2001:db8:1::12/128", "B summary 198.51.100.0/24"},
		},
		{
			name:    "a VM with two NICs in two subnets",
			reports: []report{rep("A", vm("v1", 0, a1), vm("v5", 0, "198.51.100.5")), rep("B", vm("v2", 10, a2, "198.51.100.12"))},
			want:    []string{"A host 198.51.100.5/32", "A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.12/32", "B summary 198.51.100.0/24"},
		},
		{
			name:    "addresses outside every subnet are never announced",
			reports: []report{rep("B", vm("v1", 10, "203.0.113.7 2001:db8:ff::7"))},
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B summary 198.51.100.0/24"},
		},
		{
			name: "an address claimed by two VMs gets no host route",
			cfg: func(c Config) Config {
				c.Guards.Owner = OwnerHome
				return c
			},
			reports: []report{rep("A", vm("v1", 0, a1)), rep("B", vm("v2", 10, a1), vm("v3", 10, a3))},
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.13/32", "B summary 198.51.100.0/24"},
		},
		{
			name:    "majority policy: an address claimed by two VMs counts at both sites and gets no host route",
			reports: []report{rep("A", vm("v1", 0, a1)), rep("B", vm("v2", 10, a1), vm("v3", 10, a3))},
			want:    []string{"A summary 2001:db8:1::/64", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24"},
		},
		{
			name:    "a VM claimed by two clusters: the later landing wins",
			reports: []report{rep("B", vm("v1", 10, a1)), rep("A", vm("v1", 20, a1), vm("v2", 0, a2))},
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B summary 198.51.100.0/24"},
		},
		{
			name: "site over its host-route ceiling announces the subnet instead",
			cfg: func(c Config) Config {
				c.Guards.Owner = OwnerHome
				c.Guards.HostRouteCeiling = 2
				return c
			},
			reports: []report{rep("A", vm("v0", 0, "192.0.2.100")), rep("B", vm("v1", 10, a1), vm("v2", 10, a2), vm("v3", 10, a3))},
			want:    []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("A")
			if tt.cfg != nil {
				cfg = tt.cfg(cfg)
			}
			p := mustPlanner(t, cfg)
			for _, r := range tt.reports {
				setCluster(p, r.site, r.cluster, r.vms)
			}
			got := routes(p.Plan(t0.Add(time.Minute)), "A", "B")
			if !slices.Equal(got, tt.want) {
				t.Errorf("routes:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLaterLandingWinsWhateverTheArrivalOrder(t *testing.T) {
	older := rep("A", vm("v1", 10, "192.0.2.11"), vm("v2", 0, "192.0.2.12"))
	newer := rep("B", vm("v1", 20, "192.0.2.11"))
	want := []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.11/32", "B summary 198.51.100.0/24"}
	for _, order := range [][]report{{older, newer}, {newer, older}} {
		p := mustPlanner(t, testConfig("A"))
		for _, r := range order {
			setCluster(p, r.site, r.cluster, r.vms)
		}
		if got := routes(p.Plan(t0), "A", "B"); !slices.Equal(got, want) {
			t.Errorf("arrival %s then %s:\n got %q\nwant %q", order[0].site, order[1].site, got, want)
		}
	}
}

func TestSiteEvacuation(t *testing.T) {
	// Site A is lost: its last report, now stale, still lists its VMs; HA
	// restarted all of them at B, which reports them with later landings.
	var atA, atB []wire.VM
	for i := range 20 {
		ip := fmt.Sprintf("192.0.2.%d", 10+i)
		atA = append(atA, vm(fmt.Sprint("v", i), 0, ip))
		atB = append(atB, vm(fmt.Sprint("v", i), 100, ip))
	}
	p := mustPlanner(t, testConfig("B"))
	setCluster(p, "A", "cl-A", atA)
	setCluster(p, "B", "cl-B", nil)
	before := p.Plan(t0.Add(50 * time.Second))
	if got := routes(before, "A", "B"); !slices.Contains(got, "A summary 192.0.2.0/24") {
		t.Fatalf("before: %q", got)
	}
	p.SetStale("cl-A", true)
	setCluster(p, "B", "cl-B", atB)
	res := p.Plan(t0.Add(101 * time.Second))
	want := []string{"A summary 2001:db8:1::/64", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24"}
	if got := routes(res, "A", "B"); !slices.Equal(got, want) {
		t.Errorf("after evacuation:\n got %q\nwant %q", got, want)
	}
	if !slices.Equal(res.Findings.Stale, []string{"cl-A"}) {
		t.Errorf("stale clusters %q, want [cl-A]", res.Findings.Stale)
	}
	if len(res.Landed) != 20 {
		t.Errorf("%d landings at B, want 20", len(res.Landed))
	}
}

func TestStaleReportChangesNoRoute(t *testing.T) {
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "192.0.2.11")})
	setCluster(p, "B", "cl-B", []wire.VM{vm("v2", 10, "192.0.2.12")})
	before := routes(p.Plan(t0), "A", "B")
	p.SetStale("cl-B", true)
	if after := routes(p.Plan(t0), "A", "B"); !slices.Equal(before, after) {
		t.Errorf("marking B stale changed routes:\n%q\n%q", before, after)
	}
}

func TestFindings(t *testing.T) {
	cfg := testConfig("A")
	cfg.Subnets[0].Pinned = []netip.Addr{netip.MustParseAddr("192.0.2.250")}
	p := mustPlanner(t, cfg)
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "192.0.2.11"), vm("v3", 0, "192.0.2.250")})
	setCluster(p, "B", "cl-B", []wire.VM{vm("v2", 10, "192.0.2.11 203.0.113.9")})
	f := p.Plan(t0).Findings
	wantConflicts := []Conflict{
		{Addr: netip.MustParseAddr("192.0.2.11"), VMs: []string{"v1", "v2"}},
		{Addr: netip.MustParseAddr("192.0.2.250"), VMs: []string{"pinned", "v3"}},
	}
	if fmt.Sprint(f.Conflicts) != fmt.Sprint(wantConflicts) {
		t.Errorf("conflicts %v, want %v", f.Conflicts, wantConflicts)
	}
	if want := []Outside{{VM: "v2", Addr: netip.MustParseAddr("203.0.113.9")}}; !slices.Equal(f.Outside, want) {
		t.Errorf("outside %v, want %v", f.Outside, want)
	}
}

func TestTotalCeilingSummarisesLargestSubnetsFirst(t *testing.T) {
	cfg := testConfig("A")
	cfg.Guards.Owner = OwnerHome
	cfg.Guards.TotalHostRouteCeiling = 3
	p := mustPlanner(t, cfg)
	setCluster(p, "A", "cl-A", []wire.VM{vm("a1", 0, "192.0.2.200"), vm("a2", 0, "2001:db8:1::200")})
	setCluster(p, "B", "cl-B", []wire.VM{
		vm("b1", 10, "192.0.2.11"), vm("b2", 10, "192.0.2.12"), vm("b3", 10, "192.0.2.13"),
		vm("b4", 10, "2001:db8:1::4"), vm("b5", 10, "2001:db8:1::5"),
	})
	res := p.Plan(t0)
	want := []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 2001:db8:1::4/128", "B host 2001:db8:1::5/128", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24"}
	if got := routes(res, "A", "B"); !slices.Equal(got, want) {
		t.Errorf("routes:\n got %q\nwant %q", got, want)
	}
	wantHit := []Ceiling{{Site: "B", Subnet: netip.MustParsePrefix("192.0.2.0/24"), HostRoutes: 3, Total: true}}
	if !slices.Equal(res.Findings.Ceilings, wantHit) {
		t.Errorf("ceilings %v, want %v", res.Findings.Ceilings, wantHit)
	}
}

func TestRemovedVMIsNotResurrectedByAnOlderClaim(t *testing.T) {
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "198.51.100.11")}) // stale: the VM left A
	p.SetStale("cl-A", true)
	setCluster(p, "B", "cl-B", []wire.VM{vm("v1", 10, "198.51.100.11")})
	if err := p.ApplyDelta("cl-B", nil, []string{"v1"}); err != nil { // deleted at B
		t.Fatal(err)
	}
	want := []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B summary 198.51.100.0/24"}
	if got := routes(p.Plan(t0), "A", "B"); !slices.Equal(got, want) {
		t.Errorf("routes:\n got %q\nwant %q", got, want)
	}
}

func TestClusterMovedToAnotherSiteKeepsItsVMs(t *testing.T) {
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-y", []wire.VM{vm("v1", -10, "198.51.100.11")}) // an older, stale claim
	setCluster(p, "A", "cl-x", []wire.VM{vm("v1", 0, "198.51.100.11")})
	vms := []wire.VM{vm("v1", 0, "198.51.100.11")}
	setCluster(p, "B", "cl-x", vms) // the cluster's site was corrected
	want := []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B summary 198.51.100.0/24"}
	if got := routes(p.Plan(t0), "A", "B"); !slices.Equal(got, want) {
		t.Errorf("routes:\n got %q\nwant %q", got, want)
	}
	if locs := p.Locations(); len(locs) != 1 || locs[0].Site != "B" || !locs[0].Present {
		t.Errorf("locations %+v, want v1 present at B", locs)
	}
}

func TestPoweredOffIsPositiveEvidence(t *testing.T) {
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "198.51.100.11")}) // stale: the VM left A
	p.SetStale("cl-A", true)
	off := vm("v1", 10, "198.51.100.11")
	off.PowerState = wire.PoweredOff
	setCluster(p, "B", "cl-B", []wire.VM{off})
	want := []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B summary 198.51.100.0/24"}
	if got := routes(p.Plan(t0), "A", "B"); !slices.Equal(got, want) {
		t.Errorf("routes:\n got %q\nwant %q", got, want)
	}
}

func TestFlappingVMIsHeldUntilItSettles(t *testing.T) {
	cfg := testConfig("A")
	cfg.Guards.FlapMoves, cfg.Guards.FlapWindow = 3, time.Minute
	p := mustPlanner(t, cfg)
	other := vm("v2", 0, "198.51.100.12")
	setCluster(p, "A", "cl-A", nil)
	setCluster(p, "B", "cl-B", []wire.VM{other, vm("v1", 0, "198.51.100.11")})
	hostAtA := "A host 198.51.100.11/32"
	move := func(site string, at int) {
		if site == "A" {
			setCluster(p, "A", "cl-A", []wire.VM{vm("v1", at, "198.51.100.11")})
			setCluster(p, "B", "cl-B", []wire.VM{other})
		} else {
			setCluster(p, "B", "cl-B", []wire.VM{other, vm("v1", at, "198.51.100.11")})
			setCluster(p, "A", "cl-A", nil)
		}
	}
	move("A", 10) // first move: followed
	if got := routes(p.Plan(t0.Add(10*time.Second)), "A"); !slices.Contains(got, hostAtA) {
		t.Fatalf("after move 1: %q", got)
	}
	move("B", 20) // second: followed
	move("A", 30) // third within a minute: held where it was announced, at B
	res := p.Plan(t0.Add(30 * time.Second))
	if got := routes(res, "A"); slices.Contains(got, hostAtA) {
		t.Errorf("flapping VM followed to A: %q", got)
	}
	if len(res.Findings.Held) != 1 || res.Findings.Held[0].Site != "B" || res.Findings.Held[0].Actual != "A" {
		t.Errorf("held %+v, want v1 at B, actually A", res.Findings.Held)
	}
	if want := t0.Add(90 * time.Second); !res.NextWake.Equal(want) {
		t.Errorf("next wake %v, want %v", res.NextWake, want)
	}
	res = p.Plan(t0.Add(91 * time.Second))
	if got := routes(res, "A"); !slices.Contains(got, hostAtA) {
		t.Errorf("settled VM not released to A: %q", got)
	}
	if len(res.Landed) != 1 || res.Landed[0].VM != "v1" {
		t.Errorf("landings after release %v, want v1", res.Landed)
	}
}

func TestLandingsAndNeighbors(t *testing.T) {
	cfg := testConfig("B")
	cfg.Guards.FreshLanding = 30 * time.Second
	cfg.Subnets[1].Networks = []string{"pg-200"}
	p := mustPlanner(t, cfg)
	noTools := vm("v9", 100, "")
	noTools.NICs[0].Network = "pg-200"
	// A routeragent's first report: only the fresh landing is announced.
	setCluster(p, "B", "cl-B", []wire.VM{vm("old", 0, "192.0.2.11"), vm("new", 100, "192.0.2.12 2001:db8:1::12"), noTools})
	res := p.Plan(t0.Add(110 * time.Second))
	var landed []string
	for _, n := range res.Landed {
		landed = append(landed, fmt.Sprintf("%s %s %s %v", n.VM, n.Interface, n.Subnet, n.Gateways))
	}
	want := []string{
		"new br100 192.0.2.0/24 [192.0.2.1]",
		"v9 br200 198.51.100.0/24 [198.51.100.1]",
		"new br100 2001:db8:1::/64 [fe80::1 2001:db8:1::1]",
	}
	if !slices.Equal(landed, want) {
		t.Errorf("landed:\n got %q\nwant %q", landed, want)
	}
	if n := len(res.Neighbors()); n != 4 {
		t.Errorf("%d neighbors at B, want 4", n)
	}
	// Later landings are announced whatever their age; a plan without
	// change announces nothing again.
	if err := p.ApplyDelta("cl-B", at("B", vm("late", 5, "192.0.2.13")), nil); err != nil {
		t.Fatal(err)
	}
	if res = p.Plan(t0.Add(200 * time.Second)); len(res.Landed) != 1 || res.Landed[0].VM != "late" {
		t.Errorf("landed %v, want late", res.Landed)
	}
	if res = p.Plan(t0.Add(201 * time.Second)); len(res.Landed) != 0 {
		t.Errorf("landed again: %v", res.Landed)
	}
}

func TestUnchangedSubnetsAreShared(t *testing.T) {
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "192.0.2.11"), vm("v2", 0, "198.51.100.12")})
	r1 := p.Plan(t0)
	if err := p.ApplyDelta("cl-A", at("A", vm("v1", 1, "192.0.2.21")), nil); err != nil {
		t.Fatal(err)
	}
	r2 := p.Plan(t0)
	if r1.Subnets[1] != r2.Subnets[1] {
		t.Error("untouched subnet was recomputed")
	}
	if r1.Subnets[0] == r2.Subnets[0] {
		t.Error("touched subnet was not recomputed")
	}
}

func TestConfigCheck(t *testing.T) {
	cfg := testConfig("A")
	cfg.Subnets = append(cfg.Subnets, Subnet{Prefix: netip.MustParsePrefix("192.0.2.128/25"), Home: "B"})
	cfg.Subnets[1].Gateways = append(cfg.Subnets[1].Gateways, netip.MustParseAddr("192.0.2.1"))
	cfg.Subnets[0].Pinned = []netip.Addr{netip.MustParseAddr("2001:db8::1")}
	err := cfg.Check()
	for _, want := range []string{
		"subnets[3].prefix: 192.0.2.128/25 overlaps subnets[0] 192.0.2.0/24",
		"subnets[1].gateways[1]: 192.0.2.1 is outside 198.51.100.0/24",
		"subnets[0].pinned[0]: 2001:db8::1 is outside 192.0.2.0/24",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check() = %v, want it to contain %q", err, want)
		}
	}
	if _, err := New(cfg); err == nil {
		t.Error("New accepted a config that fails Check")
	}
}

func TestStretchedClusterMovesBetweenSites(t *testing.T) {
	// One cluster, hosts at A and B: vMotion inside it changes a VM's site.
	p := mustPlanner(t, testConfig("B"))
	web1, web2 := vm("web1", 0, "192.0.2.11"), vm("web2", 0, "192.0.2.12")
	web1.Site, web2.Site = "A", "A"
	p.SetCluster("stretched", []wire.VM{web1, web2}, nil)
	if got, want := routes(p.Plan(t0), "A", "B"), []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B summary 198.51.100.0/24"}; !slices.Equal(got, want) {
		t.Fatalf("before:\n got %q\nwant %q", got, want)
	}
	moved := web1
	moved.Site, moved.LandedAt = "B", t0.Add(10*time.Second)
	if err := p.ApplyDelta("stretched", []wire.VM{moved}, nil); err != nil {
		t.Fatal(err)
	}
	res := p.Plan(t0.Add(10 * time.Second))
	if got, want := routes(res, "A", "B"), []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.11/32", "B summary 198.51.100.0/24"}; !slices.Equal(got, want) {
		t.Errorf("after web1 moved to B:\n got %q\nwant %q", got, want)
	}
	if len(res.Landed) != 1 || res.Landed[0].VM != "web1" {
		t.Errorf("landed at B %v, want web1", res.Landed)
	}
	if locs := p.Locations(); locs[0].Site != "B" || locs[0].Cluster != "stretched" || locs[1].Site != "A" {
		t.Errorf("locations %+v, want web1 at B and web2 at A, both in cluster stretched", locs)
	}
	// A maintenance-mode evacuation of A's hosts: the summary follows.
	moved2 := web2
	moved2.Site, moved2.LandedAt = "B", t0.Add(20*time.Second)
	if err := p.ApplyDelta("stretched", []wire.VM{moved2}, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := routes(p.Plan(t0.Add(20*time.Second)), "A", "B"), []string{"A summary 2001:db8:1::/64", "B summary 192.0.2.0/24", "B summary 198.51.100.0/24"}; !slices.Equal(got, want) {
		t.Errorf("after A's hosts were evacuated:\n got %q\nwant %q", got, want)
	}
}

func TestStretchedAndPerSiteClustersAgree(t *testing.T) {
	// web1 left per-site cluster cl-A (whose report is stale) for the
	// stretched cluster, where it sits at B: the later landing wins.
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("web1", 0, "198.51.100.11")})
	p.SetCluster("stretched", at("B", vm("web1", 10, "198.51.100.11")), nil)
	locs := p.Locations()
	if len(locs) != 1 || locs[0].Site != "B" || locs[0].Cluster != "stretched" || locs[0].Claims != 2 {
		t.Errorf("locations %+v, want web1 at B by cluster stretched, 2 claims", locs)
	}
}

func TestMoveBetweenClustersOfOneSiteKeepsTheVM(t *testing.T) {
	// One hostagent watches cl-a1 and cl-a2, both at site A: a move
	// between them keeps the landing time, and the old cluster's
	// withdrawal, sent after the new cluster's claim, voids nothing.
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-a1", []wire.VM{vm("v1", 0, "198.51.100.11")})
	setCluster(p, "A", "cl-a2", []wire.VM{vm("v1", 0, "198.51.100.11")})
	if err := p.ApplyDelta("cl-a1", nil, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	if locs := p.Locations(); len(locs) != 1 || !locs[0].Present || locs[0].Cluster != "cl-a2" {
		t.Fatalf("locations %+v, want v1 present in cl-a2", locs)
	}
	want := []string{"A summary 192.0.2.0/24", "A summary 198.51.100.0/24", "A summary 2001:db8:1::/64"}
	if got := routes(p.Plan(t0), "A", "B"); !slices.Equal(got, want) {
		t.Errorf("routes:\n got %q\nwant %q", got, want)
	}
}

func TestLiveClusterIsNotErasedByAnotherClustersWithdrawal(t *testing.T) {
	// Cluster B claims A's VM with a later landing, then drops it: its
	// tombstone must not erase a VM that live cluster A still reports.
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "198.51.100.11")})
	setCluster(p, "B", "cl-B", []wire.VM{vm("v1", 100, "198.51.100.11")})
	if err := p.ApplyDelta("cl-B", nil, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	if locs := p.Locations(); len(locs) != 1 || !locs[0].Present || locs[0].Site != "A" {
		t.Fatalf("locations %+v, want v1 present at A", locs)
	}
	// Once A's reports are stale, B's withdrawal is the latest evidence.
	p.SetStale("cl-A", true)
	if locs := p.Locations(); len(locs) != 1 || locs[0].Present {
		t.Errorf("locations %+v, want v1 no longer present", locs)
	}
}

func TestTombstoneVoidsOnlyClaimsOlderThanTheClockSkew(t *testing.T) {
	cfg := testConfig("A")
	cfg.ClockSkew = 5 * time.Second
	p := mustPlanner(t, cfg)
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "198.51.100.11"), vm("v2", 0, "198.51.100.12")})
	p.SetStale("cl-A", true)
	setCluster(p, "B", "cl-B", []wire.VM{vm("v1", 3, "198.51.100.11"), vm("v2", 10, "198.51.100.12")})
	if err := p.ApplyDelta("cl-B", nil, []string{"v1", "v2"}); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, l := range p.Locations() {
		present[l.VM] = l.Present
	}
	if !present["v1"] || present["v2"] {
		t.Errorf("present %v: want v1 (landed 3 s before the tombstone, within the skew) kept, v2 (10 s) voided", present)
	}
}

func TestPoweredOffCopyDoesNotHideTheRunningVM(t *testing.T) {
	// A copy of the VM, with its instance UUID, is registered powered off
	// in another cluster and first seen later: the running VM stays.
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "198.51.100.11")})
	copied := vm("v1", 100, "198.51.100.11")
	copied.PowerState = wire.PoweredOff
	setCluster(p, "B", "cl-B", []wire.VM{copied})
	if locs := p.Locations(); len(locs) != 1 || !locs[0].Present || locs[0].Site != "A" {
		t.Errorf("locations %+v, want v1 present at A", locs)
	}
}

func TestUnknownLanding(t *testing.T) {
	unknown := func(v wire.VM) wire.VM { v.LandedAt = time.Time{}; return v }
	t.Run("the only claim places the VM", func(t *testing.T) {
		p := mustPlanner(t, testConfig("B"))
		setCluster(p, "A", "cl-A", []wire.VM{vm("v2", 0, "192.0.2.12"), vm("v3", 0, "192.0.2.13")})
		setCluster(p, "B", "cl-B", []wire.VM{unknown(vm("v1", 0, "192.0.2.11"))})
		res := p.Plan(t0)
		if got := routes(res, "B"); !slices.Contains(got, "B host 192.0.2.11/32") {
			t.Errorf("routes at B %q, want v1's /32", got)
		}
		if len(res.Landed) != 0 {
			t.Errorf("an unknown landing was announced: %v", res.Landed)
		}
	})
	t.Run("it never beats a known landing", func(t *testing.T) {
		p := mustPlanner(t, testConfig("A"))
		setCluster(p, "B", "cl-B", []wire.VM{unknown(vm("v1", 0, "192.0.2.11"))})
		setCluster(p, "A", "cl-A", []wire.VM{vm("v1", -1000, "192.0.2.11")})
		if locs := p.Locations(); locs[0].Site != "A" {
			t.Errorf("locations %+v, want v1 at A, the known landing", locs)
		}
	})
	t.Run("no withdrawal voids it", func(t *testing.T) {
		p := mustPlanner(t, testConfig("A"))
		setCluster(p, "B", "cl-B", []wire.VM{unknown(vm("v1", 0, "192.0.2.11"))})
		p.SetStale("cl-B", true)
		setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 10, "192.0.2.11")})
		setCluster(p, "A", "cl-A", nil)
		if locs := p.Locations(); len(locs) != 1 || !locs[0].Present || locs[0].Site != "B" {
			t.Errorf("locations %+v, want v1 present at B", locs)
		}
	})
}

func TestRestoredTombstonesPlanAlike(t *testing.T) {
	// A stale claim that a withdrawal voided stays void in a planner built
	// again from the clusters' states, tombstones included.
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "198.51.100.11")})
	p.SetStale("cl-A", true)
	setCluster(p, "B", "cl-B", []wire.VM{vm("v1", 10, "198.51.100.11")})
	setCluster(p, "B", "cl-B", nil)
	want := routes(p.Plan(t0), "A", "B")

	q := mustPlanner(t, testConfig("A"))
	q.SetCluster("cl-A", at("A", vm("v1", 0, "198.51.100.11")), Tombstones{})
	q.SetStale("cl-A", true)
	q.SetCluster("cl-B", nil, Tombstones{"v1": t0.Add(10 * time.Second)})
	if got := routes(q.Plan(t0), "A", "B"); !slices.Equal(got, want) {
		t.Errorf("restored:\n got %q\nwant %q", got, want)
	}
}

func TestTombstoneOfATwinIsKeptUnderItsOwnUUID(t *testing.T) {
	// Cluster B withdraws a VM it claimed under another instance UUID
	// than A's: its tombstone is under B's UUID, as the intake keeps it,
	// so that a planner restored from the clusters' states plans alike.
	old := withBIOS(vm("v1", 0, "198.51.100.11"), "4229aa")
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{old})
	p.SetStale("cl-A", true)
	setCluster(p, "B", "cl-B", []wire.VM{moved(old, "v1x", 10)})
	setCluster(p, "B", "cl-B", nil)
	want := routes(p.Plan(t0), "A", "B")

	q := mustPlanner(t, testConfig("A"))
	q.SetCluster("cl-A", at("A", old), Tombstones{})
	q.SetStale("cl-A", true)
	q.SetCluster("cl-B", nil, Tombstones{"v1x": t0.Add(10 * time.Second)})
	if got := routes(q.Plan(t0), "A", "B"); !slices.Equal(got, want) {
		t.Errorf("restored:\n got %q\nwant %q", got, want)
	}
}

func TestTombstonesTrim(t *testing.T) {
	g := Tombstones{}
	g.Withdrawn("c", t0.Add(3*time.Second))
	g.Withdrawn("a", t0)
	g.Withdrawn("b", t0)
	g.Withdrawn("x", time.Time{})
	g.Withdrawn("c", t0) // an older landing does not lower it
	if dropped := g.Trim(2); !slices.Equal(dropped, []string{"a"}) || len(g) != 2 || !g["c"].Equal(t0.Add(3*time.Second)) {
		t.Errorf("dropped %v, left %v", dropped, g)
	}
	g.Claimed("b")
	if _, ok := g["b"]; ok || len(g) != 1 {
		t.Errorf("claimed again, still %v", g)
	}
}

func TestClusterLiveAgainIsPlacedAgain(t *testing.T) {
	// A stale cluster's only claim, voided by another cluster's
	// withdrawal, counts again once the cluster reports again.
	p := mustPlanner(t, testConfig("A"))
	setCluster(p, "A", "cl-A", []wire.VM{vm("v1", 0, "198.51.100.11")})
	p.SetStale("cl-A", true)
	setCluster(p, "B", "cl-B", []wire.VM{vm("v1", 10, "198.51.100.11")})
	setCluster(p, "B", "cl-B", nil)
	if locs := p.Locations(); len(locs) != 1 || locs[0].Present {
		t.Fatalf("locations %+v, want v1 voided", locs)
	}
	p.SetStale("cl-A", false)
	if locs := p.Locations(); len(locs) != 1 || !locs[0].Present || locs[0].Site != "A" {
		t.Errorf("locations %+v, want v1 present at A again", locs)
	}
}

func TestAddressesCountOnlyOnTheSubnetsNetworks(t *testing.T) {
	cfg := testConfig("B")
	cfg.Subnets[0].Networks = []string{"VLAN100"}
	p := mustPlanner(t, cfg)
	onVLAN := func(v wire.VM, network string) wire.VM { v.NICs[0].Network = network; return v }
	setCluster(p, "B", "cl-B", []wire.VM{
		onVLAN(vm("v1", 10, "192.0.2.11"), "VLAN100"),
		onVLAN(vm("v2", 10, "192.0.2.12"), "VLAN999"), // claims the subnet from another segment
	})
	setCluster(p, "A", "cl-A", []wire.VM{onVLAN(vm("v3", 0, "192.0.2.13"), "VLAN100"), onVLAN(vm("v4", 0, "192.0.2.14"), "VLAN100")})
	res := p.Plan(t0.Add(10 * time.Second))
	want := []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.11/32", "B summary 198.51.100.0/24"}
	if got := routes(res, "A", "B"); !slices.Equal(got, want) {
		t.Errorf("routes:\n got %q\nwant %q", got, want)
	}
	if f := res.Findings.OffNetwork; len(f) != 1 || f[0].VM != "v2" || f[0].Network != "VLAN999" {
		t.Errorf("off-network findings %+v, want v2 on VLAN999", f)
	}
	for _, n := range res.Neighbors() {
		if n.VM == "v2" && n.Subnet == cfg.Subnets[0].Prefix {
			t.Errorf("a gateway announcement to v2 on a segment outside the subnet: %+v", n)
		}
	}
}

func TestInfrastructureAddressesGetNoRoute(t *testing.T) {
	cfg := testConfig("B")
	cfg.Subnets[0].Reserved = []netip.Addr{netip.MustParseAddr("192.0.2.2")}
	cfg.Reserved = []netip.Addr{netip.MustParseAddr("192.0.2.3")}
	p := mustPlanner(t, cfg)
	setCluster(p, "A", "cl-A", []wire.VM{vm("a1", 0, "192.0.2.11"), vm("a2", 0, "192.0.2.12")})
	setCluster(p, "B", "cl-B", []wire.VM{vm("hostile", 10, "192.0.2.0 192.0.2.255 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.13 2001:db8:1::")})
	res := p.Plan(t0.Add(10 * time.Second))
	want := []string{"A summary 192.0.2.0/24", "A summary 2001:db8:1::/64", "B host 192.0.2.13/32", "B summary 198.51.100.0/24"}
	if got := routes(res, "A", "B"); !slices.Equal(got, want) {
		t.Errorf("routes:\n got %q\nwant %q", got, want)
	}
	var found []string
	for _, f := range res.Findings.Infrastructure {
		found = append(found, fmt.Sprintf("%s %s", f.Addr, f.What))
	}
	wantFound := []string{"192.0.2.0 network address", "192.0.2.1 gateway", "192.0.2.2 reserved", "192.0.2.3 this router's",
		"192.0.2.255 broadcast address", "2001:db8:1:: network address"}
	if !slices.Equal(found, wantFound) {
		t.Errorf("findings:\n got %q\nwant %q", found, wantFound)
	}
}

func TestLastAddr(t *testing.T) {
	for p, want := range map[string]string{"192.0.2.0/24": "192.0.2.255", "192.0.2.64/26": "192.0.2.127", "10.0.0.0/9": "10.127.255.255",
		"2001:db8::/120": "2001:db8::ff"} {
		if got := lastAddr(netip.MustParsePrefix(p)); got.String() != want {
			t.Errorf("lastAddr(%s) = %s, want %s", p, got, want)
		}
	}
}

func TestOwnerTieBreaks(t *testing.T) {
	for _, tt := range []struct {
		home  string
		count map[string]int
		want  string
	}{
		{"A", map[string]int{"A": 2, "B": 2}, "A"},         // a tie with home: home
		{"A", map[string]int{"A": 1, "C": 2, "B": 2}, "B"}, // a tie without home: the first site by name
		{"C", map[string]int{"A": 1, "C": 1, "B": 1}, "C"}, // a three-way tie with home: home
		{"A", map[string]int{"A": 0, "B": 1}, "B"},         // the majority
		{"A", map[string]int{"B": 3}, "B"},                 // every member at one site
		{"A", map[string]int{"B": 1, "C": 3, "A": 2}, "C"}, // the most
		{"A", map[string]int{"B": 5, "C": 5, "D": 5}, "B"}, // ties again: by name
	} {
		if got := owner(tt.home, tt.count, OwnerMajority); got != tt.want {
			t.Errorf("owner(home %s, %v) = %s, want %s", tt.home, tt.count, got, tt.want)
		}
	}
	if got := owner("A", map[string]int{"A": 1, "B": 5}, OwnerHome); got != "A" {
		t.Errorf("home policy, spread subnet: owner %s, want home A", got)
	}
}

// moved returns v as a cross-vCenter vMotion that changed its instance
// UUID leaves it: the new UUID id, the same BIOS UUID and MACs, landed
// at landed seconds after t0.
func moved(v wire.VM, id string, landed int) wire.VM {
	v.UUID, v.LandedAt = id, t0.Add(time.Duration(landed)*time.Second)
	v.NICs = slices.Clone(v.NICs)
	return v
}

func withBIOS(v wire.VM, bios string) wire.VM { v.BIOSUUID = bios; return v }

func TestInstanceUUIDChangedByACrossVCenterVMotion(t *testing.T) {
	old := withBIOS(vm("v1", 0, "192.0.2.11"), "4229aa")
	t.Run("one VM, at the later landing", func(t *testing.T) {
		p := mustPlanner(t, testConfig("B"))
		// v9 keeps the subnet at A: v1 at B needs a host route.
		setCluster(p, "A", "cl-A", []wire.VM{old, vm("v9", 0, "192.0.2.19")})
		setCluster(p, "B", "cl-B", nil)
		p.Plan(t0)
		p.SetStale("cl-A", true)
		setCluster(p, "B", "cl-B", []wire.VM{moved(old, "v1x", 100)})
		res := p.Plan(t0.Add(101 * time.Second))
		if got := routes(res, "A", "B"); !slices.Contains(got, "B host 192.0.2.11/32") || len(res.Findings.Conflicts) != 0 {
			t.Errorf("routes %q, conflicts %v: want B's /32 and no conflict", got, res.Findings.Conflicts)
		}
		if len(res.Landed) != 1 || res.Landed[0].MAC != old.NICs[0].MAC {
			t.Errorf("landed %v, want the VM's adapter", res.Landed)
		}
		if locs := p.Locations(); len(locs) != 2 || locs[0].Site != "B" || locs[0].Claims != 2 || locs[0].VM != "v1" {
			t.Fatalf("locations %+v, want v1 at B, claimed twice", locs)
		}
		// The source withdraws its copy: the VM goes by its new UUID.
		if err := p.ApplyDelta("cl-A", nil, []string{"v1"}); err != nil {
			t.Fatal(err)
		}
		if locs := p.Locations(); len(locs) != 2 || locs[0].Site != "B" || locs[0].Claims != 1 || locs[0].VM != "v1x" {
			t.Fatalf("locations %+v, want v1x at B", locs)
		}
		if got := routes(p.Plan(t0.Add(102*time.Second)), "A", "B"); !slices.Contains(got, "B host 192.0.2.11/32") {
			t.Errorf("routes %q after the source's withdrawal, want B's /32", got)
		}
	})
	t.Run("the destination's claim withdrawn by its own UUID", func(t *testing.T) {
		p := mustPlanner(t, testConfig("A"))
		setCluster(p, "A", "cl-A", []wire.VM{old})
		setCluster(p, "B", "cl-B", []wire.VM{moved(old, "v1x", 100)})
		if err := p.ApplyDelta("cl-B", nil, []string{"v1x"}); err != nil {
			t.Fatal(err)
		}
		if locs := p.Locations(); len(locs) != 1 || locs[0].Site != "A" || locs[0].Claims != 1 || locs[0].VM != "v1" {
			t.Fatalf("locations %+v, want v1 back at A", locs)
		}
		if got := p.Plan(t0.Add(time.Hour)).Findings.Conflicts; len(got) != 0 {
			t.Errorf("conflicts %v", got)
		}
	})
	two := func(t *testing.T, a, b wire.VM, sameCluster bool) {
		t.Helper()
		p := mustPlanner(t, testConfig("A"))
		if sameCluster {
			setCluster(p, "A", "cl-A", []wire.VM{a, b})
		} else {
			setCluster(p, "A", "cl-A", []wire.VM{a})
			setCluster(p, "B", "cl-B", []wire.VM{b})
		}
		if got := p.Plan(t0.Add(time.Hour)).Findings.Conflicts; len(got) != 1 || len(p.Locations()) != 2 {
			t.Errorf("conflicts %v, locations %+v: want two VMs in conflict", got, p.Locations())
		}
	}
	t.Run("a clone that kept the BIOS UUID, with other MACs, is another VM", func(t *testing.T) {
		clone := withBIOS(vm("v2", 100, "192.0.2.11"), "4229aa")
		two(t, old, clone, false)
	})
	t.Run("a VM with one more adapter is another VM", func(t *testing.T) {
		more := moved(old, "v2", 100)
		more.NICs = append(more.NICs, wire.NIC{MAC: testMAC("v2", 1)})
		two(t, old, more, false)
	})
	t.Run("a VM with one adapter fewer is another VM", func(t *testing.T) {
		a := withBIOS(vm("v3", 0, "192.0.2.11", "192.0.2.12"), "4229aa")
		b := moved(a, "v2", 100)
		b.NICs = b.NICs[:1]
		two(t, a, b, false)
	})
	t.Run("two such VMs in one cluster are two VMs", func(t *testing.T) {
		two(t, old, moved(old, "v1x", 100), true)
	})
	t.Run("without a BIOS UUID, nothing is merged", func(t *testing.T) {
		plain := vm("v1", 0, "192.0.2.11")
		two(t, plain, moved(plain, "v1x", 100), false)
	})
	t.Run("the destination reports the old UUID too: the twin is its own VM", func(t *testing.T) {
		p := mustPlanner(t, testConfig("A"))
		setCluster(p, "A", "cl-A", []wire.VM{old})
		setCluster(p, "B", "cl-B", []wire.VM{moved(old, "v1x", 100)})
		setCluster(p, "B", "cl-B", []wire.VM{moved(old, "v1", 100), moved(old, "v1x", 100)})
		locs := p.Locations()
		if len(locs) != 2 || locs[0].VM != "v1" || locs[0].Claims != 2 || locs[1].VM != "v1x" || locs[1].Claims != 1 {
			t.Errorf("locations %+v, want v1 claimed twice and v1x once", locs)
		}
	})
	t.Run("a held VM keeps its hold under its new UUID", func(t *testing.T) {
		cfg := testConfig("A")
		cfg.Guards.FlapMoves, cfg.Guards.FlapWindow = 2, time.Minute
		p := mustPlanner(t, cfg)
		setCluster(p, "A", "cl-A", []wire.VM{old})
		setCluster(p, "B", "cl-B", []wire.VM{moved(old, "v1x", 10)})
		back := moved(old, "v1", 20)
		back.Site = "A"
		setCluster(p, "A", "cl-A", []wire.VM{back})
		setCluster(p, "B", "cl-B", []wire.VM{moved(old, "v1x", 30)})
		if err := p.ApplyDelta("cl-A", nil, []string{"v1"}); err != nil {
			t.Fatal(err)
		}
		if locs := p.Locations(); len(locs) != 1 || !locs[0].Held || locs[0].VM != "v1x" {
			t.Fatalf("locations %+v, want v1x held", locs)
		}
		// The hold ends when its window passes, under the new UUID.
		res := p.Plan(t0.Add(2 * time.Minute))
		if locs := p.Locations(); len(locs) != 1 || locs[0].Held || locs[0].Site != "B" || res.NextWake != (time.Time{}) {
			t.Errorf("locations %+v, next wake %v, want v1x at B, no longer held", locs, res.NextWake)
		}
	})
}

func TestTwinsAndAliasesHoldOnlyPresentClaims(t *testing.T) {
	// Churn of VMs with BIOS UUIDs (instant clones, CI) leaves nothing
	// behind in the planner's indexes.
	p := mustPlanner(t, testConfig("A"))
	var a, b []wire.VM
	for i := range 20 {
		v := withBIOS(vm(fmt.Sprintf("v%d", i), 0, "192.0.2.11"), fmt.Sprintf("bios%d", i%10))
		a = append(a, v)
		b = append(b, moved(v, fmt.Sprintf("x%d", i), 10))
	}
	setCluster(p, "A", "cl-A", a)
	setCluster(p, "B", "cl-B", b)
	if len(p.aliases) == 0 || len(p.twins) != 10 {
		t.Fatalf("%d aliases, %d BIOS UUIDs indexed; want some, and 10", len(p.aliases), len(p.twins))
	}
	// A claim that changes its BIOS UUID is indexed under both, as long
	// as the other claim keeps the old one.
	changed := withBIOS(a[0], "other")
	setCluster(p, "A", "cl-A", append([]wire.VM{changed}, a[1:]...))
	if e := p.entry("v0"); !slices.Contains(p.twins["bios0"], e) || !slices.Contains(p.twins["other"], e) {
		t.Errorf("v0 indexed under %v", p.twins)
	}
	setCluster(p, "A", "cl-A", nil)
	if err := p.ApplyDelta("cl-B", nil, []string{"x0", "x1", "x2"}); err != nil {
		t.Fatal(err)
	}
	setCluster(p, "B", "cl-B", nil)
	if len(p.vms) != 0 || len(p.aliases) != 0 || len(p.twins) != 0 {
		t.Errorf("after every VM left: %d entries, aliases %v, twins %v", len(p.vms), p.aliases, p.twins)
	}
}
