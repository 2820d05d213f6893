package main

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIsolated checks the interconnect's first-hop isolation frame by
// frame: each site's VRRP and its gateway's broadcast ARP and multicast
// NA stay in the site; everything else, the VMs' ARP for the gateway and
// vmroute's unicast announcements included, crosses.
func TestIsolated(t *testing.T) {
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	unicast := []byte{0x02, 0, 0, 0, 0, 0x10}
	eth := func(dst []byte, typ uint16, payload []byte) []byte {
		f := append(append([]byte{}, dst...), 0x02, 0xaa, 0, 0, 0, 1, 0, 0)
		binary.BigEndian.PutUint16(f[12:], typ)
		return append(f, payload...)
	}
	ipv4 := func(proto byte) []byte { p := make([]byte, 20); p[0], p[9] = 0x45, proto; return p }
	arp := func(sender, target string) []byte {
		p := make([]byte, 28)
		copy(p[14:18], net.ParseIP(sender).To4())
		copy(p[24:28], net.ParseIP(target).To4())
		return p
	}
	ipv6 := func(next byte, dst string, icmpType byte, target string) []byte {
		p := make([]byte, 64)
		p[0], p[6] = 0x60, next
		copy(p[24:40], net.ParseIP(dst))
		p[40] = icmpType
		copy(p[48:64], net.ParseIP(target))
		return p
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"VRRP over IPv4", eth([]byte{0x01, 0, 0x5e, 0, 0, 0x12}, unix.ETH_P_IP, ipv4(112)), true},
		{"VRRP over IPv6", eth([]byte{0x33, 0x33, 0, 0, 0, 0x12}, unix.ETH_P_IPV6, ipv6(112, "ff02::12", 0, "::")), true},
		{"the gateway's gratuitous ARP", eth(bcast, unix.ETH_P_ARP, arp(gateway, gateway)), true},
		{"the gateway's unsolicited NA to all nodes", eth([]byte{0x33, 0x33, 0, 0, 0, 1}, unix.ETH_P_IPV6, ipv6(unix.IPPROTO_ICMPV6, "ff02::1", 136, gateway6)), true},
		{"a VM's ARP request for the gateway", eth(bcast, unix.ETH_P_ARP, arp(web1, gateway)), false},
		{"vmroute's unicast ARP from the gateway", eth(unicast, unix.ETH_P_ARP, arp(gateway, gateway)), false},
		{"vmroute's unicast NA", eth(unicast, unix.ETH_P_IPV6, ipv6(unix.IPPROTO_ICMPV6, web16, 136, gateway6)), false},
		{"another router's multicast NA", eth([]byte{0x33, 0x33, 0, 0, 0, 1}, unix.ETH_P_IPV6, ipv6(unix.IPPROTO_ICMPV6, "ff02::1", 136, "2001:db8:50::2")), false},
		{"an echo request", eth(unicast, unix.ETH_P_IP, ipv4(1)), false},
		{"a runt", []byte{1, 2, 3}, false},
		{"a truncated IPv6 header", eth(unicast, unix.ETH_P_IPV6, make([]byte, 30)), false},
	} {
		if got := isolated(tc.frame); got != tc.want {
			t.Errorf("%s: isolated = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRepliesAreEchoRepliesOnly reads a ping log with an error that names
// a request (a router without a route answers so, rate-limited): it is
// no reply, or an outage would read as short gaps between errors.
func TestRepliesAreEchoRepliesOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ping.log")
	log := `PING 10.50.0.10 (10.50.0.10) 56(84) bytes of data.
[1796595977.100000] 64 bytes from 10.50.0.10: icmp_seq=1 ttl=62 time=0.1 ms
[1796595977.110000] From 10.70.0.1 icmp_seq=2 Destination Net Unreachable
[1796595977.250000] From 2001:db8:70::1 icmp_seq=16 Destination unreachable: No route
[1796595979.100000] 64 bytes from 10.50.0.10: icmp_seq=201 ttl=62 time=0.1 ms
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	times, maxSeq := (&pinger{path: path}).replies()
	if len(times) != 2 || maxSeq != 201 || times[1].Sub(times[0]) != 2*time.Second {
		t.Errorf("replies %v, highest sequence %d; want the two echo replies, 2 s apart, and 201", times, maxSeq)
	}
}
