//go:build linux

package bgp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/vmroute/vmroute/routeragent/bgp/attrs"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/tests/bird"
	"github.com/vmroute/vmroute/tests/netns"
)

// lab is one speaker-to-peer link: the speaker in the test's namespace,
// the peer in a namespace of its own, on 10.11.N.0/24 and 2001:db8:11:N::/64.
type lab struct {
	n                int
	local4, local6   netip.Addr
	remote4, remote6 netip.Addr
	peerNS           string
}

func newLab(t testing.TB, n int) *lab {
	l := &lab{
		n:       n,
		local4:  netip.MustParseAddr(fmt.Sprintf("10.11.%d.1", n)),
		remote4: netip.MustParseAddr(fmt.Sprintf("10.11.%d.2", n)),
		local6:  netip.MustParseAddr(fmt.Sprintf("2001:db8:11:%d::1", n)),
		remote6: netip.MustParseAddr(fmt.Sprintf("2001:db8:11:%d::2", n)),
	}
	l.peerNS = netns.Peer(t, fmt.Sprint("p", n), fmt.Sprint("vs", n), []string{l.local4.String() + "/24", l.local6.String() + "/64"},
		fmt.Sprint("vp", n), []string{l.remote4.String() + "/24", l.remote6.String() + "/64"})
	return l
}

// config is the speaker's: AS 65001 towards one neighbor of AS peerAS.
func (l *lab) config(peerAS uint32, neighbors ...Neighbor) Config {
	if len(neighbors) == 0 {
		neighbors = []Neighbor{{Address: l.remote4, ASN: peerAS, Port: 179, IPv4: true, IPv6: true, LocalAddress: l.local4}}
	}
	return Config{
		ASN: 65001, RouterID: l.local4, GracefulRestart: true, RestartTime: 120 * time.Second,
		HostCommunities:    attrs.Communities{Standard: []uint32{attrs.NoExport, 65001<<16 | 100}},
		SummaryCommunities: attrs.Communities{Standard: []uint32{65001<<16 | 200}, Large: []attrs.LargeCommunity{{Global: 65001, Local1: 1, Local2: 2}}},
		NextHop6:           l.local6,
		Neighbors:          neighbors,
	}
}

// birdConfig is BIRD at AS 65000 with one protocol "vmroute" per
// neighbor address given, importing everything.
func (l *lab) birdConfig(extra string, neighbors ...netip.Addr) string {
	c := fmt.Sprintf("router id %s;\nprotocol device {}\n", l.remote4)
	for i, n := range neighbors {
		local := l.remote4
		if n.Is6() {
			local = l.remote6
		}
		c += fmt.Sprintf(`protocol bgp vmroute%d {
	local %s as 65000;
	neighbor %s as 65001;
	graceful restart on;
	debug { states, events };
	%s
	ipv4 { import all; export none; };
	ipv6 { import all; export none; };
}
`, i, local, n, extra)
	}
	return c
}

func startSpeaker(t testing.TB, cfg Config, routes []plan.Route) *Speaker {
	t.Helper()
	s := New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx := context.Background()
	if err := s.Start(ctx, routes, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cfg.WithdrawOnStop = true
		s.cfg.WithdrawOnStop = true
		s.Stop(ctx)
		s.srv.Stop()
	})
	return s
}

func waitEstablished(t testing.TB, s *Speaker, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		peers, err := s.Peers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		up := len(peers) > 0
		for _, p := range peers {
			up = up && p.State == "established"
		}
		if up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions not established after %s: %+v", d, peers)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// updatesSent is the number of UPDATE messages the speaker sent its
// neighbors, as GoBGP counts them on the wire.
func updatesSent(t testing.TB, s *Speaker) uint64 {
	t.Helper()
	peers, err := s.Peers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, p := range peers {
		n += p.UpdatesSent
	}
	return n
}

func route(s string, k plan.Kind) plan.Route {
	return plan.Route{Prefix: netip.MustParsePrefix(s), Kind: k}
}

func hostRoutes(n int) []plan.Route {
	var out []plan.Route
	for i := range n {
		out = append(out, plan.Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}), 32), Kind: plan.Host})
	}
	return out
}

