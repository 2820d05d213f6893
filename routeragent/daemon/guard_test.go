package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/bgp"
	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
)

func TestReportsAreAuthorizedBeforeTheirBodyIsRead(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	// A body that never comes: only an answer before reading it returns.
	body, never := io.Pipe()
	defer never.Close()
	req, _ := http.NewRequest(http.MethodPost, "https://"+d.apiAddr+wire.ReportsPath, body)
	req.Header.Set(wire.ClusterHeader, "cl-a")
	resp, err := e.client(t, "hostagent-b").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("another cluster's report: %d, want 403 before its body", resp.StatusCode)
	}
	tests := []struct {
		name, header, body string
		code               int
		msg                string
	}{
		{"no cluster header", "", report("cl-b", "B", 5, "192.0.2.50"), http.StatusBadRequest, "header Vmroute-Cluster missing"},
		{"a body for another cluster than the header's", "cl-b", strings.Replace(report("cl-b", "B", 5, "192.0.2.50"), `"cl-b"`, `"cl-a"`, 1),
			http.StatusBadRequest, `the report is for cluster "cl-a", its Vmroute-Cluster header names "cl-b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, p := postAs(t, e.client(t, "hostagent-b"), d, tt.header, tt.body); code != tt.code || !strings.Contains(p.Error, tt.msg) {
				t.Errorf("got %d %q, want %d %q", code, p.Error, tt.code, tt.msg)
			}
		})
	}
}

func TestStatusOverTheAPIIsForOperators(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	for _, tt := range []struct {
		client string
		code   int
	}{{"operator", http.StatusOK}, {"hostagent-b", http.StatusForbidden}} {
		resp, err := e.client(t, tt.client).Get("https://" + d.apiAddr + "/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		var p wire.Problem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s reads status: %d %q, want %d", tt.client, resp.StatusCode, p.Error, tt.code)
		}
	}
}

func TestOneCertificateHoldsFewConnections(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	// Trickling clients with one certificate: each holds a connection
	// while its body does not come. The ones past the cap are closed.
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	var writers []*io.PipeWriter
	for i := range apiLimits.perClient + 3 {
		body, w := io.Pipe()
		writers = append(writers, w)
		c := e.client(t, "hostagent-b")
		c.Timeout = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, "https://"+d.apiAddr+wire.ReportsPath, body)
			req.Header.Set(wire.ClusterHeader, "cl-b")
			resp, err := c.Do(req)
			if err != nil {
				mu.Lock()
				refused++
				mu.Unlock()
				return
			}
			resp.Body.Close()
		}()
		_, _ = w.Write([]byte(fmt.Sprintf(`{"cluster": "cl-b", "generation": %d`, i+1)))
	}
	for deadline := time.Now().Add(5 * time.Second); d.conns.Refused.Load() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections refused, want 3", d.conns.Refused.Load())
		}
	}
	for _, w := range writers {
		w.CloseWithError(io.ErrUnexpectedEOF)
	}
	wg.Wait()
	if refused < 3 {
		t.Errorf("%d clients saw their connection closed, want 3", refused)
	}
	// The well-behaved client still gets through.
	if code, p := post(t, e.client(t, "hostagent-a"), d, report("cl-a", "A", 1, "192.0.2.40")); code != http.StatusOK {
		t.Errorf("another client: %d %s", code, p.Error)
	}
}

func TestHandshakeFailuresAreCountedNotFlooded(t *testing.T) {
	var out strings.Builder
	h := &handshakeLog{log: slog.New(slog.NewTextHandler(&out, nil)), interval: time.Hour}
	for i := range 1000 {
		fmt.Fprintf(h, "http: TLS handshake error from 192.0.2.9:%d: remote error: tls: bad certificate\n", 40000+i)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 || h.Failures.Load() != 1000 {
		t.Errorf("%d log lines and %d failures counted for 1000 failed handshakes, want 1 and 1000:\n%s", n, h.Failures.Load(), out.String())
	}
}

func TestBudget(t *testing.T) {
	b := newBudget(10)
	ctx := context.Background()
	if !b.take(ctx, 8, time.Second) || b.take(ctx, 4, 20*time.Millisecond) {
		t.Fatal("the budget gave more than it has")
	}
	done := make(chan bool)
	go func() { done <- b.take(ctx, 4, 5*time.Second) }()
	b.give(8)
	if !<-done {
		t.Error("a take waiting for what was given back failed")
	}
	b.give(4)
	if !b.take(ctx, 100, time.Second) {
		t.Error("a take larger than the budget failed; it takes all of it")
	}
}

func TestLocalChecks(t *testing.T) {
	cfg := &config.Config{}
	cfg.Plan.Subnets = []plan.Subnet{
		{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Interface: "lo", Gateways: []netip.Addr{netip.MustParseAddr("127.0.0.1")}},
		{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Interface: "bond0.200", Gateways: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Interface: "lo", Gateways: []netip.Addr{netip.MustParseAddr("198.51.100.1")}},
	}
	cfg.BGP.NextHop4, cfg.BGP.NextHop6 = netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("2001:db8:ffff::1")
	want := []string{
		"bgp.next_hop_ipv6: 2001:db8:ffff::1 is not an address of this router: peers mark the routes inaccessible",
		"subnets[1].interface: bond0.200 does not exist on this machine: no gateway announcement for 192.0.2.0/24 goes out",
		"subnets[2].gateways[0]: 198.51.100.1 is on no interface of this machine (a VRRP backup's gateway is not): announcements for it wait",
	}
	if got := Msgs(LocalChecks(cfg)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("LocalChecks:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPreflight(t *testing.T) {
	e := newEnv(t, "")
	cfg, err := config.Load(e.confPath)
	if err != nil {
		t.Fatal(err)
	}
	// A neighbor that answers on TCP, one that does not, and a passive one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	cfg.BGP.Neighbors = []bgp.Neighbor{
		{Address: netip.MustParseAddr("127.0.0.1"), Port: port},
		{Address: netip.MustParseAddr("127.0.0.2"), Port: deadPort},
		{Address: netip.MustParseAddr("127.0.0.3"), Port: 179, Passive: true},
	}
	lines, failed := Preflight(context.Background(), cfg)
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"OK   report API certificate",
		fmt.Sprintf("OK   BGP neighbor 127.0.0.1: answers on TCP %d", port),
		fmt.Sprintf("FAIL BGP neighbor 127.0.0.2: does not answer on TCP %d", deadPort),
		"OK   BGP neighbor 127.0.0.3: passive, it calls this router",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("preflight lacks %q:\n%s", want, got)
		}
	}
	if !failed {
		t.Errorf("a neighbor that does not answer is no failure:\n%s", got)
	}
}
