//go:build linux

package docs

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/tests/bird"
	"github.com/vmroute/vmroute/tests/netns"
	"github.com/vmroute/vmroute/tests/vcsim"
)

// TestInstallWalkthrough follows docs/install.md as a new user does, in
// network namespaces: the documented `vmroutectl pki` commands, router A's
// and the stretched cluster's hostagent configs as the documentation shows
// them (with the files the pki commands wrote in place of /etc/vmroute/tls,
// and vcsim, renamed to the documented /DC/host/Stretched, in place of
// vCenter), the documented edge router A (BIRD), both agents' --check, a
// start with dry_run = true that announces nothing, and a restart with
// dry_run = false after which BIRD holds the subnets and the operator's
// vmroutectl shows the hostagent's VMs.
//
// There is no DNS in the namespaces: the hostagent reaches router A at
// 198.51.100.1, which the documented `pki issue routeragent -san` puts in
// its certificate.
func TestInstallWalkthrough(t *testing.T) {
	if !netns.Enter(t) {
		return
	}
	netns.Need(t, "bird", "birdc")
	doc, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	dir := t.TempDir()
	bins := map[string]string{}
	for _, b := range []string{"vmroutectl", "vmroute-routeragent", "vmroute-hostagent"} {
		bins[b] = filepath.Join(dir, b)
		if out, err := exec.Command("go", "build", "-o", bins[b], "../../cmd/"+b).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", b, err, out)
		}
	}
	t.Logf("built in %s", time.Since(begin))
	for _, args := range pkiCommands(t, string(doc)) {
		cmd := exec.Command(bins["vmroutectl"], args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("vmroutectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	pkiDir := filepath.Join(dir, "vmroute-pki")
	installed := strings.NewReplacer(
		"/etc/vmroute/tls/routeragent.", filepath.Join(pkiDir, "router-a.example.net."),
		"/etc/vmroute/tls/hostagent.", filepath.Join(pkiDir, "hostagent__DC_host_Stretched."),
		"/etc/vmroute/tls/ca.crt", filepath.Join(pkiDir, "ca.crt"),
	)

	// Router A's links: the edge link of the example, and VLAN 100 with
	// the subnets' gateways (a veth of the documented name, to a VM's
	// namespace).
	edge := netns.Peer(t, "edge", "edge0", []string{"198.51.100.1/24", "2001:db8:ffff:a::1/64"},
		"uplink0", []string{"198.51.100.254/24", "2001:db8:ffff:a::fe/64"})
	netns.Peer(t, "vlan", "bond0.100", []string{"192.0.2.1/24", "2001:db8:100::1/64", "fe80::1/64"}, "vm0", []string{"192.0.2.10/24"})
	birdConf := regexp.MustCompile(`(?s)protocol bgp vmroute_a \{.*?\n\}\n`).FindString(string(doc))
	if birdConf == "" {
		t.Fatal("docs/install.md shows no BIRD config for edge router A")
	}
	br := bird.Start(t, edge, "router id 198.51.100.254;\nprotocol device {}\n"+birdConf)

	// vcsim as the documented vCenter: /DC/host/Stretched, DRS host
	// groups hosts-site-a and hosts-site-b.
	ctx := context.Background()
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 1, 2, 0, 4
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Remove)
	m.Service.TLS = new(tls.Config)
	s := m.Service.NewServer()
	t.Cleanup(s.Close) // after the agents stop: cleanups run last first
	c, err := vim25.NewClient(ctx, soap.NewClient(s.URL, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, s.URL.User); err != nil {
		t.Fatal(err)
	}
	rename(t, c, "/DC0", "DC")
	rename(t, c, "/DC/host/DC0_C0", "Stretched")
	setGroups(t, c, "/DC/host/Stretched", map[string][]string{"hosts-site-a": {"DC0_C0_H0"}, "hosts-site-b": {"DC0_C0_H1"}})
	// A VM on each host, with an address: vcsim places its VMs at random.
	f := find.NewFinder(c, false)
	vms, err := f.VirtualMachineList(ctx, "/DC/vm/*")
	if err != nil || len(vms) < 2 {
		t.Fatalf("vcsim VMs: %v, %v", vms, err)
	}
	for i, h := range []struct{ host, ip string }{{"DC0_C0_H0", "192.0.2.10"}, {"DC0_C0_H1", "192.0.2.20"}} {
		host, err := f.HostSystem(ctx, "/DC/host/Stretched/"+h.host)
		if err != nil {
			t.Fatal(err)
		}
		ref := host.Reference()
		task, err := vms[i].Relocate(ctx, types.VirtualMachineRelocateSpec{Host: &ref}, types.VirtualMachineMovePriorityDefaultPriority)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.WaitEx(ctx); err != nil {
			t.Fatal(err)
		}
		vcsim.HostMoved(m, vms[i].Reference())
		setGuest(t, m, vms[i], h.ip)
	}

	vcCA, _ := s.CertificateFile()
	pw, _ := s.URL.User.Password()
	write(t, filepath.Join(dir, "vcenter-password"), pw)
	vcURL := *s.URL
	vcURL.User = nil
	hostConf := tomlBlock(t, string(doc), func(b string) bool { return strings.Contains(b, "[vcenter]") })
	hostConf = regexp.MustCompile(`(?m)^routeragents = .*$`).ReplaceAllString(hostConf, `routeragents = ["https://198.51.100.1:8443"]`)
	hostConf = regexp.MustCompile(`(?m)^url = .*$`).ReplaceAllString(hostConf, fmt.Sprintf("url = %q", vcURL.String()))
	hostConf = regexp.MustCompile(`(?m)^user = .*$`).ReplaceAllString(hostConf, fmt.Sprintf("user = %q", s.URL.User.Username()))
	hostConf = strings.ReplaceAll(hostConf, `password_file = "vcenter-password"`, fmt.Sprintf("password_file = %q", filepath.Join(dir, "vcenter-password")))
	hostConf = strings.ReplaceAll(hostConf, "/etc/vmroute/tls/vcenter-ca.crt", vcCA)
	hconf := filepath.Join(dir, "hostagent.toml")
	write(t, hconf, fmt.Sprintf("state_dir = %q\n", filepath.Join(dir, "hostagent-state"))+installed.Replace(hostConf))

	routerConf := tomlBlock(t, string(doc), func(b string) bool { return strings.HasPrefix(b, "site =") })
	routerConf = strings.Replace(routerConf, `state_dir = "/var/lib/vmroute-routeragent"`, fmt.Sprintf("state_dir = %q", filepath.Join(dir, "routeragent-state")), 1)
	// Section 2: the operator's identity under api.operators.
	routerConf = strings.Replace(routerConf, "[api]\n", "[api]\noperators = [\"ops.example.net\"]\n", 1)
	rconf := filepath.Join(dir, "routeragent.toml")
	write(t, rconf, installed.Replace(routerConf))
	if !strings.Contains(routerConf, "dry_run = true") {
		t.Fatal("router A's documented config does not start with dry_run = true")
	}

	check := func(bin, conf string) {
		t.Helper()
		out, err := exec.Command(bins[bin], "--check", "--config", conf).CombinedOutput()
		if err != nil || strings.Contains(string(out), "FAIL") {
			t.Fatalf("%s --check: %v\n%s", bin, err, out)
		}
		t.Logf("%s --check:\n%s", bin, out)
	}
	t.Logf("set up in %s", time.Since(begin))
	check("vmroute-routeragent", rconf)
	router := start(t, dir, "routeragent-dry-run", bins["vmroute-routeragent"], "--config", rconf)
	// As systemctl start waits for it (Type=notify): the API listens once
	// the first liveness checks and the first plan are done.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", "198.51.100.1:8443"); err == nil {
			c.Close()
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the routeragent's API does not listen 10s after its start: %v", err)
		}
	}
	check("vmroute-hostagent", hconf)
	start(t, dir, "hostagent", bins["vmroute-hostagent"], "--config", hconf)

	ctl := func(args ...string) string {
		t.Helper()
		args = append([]string{"-url", "https://198.51.100.1:8443", "-cert", filepath.Join(pkiDir, "ops.example.net.crt"),
			"-key", filepath.Join(pkiDir, "ops.example.net.key"), "-ca", filepath.Join(pkiDir, "ca.crt")}, args...)
		out, err := exec.Command(bins["vmroutectl"], args...).CombinedOutput()
		if err != nil {
			t.Fatalf("vmroutectl %s: %v\n%s", strings.Join(args[8:], " "), err, out)
		}
		return string(out)
	}
	t0 := time.Now()
	waitOutput(t, "vmroutectl routes, dry run", func() string { return ctl("routes") }, "192.0.2.0/24", "192.0.2.20/32")
	if got := br.Count("master4") + br.Count("master6"); got != 0 {
		t.Fatalf("with dry_run = true, edge router A holds %d routes; want none", got)
	}

	t.Logf("dry run planned in %s", time.Since(t0))
	// Section 5: the plan looks right; dry_run = false and a restart.
	_ = router.Process.Signal(syscall.SIGTERM)
	_ = router.Wait()
	b, _ := os.ReadFile(rconf)
	write(t, rconf, strings.Replace(string(b), "dry_run = true", "dry_run = false", 1))
	start(t, dir, "routeragent", bins["vmroute-routeragent"], "--config", rconf)
	t0 = time.Now()
	br.WaitCount("master4", 1, time.Minute)
	br.WaitCount("master6", 1, time.Minute)
	if _, ok := br.Routes("master4")["192.0.2.0/24"]; !ok {
		t.Errorf("edge router A holds %v; want 192.0.2.0/24", br.Routes("master4"))
	}
	if _, ok := br.Routes("master6")["2001:db8:100::/64"]; !ok {
		t.Errorf("edge router A holds %v; want 2001:db8:100::/64", br.Routes("master6"))
	}
	t.Logf("edge router A holds the subnets %s after the restart", time.Since(t0))
	waitOutput(t, "vmroutectl status", func() string { return ctl("status") }, "/DC/host/Stretched")
	waitOutput(t, "vmroutectl peers", func() string { return ctl("peers") }, "198.51.100.254", "established")
	t.Logf("done in %s", time.Since(begin))
}

