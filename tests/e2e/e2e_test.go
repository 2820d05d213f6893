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
	"strings"
	"testing"
	"time"
)

// TestIntegrationLab runs the lab's scenarios: 1, one VM moves A to B
// (its gateway entry and its /32 follow, the summary stays, and the
// client's path measured with ping -R moves from A to B while the round
// trip loses the interconnect's two 20 ms crossings); 2, the rest of the
// subnet follows (the summary moves, the host route goes); 4, a
// routeragent is killed and restarted (BIRD withdraws nothing); 5, a
// hostagent is killed (routes stay) and restarted (it resyncs); 6, a VM
// with an address in no configured subnet lands (nothing is announced,
// status lists it); 3, web-1 returns (the summary goes home to A, web-2
// keeps a /32 at B); 7, site A is lost and HA restarts its VMs at B (the
// subnet ends via B alone, the client reaches web-1). After each, the lab
// asserts BIRD's table, the VM's neighbor cache and the client's path,
// and fails otherwise; afterwards no namespace of it may remain.
func TestIntegrationLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, c := range []string{"bird", "birdc", "ping", "arping"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is not installed: run tests/install-deps.sh as root", c)
		}
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../../cmd/vmroute-lab", "../../cmd/vmroute-routeragent", "../../cmd/vmroute-hostagent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "vmroute-lab"), "-bin", bin, "demo").CombinedOutput()
	t.Logf("lab:\n%s", out)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	for _, want := range []string{
		"its traffic still trombones: the client reaches it in",
		"the interconnect's two crossings (20ms each) are gone",
		"web-1's gateway entry holds site B's router MAC",
		"the WAN router holds 10.50.0.10/32 via site B",
		"the summary stays with site A",
		"holds no host route: the whole subnet moved",
		"BIRD kept 10.50.0.0/24 via site B throughout, no withdraw",
		"losing a hostagent changes nothing by itself",
		"restarted, it sent both routeragents a full report",
		"announces nothing for it",
		"its summary goes home to A, web-2 at B gets a /32 from B",
		"via site B alone",
		"BIRD routes web-1 via site A, its gateway entry is site A's router, the client reaches it in",
		"BIRD routes web-1 via site B, its gateway entry is site B's router, the client reaches it in",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lab output lacks %q", want)
		}
	}
	if ns, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(ns), "vmlab-") {
		t.Errorf("namespaces left behind:\n%s", ns)
	}
}