func TestIntegrationBIRD(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	t.Run("announce and withdraw over one session for both families", func(t *testing.T) {
		l := newLab(t, 1)
		b := bird.Start(t, l.peerNS, l.birdConfig("", l.local4))
		s := startSpeaker(t, l.config(65000), nil)
		waitEstablished(t, s, 20*time.Second)
		routes := []plan.Route{route("192.0.2.10/32", plan.Host), route("2001:db8:100::10/128", plan.Host), route("198.51.100.0/24", plan.Summary)}
		if ch, err := s.Apply(context.Background(), routes); err != nil || ch.Announced != 3 {
			t.Fatalf("Apply = %+v, %v", ch, err)
		}
		b.WaitCount("master4", 2, 5*time.Second)
		b.WaitCount("master6", 1, 5*time.Second)
		r4, r6 := b.Routes("master4"), b.Routes("master6")
		checkAttrs(t, r4["192.0.2.10/32"], map[string]string{
			"BGP.as_path": "65001", "BGP.next_hop": l.local4.String(), "BGP.origin": "IGP",
			"BGP.community": "(65535,65281) (65001,100)",
		})
		checkAttrs(t, r6["2001:db8:100::10/128"], map[string]string{
			"BGP.as_path": "65001", "BGP.next_hop": l.local6.String(), "BGP.community": "(65535,65281) (65001,100)",
		})
		checkAttrs(t, r4["198.51.100.0/24"], map[string]string{
			"BGP.as_path": "65001", "BGP.community": "(65001,200)", "BGP.large_community": "(65001, 1, 2)",
		})
		// Applying the same set again changes nothing.
		if ch, err := s.Apply(context.Background(), routes); err != nil || ch != (Changes{}) {
			t.Errorf("re-Apply = %+v, %v; want no change", ch, err)
		}
		if ch, err := s.Apply(context.Background(), routes[2:]); err != nil || ch.Withdrawn != 2 {
			t.Fatalf("withdraw Apply = %+v, %v", ch, err)
		}
		b.WaitCount("master4", 1, 5*time.Second)
		b.WaitCount("master6", 0, 5*time.Second)
		if _, ok := b.Routes("master4")["192.0.2.10/32"]; ok {
			t.Error("withdrawn /32 still at BIRD")
		}
	})

	t.Run("export only: received routes stay out of the local RIB", func(t *testing.T) {
		l := newLab(t, 7)
		conf := strings.Replace(l.birdConfig("", l.local4), "ipv4 { import all; export none; };",
			"ipv4 { import all; export where proto = \"lan\"; };", 1)
		conf += "protocol static lan { ipv4; route 203.0.113.0/24 blackhole; }\n"
		bird.Start(t, l.peerNS, conf)
		s := startSpeaker(t, l.config(65000), []plan.Route{route("192.0.2.70/32", plan.Host)})
		waitEstablished(t, s, 20*time.Second)
		waitFor(t, 10*time.Second, func() bool {
			peers, err := s.Peers(context.Background())
			return err == nil && peers[0].Received == 1
		})
		var local []string
		err := s.srv.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL,
			Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}}, func(d *api.Destination) {
			local = append(local, d.Prefix)
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(local) != "[192.0.2.70/32]" {
			t.Errorf("local RIB holds %v, want only our 192.0.2.70/32", local)
		}
	})

	t.Run("separate IPv4 and IPv6 sessions", func(t *testing.T) {
		l := newLab(t, 2)
		b := bird.Start(t, l.peerNS, l.birdConfig("", l.local4, l.local6))
		cfg := l.config(65000,
			Neighbor{Address: l.remote4, ASN: 65000, Port: 179, IPv4: true, LocalAddress: l.local4},
			Neighbor{Address: l.remote6, ASN: 65000, Port: 179, IPv6: true, LocalAddress: l.local6})
		s := startSpeaker(t, cfg, []plan.Route{route("192.0.2.20/32", plan.Host), route("2001:db8:100::20/128", plan.Host)})
		waitEstablished(t, s, 20*time.Second)
		b.WaitCount("master4", 1, 5*time.Second)
		b.WaitCount("master6", 1, 5*time.Second)
		if got := b.Routes("master6")["2001:db8:100::20/128"].Line; !strings.Contains(got, "vmroute1") {
			t.Errorf("IPv6 route came over %q, want the IPv6 session vmroute1", got)
		}
	})

	t.Run("a summary replacing 200 host routes", func(t *testing.T) {
		l := newLab(t, 3)
		b := bird.Start(t, l.peerNS, l.birdConfig("", l.local4))
		s := startSpeaker(t, l.config(65000), hostRoutes(200))
		waitEstablished(t, s, 20*time.Second)
		b.WaitCount("master4", 200, 10*time.Second)
		updates := b.ProtocolStat("vmroute0", "Import updates")
		withdraws := b.ProtocolStat("vmroute0", "Import withdraws")
		if ch, err := s.Apply(context.Background(), []plan.Route{route("192.0.2.0/24", plan.Summary)}); err != nil || ch != (Changes{Announced: 1, Withdrawn: 200}) {
			t.Fatalf("Apply = %+v, %v", ch, err)
		}
		b.WaitCount("master4", 1, 10*time.Second)
		if _, ok := b.Routes("master4")["192.0.2.0/24"]; !ok {
			t.Fatal("summary not at BIRD")
		}
		if d := b.ProtocolStat("vmroute0", "Import updates") - updates; d != 1 {
			t.Errorf("BIRD received %d updates for the change, want 1", d)
		}
		if d := b.ProtocolStat("vmroute0", "Import withdraws") - withdraws; d != 200 {
			t.Errorf("BIRD received %d withdraws for the change, want 200", d)
		}
	})

	t.Run("TCP MD5", func(t *testing.T) {
		l := newLab(t, 4)
		b := bird.Start(t, l.peerNS, l.birdConfig(`password "right-secret";`, l.local4))
		cfg := l.config(65000)
		cfg.Neighbors[0].Password = "right-secret"
		s := startSpeaker(t, cfg, []plan.Route{route("192.0.2.40/32", plan.Host)})
		waitEstablished(t, s, 20*time.Second)
		b.WaitCount("master4", 1, 5*time.Second)

		l2 := newLab(t, 5)
		b2 := bird.Start(t, l2.peerNS, l2.birdConfig(`password "right-secret";`, l2.local4))
		cfg2 := l2.config(65000)
		cfg2.Neighbors[0].Password = "wrong-secret"
		s2 := startSpeaker(t, cfg2, []plan.Route{route("192.0.2.50/32", plan.Host)})
		// The connection attempts fail on the MD5 check: the peer's kernel
		// counts the segments it dropped for a wrong signature. Wait for
		// two of them (a retry), not for a time.
		waitFor(t, 30*time.Second, func() bool { return md5Failures(t, l2.peerNS) >= 2 })
		peers, err := s2.Peers(context.Background())
		if err != nil || len(peers) != 1 {
			t.Fatalf("peers %+v, %v", peers, err)
		}
		if peers[0].State == "established" {
			t.Fatalf("session with a wrong MD5 password: %+v", peers)
		}
		if peers[0].Advertised != 0 {
			t.Errorf("a session that is down shows %d prefixes advertised", peers[0].Advertised)
		}
		if st := b2.State("vmroute0"); st == "Established" {
			t.Errorf("BIRD established a session with a wrong password")
		}
		t.Logf("wrong password: state %s, why: %s", peers[0].State, peers[0].Why)
	})

	t.Run("TCP MD5, passive: the peer dials in", func(t *testing.T) {
		// Go makes listeners MPTCP by default, and TCP MD5 cannot be set on
		// an MPTCP socket: go.mod's godebug multipathtcp=0 keeps them TCP.
		l := newLab(t, 7)
		b := bird.Start(t, l.peerNS, l.birdConfig(`password "right-secret";`, l.local4))
		cfg := l.config(65000)
		cfg.ListenAddress, cfg.ListenPort = l.local4, 179
		cfg.Neighbors[0].Password, cfg.Neighbors[0].Passive = "right-secret", true
		s := startSpeaker(t, cfg, []plan.Route{route("192.0.2.70/32", plan.Host)})
		waitEstablished(t, s, 30*time.Second)
		b.WaitCount("master4", 1, 5*time.Second)
		// One route sent: no End-of-RIB marker counted.
		if peers, err := s.Peers(context.Background()); err != nil || len(peers) != 1 || peers[0].Advertised != 1 {
			t.Errorf("peers %+v, %v; want 1 prefix advertised", peers, err)
		}
	})

	t.Run("graceful restart keeps the routes", func(t *testing.T) {
		l := newLab(t, 6)
		b := bird.Start(t, l.peerNS, l.birdConfig("", l.local4))
		routes := hostRoutes(50)
		cfg := l.config(65000)
		stop := runSpeakerProcess(t, cfg, routes, false)
		b.WaitCount("master4", 50, 20*time.Second)
		withdraws := b.ProtocolStat("vmroute0", "Import withdraws")

		// A sampler of BIRD's route count through the restart: every
		// sample must read, and there must be samples.
		var least, samples atomic.Int64
		least.Store(50)
		var sampleErr atomic.Value
		done := make(chan struct{})
		watching := make(chan struct{})
		go func() {
			defer close(watching)
			for {
				select {
				case <-done:
					return
				default:
				}
				out, err := exec.Command("birdc", "-s", filepath.Join(b.Dir, "bird.ctl"), "show", "route", "count", "table", "master4").Output()
				var n, m, k int
				read := false
				for _, line := range strings.Split(string(out), "\n") {
					if _, e := fmt.Sscanf(line, "%d of %d routes for %d networks", &n, &m, &k); e == nil {
						read = true
					}
				}
				if err != nil || !read {
					sampleErr.Store(fmt.Sprintf("birdc: %v: %q", err, out))
					return
				}
				samples.Add(1)
				if int64(n) < least.Load() {
					least.Store(int64(n))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		stop() // SIGKILL: the sessions close without a NOTIFICATION
		deadline := time.Now().Add(10 * time.Second)
		for b.State("vmroute0") == "Established" {
			if time.Now().After(deadline) {
				t.Fatal("BIRD did not notice the speaker going away")
			}
			time.Sleep(20 * time.Millisecond)
		}
		runSpeakerProcess(t, cfg, routes, true)
		deadline = time.Now().Add(30 * time.Second)
		for !strings.Contains(b.Log(), "graceful restart done") {
			if time.Now().After(deadline) {
				t.Fatalf("BIRD did not finish the graceful restart; its log:\n%s", b.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(done)
		<-watching
		if !strings.Contains(b.Log(), "Neighbor graceful restart detected") {
			t.Errorf("BIRD saw no graceful restart; its log:\n%s", b.Log())
		}
		if n := b.Count("master4"); n != 50 {
			t.Errorf("BIRD holds %d routes after the restart, want 50", n)
		}
		if e := sampleErr.Load(); e != nil {
			t.Fatalf("sampling BIRD's routes during the restart: %s", e)
		}
		if samples.Load() < 10 {
			t.Fatalf("%d samples of BIRD's routes during the restart, want at least 10", samples.Load())
		}
		t.Logf("%d samples of BIRD's routes during the restart", samples.Load())
		if n := least.Load(); n != 50 {
			t.Errorf("BIRD held only %d routes during the restart, want 50 throughout", n)
		}
		if d := b.ProtocolStat("vmroute0", "Import withdraws") - withdraws; d != 0 {
			t.Errorf("BIRD received %d withdraws during the restart, want 0", d)
		}
	})
}

// TestIntegrationLongLivedGracefulRestart has two speakers, A and B, as
// two sites' routeragents, towards BIRD as the WAN router. A announces
// a subnet and dies without a NOTIFICATION; once its graceful restart
// time has passed, BIRD keeps A's route marked LLGR_STALE, and B's fresh
// route for the same subnet wins at once, though A's router ID is the
// lower (which BIRD prefers between equal routes).
func TestIntegrationLongLivedGracefulRestart(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	l := newLab(t, 9)
	localB := netip.MustParseAddr("10.11.9.3")
	if out, err := exec.Command("ip", "addr", "add", localB.String()+"/24", "dev", "vs9", "nodad").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v: %s", err, out)
	}
	b := bird.Start(t, l.peerNS, l.birdConfig("long lived graceful restart on;", l.local4, localB))
	subnet := route("192.0.2.0/24", plan.Summary)
	cfgA := l.config(65000)
	cfgA.RestartTime, cfgA.LongLivedStaleTime = 2*time.Second, time.Hour
	killA := runSpeakerProcess(t, cfgA, []plan.Route{subnet}, false)
	cfgB := l.config(65000, Neighbor{Address: l.remote4, ASN: 65000, Port: 179, IPv4: true, LocalAddress: localB})
	cfgB.RouterID, cfgB.RestartTime, cfgB.LongLivedStaleTime = localB, 2*time.Second, time.Hour
	sb := startSpeaker(t, cfgB, nil)
	waitEstablished(t, sb, 20*time.Second)
	if peers, err := sb.Peers(context.Background()); err != nil || len(peers) != 1 || !peers[0].LLGR {
		t.Errorf("B's peers %+v, %v; want BIRD's session with long-lived graceful restart", peers, err)
	}
	nextHop := func() (best string, paths int) {
		out, _ := b.Try("show", "route", "for", "192.0.2.0/24", "all") // none yet: no path
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "BGP.next_hop:"); ok {
				if paths == 0 {
					best = strings.TrimSpace(v)
				}
				paths++
			}
		}
		return best, paths
	}
	waitFor(t, 20*time.Second, func() bool { nh, _ := nextHop(); return nh == l.local4.String() })

	killA()
	waitFor(t, 20*time.Second, func() bool {
		return strings.Contains(b.Routes("master4")["192.0.2.0/24"].Attrs["BGP.community"], "(65535,6)")
	})
	stale := time.Now() // A's restart time is over: long-lived stale from here
	if n := b.Count("master4"); n != 1 {
		t.Fatalf("BIRD holds %d routes once A's are LLGR_STALE, want A's subnet kept", n)
	}
	if _, err := sb.Apply(context.Background(), []plan.Route{subnet}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { nh, n := nextHop(); return nh == localB.String() && n == 2 })
	// BIRD lists the best path first: B's, fresh; then A's, LLGR_STALE.
	out := b.Cmd("show", "route", "for", "192.0.2.0/24", "all")
	best, rest, _ := strings.Cut(out[strings.Index(out, "unicast ["):][1:], "unicast [")
	if strings.Contains(best, "(65535,6)") || !strings.Contains(rest, "(65535,6)") {
		t.Errorf("want B's fresh path first and A's LLGR_STALE path second:\n%s", out)
	}
	// A's stale path is kept for the long-lived stale time (an hour), not
	// the restart time: still there two restart times on.
	time.Sleep(time.Until(stale.Add(2*cfgA.RestartTime + time.Second)))
	if _, n := nextHop(); n != 2 {
		t.Errorf("BIRD holds %d paths %s after A's routes went LLGR_STALE, want A's kept beside B's:\n%s",
			n, time.Since(stale).Round(time.Second), b.Cmd("show", "route", "for", "192.0.2.0/24", "all"))
	}
}

// md5Failures returns the segments the kernel of namespace ns dropped for
// a wrong TCP MD5 signature (TcpExt TCPMD5Failure).
func md5Failures(t *testing.T, ns string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/netstat").Output()
	if err != nil {
		t.Fatalf("netstat of %s: %v", ns, err)
	}
	lines := strings.Split(string(out), "\n")
	for i := 0; i+1 < len(lines); i++ {
		keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(keys) == 0 || keys[0] != "TcpExt:" || len(vals) != len(keys) {
			continue
		}
		if j := slices.Index(keys, "TCPMD5Failure"); j > 0 {
			n, _ := strconv.Atoi(vals[j])
			return n
		}
	}
	return 0
}

func checkAttrs(t *testing.T, r bird.Route, want map[string]string) {
	t.Helper()
	if r.Prefix == "" {
		t.Errorf("route missing at BIRD, want %v", want)
		return
	}
	for k, v := range want {
		if got := r.Attrs[k]; !strings.Contains(got, v) {
			t.Errorf("%s %s = %q, want %q", r.Prefix, k, got, v)
		}
	}
}

// runSpeakerProcess runs a speaker in a child process (this test binary,
// TestHelperSpeakerProcess) and returns a function that kills it with
// SIGKILL, so that its sessions end without a NOTIFICATION.
func runSpeakerProcess(t *testing.T, cfg Config, routes []plan.Route, restarting bool) (kill func()) {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(helperInput{Config: cfg, Routes: routes, Restarting: restarting})
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "input.json")
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSpeakerProcess$")
	cmd.Env = append(os.Environ(), "VMROUTE_SPEAKER_HELPER="+in)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill = func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(kill)
	return kill
}

type helperInput struct {
	Config     Config
	Routes     []plan.Route
	Restarting bool
}

// TestHelperSpeakerProcess is the child of runSpeakerProcess; it does
// nothing in a normal test run.
func TestHelperSpeakerProcess(t *testing.T) {
	path := os.Getenv("VMROUTE_SPEAKER_HELPER")
	if path == "" {
		t.Skip("helper process for the graceful restart test")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var in helperInput
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	s := New(in.Config, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := s.Start(context.Background(), in.Routes, in.Restarting); err != nil {
		t.Fatal(err)
	}
	select {}
}

// TestIntegrationGoBGPPeer runs the scenario against Debian's gobgpd as
// the site's edge router, over eBGP and over iBGP.
func TestIntegrationGoBGPPeer(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	netns.Need(t, "gobgpd", "gobgp")
	for i, tc := range []struct {
		name   string
		peerAS uint32
		asPath []float64
	}{{"eBGP", 65000, []float64{65001}}, {"iBGP", 65001, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, 20+i)
			dir := t.TempDir()
			conf := fmt.Sprintf(`[global.config]
  as = %d
  router-id = "%s"
  local-address-list = ["%s", "%s"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "%s"
    peer-as = 65001
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`, tc.peerAS, l.remote4, l.remote4, l.remote6, l.local4)
			if err := os.WriteFile(filepath.Join(dir, "gobgpd.toml"), []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			netns.Start(t, l.peerNS, dir, "gobgpd", "-f", filepath.Join(dir, "gobgpd.toml"), "-p", "--pprof-disable",
				"--api-hosts", "127.0.0.1:50051", "gobgpd")
			s := startSpeaker(t, l.config(tc.peerAS), []plan.Route{route("192.0.2.10/32", plan.Host), route("2001:db8:100::10/128", plan.Host)})
			waitEstablished(t, s, 30*time.Second)
			rib := func(fam string) map[string][]gobgpPath {
				out, err := exec.Command("ip", "netns", "exec", l.peerNS, "gobgp", "-p", "50051", "global", "rib", "-a", fam, "-j").Output()
				if err != nil {
					t.Fatalf("gobgp global rib: %v", err)
				}
				var r map[string][]gobgpPath
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatalf("gobgp rib %s: %v", out, err)
				}
				return r
			}
			waitFor(t, 10*time.Second, func() bool { return len(rib("ipv4")) == 1 && len(rib("ipv6")) == 1 })
			p4, p6 := rib("ipv4")["192.0.2.10/32"], rib("ipv6")["2001:db8:100::10/128"]
			if len(p4) != 1 || len(p6) != 1 {
				t.Fatalf("gobgpd holds %v and %v", p4, p6)
			}
			if got := p4[0].asPath(); fmt.Sprint(got) != fmt.Sprint(tc.asPath) {
				t.Errorf("AS path %v, want %v", got, tc.asPath)
			}
			if got := p4[0].attr(3)["nexthop"]; got != l.local4.String() {
				t.Errorf("IPv4 next hop %v, want %s", got, l.local4)
			}
			if got := p6[0].attr(14)["nexthop"]; got != l.local6.String() {
				t.Errorf("IPv6 next hop %v, want %s", got, l.local6)
			}
			if got := fmt.Sprint(p4[0].attr(8)["communities"]); got != fmt.Sprint([]float64{float64(attrs.NoExport), 65001<<16 | 100}) {
				t.Errorf("communities %v", got)
			}
			if _, err := s.Apply(context.Background(), []plan.Route{route("192.0.2.0/24", plan.Summary)}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, func() bool {
				r4 := rib("ipv4")
				return len(r4) == 1 && len(r4["192.0.2.0/24"]) == 1 && len(rib("ipv6")) == 0
			})
		})
	}
}

// gobgpPath is a path as `gobgp global rib -j` prints it.
type gobgpPath struct {
	Attrs []map[string]any `json:"attrs"`
}

func (p gobgpPath) attr(typ float64) map[string]any {
	for _, a := range p.Attrs {
		if a["type"] == typ {
			return a
		}
	}
	return map[string]any{}
}

func (p gobgpPath) asPath() []float64 {
	var out []float64
	segs, _ := p.attr(2)["as_paths"].([]any)
	for _, s := range segs {
		seg, _ := s.(map[string]any)
		asns, _ := seg["asns"].([]any)
		for _, a := range asns {
			out = append(out, a.(float64))
		}
	}
	return out
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
