//go:build linux

package bgp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/vmroute/vmroute/routeragent/bgp/attrs"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/tests/bird"
	"github.com/vmroute/vmroute/tests/netns"
)

const benchRoutes = 10_000

// benchPrefixes are 10,000 /32s, BGP data inside the test's namespaces.
func benchPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, benchRoutes)
	for i := range out {
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)}), 32)
	}
	return out
}

// BenchmarkBGPConvergence10k announces 10,000 host routes to BIRD and
// withdraws them, three ways in the same run: through the speaker's
// Apply, through a bare loop of GoBGP AddPath/DeletePath calls, and by
// BIRD's own static protocol. Each is timed from the first call until
// BIRD holds all of them, then none, polling `birdc` every 2 ms: the
// static baseline, which BIRD does in a few milliseconds, is mostly that
// polling's cost, a floor for what can be measured this way rather than
// BIRD's own speed.
func BenchmarkBGPConvergence10k(b *testing.B) {
	if !netns.Enter(b) {
		return
	}
	l := newLab(b, 30)
	netns.Run(b, "ip", "addr", "add", "10.11.30.3/24", "dev", "vs30")
	var static strings.Builder
	for _, p := range benchPrefixes() {
		fmt.Fprintf(&static, "\troute %s blackhole;\n", p)
	}
	conf := l.birdConfig("", l.local4) + fmt.Sprintf(`ipv4 table bare4;
ipv4 table static4;
protocol bgp bare {
	local %s as 65000;
	neighbor 10.11.30.3 as 65001;
	ipv4 { table bare4; import all; export none; };
}
protocol static st {
	disabled;
	ipv4 { table static4; };
%s}
`, l.remote4, static.String())
	br := bird.Start(b, l.peerNS, conf)
	ctx := context.Background()
	cfg := l.config(65000)
	cfg.HostCommunities = attrs.Communities{}
	s := startSpeaker(b, cfg, nil)
	bare := server.NewBgpServer(server.LoggerOption(newGobgpLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	go bare.Serve()
	if err := bare.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: 65001, RouterId: "10.11.30.3", ListenPort: -1}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bare.StopBgp(ctx, &api.StopBgpRequest{}); bare.Stop() })
	if err := bare.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: l.remote4.String(), PeerAsn: 65000},
		Transport: &api.Transport{LocalAddress: "10.11.30.3"},
		Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 5}},
	}}); err != nil {
		b.Fatal(err)
	}
	waitEstablished(b, s, 30*time.Second)
	for deadline := time.Now().Add(30 * time.Second); br.State("bare") != "Established"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("BIRD's session to the bare GoBGP not established within 30s:\n%s", br.Cmd("show", "protocols", "all", "bare"))
		}
	}
	ctl := filepath.Join(br.Dir, "bird.ctl")
	prefixes := benchPrefixes()
	routes := make([]plan.Route, len(prefixes))
	for i, p := range prefixes {
		routes[i] = plan.Route{Prefix: p, Kind: plan.Host}
	}
	var speakerAll, speakerNone, bareAll, bareNone, staticAll, staticNone time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := s.Apply(ctx, routes); err != nil {
			b.Fatal(err)
		}
		speakerAll += waitTable(b, ctl, "master4", benchRoutes, start)
		start = time.Now()
		if _, err := s.Apply(ctx, nil); err != nil {
			b.Fatal(err)
		}
		speakerNone += waitTable(b, ctl, "master4", 0, start)

		start = time.Now()
		for _, p := range prefixes {
			if _, err := bare.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: s.path(p, plan.Host)}); err != nil {
				b.Fatal(err)
			}
		}
		bareAll += waitTable(b, ctl, "bare4", benchRoutes, start)
		start = time.Now()
		for _, p := range prefixes {
			if err := bare.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: attrs.Family(p), Path: s.path(p, plan.Host)}); err != nil {
				b.Fatal(err)
			}
		}
		bareNone += waitTable(b, ctl, "bare4", 0, start)

		start = time.Now()
		br.Cmd("enable", "st")
		staticAll += waitTable(b, ctl, "static4", benchRoutes, start)
		start = time.Now()
		br.Cmd("disable", "st")
		staticNone += waitTable(b, ctl, "static4", 0, start)
	}
	n := float64(b.N)
	b.ReportMetric(speakerAll.Seconds()/n, "speaker-s-all")
	b.ReportMetric(speakerNone.Seconds()/n, "speaker-s-none")
	b.ReportMetric(bareAll.Seconds()/n, "bare-s-all")
	b.ReportMetric(bareNone.Seconds()/n, "bare-s-none")
	b.ReportMetric(staticAll.Seconds()/n, "static-s-all")
	b.ReportMetric(staticNone.Seconds()/n, "static-s-none")
	b.ReportMetric(speakerAll.Seconds()/bareAll.Seconds(), "ratio-all")
	b.ReportMetric(speakerNone.Seconds()/bareNone.Seconds(), "ratio-none")
}

