//go:build linux

package bgp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/tests/bird"
	"github.com/vmroute/vmroute/tests/netns"
)

// wanRouter is the edge router of a site's two routers, BIRD or FRR: it
// tells the paths it holds for a prefix, and whether its session to a
// peer is up.
type wanRouter interface {
	paths(p netip.Prefix) []wanPath
	established(peer netip.Addr) bool
}

// wanPath is one path a WAN router holds.
type wanPath struct {
	nextHop string
	med     int  // -1 when the path carries none
	best    bool // the best path
	used    bool // the best, or one of an ECMP set (FRR)
}

// used returns the sorted next hops of the paths that forward.
func used(paths []wanPath) []string {
	var out []string
	for _, p := range paths {
		if p.used {
			out = append(out, p.nextHop)
		}
	}
	slices.Sort(out)
	return out
}

// TestIntegrationASiblingWinsOverALostOnesRoutes proves the mechanism
// by which the survivor of a router pair takes the WAN's traffic from a
// lost sibling (Speaker.Win, WinningMED), on BIRD and on FRR, over eBGP
// and iBGP, whatever the WAN still holds of the dead one:
//   - live: the sibling went silent (every packet it sends is dropped,
//     no FIN), and its session stays up until the hold time;
//   - stale: the sibling was killed (FIN), and graceful restart keeps its
//     routes, as the best, for its restart time.
//
// Both routers announce the same routes with MED 100, as a site's pair
// does; the dead one (A1) is the WAN's best before, by router ID or as
// the older path. The bug it catches: a survivor whose routes do not win
// (the WAN forwards to a dead router for up to two minutes).
func TestIntegrationASiblingWinsOverALostOnesRoutes(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	for i, tc := range []struct {
		wan    string
		peerAS uint32
	}{{"bird", 65000}, {"bird", 65001}, {"frr", 65000}, {"frr", 65001}} {
		kind := "ebgp"
		if tc.peerAS == 65001 {
			kind = "ibgp"
		}
		t.Run(tc.wan+" "+kind, func(t *testing.T) { siblingWins(t, 20+i, tc.wan, tc.peerAS) })
	}
}

