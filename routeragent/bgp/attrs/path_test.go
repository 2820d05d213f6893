package attrs

import (
	"fmt"
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
	cfg := Config{
		HostCommunities:    Communities{Standard: []uint32{noExport}, Large: []LargeCommunity{{Global: 65000, Local1: 1, Local2: 2}}},
		SummaryCommunities: Communities{Standard: []uint32{65000<<16 | 100}},
		LocalPref:          &lp, MED: &med,
		NextHop4: netip.MustParseAddr("203.0.113.1"), NextHop6: netip.MustParseAddr("2001:db8::1"),
	}
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
		p := Path(cfg, netip.MustParsePrefix(tt.prefix), tt.kind)
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

// TestPathWithNothingConfigured: no communities, no local preference, no
// MED and next hop self: the path carries its origin and next hop alone
// (an empty communities attribute is none a peer should see).
func TestPathWithNothingConfigured(t *testing.T) {
	for prefix, nh := range map[string]string{"192.0.2.10/32": "0.0.0.0", "2001:db8:1::10/128": "::"} {
		p := Path(Config{}, netip.MustParsePrefix(prefix), plan.Host)
		var kinds []string
		for _, a := range p.Pattrs {
			m, err := a.UnmarshalNew()
			if err != nil {
				t.Fatal(err)
			}
			switch v := m.(type) {
			case *api.OriginAttribute:
				kinds = append(kinds, "origin")
			case *api.NextHopAttribute:
				kinds = append(kinds, "next hop "+v.NextHop)
			case *api.MpReachNLRIAttribute:
				kinds = append(kinds, "next hop "+v.NextHops[0])
			default:
				kinds = append(kinds, fmt.Sprintf("%T", m))
			}
		}
		if want := []string{"origin", "next hop " + nh}; !slices.Equal(kinds, want) {
			t.Errorf("%s: attributes %q, want %q", prefix, kinds, want)
		}
	}
}