// BenchmarkEvacuationUpdates counts the UPDATE messages an evacuation of
// 2,000 dual-stack VMs costs on one session to BIRD: their 4,000 host
// routes announced by one Apply, withdrawn by one Apply, and the same
// routes sent as a table dump (a soft reset out, as at session start).
func BenchmarkEvacuationUpdates(b *testing.B) {
	if !netns.Enter(b) {
		return
	}
	l := newLab(b, 31)
	br := bird.Start(b, l.peerNS, l.birdConfig("", l.local4))
	s := startSpeaker(b, l.config(65000), nil)
	waitEstablished(b, s, 30*time.Second)
	ctx := context.Background()
	var routes []plan.Route
	for i := range 2000 {
		routes = append(routes,
			plan.Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 201, byte(i >> 8), byte(i)}), 32), Kind: plan.Host},
			plan.Route{Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x02, 0x01, 14: byte(i >> 8), 15: byte(i)}), 128), Kind: plan.Host})
	}
	var announce, withdraw, dump uint64
	for b.Loop() {
		before := updatesSent(b, s)
		if _, err := s.Apply(ctx, routes); err != nil {
			b.Fatal(err)
		}
		br.WaitCount("master4", 2000, time.Minute)
		br.WaitCount("master6", 2000, time.Minute)
		announce += updatesSent(b, s) - before

		before = updatesSent(b, s)
		if err := s.srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: l.remote4.String(), Soft: true, Direction: api.ResetPeerRequest_OUT}); err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(time.Minute); updatesSent(b, s) == before; {
			if time.Now().After(deadline) {
				b.Fatal("no UPDATE a minute after a soft reset out")
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Second) // the dump's last messages
		dump += updatesSent(b, s) - before

		before = updatesSent(b, s)
		if _, err := s.Apply(ctx, nil); err != nil {
			b.Fatal(err)
		}
		br.WaitCount("master4", 0, time.Minute)
		br.WaitCount("master6", 0, time.Minute)
		withdraw += updatesSent(b, s) - before
	}
	n := float64(b.N) * float64(len(routes))
	b.ReportMetric(float64(announce)/n, "msgs/prefix-announce")
	b.ReportMetric(float64(withdraw)/n, "msgs/prefix-withdraw")
	b.ReportMetric(float64(dump)/n, "msgs/prefix-dump")
}

// waitTable polls BIRD until table holds n routes and returns the time
// since start.
func waitTable(b *testing.B, ctl, table string, n int, start time.Time) time.Duration {
	b.Helper()
	want := fmt.Sprintf("%d of %d routes", n, n)
	for {
		out, err := exec.Command("birdc", "-s", ctl, "show", "route", "count", "table", table).Output()
		if err != nil {
			b.Fatal(err)
		}
		if strings.Contains(string(out), want) {
			return time.Since(start)
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("BIRD %s: %s after a minute, want %d routes", table, out, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
