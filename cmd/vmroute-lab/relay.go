package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// relay is the lab's interconnect: it forwards every Ethernet frame
// between two interfaces, both ways, each after a fixed delay. It stands
// in for `tc netem`, which many kernels (this lab's CI among them) lack,
// and behaves the same on every kernel.
func relay(a, b string, delay time.Duration) error {
	fa, err := rawSocket(a)
	if err != nil {
		return err
	}
	fb, err := rawSocket(b)
	if err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- delayLine(fa, fb, delay) }()
	go func() { errc <- delayLine(fb, fa, delay) }()
	return <-errc
}

// rawSocket opens a packet socket that receives every frame arriving on
// the interface (promiscuous, none it sends itself) and sends on it.
func rawSocket(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return -1, err
	}
	all := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, all)
	if err != nil {
		return -1, fmt.Errorf("packet socket on %s: %w", name, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return -1, fmt.Errorf("%s: ignore outgoing: %w", name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return -1, fmt.Errorf("bind to %s: %w", name, err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return -1, fmt.Errorf("%s: promiscuous: %w", name, err)
	}
	return fd, nil
}

// delayLine sends each frame read from one socket on the other, delay
// after it arrived, in order.
func delayLine(from, to int, delay time.Duration) error {
	type frame struct {
		at time.Time
		b  []byte
	}
	q := make(chan frame, 4096)
	go func() {
		for f := range q {
			time.Sleep(time.Until(f.at.Add(delay)))
			_, _ = unix.Write(to, f.b) // a frame lost here is a frame lost on the link
		}
	}()
	buf := make([]byte, 1<<16)
	for {
		n, err := unix.Read(from, buf)
		if err != nil {
			close(q)
			return fmt.Errorf("interconnect: %w", err)
		}
		if isolated(buf[:n]) {
			continue
		}
		select {
		case q <- frame{time.Now(), bytes.Clone(buf[:n])}:
		default: // the link is full: drop, as a real one does
		}
	}
}

// isolated says the interconnect keeps a frame in its site, as a data
// center interconnect isolates the first-hop redundancy protocol (Cisco
// OTV, EVPN multi-site and the like): VRRP, over IPv4 and IPv6, and the
// gateway's own broadcast ARP and multicast Neighbor Advertisements, so
// that each site's VRRP pair elects its own master, and a master's
// gratuitous ARP does not turn the other site's VMs to it. (vmroute's
// announcements are unicast, to the VM that landed.)
func isolated(f []byte) bool {
	const vrrp = 112
	if len(f) < 14 {
		return false
	}
	typ, p := binary.BigEndian.Uint16(f[12:14]), f[14:]
	switch {
	case typ == unix.ETH_P_IP && len(p) >= 20:
		return p[9] == vrrp
	case typ == unix.ETH_P_IPV6 && len(p) >= 40+24:
		next, dst := p[6], p[24:40]
		if next == vrrp {
			return true
		}
		// ICMPv6 136, Neighbor Advertisement, to a multicast address,
		// for the gateway.
		return next == unix.IPPROTO_ICMPV6 && dst[0] == 0xff && p[40] == 136 && net.IP(p[48:64]).Equal(net.ParseIP(gateway6))
	case typ == unix.ETH_P_ARP && len(p) >= 28:
		broadcast := bytes.Equal(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		return broadcast && net.IP(p[14:18]).Equal(net.ParseIP(gateway))
	}
	return false
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
