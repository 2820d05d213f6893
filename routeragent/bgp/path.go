package bgp

import (
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/vmroute/vmroute/routeragent/bgp/attrs"
	"github.com/vmroute/vmroute/routeragent/plan"
)

// path builds the GoBGP path of one route with the speaker's attributes,
// and WinningMED while it wins.
func (s *Speaker) path(p netip.Prefix, k plan.Kind) *api.Path {
	med := s.cfg.MED
	if s.win {
		m := uint32(WinningMED)
		med = &m
	}
	return attrs.Path(attrs.Config{NextHop4: s.cfg.NextHop4, NextHop6: s.cfg.NextHop6, HostCommunities: s.cfg.HostCommunities,
		SummaryCommunities: s.cfg.SummaryCommunities, LocalPref: s.cfg.LocalPref, MED: med}, p, k)
}
