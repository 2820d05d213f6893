package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/hostagent/agent"
	"github.com/vmroute/vmroute/hostagent/report"
	"github.com/vmroute/vmroute/hostagent/vcenter"
	"github.com/vmroute/vmroute/routeragent/announce"
	"github.com/vmroute/vmroute/routeragent/bgp"
	"github.com/vmroute/vmroute/routeragent/daemon"
	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
)

// TestTables feeds each command the daemon's own status types, encoded as
// the daemon encodes them, and checks the table.
func TestTables(t *testing.T) {
	now := time.Now()
	mac, _ := wire.ParseMAC("00:50:56:00:00:01")
	docs := map[string]any{
		"status": daemon.Status{Site: "A", Version: "1.0", Routes: map[string]int{"host": 2, "summary": 1},
			Clusters:     []daemon.ClusterStatus{{Name: "cl-b", Sites: []string{"B", "C"}, Generation: 7, Received: now, Stale: true, VMs: 3}},
			Peers:        []bgp.PeerStatus{{Address: netip.MustParseAddr("198.51.100.254"), State: "established"}},
			Sites:        []liveness.Status{{Site: "B", State: liveness.Partitioned, Since: now, Failing: []string{"probe failing: timeout"}}},
			ClockRefused: []daemon.ClockRefusal{{Cluster: "cl-c", At: now, Error: "vms[0] (v9).landed_at: 1h ahead"}}},
		"vms": []daemon.VM{{Location: plan.Location{VM: "v1", Name: "web-1", Site: "B", Cluster: "cl-b", Present: true, LandedAt: now,
			NICs: []wire.NIC{{MAC: mac, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.10")}}}}, Discovered: true}},
		"routes": daemon.Routes{Desired: []plan.Route{{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Kind: plan.Host, Site: "B"}},
			AllSites: []plan.Route{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Kind: plan.Summary, Site: "A"}}},
		"peers": []bgp.PeerStatus{{Address: netip.MustParseAddr("198.51.100.254"), ASN: 65000, State: "active", Why: "TCP MD5 is on", LLGR: true}},
		"moves": []daemon.Move{{VM: "v1", Name: "web-1", Site: "B", LandedAt: now, Received: now.Add(30 * time.Millisecond),
			Planned: now.Add(80 * time.Millisecond), Announced: []time.Time{now.Add(81 * time.Millisecond)}},
			{Site: "B", Event: "site B: alive -> lost (api failing; probe failing)", Planned: now}},
		"announcements": []announce.Status{{VM: "v1", Name: "web-1", Subnet: netip.MustParsePrefix("192.0.2.0/24"), Interface: "br0", MAC: mac, Sent: 3, Problem: "gateway missing"}},
	}
	want := map[string][]string{
		"status": {"site A, version 1.0", "2 host, 1 summary", "cl-b", "STALE", "198.51.100.254  established", "B     partitioned", "probe failing: timeout",
			"cluster cl-c: reports refused for the clock: vms[0] (v9).landed_at: 1h ahead"},
		"vms":           {"web-1", "present, addresses discovered", "00:50:56:00:00:01", "192.0.2.10"},
		"routes":        {"192.0.2.10/32", "no (pending or dry run)", "A     192.0.2.0/24  summary"},
		"peers":         {"198.51.100.254", "65000", "active", "yes", "TCP MD5 is on"},
		"moves":         {"web-1", "+30ms", "+80ms", "+81ms", "site B: alive -> lost (api failing; probe failing)"},
		"announcements": {"web-1", "br0", "gateway missing"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(docs[strings.TrimPrefix(r.URL.Path, "/v1/")])
	}))
	defer srv.Close()
	for cmd, lines := range want {
		var out bytes.Buffer
		if err := run(cmd, srv.URL, "", "", "", false, &out); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		for _, l := range lines {
			if !strings.Contains(out.String(), l) {
				t.Errorf("%s: output lacks %q:\n%s", cmd, l, out.String())
			}
		}
	}
	if err := run("bogus", srv.URL, "", "", "", false, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), `unknown command "bogus"`) {
		t.Errorf("bogus command: %v", err)
	}
	if err := run("status", "https://127.0.0.1:1", "", "", "", false, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "needs -cert") {
		t.Errorf("https without certificates: %v", err)
	}
}

func TestFlagsAfterTheCommand(t *testing.T) {
	for _, args := range [][]string{{"peers", "--json"}, {"-json", "peers"}, {"peers", "-json", "-url", "http://127.0.0.1:1"}} {
		o, cmd, err := parse(args, io.Discard)
		if err != nil || cmd != "peers" || !o.json {
			t.Errorf("parse(%q) = %+v, %q, %v; want peers with -json", args, o, cmd, err)
		}
	}
	if _, _, err := parse([]string{"peers", "vms"}, io.Discard); err == nil {
		t.Error("two commands accepted")
	}
}

// TestHostagentStatus shows a hostagent's status, encoded as the
// hostagent encodes it: its vCenter connection and last error, and each
// routeragent's reports.
func TestHostagentStatus(t *testing.T) {
	now := time.Now()
	st := agent.Status{VCenter: vcenter.Status{URL: "https://vc.example.net/sdk", LastError: "login: Login failure", VMs: 0,
		LoginsRefused: 2, RetryAt: now.Add(5 * time.Minute)},
		Routeragents: []report.Stats{{URL: "https://router-a1.example.net:8443", Sent: 4, Full: 1, LastSent: now, InSync: true},
			{URL: "https://router-b1.example.net:8443", Failed: 2, LastError: "connection refused"}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(st) }))
	defer srv.Close()
	var out bytes.Buffer
	if err := run("status", srv.URL, "", "", "", false, &out); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"vCenter https://vc.example.net/sdk NOT connected, 0 VMs watched", "vCenter's last error: login: Login failure",
		"vCenter refused the login 2 times", "next login at ",
		"https://router-a1.example.net:8443  true ", "https://router-b1.example.net:8443  false", "connection refused"} {
		if !strings.Contains(out.String(), l) {
			t.Errorf("output lacks %q:\n%s", l, out.String())
		}
	}
}
