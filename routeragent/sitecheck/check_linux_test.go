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
	site := liveness.Site{Name: "B", API: api.URL, Peers: []string{"example.com"}, Probes: []liveness.Probe{
		{Addr: netip.MustParseAddr("10.30.0.2"), Interface: "lan0"},
		{Addr: netip.MustParseAddr("2001:db8:30::2"), Interface: "lan0"},
	}}
	c := &Checker{Interval: time.Second, Client: api.Client()}
	check := func(p liveness.Probe) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return resolve(ctx, p)
	}
	// The link-local address that ND sends from is usable once its
	// duplicate address detection ends.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := check(site.Probes[1]); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("ND of %s: %v", site.Probes[1].Addr, err)
		}
	}
	if err := check(site.Probes[0]); err != nil {
		t.Errorf("ARP of %s: %v", site.Probes[0].Addr, err)
	}
	if err := check(liveness.Probe{Addr: netip.MustParseAddr("10.30.0.9"), Interface: "lan0"}); err == nil {
		t.Error("ARP of an address nobody holds succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	a, err := c.ask(ctx, site)
	cancel()
	if err != nil || !a.Current || len(a.Summaries) != 1 {
		t.Errorf("API answer %+v, %v", a, err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	_, err = c.ask(ctx, liveness.Site{Name: "C", API: api.URL, Peers: []string{"example.com"}})
	cancel()
	if err == nil || !strings.Contains(err.Error(), `answers as site "B", not "C"`) {
		t.Errorf("a site answering with another name: %v", err)
	}

	// The checker's own loop, then the link cut: the probe path fails.
	results := make(chan liveness.Result, 100)
	rctx, stop := context.WithCancel(context.Background())
	defer stop()
	c.Sites = []liveness.Site{site}
	go c.Run(rctx, func(r liveness.Result) { results <- r })
	seen := map[liveness.Path]bool{}
	for len(seen) < 2 {
		r := <-results
		if !r.OK {
			t.Fatalf("check %v failed: %s", r.Path, r.Err)
		}
		seen[r.Path] = true
	}
	netns.Run(t, "ip", "-n", peer, "link", "set", "lan0", "down")
	for deadline := time.Now().Add(10 * time.Second); ; {
		r := <-results
		if r.Path == liveness.PathProbe && !r.OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the probe path still answers 10s after the link went down")
		}
	}
}
