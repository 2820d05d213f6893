// Package ownaddr follows this router's own addresses through netlink: a
// VM that claims one of them gets no route, and an address the router
// gains after start counts as much as one it had.
package ownaddr

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
)

// List returns the addresses of this machine's interfaces, sorted.
func List() ([]netip.Addr, error) {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("this router's addresses: %w", err)
	}
	var out []netip.Addr
	for _, ia := range ifaddrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil && !slices.Contains(out, p.Addr().Unmap()) {
			out = append(out, p.Addr().Unmap())
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out, nil
}

// Watch calls changed, from its own goroutine, each time an address is
// added to or removed from an interface of this machine, until ctx ends.
func Watch(ctx context.Context, changed func()) error {
	updates := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	if err := netlink.AddrSubscribe(updates, done); err != nil {
		return fmt.Errorf("subscribe to address events: %w", err)
	}
	go func() {
		<-ctx.Done()
		close(done)
	}()
	go func() {
		for range updates {
			changed()
		}
	}()
	return nil
}
