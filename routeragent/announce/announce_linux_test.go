//go:build linux

package announce

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/netns"
)

const (
	routerMAC = "02:00:00:00:00:01"
	wrongMAC  = "02:00:00:00:00:99"
	vmMAC     = "02:00:00:00:00:10"
	byMAC     = "02:00:00:00:00:11"
)

// segment is a router (the test's namespace) with a bridge br0 holding
// the gateways, and two hosts on it: "vm", which lands, and "by", a
// bystander. Each host's cache holds the gateways at a wrong MAC; the
// router's cache pins both hosts, so that nothing but an announcement
// can change their caches.
type segment struct {
	vm, by string // namespaces
}

func newSegment(t *testing.T) *segment {
	netns.Run(t, "ip", "link", "add", "br0", "address", routerMAC, "type", "bridge")
	netns.Run(t, "ip", "link", "set", "br0", "up")
	for _, a := range []string{"10.20.0.1/24", "fe80::1/64", "2001:db8:20::1/64"} {
		netns.Run(t, "ip", "addr", "add", a, "dev", "br0", "nodad")
	}
	s := &segment{}
	for _, h := range []struct {
		ns      *string
		name    string
		mac, v4 string
		v6      string
	}{{&s.vm, "vm", vmMAC, "10.20.0.10", "2001:db8:20::10"}, {&s.by, "by", byMAC, "10.20.0.11", "2001:db8:20::11"}} {
		*h.ns = netns.Peer(t, h.name, "r"+h.name, nil, "eth0", []string{h.v4 + "/24", h.v6 + "/64"})
		netns.Run(t, "ip", "link", "set", "r"+h.name, "master", "br0")
		netns.Run(t, "ip", "-n", *h.ns, "link", "set", "eth0", "address", h.mac)
		netns.Run(t, "ip", "neigh", "replace", h.v4, "lladdr", h.mac, "dev", "br0", "nud", "permanent")
		netns.Run(t, "ip", "neigh", "replace", h.v6, "lladdr", h.mac, "dev", "br0", "nud", "permanent")
	}
	return s
}

// setWrong puts gw at the wrong MAC in ns's cache, in state nud.
func setWrong(t *testing.T, ns, dev, gw, nud string) {
	netns.Run(t, "ip", "-n", ns, "neigh", "replace", gw, "lladdr", wrongMAC, "dev", dev, "nud", nud)
}

type neighEntry struct {
	Dst    string   `json:"dst"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`
}

// neigh reads the real Linux neighbor cache of ns for gw.
func neigh(t *testing.T, ns, dev, gw string) neighEntry {
	out := netns.Run(t, "ip", "-n", ns, "-j", "neigh", "show", gw, "dev", dev)
	var es []neighEntry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatalf("ip neigh: %v: %s", err, out)
	}
	if len(es) != 1 {
		t.Fatalf("%s has %d entries for %s: %s", ns, len(es), gw, out)
	}
	return es[0]
}

