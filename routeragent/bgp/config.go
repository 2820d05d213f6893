// Package bgp advertises the planner's routes to the site's edge routers
// with an embedded GoBGP v3 speaker. It exports only: it sends what the
// plan asks for and imports nothing into the kernel.
package bgp

import (
	"net/netip"
	"time"

	"github.com/vmroute/vmroute/routeragent/bgp/attrs"
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
	HostCommunities    attrs.Communities
	SummaryCommunities attrs.Communities
	// LocalPref and MED are sent when set. While the speaker wins (Win),
	// it sends WinningMED instead of MED.
	LocalPref *uint32
	MED       *uint32
	// NextHop4 and NextHop6 replace next-hop-self when valid.
	NextHop4  netip.Addr
	NextHop6  netip.Addr
	Neighbors []Neighbor
}

// WinningMED is the MED of every route while the speaker wins over a
// lost sibling's (Speaker.Win): the lowest, which the edge routers prefer
// among paths from one AS, eBGP and iBGP alike, once local preference,
// AS path and origin are equal.
const WinningMED = 0

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
