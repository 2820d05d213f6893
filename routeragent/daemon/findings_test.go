package daemon

import (
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/routeragent/plan"
)

// Catches findings logged at every plan: 100 standing conflicts with 50
// hostagents reporting every 200 ms wrote 13 MB of log a minute. A finding
// is logged when it appears and when it clears.
func TestFindingsAreLoggedWhenTheyAppearAndClear(t *testing.T) {
	conflict := plan.Conflict{Addr: netip.MustParseAddr("192.0.2.10"), VMs: []string{"v1", "v2"}}
	ceiling := plan.Ceiling{Site: "B", Subnet: netip.MustParsePrefix("192.0.2.0/24"), HostRoutes: 101}
	held := plan.Held{VM: "v3", Site: "A", Actual: "B", Until: time.Unix(100, 0)}
	one := plan.Findings{Conflicts: []plan.Conflict{conflict}, Ceilings: []plan.Ceiling{ceiling}}
	appeared, cleared := diffFindings(plan.Findings{}, one)
	if len(appeared) != 2 || len(cleared) != 0 {
		t.Errorf("first plan: appeared %v, cleared %v; want the conflict and the ceiling", appeared, cleared)
	}
	// The same findings again, the ceiling's count changed: nothing.
	again := plan.Findings{Conflicts: []plan.Conflict{conflict}, Ceilings: []plan.Ceiling{{Site: "B", Subnet: ceiling.Subnet, HostRoutes: 120}}}
	if appeared, cleared := diffFindings(one, again); len(appeared)+len(cleared) != 0 {
		t.Errorf("standing findings: appeared %v, cleared %v; want nothing logged", appeared, cleared)
	}
	// The conflict clears, a hold appears.
	next := plan.Findings{Ceilings: again.Ceilings, Held: []plan.Held{held}}
	appeared, cleared = diffFindings(again, next)
	if len(appeared) != 1 || appeared[0].msg != "flapping VM held" || len(cleared) != 1 || cleared[0].msg != "address claimed twice: no host route" {
		t.Errorf("appeared %v, cleared %v; want the hold appeared and the conflict cleared", appeared, cleared)
	}
}

// Catches one stale cluster keeping a whole site from being current: a
// site that is not current defers its subnets, so one dead hostagent
// kept a restarted site from announcing them, without end.
func TestOneStaleClusterHoldsASiteBackForOneLeaseAtMost(t *testing.T) {
	started := time.Unix(1000, 0)
	lease := 5 * time.Minute
	clusters := []config.Cluster{{Name: "c1"}, {Name: "c2"}}
	got := map[string]time.Time{"c1": started.Add(time.Second), "c2": started.Add(-time.Hour)} // c2 from before the start
	if currentAt(clusters, got, started, lease, started.Add(time.Minute)) {
		t.Error("current a minute after the start, with c2 not heard since")
	}
	if !currentAt(clusters, got, started, lease, started.Add(lease+time.Second)) {
		t.Error("not current a lease after the start: c2, whose hostagent is gone, holds the site back")
	}
	got["c2"] = started.Add(2 * time.Second)
	if !currentAt(clusters, got, started, lease, started.Add(time.Hour)) {
		t.Error("not current an hour on: both reported since the start, then went quiet")
	}
}

// Catches host routes planned for the other sites' routers: a VM that
// sets the address the liveness checks probe would take the probe's
// answers, and the site-loss check with them.
func TestTheProbedRoutersAddressesAreReserved(t *testing.T) {
	cfg := &config.Config{Plan: plan.Config{Subnets: []plan.Subnet{{Prefix: netip.MustParsePrefix("192.0.2.0/24")}}},
		Liveness: config.Liveness{Sites: []liveness.Site{{Name: "B", Routers: []liveness.Router{
			{Probes: []liveness.Probe{{Addr: netip.MustParseAddr("192.0.2.4")}}}, {Probes: []liveness.Probe{{Addr: netip.MustParseAddr("192.0.2.3")}}}}}}}}
	if own := ownAddrs(cfg, slog.New(slog.DiscardHandler)); !slices.Contains(own, netip.MustParseAddr("192.0.2.3")) {
		t.Errorf("reserved %v, want site B's probed router 192.0.2.3 among them", own)
	}
}
