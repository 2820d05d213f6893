// Package discover finds the addresses of VMs that report only MACs (no
// VMware Tools) in this router's own neighbor table, on the subnets'
// interfaces, and follows the table's changes through netlink.
package discover

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vmroute/vmroute/shared/wire"
)

// Table maps MACs to the addresses the neighbor table holds for them.
type Table struct {
	log     *slog.Logger
	ifaces  map[int]string // index -> name of the watched interfaces
	mu      sync.Mutex
	byMAC   map[wire.MAC]map[netip.Addr]bool
	changed func(wire.MAC)
}

// Watch dumps the neighbor tables of ifaces, then follows their changes
// until ctx ends, calling changed (from its own goroutine) with the MAC of
// each entry that appears, changes or goes.
func Watch(ctx context.Context, ifaces []string, log *slog.Logger, changed func(wire.MAC)) (*Table, error) {
	t := &Table{log: log, ifaces: map[int]string{}, byMAC: map[wire.MAC]map[netip.Addr]bool{}, changed: changed}
	for _, name := range ifaces {
		link, err := netlink.LinkByName(name)
		if err != nil {
			log.Warn("address discovery: interface not found", "interface", name, "err", err)
			continue
		}
		t.ifaces[link.Attrs().Index] = name
	}
	// Subscribe first, then dump: a change during the dump waits in the
	// channel and is applied after it. (The subscription's own dump,
	// ListExisting, is sent to the multicast group, which the kernel
	// refuses without CAP_NET_ADMIN: the routeragent runs without it.)
	updates := make(chan netlink.NeighUpdate, 256)
	done := make(chan struct{})
	if err := netlink.NeighSubscribe(updates, done); err != nil {
		return nil, fmt.Errorf("address discovery: subscribe to neighbor events: %w", err)
	}
	go func() {
		<-ctx.Done()
		close(done)
	}()
	existing, err := netlink.NeighList(0, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("address discovery: read the neighbor table: %w", err)
	}
	for _, n := range existing {
		t.apply(netlink.NeighUpdate{Type: unix.RTM_NEWNEIGH, Neigh: n})
	}
	go func() {
		for u := range updates {
			t.apply(u)
		}
	}()
	return t, nil
}

func (t *Table) apply(u netlink.NeighUpdate) {
	if _, ok := t.ifaces[u.LinkIndex]; !ok || len(u.HardwareAddr) != 6 {
		return
	}
	a, ok := netip.AddrFromSlice(u.IP)
	if !ok {
		return
	}
	a = a.Unmap()
	mac := wire.MAC(u.HardwareAddr)
	usable := u.Type == unix.RTM_NEWNEIGH && u.State&(netlink.NUD_FAILED|netlink.NUD_INCOMPLETE) == 0 && a.IsGlobalUnicast()
	t.mu.Lock()
	addrs := t.byMAC[mac]
	had := addrs[a]
	switch {
	case usable && !had:
		if addrs == nil {
			addrs = map[netip.Addr]bool{}
			t.byMAC[mac] = addrs
		}
		addrs[a] = true
	case !usable && had:
		delete(addrs, a)
		if len(addrs) == 0 {
			delete(t.byMAC, mac)
		}
	default:
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.log.Debug("address discovery", "mac", mac, "addr", a, "present", usable)
	t.changed(mac)
}

// Lookup returns the addresses known for mac, sorted.
func (t *Table) Lookup(mac wire.MAC) []netip.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []netip.Addr
	for a := range t.byMAC[mac] {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}