func siblingWins(t *testing.T, n int, wanKind string, peerAS uint32) {
	l := newLab(t, n)
	// A1 twice, once for each way to die, each with prefixes of its own:
	// silent (a1s) and killed (a1k). A2 announces both sets; its router
	// ID is the highest, so it is nobody's best by the tie-break.
	addr := func(host int) (netip.Addr, netip.Addr) {
		return netip.MustParseAddr(fmt.Sprintf("10.11.%d.%d", n, host)), netip.MustParseAddr(fmt.Sprintf("2001:db8:11:%d::%d", n, host))
	}
	a1s4, a1s6 := l.local4, l.local6
	a1k4, a1k6 := addr(4)
	a24, a26 := addr(9)
	for _, a := range []string{a1k4.String() + "/24", a1k6.String() + "/64", a24.String() + "/24", a26.String() + "/64"} {
		netns.Run(t, "ip", "addr", "add", a, "dev", fmt.Sprint("vs", n), "nodad")
	}
	silentRoutes := []plan.Route{route("192.0.2.10/32", plan.Host), route("2001:db8:100::10/128", plan.Host)}
	killedRoutes := []plan.Route{route("192.0.2.20/32", plan.Host), route("2001:db8:100::20/128", plan.Host)}
	med := uint32(100)
	cfg := func(a4, a6 netip.Addr) Config {
		c := l.config(peerAS, Neighbor{Address: l.remote4, ASN: peerAS, Port: 179, IPv4: true, IPv6: true, LocalAddress: a4})
		c.RouterID, c.NextHop6, c.MED, c.ListenPort = a4, a6, &med, 0
		return c
	}

	var wan wanRouter
	if wanKind == "bird" {
		wan = startBirdWAN(t, l, peerAS, a1s4, a1k4, a24)
	} else {
		wan = startFRRWAN(t, l, peerAS, a1s4, a1k4, a24)
	}
	// waitUsed waits until the WAN holds paths paths for r and forwards
	// over want (exactly, or at least when only is false).
	waitUsed := func(what string, r plan.Route, paths int, only bool, want ...netip.Addr) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := wan.paths(r.Prefix)
			u := used(got)
			ok := len(got) == paths && (!only || len(u) == len(want))
			for _, a := range want {
				ok = ok && slices.Contains(u, a.String())
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s's paths %+v, want %d paths forwarding over %v (only: %v)", what, r.Prefix, got, paths, want, only)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A1 first (FRR prefers the older of two eBGP paths), then A2.
	runSpeakerProcess(t, cfg(a1s4, a1s6), silentRoutes, false)
	killA1 := runSpeakerProcess(t, cfg(a1k4, a1k6), killedRoutes, false)
	nh := func(r plan.Route, a4, a6 netip.Addr) netip.Addr {
		if r.Prefix.Addr().Is4() {
			return a4
		}
		return a6
	}
	for _, r := range silentRoutes {
		waitUsed("A1 alone", r, 1, true, nh(r, a1s4, a1s6))
	}
	for _, r := range killedRoutes {
		waitUsed("A1 alone", r, 1, true, nh(r, a1k4, a1k6))
	}
	a2 := startSpeaker(t, cfg(a24, a26), append(append([]plan.Route{}, silentRoutes...), killedRoutes...))
	for _, r := range silentRoutes {
		waitUsed("both up", r, 2, false, nh(r, a1s4, a1s6))
	}
	for _, r := range killedRoutes {
		waitUsed("both up", r, 2, false, nh(r, a1k4, a1k6))
	}

	// Silent: every packet A1 sends is dropped; its session stays up at
	// the WAN, its routes live.
	netns.Run(t, "ip", "rule", "add", "from", a1s4.String(), "blackhole")
	t.Cleanup(func() { _ = exec.Command("ip", "rule", "del", "from", a1s4.String(), "blackhole").Run() })
	ctx := context.Background()
	if err := a2.Win(ctx, true); err != nil {
		t.Fatal(err)
	}
	for _, r := range silentRoutes {
		waitUsed("A1 silent, A2 winning", r, 2, true, nh(r, a24, a26))
	}
	if !wan.established(a1s4) {
		t.Fatalf("the WAN's session to the silent A1 is down: the test proves nothing about live routes")
	}
	// The linger over, A2 sends MED 100 again, and the tie-break is back
	// (BIRD's by router ID; FRR keeps the best of equal eBGP paths).
	if err := a2.Win(ctx, false); err != nil {
		t.Fatal(err)
	}
	for _, r := range silentRoutes {
		deadline := time.Now().Add(30 * time.Second)
		for {
			paths := wan.paths(r.Prefix)
			if len(paths) == 2 && paths[0].med == 100 && paths[1].med == 100 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("A2 back to normal: %s's paths %+v, want two with MED 100", r.Prefix, paths)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if wanKind == "bird" {
		for _, r := range silentRoutes {
			waitUsed("A2 back to normal", r, 2, true, nh(r, a1s4, a1s6))
		}
	}

	// Killed: a FIN, and graceful restart keeps A1's routes as the best.
	killA1()
	deadline := time.Now().Add(20 * time.Second)
	for wan.established(a1k4) {
		if time.Now().After(deadline) {
			t.Fatal("the WAN's session to the killed A1 is still up after 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The WAN still forwards over A1's stale routes: BIRD as the best,
	// FRR in ECMP at least.
	for _, r := range killedRoutes {
		waitUsed("A1 killed, its routes stale", r, 2, false, nh(r, a1k4, a1k6))
	}
	if err := a2.Win(ctx, true); err != nil {
		t.Fatal(err)
	}
	for _, r := range killedRoutes {
		waitUsed("A1 killed, A2 winning", r, 2, true, nh(r, a24, a26))
	}
}

// birdWAN is BIRD as the WAN router.
type birdWAN struct{ b *bird.Bird }

func startBirdWAN(t *testing.T, l *lab, peerAS uint32, peers ...netip.Addr) *birdWAN {
	c := fmt.Sprintf("router id %s;\nprotocol device {}\nprotocol direct { ipv4; ipv6; }\n", l.remote4)
	for i, a := range peers {
		direct := ""
		if peerAS == 65001 {
			direct = "direct;" // iBGP on the shared segment
		}
		c += fmt.Sprintf(`protocol bgp s%d {
	local %s as %d;
	neighbor %s as 65001;
	%s
	graceful restart on;
	ipv4 { import all; export none; };
	ipv6 { import all; export none; };
}
`, i, l.remote4, peerAS, a, direct)
	}
	return &birdWAN{bird.Start(t, l.peerNS, c)}
}

// paths reads "show route for ... all": BIRD lists the best path first.
func (w *birdWAN) paths(p netip.Prefix) []wanPath {
	out, _ := w.b.Try("show", "route", "for", p.String(), "all") // none yet: no path
	var paths []wanPath
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(l, "BGP.next_hop:"); ok {
			nh, _, _ := strings.Cut(strings.TrimSpace(v), " ")
			paths = append(paths, wanPath{nextHop: nh, med: -1, best: len(paths) == 0, used: len(paths) == 0})
		}
		if v, ok := strings.CutPrefix(l, "BGP.med:"); ok && len(paths) > 0 {
			paths[len(paths)-1].med, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return paths
}

func (w *birdWAN) established(peer netip.Addr) bool {
	out, _ := w.b.Try("show", "protocols")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && strings.HasPrefix(f[0], "s") && f[1] == "BGP" {
			detail, _ := w.b.Try("show", "protocols", "all", f[0])
			if strings.Contains(detail, "Neighbor address: "+peer.String()+"\n") {
				return f[len(f)-1] == "Established"
			}
		}
	}
	return false
}

// frrWAN is FRR 8 (zebra and bgpd) as the WAN router.
type frrWAN struct {
	ns, dir string
}

func startFRRWAN(t *testing.T, l *lab, peerAS uint32, peers ...netip.Addr) *frrWAN {
	netns.Need(t, "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh")
	u, err := user.Lookup("frr")
	if err != nil {
		t.Fatalf("FRR's user: %v (apt-get install frr)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// FRR drops to its own user: it must cross the test's directories.
	top := t.TempDir()
	for d := top; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(top, "frr")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("hostname wan\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n bgp graceful-restart\n", peerAS, l.remote4)
	for _, a := range peers {
		conf += fmt.Sprintf(" neighbor %s remote-as 65001\n", a)
	}
	conf += " address-family ipv6 unicast\n"
	for _, a := range peers {
		conf += fmt.Sprintf("  neighbor %s activate\n", a)
	}
	conf += " exit-address-family\n"
	for _, d := range []struct{ name, conf string }{{"zebra", "hostname wan\n"}, {"bgpd", conf}} {
		path := filepath.Join(dir, d.name+".conf")
		if err := os.WriteFile(path, []byte(d.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		netns.Start(t, l.peerNS, dir, "/usr/lib/frr/"+d.name, "-f", path, "-i", filepath.Join(dir, d.name+".pid"),
			"-z", filepath.Join(dir, "zserv.api"), "--vty_socket", dir, "-A", "127.0.0.1", "-P", "0", "--log", "file:"+filepath.Join(dir, d.name+".log"))
	}
	return &frrWAN{ns: l.peerNS, dir: dir}
}

func (w *frrWAN) vtysh(cmd string, v any) error {
	out, err := exec.Command("ip", "netns", "exec", w.ns, "vtysh", "--vty_socket", w.dir, "-c", cmd).Output()
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

func (w *frrWAN) paths(p netip.Prefix) []wanPath {
	fam := "ipv4"
	if p.Addr().Is6() {
		fam = "ipv6"
	}
	var tbl struct {
		Routes map[string][]struct {
			Bestpath  bool `json:"bestpath"`
			Multipath bool `json:"multipath"`
			Metric    *int `json:"metric"`
			Nexthops  []struct {
				IP string `json:"ip"`
			} `json:"nexthops"`
		} `json:"routes"`
	}
	if w.vtysh("show bgp "+fam+" unicast json", &tbl) != nil {
		return nil
	}
	var out []wanPath
	for _, path := range tbl.Routes[p.String()] {
		wp := wanPath{med: -1, best: path.Bestpath, used: path.Bestpath || path.Multipath}
		if len(path.Nexthops) > 0 {
			wp.nextHop = path.Nexthops[0].IP
		}
		if path.Metric != nil {
			wp.med = *path.Metric
		}
		out = append(out, wp)
	}
	return out
}

func (w *frrWAN) established(peer netip.Addr) bool {
	var s map[string]struct {
		State string `json:"bgpState"`
	}
	if w.vtysh("show bgp neighbors "+peer.String()+" json", &s) != nil {
		return false
	}
	return s[peer.String()].State == "Established"
}
