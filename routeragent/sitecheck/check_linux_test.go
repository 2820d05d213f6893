package sitecheck

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/tests/netns"

	"github.com/vmroute/vmroute/routeragent/liveness"
)

// TestCheckerPaths runs both checks against a peer namespace standing for
// the other site's router: ARP and ND of its addresses on the link, and
// its API. Then the link goes down and the probe fails.
func TestCheckerPaths(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	peer := netns.Peer(t, "b", "lan0", []string{"10.30.0.1/24", "2001:db8:30::1/64"}, "lan0", []string{"10.30.0.2/24", "2001:db8:30::2/64"})
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != liveness.SitePath {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(liveness.Answer{Site: "B", Summaries: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Current: true})
	}))
	defer api.Close()
	rt := liveness.Router{API: api.URL, Probes: []liveness.Probe{
		{Addr: netip.MustParseAddr("10.30.0.2"), Interface: "lan0"},
		{Addr: netip.MustParseAddr("2001:db8:30::2"), Interface: "lan0"},
	}}
	// The first-listed router of site B is dead: its API refuses, its
	// address is nobody's.
	dead := liveness.Router{API: "https://127.0.0.1:1", Probes: []liveness.Probe{{Addr: netip.MustParseAddr("10.30.0.9"), Interface: "lan0"}}}
	site := liveness.Site{Name: "B", Peers: []string{"example.com"}, Routers: []liveness.Router{dead, rt}}
	c := &Checker{Interval: time.Second, Client: api.Client()}
	check := func(p liveness.Probe) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return resolve(ctx, p)
	}
	// The link-local address that ND sends from is usable once its
	// duplicate address detection ends.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := check(rt.Probes[1]); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("ND of %s: %v", rt.Probes[1].Addr, err)
		}
	}
	if err := check(rt.Probes[0]); err != nil {
		t.Errorf("ARP of %s: %v", rt.Probes[0].Addr, err)
	}
	if err := check(liveness.Probe{Addr: netip.MustParseAddr("10.30.0.9"), Interface: "lan0"}); err == nil {
		t.Error("ARP of an address nobody holds succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	a, err := c.ask(ctx, site, rt)
	cancel()
	if err != nil || !a.Current || len(a.Summaries) != 1 {
		t.Errorf("API answer %+v, %v", a, err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	_, err = c.ask(ctx, liveness.Site{Name: "C", Peers: []string{"example.com"}}, rt)
	cancel()
	if err == nil || !strings.Contains(err.Error(), `answers as site "B", not "C"`) {
		t.Errorf("a site answering with another name: %v", err)
	}

	// A router's silent IPv4 address takes no time from its IPv6 one: the
	// probe answers at the first address that does, well within the
	// interval.
	silentFirst := liveness.Router{Probes: []liveness.Probe{{Addr: netip.MustParseAddr("10.30.0.9"), Interface: "lan0"}, rt.Probes[1]}}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	start := time.Now()
	err = probe(ctx, silentFirst)
	cancel()
	if err != nil || time.Since(start) > time.Second {
		t.Errorf("a router whose first address is silent: %v after %s, want its second address's answer at once", err, time.Since(start).Round(time.Millisecond))
	}

	// The checker's own loop, then the link cut: the probe path fails.
	results := make(chan liveness.Result, 100)
	rctx, stop := context.WithCancel(context.Background())
	defer stop()
	c.Sites = []liveness.Site{site}
	go c.Run(rctx, func(r liveness.Result) { results <- r })
	// Each router is checked on its own: the dead one fails both paths,
	// the live one answers both.
	seen := map[string]bool{}
	for len(seen) < 4 {
		r := <-results
		if r.OK != (r.Router == rt.API) {
			t.Fatalf("router %s, %v: ok %v (%s); want only %s to answer", r.Router, r.Path, r.OK, r.Err, rt.API)
		}
		seen[r.Router+" "+r.Path.String()] = true
	}
	netns.Run(t, "ip", "-n", peer, "link", "set", "lan0", "down")
	for deadline := time.Now().Add(10 * time.Second); ; {
		r := <-results
		if r.Router == rt.API && r.Path == liveness.PathProbe && !r.OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the probe path still answers 10s after the link went down")
		}
	}
}
