// Package frames builds the gateway announcements the announcer sends:
// gratuitous ARP and unsolicited Neighbor Advertisements, as whole
// Ethernet frames for a raw socket.
package frames

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// allNodes is ff02::1 and its Ethernet group address.
var (
	allNodes    = netip.MustParseAddr("ff02::1")
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
)

// ARP returns a gratuitous ARP for gateway gw at gwMAC. To one VM
// (dst) it is a reply in a frame to the VM's MAC, with sender = target:
// gw at gwMAC, which Linux honours at once, even within its ARP locktime
// (it takes a reply as gratuitous only when the target hardware address
// is the sender's too); broadcast, it is a gratuitous request. The frame's
// Ethernet source is gwMAC, so that switches learn where a VRRP virtual
// MAC lives.
func ARP(gw netip.Addr, gwMAC, dst net.HardwareAddr) ([]byte, error) {
	op, tha, ethDst := arp.OperationReply, gwMAC, dst
	if dst == nil {
		op, tha, ethDst = arp.OperationRequest, make(net.HardwareAddr, 6), ethernet.Broadcast
	}
	p, err := arp.NewPacket(op, gwMAC, gw, tha, gw)
	if err != nil {
		return nil, fmt.Errorf("ARP for %s: %w", gw, err)
	}
	body, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("ARP for %s: %w", gw, err)
	}
	return (&ethernet.Frame{Destination: ethDst, Source: gwMAC, EtherType: ethernet.EtherTypeARP, Payload: body}).MarshalBinary()
}

// NA returns an unsolicited Neighbor Advertisement for gateway gw at
// gwMAC, with the Router and Override flags, from gw. To one VM (dst) it
// goes to the VM's address dstIP (ff02::1 when the VM has none known) in a
// frame unicast to the VM's MAC; broadcast (dst nil), to all nodes.
func NA(gw netip.Addr, gwMAC, dst net.HardwareAddr, dstIP netip.Addr) ([]byte, error) {
	ethDst := dst
	if dst == nil || !dstIP.IsValid() {
		dstIP = allNodes
	}
	if dst == nil {
		ethDst = allNodesMAC
	}
	na := &ndp.NeighborAdvertisement{
		Router:        true,
		Override:      true,
		TargetAddress: gw,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: gwMAC}},
	}
	icmp, err := ndp.MarshalMessageChecksum(na, gw, dstIP)
	if err != nil {
		return nil, fmt.Errorf("NA for %s: %w", gw, err)
	}
	ip := make([]byte, 40, 40+len(icmp))
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(icmp)))
	ip[6] = 58  // ICMPv6
	ip[7] = 255 // NDP requires a hop limit of 255
	src16, dst16 := gw.As16(), dstIP.As16()
	copy(ip[8:24], src16[:])
	copy(ip[24:40], dst16[:])
	return (&ethernet.Frame{Destination: ethDst, Source: gwMAC, EtherType: ethernet.EtherTypeIPv6, Payload: append(ip, icmp...)}).MarshalBinary()
}
