package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/shared/tlsutil"
)

// LocalProblem is what LocalChecks found: Fatal when it breaks a feature
// (a missing interface, a next hop not this router's), not when it is a
// state (a VRRP backup's gateway is not here).
type LocalProblem struct {
	Fatal bool
	Msg   string
}

// Msgs returns the problems' messages.
func Msgs(ps []LocalProblem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Msg)
	}
	return out
}

// LocalChecks compares the configuration with this machine: each
// subnet's interface exists, its gateways are on it (on a VRRP backup
// they are not, which is no fault, but is said), and the BGP next hops
// are this router's own addresses (a peer marks a route with an unreachable
// next hop inaccessible). It returns one line per finding; none when all
// holds. --check-config prints them as warnings, status shows them.
func LocalChecks(cfg *config.Config) []LocalProblem {
	var out []LocalProblem
	own := map[netip.Addr]string{}
	ifaces, err := net.Interfaces()
	if err != nil {
		return []LocalProblem{{true, fmt.Sprintf("this machine's interfaces not read: %v", err)}}
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
			out = append(out, LocalProblem{true, fmt.Sprintf("subnets[%d].interface: %s does not exist on this machine: no gateway announcement for %s goes out", i, s.Interface, s.Prefix)})
			continue
		}
		for j, g := range s.Gateways {
			if g.IsLinkLocalUnicast() {
				continue
			}
			if on, ok := own[g]; !ok {
				out = append(out, LocalProblem{false, fmt.Sprintf("subnets[%d].gateways[%d]: %s is on no interface of this machine (a VRRP backup's gateway is not): announcements for it wait", i, j, g)})
			} else if on != s.Interface {
				out = append(out, LocalProblem{true, fmt.Sprintf("subnets[%d].gateways[%d]: %s is on %s, not on the subnet's interface %s", i, j, g, on, s.Interface)})
			}
		}
	}
	for _, nh := range []struct {
		key  string
		addr netip.Addr
	}{{"bgp.next_hop_ipv4", cfg.BGP.NextHop4}, {"bgp.next_hop_ipv6", cfg.BGP.NextHop6}} {
		if _, ok := own[nh.addr]; nh.addr.IsValid() && !ok {
			out = append(out, LocalProblem{true, fmt.Sprintf("%s: %s is not an address of this router: peers mark the routes inaccessible", nh.key, nh.addr)})
		}
	}
	slices.SortFunc(out, func(a, b LocalProblem) int { return strings.Compare(a.Msg, b.Msg) })
	return out
}

// Preflight runs the routeragent's live checks (--check): its own
// certificate and CA, what this machine lacks of the configuration, and
// each BGP neighbor answering on TCP (passive ones are waited for, not
// called). It returns one line per check, each OK, WARN or FAIL, and
// whether any failed. It announces nothing.
func Preflight(ctx context.Context, cfg *config.Config) (lines []string, failed bool) {
	add := func(level, format string, args ...any) {
		lines = append(lines, fmt.Sprintf("%-4s %s", level, fmt.Sprintf(format, args...)))
		failed = failed || level == "FAIL"
	}
	if tc, err := tlsutil.Load(tlsutil.Files{Cert: cfg.API.CertFile, Key: cfg.API.KeyFile, CA: cfg.API.ClientCAFile}); err != nil {
		add("FAIL", "report API certificate: %v", err)
	} else {
		add("OK", "report API certificate %s", cfg.API.CertFile)
		for _, w := range tc.Warnings(time.Now()) {
			add("WARN", "%s", w)
		}
	}
	problems := LocalChecks(cfg)
	for _, p := range problems {
		if p.Fatal {
			add("FAIL", "%s", p.Msg)
		} else {
			add("WARN", "%s", p.Msg)
		}
	}
	if len(problems) == 0 {
		add("OK", "every subnet's interface and gateway, and the next hops, are this router's")
	}
	for _, n := range cfg.BGP.Neighbors {
		if n.Passive {
			add("OK", "BGP neighbor %s: passive, it calls this router", n.Address)
			continue
		}
		d := net.Dialer{Timeout: 5 * time.Second}
		if n.LocalAddress.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: n.LocalAddress.AsSlice()}
		}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(n.Address.String(), fmt.Sprint(n.Port)))
		if err != nil {
			add("FAIL", "BGP neighbor %s: does not answer on TCP %d: %v", n.Address, n.Port, err)
			continue
		}
		conn.Close()
		add("OK", "BGP neighbor %s: answers on TCP %d", n.Address, n.Port)
	}
	return lines, failed
}
