package daemon

import (
	"crypto/tls"
	"encoding/json"
	"github.com/vmroute/vmroute/routeragent/bgp"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/routeragent/plan"
)

// Catches the planner told less than the liveness checks found: a
// returning site must own nothing, a lost one is lost since its loss, a
// silent one's last answer is kept.
func TestPlanLivenessCarriesEveryState(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s24 := netip.MustParsePrefix("192.0.2.0/24")
	got := planLiveness(plan.Liveness{Current: true}, []liveness.Status{
		{Site: "B", State: liveness.Returning, LostAt: t0, Heard: t0.Add(time.Second), Answer: &liveness.Answer{Site: "B"}},
		{Site: "C", State: liveness.Lost, LostAt: t0, APIFailing: true, ProbeFailing: true, Heard: t0.Add(-time.Second),
			Answer: &liveness.Answer{Site: "C", Summaries: []netip.Prefix{s24}}},
		{Site: "D", State: liveness.Partitioned, APIFailing: true, Heard: t0},
	})
	want := map[string]plan.SiteState{
		"B": {Returning: true, Heard: t0.Add(time.Second)},
		"C": {Lost: t0, Silent: true, Heard: t0.Add(-time.Second), Summaries: []netip.Prefix{s24}},
		"D": {Silent: true, Heard: t0},
	}
	for name, w := range want {
		g := got.Sites[name]
		if g.Returning != w.Returning || !g.Lost.Equal(w.Lost) || g.Silent != w.Silent || !g.Heard.Equal(w.Heard) || len(g.Summaries) != len(w.Summaries) {
			t.Errorf("site %s: %+v, want %+v", name, g, w)
		}
	}
	if !got.Current {
		t.Error("Current dropped")
	}
}

// TestDaemonChecksTheOtherSites runs a daemon with a liveness site: its
// routeragent (a fake with site B's certificate) answers, its router's
// probe does not (no such interface here). B is shown partitioned, the
// API path up and the probe path down, with what B said it announces.
func TestDaemonChecksTheOtherSites(t *testing.T) {
	e := newEnv(t, "")
	peer := e.peerRouteragent(t, "router-b", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(liveness.Answer{Site: "B", Summaries: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}, Current: true})
	})
	e.edit(t, func(c string) string {
		return c + `
[[subnets]]
prefix = "203.0.113.0/24"
home = "A"
interface = "vmroute-none0"
[liveness]
site_loss_after = "1s"
interval = "200ms"
[[liveness.sites]]
name = "B"
api = "` + peer.URL + `"
peers = ["router-b"]
probe = ["203.0.113.3"]
`
	})
	d := e.start(t)
	var st Status
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		get(t, d, "/v1/status", &st)
		if len(st.Sites) == 1 && st.Sites[0].State == liveness.Partitioned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sites %+v, want B partitioned", st.Sites)
		}
	}
	b := st.Sites[0]
	if b.Site != "B" || b.APIFailing || !b.ProbeFailing || b.Answer == nil || len(b.Answer.Summaries) != 1 {
		t.Errorf("site B %+v: want the API up with its answer, the probe down", b)
	}
	var a liveness.Answer
	get(t, d, liveness.SitePath, &a)
	if a.Site != "A" || a.Current {
		t.Errorf("this site's answer %+v: want site A, not current (no cluster reported)", a)
	}
}

// peerRouteragent serves another routeragent's API on loopback with a
// certificate of the env's CA named name, answering with h, until the
// test ends.
func (e *testEnv) peerRouteragent(t *testing.T, name string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	cert, key := e.ca.Issue(t, name, net.ParseIP("127.0.0.1"))
	kp, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{kp}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// Catches sessions that are not up counted as lacking long-lived
// graceful restart: after a restart, while the sessions came back, a
// takeover under way from a silent site got its halves, and lost them a
// second later, two withdraws at each WAN router (issue 24).
func TestAllLLGRCountsEstablishedSessionsOnly(t *testing.T) {
	tests := []struct {
		name  string
		peers []bgp.PeerStatus
		want  bool
	}{
		{"no session", nil, true},
		{"coming up", []bgp.PeerStatus{{State: "active"}, {State: "opensent"}}, true},
		{"one up with LLGR, one coming up", []bgp.PeerStatus{{State: "established", LLGR: true}, {State: "idle"}}, true},
		{"one up without", []bgp.PeerStatus{{State: "established", LLGR: true}, {State: "established"}}, false},
	}
	for _, tt := range tests {
		if got := allLLGR(tt.peers); got != tt.want {
			t.Errorf("%s: allLLGR %t, want %t", tt.name, got, tt.want)
		}
	}
}
