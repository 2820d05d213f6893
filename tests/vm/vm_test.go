//go:build linux

// Package vm runs vmroute's packages inside a Debian VM under qemu, where
// the kernel has what this machine's may lack (8021q) and systemd is
// real: image.sh builds the image once, the test shares a payload with
// the VM over 9p, the VM's vmtest.service runs guest.sh under systemd and
// powers off, and each of its checks becomes a subtest here.
package vm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmroute/vmroute/tests/agents"
)

const imageDir = "/var/cache/vmroute-tests/vm"

// TestRouteragentPackageInVM installs the routeragent's .deb in the VM and
// checks it under systemd: Type=notify, TCP MD5 with the password from
// LoadCredential (dialing out and passive, on port 179), gratuitous ARP
// and NA to a VM that landed (its vMotion in vcsim on the host), the
// watchdog,
// reload (good and broken), stop, and the 802.1Q announcement test on
// the VM's kernel. VMROUTE_VM_DIST names the directory of the packages
// (make vmtest sets it).
func TestRouteragentPackageInVM(t *testing.T) {
	dist := needVM(t)
	start := time.Now()
	payload := t.TempDir()
	packagesInto(t, dist, payload, "vmroute-routeragent")
	copyFile(t, "guest.sh", filepath.Join(payload, "guest.sh"))
	copyFile(t, "checks.sh", filepath.Join(payload, "checks.sh"))
	if out, err := exec.Command("go", "test", "-c", "-o", filepath.Join(payload, "announce.test"), "../../routeragent/announce").CombinedOutput(); err != nil {
		t.Fatalf("build the announce test: %v\n%s", err, out)
	}
	// web-1, whose landing the guest's routeragent hears of from a
	// hostagent on the host, through a port qemu forwards to its API.
	w := newWorld(t, "10.20.0.10", "2001:db8:20::10")
	cert, key := w.routeragentCert(t, "127.0.0.1")
	if err := os.MkdirAll(filepath.Join(payload, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"tls/routeragent.crt": cert, "tls/routeragent.key": key, "tls/ca.crt": w.CA,
		"routeragent.toml": routeragentConf, "web1.mac": w.Web1MAC,
	} {
		if err := os.WriteFile(filepath.Join(payload, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	api := agents.FreePort(t)
	w.startHostagent(t, fmt.Sprintf("https://127.0.0.1:%d", api))

	// The host's side, while the VM runs: once the guest says its
	// routeragent has the cluster's report ("ready"), web-1 moves to site
	// A ("moved").
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	moved := make(chan error, 1)
	go func() {
		err := waitFile(ctx, filepath.Join(payload, "ready"))
		if err == nil {
			err = w.relocate(ctx, "DC0_C0_H0")
		}
		_ = os.WriteFile(filepath.Join(payload, "moved"), nil, 0o644)
		moved <- err
	}()
	console := boot(t, machine{Disk: filepath.Join(imageDir, "root.img"),
		Kernel: filepath.Join(imageDir, "vmlinuz"), Initrd: filepath.Join(imageDir, "initrd.img"), Append: testAppend,
		Payload: payload, UserNet: true, Forward: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:8443", api)}, Timeout: 6 * time.Minute})
	cancel()
	t.Logf("booted, checked and powered off in %s", time.Since(start).Round(time.Second))
	t.Run("vmotion", func(t *testing.T) {
		if err := <-moved; err != nil {
			t.Error(err)
		}
	})
	guestChecks(t, payload, console)
}

// waitFile waits until a file exists.
func waitFile(ctx context.Context, path string) error {
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no %s: %w", filepath.Base(path), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// hostCheck is a check the host makes while the VM runs.
type hostCheck struct {
	name string
	err  error
}

// hostChecks turns each host check into a subtest; a failure shows the
// end of the VM's console.
func hostChecks(t *testing.T, checks []hostCheck, console string) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.err != nil {
				t.Errorf("%v\nconsole:\n%s", c.err, tail(console, 30))
			}
		})
	}
}

// testAppend is the kernel command line of the test image.
const testAppend = "root=/dev/vda rw console=ttyS0 systemd.show_status=0 quiet"

// guestChecks turns each line "CHECK name: PASS" (or ": FAIL why") of the
// guest's results.txt into a subtest; results without "CHECKS DONE"
// fail the test.
func guestChecks(t *testing.T, payload, console string) {
	t.Helper()
	results, err := os.ReadFile(filepath.Join(payload, "results.txt"))
	if err != nil || !strings.Contains(string(results), "CHECKS DONE") {
		t.Errorf("the VM's checks did not finish (%v); its console:\n%s", err, tail(console, 60))
	}
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
// unit's credential, a subnet on the VM's lan0, the API open to qemu's
// forwarded port, and the world's stretched cluster.
const routeragentConf = `site = "A"
state_dir = "/var/lib/vmroute-routeragent"
[api]
listen = ":8443"
cert_file = "/etc/vmroute/tls/routeragent.crt"
key_file = "/etc/vmroute/tls/routeragent.key"
client_ca_file = "/etc/vmroute/tls/ca.crt"
[reports]
batch_window = "50ms"
[[clusters]]
name = "stretched"
sites = ["A", "B"]
clients = ["hostagent:stretched"]
[[clusters]]
name = "site-c" # names site C, whose router the liveness checks probe with ND
site = "C"
clients = ["hostagent:site-c"]
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
peers = ["router-b"]
probe = ["10.20.0.3"]
[[liveness.sites]]
name = "C"
api = "https://localhost:8443" # this routeragent too, by another name: each router's API is configured once
peers = ["router-c"]
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

// needVM skips the test unless make vmtest runs it as root, builds the
// test image when it is not cached, and returns the packages' directory
// (VMROUTE_VM_DIST).
func needVM(t *testing.T) string {
	t.Helper()
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
	return dist
}

// packagesInto copies into payload the amd64 .deb of agent and of
// vmroutectl, which it depends on, and writes into payload/next the same
// two one release on, built from the same binaries, for the guest's
// upgrade check; payload/next/release holds that release.
func packagesInto(t *testing.T, dist, payload, agent string) {
	t.Helper()
	deb := findDeb(t, dist, agent)
	for _, d := range []string{deb, findDeb(t, dist, "vmroutectl")} {
		copyFile(t, d, filepath.Join(payload, filepath.Base(d)))
	}
	m := regexp.MustCompile(`_([^_-]+)-(\d+)_amd64\.deb$`).FindStringSubmatch(deb)
	if m == nil {
		t.Fatalf("%s: no VERSION-RELEASE in its name", deb)
	}
	release, _ := strconv.Atoi(m[2])
	next := filepath.Join(payload, "next")
	bin, err := filepath.Abs("../../bin")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./mkpkg", "-version", m[1], "-release", strconv.Itoa(release+1), "-arch", "amd64", "-bin", bin, "-out", next)
	cmd.Dir = "../../packaging"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the next release's packages: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(next, "release"), []byte(strconv.Itoa(release+1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// findDeb returns the one amd64 .deb of a package in dist.
func findDeb(t *testing.T, dist, name string) string {
	t.Helper()
	debs, _ := filepath.Glob(filepath.Join(dist, name+"_*_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one %s .deb for amd64 in %s, found %v", name, dist, debs)
	}
	return debs[0]
}

// machine is one run of a VM under qemu.
type machine struct {
	// Disk is the image booted on a copy-on-write overlay; Format is its
	// format ("raw" when empty).
	Disk, Format string
	// Kernel, Initrd and Append boot the kernel directly; without Kernel,
	// the disk's own boot loader boots it, as on a hypervisor.
	Kernel, Initrd, Append string
	// Payload is shared with the guest as 9p tag "payload", when set.
	Payload string
	// UserNet gives the guest qemu's user network, where hostAddr is the
	// host's loopback; without it the guest has no network to the host.
	// Forward are its hostfwd rules ("tcp:127.0.0.1:HOSTPORT-:GUESTPORT").
	UserNet bool
	Forward []string
	// CDROM is an ISO image in the guest's CD-ROM drive, when set.
	CDROM string
	// VMware gives the VM the virtual hardware of an ESXi VM: a PC (i440FX)
	// with the disk on PVSCSI and VMXNET3 NICs, of MACs (the first on the
	// user network, the others on user networks of their own, cut off
	// from the host).
	VMware bool
	MACs   []string
	// Overlay, when set, is the copy-on-write overlay the VM boots on,
	// made on the first boot and kept: a later boot of the same overlay
	// sees what the earlier one wrote.
	Overlay string
	// Timeout ends the run: a VM still running then is killed.
	Timeout time.Duration
	// StopWhen, when set, ends the run (killing the VM, which is then no
	// failure) once the console shows it.
	StopWhen string
}

// boot runs the VM until it powers off or the timeout passes (then it is
// killed; also when the test ends early, and when this process dies, as
// on Ctrl-C of go test). It returns the serial console's output.
func boot(t *testing.T, m machine) string {
	t.Helper()
	dir := t.TempDir()
	overlay := m.Overlay
	if overlay == "" {
		overlay = filepath.Join(dir, "overlay.qcow2")
	}
	format := m.Format
	if format == "" {
		format = "raw"
	}
	if _, err := os.Stat(overlay); err != nil {
		if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", format, "-b", m.Disk, overlay).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v\n%s", err, out)
		}
	}
	consolePath := filepath.Join(dir, "console.log")
	accel, cpu := "tcg", "max"
	if kvmWorks() {
		accel, cpu = "kvm", "host"
	}
	t.Logf("qemu with %s", accel)
	args := []string{"-machine", "q35,accel=" + accel, "-cpu", cpu, "-m", "1024", "-smp", "2",
		"-drive", "file=" + overlay + ",if=virtio,format=qcow2",
		"-display", "none", "-monitor", "none", "-serial", "file:" + consolePath, "-no-reboot"}
	nicModel := "virtio-net-pci"
	if m.VMware {
		args = []string{"-machine", "pc,accel=" + accel, "-cpu", cpu, "-m", "1024", "-smp", "2",
			"-device", "pvscsi,id=pvscsi0", "-drive", "file=" + overlay + ",if=none,id=disk0,format=qcow2",
			"-device", "scsi-hd,drive=disk0,bus=pvscsi0.0",
			"-display", "none", "-monitor", "none", "-serial", "file:" + consolePath, "-no-reboot"}
		nicModel = "vmxnet3"
	}
	if m.Kernel != "" {
		args = append(args, "-kernel", m.Kernel, "-initrd", m.Initrd, "-append", m.Append)
	}
	if m.Payload != "" {
		args = append(args, "-virtfs", "local,path="+m.Payload+",mount_tag=payload,security_model=none,id=payload")
	}
	if m.UserNet {
		// The guest gets no default route: it reaches the host's
		// loopback at hostAddr and nothing beyond it. (restrict=on would
		// cut the host off too.)
		nic := "user,model=" + nicModel
		for _, f := range m.Forward {
			nic += ",hostfwd=" + f
		}
		if len(m.MACs) > 0 {
			nic += ",mac=" + m.MACs[0]
		}
		args = append(args, "-nic", nic)
		for _, mac := range m.MACs[min(1, len(m.MACs)):] {
			args = append(args, "-nic", "user,restrict=on,model="+nicModel+",mac="+mac)
		}
	} else {
		args = append(args, "-nic", "none")
	}
	if m.CDROM != "" {
		args = append(args, "-drive", "file="+m.CDROM+",media=cdrom,readonly=on")
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	stopped := make(chan struct{})
	if m.StopWhen != "" {
		go func() {
			for ctx.Err() == nil {
				if b, _ := os.ReadFile(consolePath); bytes.Contains(b, []byte(m.StopWhen)) {
					close(stopped)
					_ = cmd.Process.Kill()
					return
				}
				time.Sleep(time.Second)
			}
		}()
	}
	err := cmd.Wait()
	console, _ := os.ReadFile(consolePath)
	select {
	case <-stopped:
		return string(console)
	default:
	}
	if ctx.Err() != nil {
		t.Fatalf("the VM did not power off within %s; its console:\n%s", m.Timeout, tail(string(console), 60))
	}
	if err != nil {
		t.Fatalf("qemu: %v\n%s\nconsole:\n%s", err, out.String(), tail(string(console), 60))
	}
	return string(console)
}

// kvmWorks says whether qemu runs a VM with KVM here: /dev/kvm may exist
// and still fail (nested virtualization without the MSRs qemu sets), or
// run a BIOS and hang a Linux kernel before its first line. The test
// image's kernel, booted with KVM, printing its first line within 10 s is
// a yes. It is asked once per test process, after the image is built.
var kvmWorks = sync.OnceValue(func() bool {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return false
	}
	dir, err := os.MkdirTemp("", "kvm-probe")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	console := filepath.Join(dir, "console.log")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "256",
		"-display", "none", "-monitor", "none", "-nic", "none", "-serial", "file:"+console,
		"-kernel", filepath.Join(imageDir, "vmlinuz"), "-append", "console=ttyS0 panic=-1", "-no-reboot")
	if err := cmd.Start(); err != nil {
		return false
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	for ctx.Err() == nil {
		if b, _ := os.ReadFile(console); strings.Contains(string(b), "Linux version") {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
})

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
