// Package attrs builds the BGP path of each route the routeragent
// announces: its next hop, and the communities, local preference and MED
// of its route kind. It is pure: a route and the configuration in, a
// GoBGP path out.
package attrs

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/vmroute/vmroute/routeragent/plan"
)

// Communities are the standard and large communities of one route kind.
type Communities struct {
	Standard []uint32
	Large    []LargeCommunity
}

// LargeCommunity is an RFC 8092 large community.
type LargeCommunity struct{ Global, Local1, Local2 uint32 }

func (l LargeCommunity) String() string { return fmt.Sprintf("%d:%d:%d", l.Global, l.Local1, l.Local2) }

// Well-known communities (RFC 1997, RFC 3765).
var wellKnown = map[string]uint32{
	"no-export":           0xFFFFFF01,
	"no-advertise":        0xFFFFFF02,
	"no-export-subconfed": 0xFFFFFF03,
	"no-peer":             0xFFFFFF04,
}

// NoExport is the NO_EXPORT community, the default of host routes.
const NoExport uint32 = 0xFFFFFF01

// ParseCommunity parses "no-export" and the other well-known names,
// "ASN:VALUE" (16 bits each) as a standard community, or
// "GLOBAL:LOCAL1:LOCAL2" (32 bits each) as a large one.
func ParseCommunity(s string) (std uint32, large LargeCommunity, isLarge bool, err error) {
	if v, ok := wellKnown[strings.ToLower(s)]; ok {
		return v, LargeCommunity{}, false, nil
	}
	parts := strings.Split(s, ":")
	bits := 16
	if len(parts) == 3 {
		bits = 32
	} else if len(parts) != 2 {
		return 0, LargeCommunity{}, false, fmt.Errorf("%q is not a community like 65000:100, 65000:1:2 or no-export", s)
	}
	var n [3]uint32
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, bits)
		if err != nil {
			return 0, LargeCommunity{}, false, fmt.Errorf("%q: part %q is not a number of %d bits", s, p, bits)
		}
		n[i] = uint32(v)
	}
	if bits == 32 {
		return 0, LargeCommunity{n[0], n[1], n[2]}, true, nil
	}
	return n[0]<<16 | n[1], LargeCommunity{}, false, nil
}

// Config is what a route's path carries besides its prefix and kind.
type Config struct {
	// NextHop4 and NextHop6 are the next hops of each family; unset, the
	// speaker's own address (next hop self).
	NextHop4, NextHop6 netip.Addr
	// Communities by route kind: host routes and halves carry
	// HostCommunities, summaries SummaryCommunities.
	HostCommunities, SummaryCommunities Communities
	// LocalPref and MED are sent when set.
	LocalPref, MED *uint32
}

// Path builds the GoBGP path of one route: origin IGP, next hop self (or
// the configured one of the family), and the communities, local
// preference and MED of cfg.
func Path(cfg Config, p netip.Prefix, k plan.Kind) *api.Path {
	fam := Family(p)
	nlri := mustAny(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: uint32(p.Bits())})
	attrs := []*anypb.Any{mustAny(&api.OriginAttribute{Origin: 0})}
	if p.Addr().Is4() {
		nh := "0.0.0.0"
		if cfg.NextHop4.IsValid() {
			nh = cfg.NextHop4.String()
		}
		attrs = append(attrs, mustAny(&api.NextHopAttribute{NextHop: nh}))
	} else {
		nh := "::"
		if cfg.NextHop6.IsValid() {
			nh = cfg.NextHop6.String()
		}
		attrs = append(attrs, mustAny(&api.MpReachNLRIAttribute{Family: fam, NextHops: []string{nh}, Nlris: []*anypb.Any{nlri}}))
	}
	comms := cfg.SummaryCommunities
	if k == plan.Host || k == plan.Half {
		comms = cfg.HostCommunities
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
	if cfg.LocalPref != nil {
		attrs = append(attrs, mustAny(&api.LocalPrefAttribute{LocalPref: *cfg.LocalPref}))
	}
	if cfg.MED != nil {
		attrs = append(attrs, mustAny(&api.MultiExitDiscAttribute{Med: *cfg.MED}))
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

// Family is the GoBGP address family of a prefix.
func Family(p netip.Prefix) *api.Family {
	if p.Addr().Is4() {
		return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
}
