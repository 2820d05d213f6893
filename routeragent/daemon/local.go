package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vmroute/vmroute/routeragent/config"
)

// LocalChecks compares the configuration with this machine: each
// subnet's interface exists, its gateways are on it (on a VRRP backup
// they are not, which is no fault, but is said), and the BGP next hops
// are this router's own addresses (a peer marks a route with an unreachable
// next hop inaccessible). It returns one line per finding; none when all
// holds. --check-config prints them as warnings, status shows them.
func LocalChecks(cfg *config.Config) []string {
	var out []string
	own := map[netip.Addr]string{}
	ifaces, err := net.Interfaces()
	if err != nil {
		return []string{fmt.Sprintf("this machine's interfaces not read: %v", err)}
	}
	names := map[string]bool{}
	for _, ifi := range ifaces {
		names[ifi.Name] = true
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				own[p.Addr()] = ifi.Name
			}
		}
	}
	for i, s := range cfg.Plan.Subnets {
		if s.Interface == "" {
			continue
		}
		if !names[s.Interface] {
			out = append(out, fmt.Sprintf("subnets[%d].interface: %s does not exist on this machine: no gateway announcement for %s goes out", i, s.Interface, s.Prefix))
			continue
		}
		for j, g := range s.Gateways {
			if g.IsLinkLocalUnicast() {
				continue
			}
			if on, ok := own[g]; !ok {
				out = append(out, fmt.Sprintf("subnets[%d].gateways[%d]: %s is on no interface of this machine (a VRRP backup's gateway is not): announcements for it wait", i, j, g))
			} else if on != s.Interface {
				out = append(out, fmt.Sprintf("subnets[%d].gateways[%d]: %s is on %s, not on the subnet's interface %s", i, j, g, on, s.Interface))
			}
		}
	}
	for _, nh := range []struct {
		key  string
		addr netip.Addr
	}{{"bgp.next_hop_ipv4", cfg.BGP.NextHop4}, {"bgp.next_hop_ipv6", cfg.BGP.NextHop6}} {
		if _, ok := own[nh.addr]; nh.addr.IsValid() && !ok {
			out = append(out, fmt.Sprintf("%s: %s is not an address of this router: peers mark the routes inaccessible", nh.key, nh.addr))
		}
	}
	slices.Sort(out)
	return out
}
