package bgp

import (
	"net/netip"
	"slices"
	"testing"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/vmroute/vmroute/routeragent/plan"
)

// TestPathForEachKind checks the attributes of each route kind's path:
// host routes and halves carry the host communities (NO_EXPORT by
// default: they must not leave the AS), a summary its own; the next hop
// of each family, the local preference and the MED.
func TestPathForEachKind(t *testing.T) {
	const noExport = 0xFFFFFF01
	lp, med := uint32(200), uint32(50)
	s := &Speaker{cfg: Config{
		HostCommunities:    Communities{Standard: []uint32{noExport}, Large: []LargeCommunity{{Global: 65000, Local1: 1, Local2: 2}}},
		SummaryCommunities: Communities{Standard: []uint32{65000<<16 | 100}},
		LocalPref:          &lp, MED: &med,
		NextHop4: netip.MustParseAddr("203.0.113.1"), NextHop6: netip.MustParseAddr("2001:db8::1"),
	}}
	for _, tt := range []struct {
		prefix  string
		kind    plan.Kind
		comms   []uint32
		large   bool
		nextHop string
	}{
		{"192.0.2.10/32", plan.Host, []uint32{noExport}, true, "203.0.113.1"},
		{"192.0.2.0/25", plan.Half, []uint32{noExport}, true, "203.0.113.1"},
		{"192.0.2.0/24", plan.Summary, []uint32{65000<<16 | 100}, false, "203.0.113.1"},
		{"2001:db8:1::10/128", plan.Host, []uint32{noExport}, true, "2001:db8::1"},
		{"2001:db8:1::/65", plan.Half, []uint32{noExport}, true, "2001:db8::1"},
		{"2001:db8:1::/64", plan.Summary, []uint32{65000<<16 | 100}, false, "2001:db8::1"},
	} {
		p := s.path(netip.MustParsePrefix(tt.prefix), tt.kind)
		var comms []uint32
		var large bool
		var nh string
		var gotLP, gotMED uint32
		for _, a := range p.Pattrs {
			m, err := a.UnmarshalNew()
			if err != nil {
				t.Fatal(err)
			}
			switch v := m.(type) {
			case *api.CommunitiesAttribute:
				comms = v.Communities
			case *api.LargeCommunitiesAttribute:
				large = len(v.Communities) == 1 && v.Communities[0].GlobalAdmin == 65000
			case *api.NextHopAttribute:
				nh = v.NextHop
			case *api.MpReachNLRIAttribute:
				nh = v.NextHops[0]
			case *api.LocalPrefAttribute:
				gotLP = v.LocalPref
			case *api.MultiExitDiscAttribute:
				gotMED = v.Med
			}
		}
		if !slices.Equal(comms, tt.comms) || large != tt.large || nh != tt.nextHop || gotLP != lp || gotMED != med {
			t.Errorf("%s %s: communities %x (large %v), next hop %s, local pref %d, MED %d; want %x (%v), %s, %d, %d",
				tt.kind, tt.prefix, comms, large, nh, gotLP, gotMED, tt.comms, tt.large, tt.nextHop, lp, med)
		}
	}
}
