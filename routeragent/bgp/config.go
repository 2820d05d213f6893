// Package bgp advertises the planner's routes to the site's edge routers
// with an embedded GoBGP v3 speaker. It exports only: it sends what the
// plan asks for and imports nothing into the kernel.
package bgp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config is the speaker's configuration.
type Config struct {
	ASN      uint32
	RouterID netip.Addr
	// ListenAddress and ListenPort are where peers may connect; port 0
	// makes the speaker client-only.
	ListenAddress netip.Addr
	ListenPort    int
	// GracefulRestart announces the capability with RestartTime.
	GracefulRestart bool
	RestartTime     time.Duration
	// LongLivedStaleTime, when not zero (and GracefulRestart is on),
	// announces long-lived graceful restart (RFC 9494): once RestartTime
	// has passed, peers that support it keep our routes for this long
	// more, marked LLGR_STALE, the least preferred, so that a fresh route
	// from another site wins at once.
	LongLivedStaleTime time.Duration
	// WithdrawOnStop withdraws everything and closes the sessions with a
	// Cease on shutdown, for decommissioning; otherwise shutdown is a
	// graceful restart and the peers keep the routes.
	WithdrawOnStop bool
	// Communities by route kind.
	HostCommunities    Communities
	SummaryCommunities Communities
	// LocalPref and MED are sent when set.
	LocalPref *uint32
	MED       *uint32
	// NextHop4 and NextHop6 replace next-hop-self when valid.
	NextHop4  netip.Addr
	NextHop6  netip.Addr
	Neighbors []Neighbor
}

// Neighbor is one BGP peer.
type Neighbor struct {
	Address netip.Addr
	ASN     uint32
	Port    int
	// PasswordFile names the TCP MD5 password's file or systemd
	// credential; ReadSecrets of the routeragent's config reads it into
	// Password, which is never logged.
	PasswordFile string
	Password     string
	MultihopTTL  int
	LocalAddress netip.Addr
	Passive      bool
	IPv4, IPv6   bool
}

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
