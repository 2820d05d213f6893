package frames

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

var (
	gwMAC = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x01}
	vm    = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x10}
)

func TestARPFrame(t *testing.T) {
	gw := netip.MustParseAddr("192.0.2.1")
	for _, tt := range []struct {
		name        string
		dst         net.HardwareAddr
		op          arp.Operation
		ethDst, tha net.HardwareAddr
	}{
		{"unicast: a gratuitous reply to the VM", vm, arp.OperationReply, vm, gwMAC},
		{"broadcast: a gratuitous request", nil, arp.OperationRequest, ethernet.Broadcast, make(net.HardwareAddr, 6)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ARP(gw, gwMAC, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			var f ethernet.Frame
			if err := f.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			var p arp.Packet
			if err := p.UnmarshalBinary(f.Payload); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.Destination, tt.ethDst) || !bytes.Equal(f.Source, gwMAC) || f.EtherType != ethernet.EtherTypeARP {
				t.Errorf("frame %s -> %s type %v", f.Source, f.Destination, f.EtherType)
			}
			if p.Operation != tt.op || p.SenderIP != gw || p.TargetIP != gw ||
				!bytes.Equal(p.SenderHardwareAddr, gwMAC) || !bytes.Equal(p.TargetHardwareAddr, tt.tha) {
				t.Errorf("packet %+v", p)
			}
		})
	}
}

func TestNAFrame(t *testing.T) {
	gw, vmIP := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8:20::10")
	for _, tt := range []struct {
		name   string
		dst    net.HardwareAddr
		dstIP  netip.Addr
		ethDst net.HardwareAddr
		ipDst  netip.Addr
	}{
		{"to the VM's address", vm, vmIP, vm, vmIP},
		{"to a VM with no known address: all nodes, in a frame to its MAC", vm, netip.Addr{}, vm, allNodes},
		{"broadcast", nil, vmIP, allNodesMAC, allNodes},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NA(gw, gwMAC, tt.dst, tt.dstIP)
			if err != nil {
				t.Fatal(err)
			}
			var f ethernet.Frame
			if err := f.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			ip := f.Payload
			if !bytes.Equal(f.Destination, tt.ethDst) || f.EtherType != ethernet.EtherTypeIPv6 {
				t.Errorf("frame to %s type %v", f.Destination, f.EtherType)
			}
			// From the gateway's MAC: a frame from the VM's own would teach
			// the switches the VM's MAC on the router's port.
			if !bytes.Equal(f.Source, gwMAC) {
				t.Errorf("frame from %s, want the gateway's %s", f.Source, gwMAC)
			}
			src, _ := netip.AddrFromSlice(ip[8:24])
			dst, _ := netip.AddrFromSlice(ip[24:40])
			if ip[0]>>4 != 6 || ip[6] != 58 || ip[7] != 255 || src != gw || dst != tt.ipDst ||
				int(binary.BigEndian.Uint16(ip[4:6])) != len(ip)-40 {
				t.Errorf("IPv6 header % x", ip[:40])
			}
			m, err := ndp.ParseMessage(ip[40:])
			if err != nil {
				t.Fatal(err)
			}
			na, ok := m.(*ndp.NeighborAdvertisement)
			if !ok || !na.Router || !na.Override || na.Solicited || na.TargetAddress != gw {
				t.Fatalf("message %+v", m)
			}
			if lla, ok := na.Options[0].(*ndp.LinkLayerAddress); !ok || lla.Direction != ndp.Target || !bytes.Equal(lla.Addr, gwMAC) {
				t.Errorf("options %+v", na.Options)
			}
			// The checksum must verify over the pseudo-header.
			want, _ := ndp.MarshalMessageChecksum(na, gw, tt.ipDst)
			if !bytes.Equal(want, ip[40:]) {
				t.Errorf("checksum: got % x want % x", ip[42:44], want[2:4])
			}
		})
	}
}
