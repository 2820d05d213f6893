// Package announce tells VMs that landed at this site where their gateway
// now is: a gratuitous ARP for IPv4 and an unsolicited Neighbor
// Advertisement for IPv6, on the subnet's interface.
package announce

import (
	"net/netip"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// Config is the announcer's configuration.
type Config struct {
	// Count announcements Interval apart after a landing.
	Count    int
	Interval time.Duration
	// Refresh is the slower interval while the VM stays; 0 turns it off.
	Refresh time.Duration
	// Rate is the most frames in any second, over all interfaces.
	Rate int
	// Broadcast sends to every host on the segment (ARP broadcast,
	// all-nodes NA) instead of to the VM alone.
	Broadcast bool
	// GatewayMACs are, per subnet, the MAC to announce instead of the
	// interface's own (a VRRP virtual MAC).
	GatewayMACs map[netip.Prefix]wire.MAC
}