// tomlBlock returns the documentation's first TOML block that match
// accepts.
func tomlBlock(t *testing.T, doc string, match func(string) bool) string {
	t.Helper()
	for _, b := range regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		if match(b[1]) {
			return b[1]
		}
	}
	t.Fatal("docs/install.md has no such TOML block")
	return ""
}

func rename(t *testing.T, c *vim25.Client, path, name string) {
	t.Helper()
	ctx := context.Background()
	f := find.NewFinder(c, false)
	e, err := f.ManagedObjectList(ctx, path)
	if err != nil || len(e) != 1 {
		t.Fatalf("vcsim %s: %v", path, err)
	}
	task, err := object.NewCommon(c, e[0].Object.Reference()).Rename(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.WaitEx(ctx); err != nil {
		t.Fatalf("rename %s: %v", path, err)
	}
}

func setGuest(t *testing.T, m *simulator.Model, vm *object.VirtualMachine, ip string) {
	t.Helper()
	devs, err := vm.Device(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mac := ""
	for _, d := range devs {
		if e, ok := d.(types.BaseVirtualEthernetCard); ok {
			mac = e.GetVirtualEthernetCard().MacAddress
		}
	}
	sctx := m.Service.Context
	sim := sctx.Map.Get(vm.Reference()).(*simulator.VirtualMachine)
	sctx.WithLock(sim, func() {
		sctx.Update(sim, []types.PropertyChange{{Name: "guest.net", Val: []types.GuestNicInfo{{MacAddress: mac, Connected: true, IpAddress: []string{ip}}}}})
	})
}

// start runs an agent in the test's namespace, its output in dir/name.log
// (shown when the test fails); it is stopped when the test ends.
func start(t *testing.T, dir, name, bin string, args ...string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		// As systemd stops it: SIGTERM, and SIGKILL 10 s later.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		kill := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
		_ = cmd.Wait()
		kill.Stop()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s's log:\n%s", name, b)
		}
	})
	return cmd
}

// waitOutput polls get until its output holds every one of want, for up
// to a minute.
func waitOutput(t *testing.T, what string, get func() string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := get()
		missing := ""
		for _, w := range want {
			if !strings.Contains(out, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s shows no %s after a minute:\n%s", what, missing, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
