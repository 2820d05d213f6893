//go:build linux

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/tests/bird"
	"github.com/vmroute/vmroute/tests/netns"
)

// TestIntegrationRestart kills the routeragent with SIGKILL after it
// accepted reports, plants a broken state file, and starts it again: it
// must announce the same routes from its state directory before any
// hostagent reports again, so BIRD keeps them through the restart.
func TestIntegrationRestart(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	peer := netns.Peer(t, "bird", "vr0", []string{"10.12.0.1/24"}, "vb0", []string{"10.12.0.2/24"})
	b := bird.Start(t, peer, `router id 10.12.0.2;
protocol device {}
protocol bgp vmroute {
	local 10.12.0.2 as 65000;
	neighbor 10.12.0.1 as 65001;
	graceful restart on;
	debug { states, events };
	ipv4 { import all; export none; };
}
`)
	e := newEnv(t, `
[[bgp.neighbors]]
address = "10.12.0.2"
asn = 65000
local_address = "10.12.0.1"
families = ["ipv4"]

[[subnets]]
prefix = "203.0.113.0/24"
home = "B"
pinned = ["203.0.113.250"]
`)
	e.edit(t, strings.NewReplacer(`listen = "127.0.0.1:0"`, `listen = "127.0.0.1:18443"`,
		`status_listen = "127.0.0.1:0"`, `status_listen = "127.0.0.1:18181"`).Replace)
	logPath := filepath.Join(e.dir, "routeragent.log")
	kill := runDaemonProcess(t, e.confPath, logPath)
	d := &Daemon{apiAddr: "127.0.0.1:18443", statusAddr: "127.0.0.1:18181"}
	waitHTTP(t, "http://127.0.0.1:18181/v1/status")
	a := e.client(t, "hostagent-a")
	if code, p := post(t, a, d, report("cl-a", "A", 3, "203.0.113.50")); code != http.StatusOK {
		t.Fatalf("report: %d %s", code, p.Error)
	}
	b.WaitCount("master4", 2, 10*time.Second) // 192.0.2.0/24 and 203.0.113.50/32
	withdraws := b.ProtocolStat("vmroute", "Import withdraws")

	kill()
	if err := os.WriteFile(filepath.Join(e.dir, "state", "broken.json"), []byte(`{"received": "2026-11-22T10:00:00Z", "report": {"site": "B", "clus`), 0o600); err != nil {
		t.Fatal(err)
	}
	runDaemonProcess(t, e.confPath, logPath)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(b.Log(), "graceful restart done") {
		if time.Now().After(deadline) {
			t.Fatalf("no graceful restart at BIRD:\n%s", b.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	routes := b.Routes("master4")
	if _, ok := routes["203.0.113.50/32"]; !ok || len(routes) != 2 {
		t.Errorf("BIRD after the restart: %v", routes)
	}
	if n := b.ProtocolStat("vmroute", "Import withdraws") - withdraws; n != 0 {
		t.Errorf("BIRD saw %d withdraws through the restart", n)
	}
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), "broken.json ignored") {
		t.Errorf("the broken state file was not reported:\n%s", log)
	}
}

// runDaemonProcess runs the routeragent in a child process (this test
// binary, TestHelperDaemonProcess) and returns a function that kills it
// with SIGKILL.
func runDaemonProcess(t *testing.T, confPath, logPath string) (kill func()) {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemonProcess$")
	cmd.Env = append(os.Environ(), "VMROUTE_DAEMON_CONFIG="+confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	kill = func() {
		if !done {
			done = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			logf.Close()
		}
	}
	t.Cleanup(kill)
	return kill
}

// TestHelperDaemonProcess is the child of runDaemonProcess.
func TestHelperDaemonProcess(t *testing.T) {
	path := os.Getenv("VMROUTE_DAEMON_CONFIG")
	if path == "" {
		t.Skip("helper process for the restart test")
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationDiscovery reports a VM with a MAC but no addresses; its
// address comes from a neighbor entry in the router's table, and its /32
// is planned.
func TestIntegrationDiscovery(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	vmNS := netns.Peer(t, "vm", "rd0", []string{"10.30.0.1/24"}, "eth0", []string{"10.30.0.10/24"})
	netns.Run(t, "ip", "-n", vmNS, "link", "set", "eth0", "address", "00:50:56:00:00:09")
	e := newEnv(t, `
[[subnets]]
prefix = "10.30.0.0/24"
home = "B"
interface = "rd0"
pinned = ["10.30.0.250"]
`)
	d := e.start(t)
	body := `{"cluster": "cl-a", "generation": 1, "kind": "full", "vms": [
		{"uuid": "v9", "name": "no-tools", "site": "A", "power_state": "poweredOn", "landed_at": "2026-11-22T10:00:00Z",
		 "nics": [{"mac": "00:50:56:00:00:09", "network": "VLAN30"}]}]}`
	if code, p := post(t, e.client(t, "hostagent-a"), d, body); code != http.StatusOK {
		t.Fatalf("report: %d %s", code, p.Error)
	}
	waitVM(t, d, "v9")
	if got := allRoutes(t, d); strings.Contains(fmt.Sprint(got), "10.30.0.10/32") {
		t.Fatalf("a /32 before any address is known: %q", got)
	}
	netns.Run(t, "ip", "neigh", "replace", "10.30.0.10", "lladdr", "00:50:56:00:00:09", "dev", "rd0", "nud", "reachable")
	waitRoutes(t, d, "A host 10.30.0.10/32")
	var vms []VM
	get(t, d, "/v1/vms", &vms)
	if len(vms) != 1 || !vms[0].Discovered || len(vms[0].NICs[0].Addresses) != 1 {
		t.Errorf("location table %+v, want v9 with a discovered address", vms)
	}
}

// TestIntegrationAnAddressGainedAfterStartIsReserved: the router's
// addresses were read at start and reload only, so a VM that claims an
// address the router gains later (a VRRP master's virtual address, a
// second address on the segment) kept its host route. Netlink tells the
// daemon, and the VM's route goes; it comes back when the router gives
// the address up.
func TestIntegrationAnAddressGainedAfterStartIsReserved(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	netns.Peer(t, "own", "rd0", []string{"10.31.0.1/24"}, "eth0", []string{"10.31.0.9/24"})
	e := newEnv(t, `
[[subnets]]
prefix = "10.31.0.0/24"
home = "B"
interface = "rd0"
pinned = ["10.31.0.250"]
`)
	d := e.start(t)
	if code, p := post(t, e.client(t, "hostagent-a"), d, report("cl-a", "A", 1, "10.31.0.77")); code != http.StatusOK {
		t.Fatalf("report: %d %s", code, p.Error)
	}
	waitRoutes(t, d, "A host 10.31.0.77/32")
	netns.Run(t, "ip", "addr", "add", "10.31.0.77/24", "dev", "rd0")
	for deadline := time.Now().Add(5 * time.Second); strings.Contains(fmt.Sprint(allRoutes(t, d)), "10.31.0.77/32"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10.31.0.77 is the router's now, and still has a host route: %q", allRoutes(t, d))
		}
	}
	var st Status
	get(t, d, "/v1/status", &st)
	if len(st.Findings.Infrastructure) != 1 || st.Findings.Infrastructure[0].What != "this router's" {
		t.Errorf("findings %+v, want 10.31.0.77 as this router's", st.Findings.Infrastructure)
	}
	netns.Run(t, "ip", "addr", "del", "10.31.0.77/24", "dev", "rd0")
	waitRoutes(t, d, "A host 10.31.0.77/32")
}
