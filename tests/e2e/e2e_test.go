//go:build linux

// Package e2e runs vmroute end to end: the lab (cmd/vmroute-lab) with
// vcsim, two site routers running the routeragent, a WAN router running
// BIRD, a client and a VM in network namespaces.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIntegrationLab runs the lab in both layouts, and fails unless
// every scenario's narration appears: the lab itself asserts, after each
// scenario, BIRD's table, the VM's neighbor cache and the client's path
// (ping -R), and fails otherwise. Afterwards no namespace of it may
// remain.
//
// Stretched (make demo's story), one cluster over both sites split by DRS
// host groups: 1, web-1 moves A to B by vMotion inside the cluster (its
// gateway entry and its /32 follow, the summary stays, and the client's
// path moves from A to B while the round trip loses the interconnect's
// two 20 ms crossings); 2, DRS moves it between B's hosts and nothing is
// sent; 3, site A's hosts enter maintenance mode (the summary moves, the
// host route goes); 4, web-1 returns and the summary stays with the
// majority at B; 5, site A is lost while vCenter survives and HA restarts
// its VMs on B's hosts.
//
// Per site, a cluster per site: 1 as above; 2, the rest of the subnet
// follows; 4, a routeragent is killed and restarted (BIRD withdraws
// nothing); 5, a hostagent is killed (routes stay) and restarted (it
// resyncs); 6, a VM with an address in no configured subnet lands
// (nothing is announced, status lists it); 3, web-1 returns (the summary
// goes home to A, web-2 keeps a /32 at B); 7, site A is lost and its VMs
// are restarted at B (the subnet ends via B alone).
func TestIntegrationLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, c := range []string{"bird", "birdc", "ping", "arping", "vtysh", "/usr/lib/frr/bgpd"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is not installed: run tests/install-deps.sh as root", c)
		}
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../../cmd/vmroute-lab", "../../cmd/vmroute-routeragent", "../../cmd/vmroute-hostagent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	firstMove := []string{
		"its traffic still trombones: the client reaches it in",
		"the interconnect's two crossings (20ms each) are gone",
		"web-1's gateway entry holds site B's router MAC",
		"the WAN router holds 10.50.0.10/32 via site B",
		"the summary stays with site A",
		"BIRD routes web-1 via site A, its gateway entry is site A's router, the client reaches it in",
		"BIRD routes web-1 via site B, its gateway entry is site B's router, the client reaches it in",
	}
	stretched := append(firstMove,
		"hosts H0 and H1 in DRS host group hosts-a (site A), H2 and H3 in hosts-b (site B)",
		"the move inside site B sent nothing: each routeragent got one report since",
		"site A's hosts are empty: the WAN router reaches 10.50.0.0/24 via site B and holds no host route",
		"the summary stays with site B, which holds 2 of the subnet's 3 VMs",
		"web-2 and web-3 return too: 10.50.0.0/24 via site A, no host route",
		"vSphere HA restarts A's VMs on site B's hosts of the same cluster",
		"longest client gap",
	)
	for _, tt := range []struct {
		layout, vcenter string
		want            []string
	}{
		{"stretched", "vcsim", stretched},
		// The same story against a vCenter as harsh as a real one: a
		// resync after each expired session, in pages with VMs before
		// their hosts, moves nothing.
		{"stretched", "harsh", append(slices.Clone(stretched), "vCenter is harsh")},
		{"per-site", "vcsim", append(firstMove,
			"holds no host route: the whole subnet moved",
			"BIRD kept 10.50.0.0/24 via site B throughout, no withdraw",
			"losing a hostagent changes nothing by itself",
			"restarted, it sent both routeragents a full report",
			"announces nothing for it",
			"its summary goes home to A, web-2 at B gets a /32 from B",
			"via site B alone",
		)},
	} {
		t.Run(tt.layout+"/"+tt.vcenter, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, filepath.Join(bin, "vmroute-lab"), "-bin", bin, "-layout", tt.layout, "-vcenter", tt.vcenter, "demo").CombinedOutput()
			t.Logf("lab:\n%s", out)
			if err != nil {
				t.Fatalf("lab: %v", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(string(out), want) {
					t.Errorf("lab output lacks %q", want)
				}
			}
			if ns, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(ns), "vmlab-") {
				t.Errorf("namespaces left behind:\n%s", ns)
			}
		})
	}
}