func waitLLAddr(t *testing.T, ns, dev, gw, want string) neighEntry {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		e := neigh(t, ns, dev, gw)
		if e.LLAddr == want {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s still at %s (%v), want %s", ns, gw, e.LLAddr, e.State, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startAnnouncer(t *testing.T, cfg Config) *Announcer {
	t.Helper()
	a := New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func neighbor(vm, mac, iface, subnet string, addrs []string, gws ...string) plan.Neighbor {
	n := plan.Neighbor{VM: vm, Name: "vm-" + vm, Subnet: netip.MustParsePrefix(subnet), Interface: iface}
	n.MAC, _ = wire.ParseMAC(mac)
	for _, a := range addrs {
		n.Addrs = append(n.Addrs, netip.MustParseAddr(a))
	}
	for _, g := range gws {
		n.Gateways = append(n.Gateways, netip.MustParseAddr(g))
	}
	return n
}

func land(t *testing.T, a *Announcer, ns ...plan.Neighbor) {
	t.Helper()
	var landed []*plan.Neighbor
	for i := range ns {
		landed = append(landed, &ns[i])
	}
	if err := a.Update(context.Background(), ns, landed); err != nil {
		t.Fatal(err)
	}
}

var oneShot = Config{Count: 1, Interval: time.Second, Rate: 1000}

func TestIntegrationAnnounce(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	s := newSegment(t)
	v4 := neighbor("vm1", vmMAC, "br0", "10.20.0.0/24", []string{"10.20.0.10"}, "10.20.0.1")
	v6 := neighbor("vm1", vmMAC, "br0", "2001:db8:20::/64", []string{"2001:db8:20::10"}, "fe80::1", "2001:db8:20::1")

	for _, state := range []string{"stale", "reachable"} {
		t.Run("IPv4 gateway moves in a "+state+" entry, bystander untouched", func(t *testing.T) {
			setWrong(t, s.by, "eth0", "10.20.0.1", state)
			setWrong(t, s.vm, "eth0", "10.20.0.1", state) // updated just now: within Linux's locktime
			a := startAnnouncer(t, oneShot)
			land(t, a, v4)
			e := waitLLAddr(t, s.vm, "eth0", "10.20.0.1", routerMAC)
			t.Logf("vm's entry: %s %v", e.LLAddr, e.State)
			// The one frame reached the VM: had it reached the bystander too
			// (same bridge, same moment), its entry would show it now.
			if n := a.FramesSent.Load(); n != 1 {
				t.Errorf("%d frames sent, want one", n)
			}
			if b := neigh(t, s.by, "eth0", "10.20.0.1"); b.LLAddr != wrongMAC {
				t.Errorf("bystander's gateway entry changed to %s in unicast mode", b.LLAddr)
			}
		})
	}

	t.Run("IPv6 link-local and global gateways move, bystander untouched", func(t *testing.T) {
		for _, gw := range []string{"fe80::1", "2001:db8:20::1"} {
			setWrong(t, s.vm, "eth0", gw, "stale")
			setWrong(t, s.by, "eth0", gw, "stale")
		}
		a := startAnnouncer(t, oneShot)
		land(t, a, v6)
		for _, gw := range []string{"fe80::1", "2001:db8:20::1"} {
			waitLLAddr(t, s.vm, "eth0", gw, routerMAC)
		}
		if n := a.FramesSent.Load(); n != 2 {
			t.Errorf("%d frames sent, want one per gateway", n)
		}
		for _, gw := range []string{"fe80::1", "2001:db8:20::1"} {
			if b := neigh(t, s.by, "eth0", gw); b.LLAddr != wrongMAC {
				t.Errorf("bystander's entry for %s changed to %s", gw, b.LLAddr)
			}
		}
	})

	t.Run("a configured gateway MAC (VRRP) is announced instead", func(t *testing.T) {
		setWrong(t, s.vm, "eth0", "10.20.0.1", "stale")
		vrrp, _ := wire.ParseMAC("00:00:5e:00:01:14")
		cfg := oneShot
		cfg.GatewayMACs = map[netip.Prefix]wire.MAC{v4.Subnet: vrrp}
		a := startAnnouncer(t, cfg)
		land(t, a, v4)
		waitLLAddr(t, s.vm, "eth0", "10.20.0.1", vrrp.String())
	})

	t.Run("broadcast mode reaches the bystander too", func(t *testing.T) {
		setWrong(t, s.vm, "eth0", "10.20.0.1", "stale")
		setWrong(t, s.by, "eth0", "10.20.0.1", "stale")
		cfg := oneShot
		cfg.Broadcast = true
		a := startAnnouncer(t, cfg)
		land(t, a, v4)
		waitLLAddr(t, s.vm, "eth0", "10.20.0.1", routerMAC)
		waitLLAddr(t, s.by, "eth0", "10.20.0.1", routerMAC)
	})

	t.Run("a gateway absent from the router is not announced", func(t *testing.T) {
		setWrong(t, s.vm, "eth0", "10.20.0.254", "stale")
		a := startAnnouncer(t, oneShot)
		absent := neighbor("vm1", vmMAC, "br0", "10.20.0.0/24", []string{"10.20.0.10"}, "10.20.0.254")
		land(t, a, absent)
		for deadline := time.Now().Add(5 * time.Second); a.RoundsSkipped.Load() == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the round for an absent gateway was neither sent nor skipped within 5s")
			}
		}
		if e := neigh(t, s.vm, "eth0", "10.20.0.254"); e.LLAddr != wrongMAC {
			t.Errorf("absent gateway announced: now at %s", e.LLAddr)
		}
		st, err := a.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 1 || st[0].Sent != 0 || !strings.Contains(st[0].Problem, "10.20.0.254] is on no local interface") {
			t.Errorf("status %+v, want the reason", st)
		}
		if a.FramesSent.Load() != 0 {
			t.Errorf("%d frames sent", a.FramesSent.Load())
		}
		// A VRRP failover makes this router the gateway's master: its
		// VMs are told at once, not at their next refresh (none here).
		netns.Run(t, "ip", "addr", "add", "10.20.0.254/24", "dev", "br0", "nodad")
		defer netns.Run(t, "ip", "addr", "del", "10.20.0.254/24", "dev", "br0")
		if err := a.AddressesChanged(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitLLAddr(t, s.vm, "eth0", "10.20.0.254", routerMAC)
		if st, _ := a.Status(context.Background()); len(st) != 1 || st[0].Sent != 1 || st[0].Problem != "" {
			t.Errorf("status %+v, want one frame sent and no problem", st)
		}
	})

	t.Run("through an 802.1Q VLAN sub-interface", func(t *testing.T) {
		ns := netns.Peer(t, "vlan", "rtrunk", nil, "trunk", nil)
		if out, err := exec.Command("ip", "link", "add", "link", "rtrunk", "name", "rtrunk.100", "type", "vlan", "id", "100").CombinedOutput(); err != nil {
			if !noVLAN() {
				t.Fatalf("ip link add ... type vlan: %v: %s", err, out)
			}
			fmt.Fprintf(os.Stderr, "WARNING: %s SKIPPED: this kernel cannot make 802.1Q VLAN interfaces (%s)\n", t.Name(), strings.TrimSpace(string(out)))
			t.Skipf("kernel without 802.1Q support (CONFIG_VLAN_8021Q: no 8021q module, none built in): %s", strings.TrimSpace(string(out)))
		}
		netns.Run(t, "ip", "link", "set", "rtrunk.100", "address", routerMAC, "up")
		netns.Run(t, "ip", "addr", "add", "10.21.0.1/24", "dev", "rtrunk.100", "nodad")
		netns.Run(t, "ip", "addr", "add", "2001:db8:21::1/64", "dev", "rtrunk.100", "nodad")
		netns.Run(t, "ip", "-n", ns, "link", "add", "link", "trunk", "name", "eth0.100", "type", "vlan", "id", "100")
		netns.Run(t, "ip", "-n", ns, "link", "set", "eth0.100", "address", vmMAC, "up")
		netns.Run(t, "ip", "-n", ns, "addr", "add", "10.21.0.10/24", "dev", "eth0.100", "nodad")
		netns.Run(t, "ip", "-n", ns, "addr", "add", "2001:db8:21::10/64", "dev", "eth0.100", "nodad")
		netns.Run(t, "ip", "neigh", "replace", "10.21.0.10", "lladdr", vmMAC, "dev", "rtrunk.100", "nud", "permanent")
		netns.Run(t, "ip", "neigh", "replace", "2001:db8:21::10", "lladdr", vmMAC, "dev", "rtrunk.100", "nud", "permanent")
		setWrong(t, ns, "eth0.100", "10.21.0.1", "reachable")
		setWrong(t, ns, "eth0.100", "2001:db8:21::1", "stale")
		a := startAnnouncer(t, oneShot)
		land(t, a,
			neighbor("vm2", vmMAC, "rtrunk.100", "10.21.0.0/24", []string{"10.21.0.10"}, "10.21.0.1"),
			neighbor("vm2", vmMAC, "rtrunk.100", "2001:db8:21::/64", []string{"2001:db8:21::10"}, "2001:db8:21::1"))
		waitLLAddr(t, ns, "eth0.100", "10.21.0.1", routerMAC)
		waitLLAddr(t, ns, "eth0.100", "2001:db8:21::1", routerMAC)
	})

	t.Run("5,000 VMs at 1,000 frames/s: the pace holds and nothing is lost", func(t *testing.T) {
		netns.Need(t, "tcpdump")
		ns := netns.Peer(t, "sink", "rsink", []string{"10.22.0.1/24"}, "sink", nil)
		dir := t.TempDir()
		pcap := filepath.Join(dir, "arp.pcap")
		dump := netns.Start(t, ns, dir, "tcpdump", "-i", "sink", "-n", "-U", "-w", pcap, "arp")
		waitFile(t, filepath.Join(dir, "arp.log"), "listening on", 5*time.Second)
		var all []plan.Neighbor
		for i := range 5000 {
			all = append(all, neighbor(fmt.Sprint("v", i), fmt.Sprintf("02:01:00:00:%02x:%02x", i>>8, i&0xff),
				"rsink", "10.22.0.0/24", nil, "10.22.0.1"))
		}
		a := startAnnouncer(t, Config{Count: 1, Interval: time.Second, Rate: 1000})
		start := time.Now()
		land(t, a, all...)
		for a.FramesSent.Load() < 5000 {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("only %d frames sent after 30s", a.FramesSent.Load())
			}
			time.Sleep(50 * time.Millisecond)
		}
		// tcpdump writes what it received a little later: wait for the file.
		for deadline := time.Now().Add(5 * time.Second); len(readPcap(t, pcap)) < 5000 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		_ = dump.Process.Signal(os.Interrupt)
		_ = dump.Wait()
		stamps := readPcap(t, pcap)
		if len(stamps) != 5000 {
			log, _ := os.ReadFile(filepath.Join(dir, "arp.log"))
			t.Fatalf("captured %d frames, want 5000; tcpdump said:\n%s", len(stamps), log)
		}
		most, j := 0, 0
		for i := range stamps {
			for stamps[i].Sub(stamps[j]) >= time.Second {
				j++
			}
			most = max(most, i-j+1)
		}
		span := stamps[len(stamps)-1].Sub(stamps[0])
		t.Logf("5000 frames over %s; at most %d in any second", span, most)
		if most > 1000 {
			t.Errorf("%d frames within one second, over the limit of 1000", most)
		}
		if span < 4900*time.Millisecond {
			t.Errorf("5000 frames in %s: faster than 1000 frames/s", span)
		}
	})
}

func waitFile(t *testing.T, path, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q after %s: %s", path, want, d, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readPcap returns the timestamps of the frames of a classic pcap file.
func readPcap(t *testing.T, path string) []time.Time {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
		t.Fatalf("%s is not a little-endian microsecond pcap", path)
	}
	var out []time.Time
	for off := 24; off+16 <= len(b); {
		sec := binary.LittleEndian.Uint32(b[off:])
		usec := binary.LittleEndian.Uint32(b[off+4:])
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		out = append(out, time.Unix(int64(sec), int64(usec)*1000))
		off += 16 + n
	}
	return out
}

// noVLAN says whether this kernel truly lacks 802.1Q: it is not built in
// (/proc/net/vlan) and its module neither is loaded nor loads.
func noVLAN() bool {
	if _, err := os.Stat("/proc/net/vlan"); err == nil {
		return false
	}
	if _, err := os.Stat("/sys/module/8021q"); err == nil {
		return false
	}
	return exec.Command("modprobe", "8021q").Run() != nil
}
