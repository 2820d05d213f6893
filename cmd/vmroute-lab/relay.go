package main

import (
	"bytes"
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
		select {
		case q <- frame{time.Now(), bytes.Clone(buf[:n])}:
		default: // the link is full: drop, as a real one does
		}
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
