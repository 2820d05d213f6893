package bgp

import (
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/vmroute/vmroute/routeragent/plan"
)

// path builds the GoBGP path of one route: origin IGP, next hop self (or
// the configured one of the family), and the communities, local
// preference and MED of the configuration.
func (s *Speaker) path(p netip.Prefix, k plan.Kind) *api.Path {
	fam := familyOf(p)
	nlri := mustAny(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: uint32(p.Bits())})
	attrs := []*anypb.Any{mustAny(&api.OriginAttribute{Origin: 0})}
	if p.Addr().Is4() {
		nh := "0.0.0.0"
		if s.cfg.NextHop4.IsValid() {
			nh = s.cfg.NextHop4.String()
		}
		attrs = append(attrs, mustAny(&api.NextHopAttribute{NextHop: nh}))
	} else {
		nh := "::"
		if s.cfg.NextHop6.IsValid() {
			nh = s.cfg.NextHop6.String()
		}
		attrs = append(attrs, mustAny(&api.MpReachNLRIAttribute{Family: fam, NextHops: []string{nh}, Nlris: []*anypb.Any{nlri}}))
	}
	comms := s.cfg.SummaryCommunities
	if k == plan.Host || k == plan.Half {
		comms = s.cfg.HostCommunities
	}
	if len(comms.Standard) > 0 {
		attrs = append(attrs, mustAny(&api.CommunitiesAttribute{Communities: comms.Standard}))
	}
	if len(comms.Large) > 0 {
		var l []*api.LargeCommunity
		for _, c := range comms.Large {
			l = append(l, &api.LargeCommunity{GlobalAdmin: c.Global, LocalData1: c.Local1, LocalData2: c.Local2})
		}
		attrs = append(attrs, mustAny(&api.LargeCommunitiesAttribute{Communities: l}))
	}
	if s.cfg.LocalPref != nil {
		attrs = append(attrs, mustAny(&api.LocalPrefAttribute{LocalPref: *s.cfg.LocalPref}))
	}
	if s.cfg.MED != nil {
		attrs = append(attrs, mustAny(&api.MultiExitDiscAttribute{Med: *s.cfg.MED}))
	}
	return &api.Path{Family: fam, Nlri: nlri, Pattrs: attrs}
}

// mustAny wraps a GoBGP attribute; it fails only for a nil message.
func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}
