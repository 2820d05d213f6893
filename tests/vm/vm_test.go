//go:build linux

// Package vm runs vmroute's packages inside a Debian VM under qemu, where
// the kernel has what this machine's may lack (8021q) and systemd is
// real: image.sh builds the image once, the test shares a payload with
// the VM over 9p, the VM's vmtest.service runs guest.sh under systemd and
// powers off, and each of its checks becomes a subtest here.
package vm

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/tests/pki"
)

const imageDir = "/var/cache/vmroute-tests/vm"

// TestRouteragentPackageInVM installs the routeragent's .deb in the VM and
// checks it under systemd: Type=notify, TCP MD5 with the password from
// LoadCredential (dialing out and passive, on port 179), the watchdog,
// reload (good and broken), stop, and the 802.1Q announcement test on
// the VM's kernel. VMROUTE_VM_DIST names the directory of the packages
// (make vmtest sets it).
func TestRouteragentPackageInVM(t *testing.T) {
	dist := os.Getenv("VMROUTE_VM_DIST")
	if dist == "" {
		t.Skip("run by make vmtest, which builds the packages first (VMROUTE_VM_DIST)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to build the VM image")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatal("qemu-system-x86_64 missing: run tests/install-deps.sh")
	}
	start := time.Now()
	if out, err := exec.Command("../../tests/vm/image.sh").CombinedOutput(); err != nil {
		t.Fatalf("VM image: %v\n%s", err, out)
	}
	t.Logf("VM image ready in %s", time.Since(start).Round(time.Second))

	payload := t.TempDir()
	debs, _ := filepath.Glob(filepath.Join(dist, "vmroute-routeragent_*_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one routeragent .deb for amd64 in %s, found %v", dist, debs)
	}
	copyFile(t, debs[0], filepath.Join(payload, filepath.Base(debs[0])))
	copyFile(t, "guest.sh", filepath.Join(payload, "guest.sh"))
	if out, err := exec.Command("go", "test", "-c", "-o", filepath.Join(payload, "announce.test"), "../../routeragent/announce").CombinedOutput(); err != nil {
		t.Fatalf("build the announce test: %v\n%s", err, out)
	}
	ca := pki.New(t)
	cert, key := ca.Issue(t, "routeragent", net.ParseIP("127.0.0.1"))
	if err := os.MkdirAll(filepath.Join(payload, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, cert, filepath.Join(payload, "tls", "routeragent.crt"))
	copyFile(t, key, filepath.Join(payload, "tls", "routeragent.key"))
	copyFile(t, ca.CAFile, filepath.Join(payload, "tls", "ca.crt"))
	if err := os.WriteFile(filepath.Join(payload, "routeragent.toml"), []byte(routeragentConf), 0o644); err != nil {
		t.Fatal(err)
	}

	console := boot(t, payload, 6*time.Minute)
	results, err := os.ReadFile(filepath.Join(payload, "results.txt"))
	if err != nil || !strings.Contains(string(results), "CHECKS DONE") {
		t.Fatalf("the VM's checks did not finish (%v); its console:\n%s", err, tail(console, 60))
	}
	t.Logf("booted, checked and powered off in %s", time.Since(start).Round(time.Second))
	sc := bufio.NewScanner(strings.NewReader(string(results)))
	for sc.Scan() {
		line := sc.Text()
		name, verdict, ok := strings.Cut(strings.TrimPrefix(line, "CHECK "), ": ")
		if !ok || !strings.HasPrefix(line, "CHECK ") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if verdict != "PASS" {
				t.Error(verdict)
			}
		})
	}
}

// routeragentConf is the routeragent's configuration inside the VM:
// neighbors in the VM's namespace "edge" (BIRD), the password from the
// unit's credential, a subnet on the VM's lan0.
const routeragentConf = `site = "A"
state_dir = "/var/lib/vmroute-routeragent"
[api]
listen = "127.0.0.1:8443"
cert_file = "/etc/vmroute/tls/routeragent.crt"
key_file = "/etc/vmroute/tls/routeragent.key"
client_ca_file = "/etc/vmroute/tls/ca.crt"
[reports]
batch_window = "50ms"
[[clusters]]
name = "cl-a"
site = "A"
clients = ["hostagent"]
[[subnets]]
prefix = "10.20.0.0/24"
home = "A"
interface = "lan0"
gateways = ["10.20.0.1"]
[[subnets]]
prefix = "2001:db8:20::/64"
home = "A"
interface = "lan0"
gateways = ["2001:db8:20::1"]
[liveness]
[[liveness.sites]]
name = "B"
api = "https://127.0.0.1:8443"
probe = ["10.20.0.3"]
[[liveness.sites]]
name = "C"
api = "https://127.0.0.1:8443"
probe = ["2001:db8:20::3"]
[bgp]
asn = 65001
router_id = "10.9.0.1"
[[bgp.neighbors]]
address = "10.9.0.2"
asn = 65000
password_file = "bgp-password"
families = ["ipv4"]
[[bgp.neighbors]]
address = "10.9.1.2"
asn = 65000
password_file = "bgp-password"
passive = true
families = ["ipv4"]
`

// boot runs the VM on a copy-on-write overlay of the cached image, with
// payload shared as 9p tag "payload", until it powers off or the timeout
// passes (then it is killed; also when the test ends early). It returns
// the serial console's output.
func boot(t *testing.T, payload string, timeout time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	overlay := filepath.Join(dir, "overlay.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", filepath.Join(imageDir, "root.img"), overlay).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	consolePath := filepath.Join(dir, "console.log")
	accel, cpu := "tcg", "max"
	if kvmWorks() {
		accel, cpu = "kvm", "host"
	}
	t.Logf("qemu with %s", accel)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-machine", "q35,accel="+accel, "-cpu", cpu, "-m", "1024", "-smp", "2",
		"-kernel", filepath.Join(imageDir, "vmlinuz"), "-initrd", filepath.Join(imageDir, "initrd.img"),
		"-append", "root=/dev/vda rw console=ttyS0 systemd.show_status=0 quiet",
		"-drive", "file="+overlay+",if=virtio,format=qcow2",
		"-virtfs", "local,path="+payload+",mount_tag=payload,security_model=none,id=payload",
		"-display", "none", "-monitor", "none", "-serial", "file:"+consolePath, "-no-reboot", "-nic", "none")
	out, err := cmd.CombinedOutput()
	console, _ := os.ReadFile(consolePath)
	if ctx.Err() != nil {
		t.Fatalf("the VM did not power off within %s; its console:\n%s", timeout, tail(string(console), 60))
	}
	if err != nil {
		t.Fatalf("qemu: %v\n%s\nconsole:\n%s", err, out, tail(string(console), 60))
	}
	return string(console)
}

// kvmWorks says whether qemu runs a VM with KVM here: /dev/kvm may exist
// and still fail (nested virtualization without the MSRs qemu sets). A
// paused VM that is still running after two seconds is a yes.
func kvmWorks() bool {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := exec.CommandContext(ctx, "qemu-system-x86_64", "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "64", "-S",
		"-display", "none", "-monitor", "none", "-serial", "none", "-nic", "none").Run()
	return ctx.Err() != nil && err != nil
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(from); err == nil && fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprint(strings.Join(lines, "\n"))
}