// TestIntegrationSiteLoss runs the lab's site-loss scenarios (DESIGN.md
// rule 6), each in a lab of its own, with the default restart times: a to
// g with BIRD as the WAN router, a, b and g with FRR (its Debian
// defaults, ECMP included), and a again with site A's router ID above
// site B's, for both. The lab asserts each scenario: the client's
// longest gap within site_loss_after + 2 s for a site loss, nothing moved
// for a partition, no withdraw and no gap for a restart, no echo lost
// through a summary swap, and after a, site A back without vCenter
// taking nothing from B. The gaps are logged.
func TestIntegrationSiteLoss(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../../cmd/vmroute-lab", "../../cmd/vmroute-routeragent", "../../cmd/vmroute-hostagent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"bird", []string{"siteloss", "a", "b", "c", "d", "e", "f", "g"}, []string{
			"Site loss (a), WAN router bird", "Site loss (b), WAN router bird", "Site loss (c), WAN router bird",
			"Site loss (d), WAN router bird", "Site loss (e), WAN router bird", "Site loss (f), WAN router bird", "Site loss (g), WAN router bird",
			"site B announced its gateway to the VMs last known at site A",
			"site A came back without vCenter: B sees it returning; A announces nothing of 10.50.0.0/24, which stays with B",
			"both routeragents show the other site partitioned (the probe path fails)",
			"both routeragents show the other site partitioned (the api path fails)",
			"0 echo replies lost, 0 withdraws at BIRD",
			"site B withdrew its /32s",
		}},
		{"bird, A's router ID higher", []string{"-a-id-high", "siteloss", "a"}, []string{"Site loss (a), WAN router bird, site A's router ID above site B's"}},
		{"frr", []string{"-wan", "frr", "siteloss", "a", "b", "g"}, []string{
			"Site loss (a), WAN router frr", "Site loss (b), WAN router frr", "Site loss (g), WAN router frr"}},
		{"frr, A's router ID higher", []string{"-wan", "frr", "-a-id-high", "siteloss", "a"}, []string{"Site loss (a), WAN router frr, site A's router ID above site B's"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, filepath.Join(bin, "vmroute-lab"), append([]string{"-bin", bin}, tt.args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("lab: %v\n%s", err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "--- Site loss") || strings.Contains(line, "longest gap") || strings.Contains(line, "longest client gap") {
					t.Log(strings.TrimSpace(line))
				}
			}
			for _, want := range tt.want {
				if !strings.Contains(string(out), want) {
					t.Errorf("lab output lacks %q", want)
				}
			}
			if ns, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(ns), "vmlab-") {
				t.Errorf("namespaces left behind:\n%s", ns)
			}
		})
	}
}

// TestIntegrationPair runs the lab's scenarios of site A's two routers
// (vmroute-lab pair, -routers 2: a VRRP pair with keepalived, each router
// with its own session to the WAN router), each in a lab of its own, with
// BIRD and with FRR as the WAN router, IPv4 and IPv6 at once. The lab
// asserts each scenario and its bound on the client's longest gap
// (pinging web-1's IPv4 and IPv6 addresses every 10 ms): a, A1's
// routeragent killed, 0.1 s, nothing moves; b and c, A1 dead or silent,
// sibling_loss_after + 1 s, A2 the gateway's master and the WAN's best
// path, site B taking nothing over; d, both dead, site A lost within
// site_loss_after + 2 s; e, a rolling restart, 1 s; f, A1 back, 0.1 s.
// The gaps are logged.
func TestIntegrationPair(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Fatal("keepalived is not installed: run tests/install-deps.sh as root")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../../cmd/vmroute-lab", "../../cmd/vmroute-routeragent", "../../cmd/vmroute-hostagent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, wan := range []string{"bird", "frr"} {
		t.Run(wan, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, filepath.Join(bin, "vmroute-lab"), "-bin", bin, "-wan", wan, "pair", "a", "b", "c", "d", "e", "f").CombinedOutput()
			if err != nil {
				t.Fatalf("lab: %v\n%s", err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "--- Pair") || strings.Contains(line, "longest client gap") {
					t.Log(strings.TrimSpace(line))
				}
			}
			for _, want := range []string{
				"A2 sees A1 partitioned (API failing, probe answering)",
				"A2 finds A1 lost",
				"the WAN router reaches 10.50.0.0/24 and 2001:db8:50::/64 via A2, whatever it still holds of A1",
				"web-1's gateway entries, IPv4 and IPv6, hold A2's MAC",
				"site B sees site A alive (A2 answers) and takes nothing over",
				"site B finds site A lost",
				"A2's routeragent restarted, as its package's upgrade does",
				"sends its routes with MED 100 again",
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("lab output lacks %q", want)
				}
			}
			if n := strings.Count(string(out), "longest client gap"); n != 7 {
				t.Errorf("%d gaps measured, want 7 (f measures two)", n)
			}
			if ns, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(ns), "vmlab-") {
				t.Errorf("namespaces left behind:\n%s", ns)
			}
		})
	}
}
