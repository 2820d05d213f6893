//go:build linux

package vm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/ovf"
	"github.com/vmware/govmomi/ovf/importer"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/appliance"
	"github.com/vmroute/vmroute/tests/agents"
	"github.com/vmroute/vmroute/tests/appliancetest"
)

// needOVA skips the test unless make vmtest runs it, after make
// appliance, and returns the OVA (VMROUTE_APPLIANCE_OVA).
func needOVA(t *testing.T) string {
	t.Helper()
	ova := os.Getenv("VMROUTE_APPLIANCE_OVA")
	if ova == "" {
		t.Skip("run by make vmtest, which builds the appliance first (VMROUTE_APPLIANCE_OVA)")
	}
	return ova
}

// TestApplianceImport imports the OVA into vcsim as govc import.ova
// does, after checking its manifest's SHA256 sums: the disk uploaded
// through the import lease, every property mapped; the VM then holds
// them.
func TestApplianceImport(t *testing.T) {
	ova := needOVA(t)
	ctx := context.Background()
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	defer m.Remove()
	s := m.Service.NewServer()
	defer s.Close()
	c, err := vim25.NewClient(ctx, soap.NewClient(s.URL, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, s.URL.User); err != nil {
		t.Fatal(err)
	}
	f := find.NewFinder(c, false)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	ds, err := f.DefaultDatastore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := f.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources")
	if err != nil {
		t.Fatal(err)
	}
	folders, err := dc.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	archive := &importer.TapeArchive{Path: ova, Opener: importer.Opener{Client: c}}
	desc, err := importer.ReadOvf("*.ovf", archive)
	if err != nil {
		t.Fatal(err)
	}
	env, err := ovf.Unmarshal(strings.NewReader(string(desc)))
	if err != nil {
		t.Fatalf("govmomi's ovf package refuses the OVA's descriptor: %v", err)
	}
	if n := len(env.VirtualSystem.Product[0].Property); n != len(appliance.Properties) {
		t.Errorf("the OVA's descriptor has %d properties, want %d", n, len(appliance.Properties))
	}
	imp := importer.Importer{Client: c, Finder: f, Datacenter: dc, Datastore: ds, ResourcePool: pool, Folder: folders.VmFolder,
		Archive: archive, Log: func(string) (int, error) { return 0, nil }}
	// The manifest, checked here: vcsim's import lease computes no
	// checksum of what it receives, which govmomi's own check needs.
	if err := imp.ReadManifest("*.ovf"); err != nil {
		t.Fatal(err)
	}
	if len(imp.Manifest) != 2 {
		t.Errorf("the manifest lists %d files, want the descriptor and the disk", len(imp.Manifest))
	}
	for name, sum := range imp.Manifest {
		r, _, err := archive.Open(name)
		if err != nil {
			t.Fatalf("the manifest lists %s, which the OVA lacks: %v", name, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); sum.Algorithm != "SHA256" || got != sum.Checksum {
			t.Errorf("%s: manifest says %s %s, the file's SHA256 is %s", name, sum.Algorithm, sum.Checksum, got)
		}
	}
	name := "vmroute-hostagent-cl1"
	opts := importer.Options{Name: &name}
	want := map[string]string{}
	for _, p := range appliance.Properties {
		v := p.Default
		if v == "" {
			v = "value of " + p.Key
		}
		want[p.Key] = v
		opts.PropertyMapping = append(opts.PropertyMapping, importer.Property{KeyValue: importer.KeyValue{Key: p.Key, Value: v}})
	}
	ref, err := imp.Import(ctx, "*.ovf", opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	var vm mo.VirtualMachine
	if err := property.DefaultCollector(c).RetrieveOne(ctx, *ref, []string{"name", "config"}, &vm); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range vm.Config.ExtraConfig {
		if kv := o.GetOptionValue(); kv != nil {
			got[kv.Key] = fmt.Sprint(kv.Value)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("imported VM's property %s = %q, want %q", k, got[k], v)
		}
	}
	disks := object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))
	if vm.Name != "vmroute-hostagent-cl1" || vm.Config.Hardware.NumCPU != 2 || vm.Config.Hardware.MemoryMB != 1024 || len(disks) != 1 {
		t.Errorf("imported VM %s: %d vCPUs, %d MB, %d disks", vm.Name, vm.Config.Hardware.NumCPU, vm.Config.Hardware.MemoryMB, len(disks))
	}
}

// rootHash is the crypt hash of the appliance's root password in the
// boot test (SHA-512 of "appliance-root-pw").
const rootHash = "$6$vmroutetestsalt$Ea7HtJKpqkgZepHdzBuM.9JsBpAjktMalBRthD6dtRafI1Dw2Ge47wrHRDZJkoRu5rRSi5AnQERxONjnOYI8U0"

// TestApplianceDescriptor reads the built OVA as vSphere does: its
// descriptor (guest OS type, the wizard's checks, the transport,
// guestinfo for root only, the disk's populated size) and its disk's
// header (streamOptimized, compressed, for a SCSI controller).
func TestApplianceDescriptor(t *testing.T) {
	ova := needOVA(t)
	dir := t.TempDir()
	appliancetest.CheckDescriptor(t, []byte(readFile(t, extract(t, ova, ".ovf", dir))))
	f, err := os.Open(extract(t, ova, ".vmdk", dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := appliance.CheckVMDK(f); err != nil {
		t.Error(err)
	}
	fi, err := os.Stat(ova)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the OVA: %d MB", fi.Size()>>20)
	if fi.Size() > 400<<20 {
		t.Errorf("the OVA is %d MB, want at most 400", fi.Size()>>20)
	}
}

// TestApplianceBoot boots the OVA's disk in qemu on an ESXi VM's virtual
// hardware (PVSCSI, VMXNET3, a second NIC) with its own boot loader and
// an OVF environment on a CD-ROM (the ISO transport, which stands in for
// VMware Tools' guestinfo under qemu), pointing it at vcsim and a
// routeragent on the host. The first boot must report within 120 s of
// power-on, carry a vMotion as a landing, keep its secrets, take an
// update and a second kernel; the second boot, with no OVF environment
// (as after an HA restart), runs that kernel and the last good
// configuration; a boot with a wrong vCenter password shows the reason
// on the console and in vmroutectl status inside; one with a bad
// property leaves the hostagent stopped with the reason on the console.
func TestApplianceBoot(t *testing.T) {
	ova := needOVA(t)
	dist := needVM(t)
	if _, err := exec.LookPath("genisoimage"); err != nil {
		t.Fatal("genisoimage missing: run tests/install-deps.sh")
	}
	dir := t.TempDir()
	disk := extract(t, ova, ".vmdk", dir)
	key := filepath.Join(dir, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	next, nextVersion := nextHostagent(t, dist, dir)
	kernelDeb, kernel := secondKernel(t)
	w := newWorld(t, "192.0.2.10")
	w.startRouteragent(t)
	props := map[string]string{
		"vcenter.url": w.VCenterURL, "vcenter.user": w.User, "vcenter.password": w.Password, "vcenter.thumbprint": w.Thumbprint,
		"cluster.path": "/DC0/host/DC0_C0", "cluster.name": "stretched", "cluster.sites_by": "host_name", "cluster.sites": "A=DC0_C0_H0;B=DC0_C0_H1",
		"routeragents": w.RouteragentURL,
		// As the wizard's one-line fields hand PEM over.
		"tls.cert": oneLine(w.HostCert), "tls.key": oneLine(w.HostKey), "tls.ca": oneLine(w.CA),
		"net.mode": "static", "net.address": "10.0.2.15/24", "net.hostname": "vmroute-ha1.example.net",
		"access.ssh": "true", "access.ssh_key": strings.TrimSpace(readFile(t, key+".pub")), "access.root_password": rootHash,
	}
	// The OVA's NIC (unit 7) and a second one an admin added (unit 8).
	macs := []string{"00:50:56:8f:00:07", "00:50:56:8f:00:08"}
	esxi := func(m machine) machine {
		m.Disk, m.Format, m.VMware, m.MACs, m.UserNet = disk, "vmdk", true, macs, true
		return m
	}
	overlay := filepath.Join(dir, "appliance.qcow2")

	t.Run("first boot", func(t *testing.T) {
		sshPort := agents.FreePort(t)
		iso := envISO(t, props, macs...)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		start := time.Now()
		results := make(chan []hostCheck, 1)
		run := func(cmd string) (string, error) { return sshRun(ctx, key, sshPort, cmd) }
		go func() {
			var rs []hostCheck
			check := func(name string, err error) { rs = append(rs, hostCheck{name, err}) }
			first, err := w.firstReport(ctx)
			if err == nil && first.Sub(start) > 120*time.Second {
				err = fmt.Errorf("first full report %s after power-on, want within 120 s", first.Sub(start).Round(time.Second))
			}
			if err == nil {
				t.Logf("first full report at the routeragent %s after power-on", first.Sub(start).Round(time.Second))
			}
			check("report-within-120s", err)
			check("landing", w.vmotion(ctx))
			out, err := run("vmroutectl status; echo; ss -Hltn")
			if err == nil && (!strings.Contains(out, "connected since") || !strings.Contains(out, w.RouteragentURL+"  true")) {
				err = fmt.Errorf("vmroutectl status inside the appliance:\n%s", out)
			}
			check("vmroutectl-status", err)
			check("listens", listensOnly(out, "127.0.0.1:9180", "0.0.0.0:22", "[::]:22"))
			check("vmware-hardware", has(run, "readlink /sys/class/net/*/device/driver; lsinitramfs /initrd.img | grep -o '[a-z_0-9]*\\.ko' | sort -u; cat /proc/cmdline",
				"vmxnet3", "\nvmw_pvscsi.ko", "\nmptspi.ko", "\nmptsas.ko", "\nahci.ko", "\nnvme.ko"))
			check("nic-by-mac", nicByMAC(run, macs[0], macs[1], "10.0.2.15/24"))
			check("trixie-patched", has(run, "cat /etc/os-release /etc/apt/sources.list.d/*.sources",
				"VERSION_CODENAME=trixie", "Suites: trixie trixie-updates", "Suites: trixie-security", "URIs: http://deb.debian.org/debian-security"))
			check("hostname", has(run, "hostname; hostname -f", "vmroute-ha1\n", "vmroute-ha1.example.net"))
			// The clock's source is chosen once the network is up, after
			// at most 20 s of waiting for DHCP's NTP servers.
			check("no-fallback-ntp", has(run, "for i in $(seq 60); do [ -e /run/vmroute-appliance/time-source ] && break; sleep 1; done; echo fallback=$(timedatectl show-timesync -p FallbackNTPServers --value).; cat /run/vmroute-appliance/time-source",
				"fallback=.", "the ESXi host's clock (VMware Tools)"))
			check("root-hash", has(run, "getent shadow root | cut -d: -f2", rootHash+"\n"))
			check("env-root-only", envRootOnly(run))
			check("support-no-secret", supportNoSecret(run, w.Password, w.HostKey))
			check("update", update(ctx, run, key, sshPort, next, nextVersion))
			check("second-kernel", installKernel(ctx, key, sshPort, kernelDeb, kernel))
			_, _ = run("systemctl poweroff")
			results <- rs
		}()
		console := boot(t, esxi(machine{Overlay: overlay, CDROM: iso,
			Forward: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:22", sshPort)}, Timeout: 20 * time.Minute}))
		cancel()
		t.Logf("booted, checked and powered off in %s", time.Since(start).Round(time.Second))
		rs := <-results
		rs = append(rs, hostCheck{"console-time-source", expect(console, nil, "time:          the ESXi host's clock (VMware Tools)")})
		hostChecks(t, rs, console)
	})

	t.Run("no OVF environment", func(t *testing.T) {
		// As after an HA restart: no ISO, no guestinfo; the second kernel
		// and the update of the first boot stay.
		sshPort := agents.FreePort(t)
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		run := func(cmd string) (string, error) { return sshRun(ctx, key, sshPort, cmd) }
		results := make(chan []hostCheck, 1)
		go func() {
			var rs []hostCheck
			rs = append(rs, hostCheck{"second-kernel-boots", has(run, "uname -r", kernel+"\n")})
			var err error
			for ctx.Err() == nil {
				var out string
				out, err = run("cat /run/vmroute-appliance/notice; vmroutectl status")
				if err = expect(out, err, "no OVF environment at this boot: running on the last good configuration", "hostagent version "+nextVersion,
					"connected since", w.RouteragentURL+"  true"); err == nil {
					break
				}
				time.Sleep(3 * time.Second)
			}
			rs = append(rs, hostCheck{"last-good-configuration", err})
			time.Sleep(4 * time.Second) // the console redraws every 3 s
			_, _ = run("systemctl poweroff")
			results <- rs
		}()
		console := boot(t, esxi(machine{Overlay: overlay, Forward: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:22", sshPort)}, Timeout: 8 * time.Minute}))
		cancel()
		rs := <-results
		rs = append(rs, hostCheck{"console-notice", expect(console, nil, "NOTE:          no OVF environment at this boot")})
		hostChecks(t, rs, console)
	})

	t.Run("wrong vCenter password", func(t *testing.T) {
		props["vcenter.password"] = "wrong-password"
		sshPort := agents.FreePort(t)
		iso := envISO(t, props, macs...)
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		status := make(chan string, 1)
		go func() {
			out := ""
			for ctx.Err() == nil {
				o, err := sshRun(ctx, key, sshPort, "vmroutectl status")
				if err == nil && strings.Contains(o, "last error") {
					out = o
					break
				}
				time.Sleep(2 * time.Second)
			}
			// The console redraws every 3 s: give it one round.
			time.Sleep(4 * time.Second)
			_, _ = sshRun(ctx, key, sshPort, "systemctl poweroff")
			status <- out
		}()
		console := boot(t, esxi(machine{CDROM: iso, Forward: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:22", sshPort)}, Timeout: 8 * time.Minute}))
		cancel()
		out := <-status
		t.Logf("vmroutectl status inside the appliance:\n%s", out)
		if !strings.Contains(out, "NOT connected") || !strings.Contains(out, "Login failure") {
			t.Errorf("vmroutectl status inside the appliance does not say the login failed:\n%s", out)
		}
		if !strings.Contains(console, "vCenter: ") || !strings.Contains(console, "Login failure") {
			t.Errorf("the console does not say the login failed:\n%s", tail(console, 30))
		}
	})

	t.Run("bad property", func(t *testing.T) {
		props["vcenter.password"] = w.Password
		props["vcenter.thumbprint"] = "AB:CD"
		const reason = `property vcenter.thumbprint: "AB:CD" is not a SHA-1 thumbprint`
		// The console redraws with the hostagent's state after the
		// reason: stop once it shows it stopped.
		console := boot(t, esxi(machine{CDROM: envISO(t, props, macs...), Timeout: 6 * time.Minute, StopWhen: "hostagent:     inactive"}))
		if !strings.Contains(console, reason) || !strings.Contains(console, "configuration: "+reason) {
			t.Errorf("the console does not give the reason %q:\n%s", reason, tail(console, 30))
		}
		if strings.Contains(console, w.Password) {
			t.Error("the console shows the vCenter password")
		}
	})
}

// expect checks a command's output (or the console) for each of wants.
func expect(out string, err error, wants ...string) error {
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			return fmt.Errorf("lacks %q:\n%s", w, out)
		}
	}
	return nil
}

// has runs a command in the appliance and checks its output for each of
// wants.
func has(run func(string) (string, error), cmd string, wants ...string) error {
	out, err := run(cmd)
	return expect(out, err, wants...)
}

// nicByMAC: the static address is on the NIC of the environment's MAC,
// not on the second NIC.
func nicByMAC(run func(string) (string, error), mac, other, addr string) error {
	out, err := run("for d in /sys/class/net/*; do [ -e $d/device ] && echo $(cat $d/address) $(ip -br -4 addr show dev ${d##*/} | awk '{print $3}'); done; true")
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	if !strings.Contains(out, mac+" "+addr) || strings.Contains(out, other+" "+addr) {
		return fmt.Errorf("want %s on %s alone:\n%s", addr, mac, out)
	}
	return nil
}

// envRootOnly: the last good environment, with every secret, is root's
// alone; the hostagent's user cannot read it.
func envRootOnly(run func(string) (string, error)) error {
	out, err := run("stat -c '%a %U' /var/lib/vmroute-appliance/ovf-env.xml; runuser -u vmroute-hostagent -- cat /var/lib/vmroute-appliance/ovf-env.xml >/dev/null 2>&1 && echo READABLE || echo refused")
	if err != nil || !strings.Contains(out, "600 root") || !strings.Contains(out, "refused") {
		return fmt.Errorf("the saved OVF environment: %v: %s", err, out)
	}
	return nil
}

// supportNoSecret takes the appliance's support bundle and looks for the
// vCenter password and the TLS key in it, plain, in base64 and in hex.
func supportNoSecret(run func(string) (string, error), password, tlsKey string) error {
	out, err := run("vmroute-appliance support -o - | base64 -w0")
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil {
		return fmt.Errorf("the bundle: %v", err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("the bundle: %v", err)
	}
	tr := tar.NewReader(gz)
	var all strings.Builder
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("the bundle: %v", err)
		}
		names[h.Name] = true
		_, _ = io.Copy(&all, tr)
	}
	body := all.String()
	secrets := []string{password}
	for _, l := range strings.Split(tlsKey, "\n") {
		if len(l) > 8 && !strings.HasPrefix(l, "-----") {
			secrets = append(secrets, l)
		}
	}
	for _, s := range secrets {
		for _, v := range []string{s, base64.StdEncoding.EncodeToString([]byte(s)), hex.EncodeToString([]byte(s))} {
			if strings.Contains(body, v) {
				return fmt.Errorf("the support bundle holds a secret")
			}
		}
	}
	for _, n := range []string{"version.txt", "config/hostagent.toml", "status.txt", "journal.txt", "network.txt", "clock.txt", "appliance/properties.txt"} {
		if !names["vmroute-support/"+n] {
			return fmt.Errorf("the support bundle lacks %s: %v", n, names)
		}
	}
	return expect(body, nil, `vcenter.password = "<redacted>"`, "vmroute-hostagent", "Local time")
}

// update copies the next release's .deb files in and installs them with
// vmroute-appliance update; then the hostagent runs the new version.
func update(ctx context.Context, run func(string) (string, error), key string, port int, debs []string, version string) error {
	if err := scpTo(ctx, key, port, debs, "/tmp/"); err != nil {
		return err
	}
	// dpkg and the hostagent's restart take a minute or more under TCG.
	out, err := sshRunFor(ctx, key, port, "vmroute-appliance update /tmp/vmroute-hostagent_*.deb /tmp/vmroutectl_*.deb", 4*time.Minute)
	if err != nil {
		return fmt.Errorf("vmroute-appliance update: %v: %s", err, out)
	}
	for ctx.Err() == nil {
		out, err = run("vmroutectl status")
		if err == nil && strings.Contains(out, "hostagent version "+version) && strings.Contains(out, "connected since") {
			return nil
		}
		time.Sleep(2 * time.Second)
	}
	return fmt.Errorf("after the update, vmroutectl status does not show version %s connected:\n%s", version, out)
}

// installKernel installs a second kernel package; Debian's /vmlinuz,
// which GRUB boots, then points at it.
func installKernel(ctx context.Context, key string, port int, deb, version string) error {
	if err := scpTo(ctx, key, port, []string{deb}, "/tmp/kernel.deb"); err != nil {
		return err
	}
	// Its initramfs takes minutes to make under TCG.
	out, err := sshRunFor(ctx, key, port, "dpkg -i /tmp/kernel.deb >/tmp/kernel.log 2>&1 || tail /tmp/kernel.log; readlink /vmlinuz /initrd.img", 8*time.Minute)
	if err != nil || !strings.Contains(out, "vmlinuz-"+version) || !strings.Contains(out, "initrd.img-"+version) {
		return fmt.Errorf("the second kernel %s: %v:\n%s", version, err, out)
	}
	return nil
}

// scpTo copies files into the appliance.
func scpTo(ctx context.Context, key string, port int, files []string, dest string) error {
	args := append([]string{"-i", key, "-P", fmt.Sprint(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}, files...)
	out, err := exec.CommandContext(ctx, "scp", append(args, "root@127.0.0.1:"+dest)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scp: %v: %s", err, out)
	}
	return nil
}

// nextHostagent builds the hostagent's and vmroutectl's .deb one release
// on, from binaries that say a version of their own, and returns them
// and that version.
func nextHostagent(t *testing.T, dist, dir string) ([]string, string) {
	t.Helper()
	deb := findDeb(t, dist, "vmroute-hostagent")
	m := regexp.MustCompile(`_([^_-]+)-(\d+)_amd64\.deb$`).FindStringSubmatch(deb)
	if m == nil {
		t.Fatalf("%s: no VERSION-RELEASE in its name", deb)
	}
	release, _ := strconv.Atoi(m[2])
	version := fmt.Sprintf("%s-%d", m[1], release+1)
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X github.com/vmroute/vmroute/shared/version.Version="+version,
		"-o", filepath.Join(bin, "linux-amd64")+"/", "../../cmd/vmroute-hostagent", "../../cmd/vmroutectl", "../../cmd/vmroute-routeragent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the next release: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "next")
	cmd := exec.Command("go", "run", "./mkpkg", "-version", m[1], "-release", strconv.Itoa(release+1), "-arch", "amd64", "-bin", bin, "-out", out)
	cmd.Dir = "../../packaging"
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("package the next release: %v\n%s", err, o)
	}
	return []string{findDeb(t, out, "vmroute-hostagent"), findDeb(t, out, "vmroutectl")}, version
}

// secondKernel returns a kernel package other than the appliance's
// (Debian 12's, from this machine's apt sources; downloaded once into
// /var/cache/vmroute-tests) and its version.
func secondKernel(t *testing.T) (deb, version string) {
	t.Helper()
	out, err := exec.Command("apt-cache", "depends", "linux-image-amd64").Output()
	if err != nil {
		t.Fatalf("apt-cache depends linux-image-amd64: %v", err)
	}
	m := regexp.MustCompile(`Depends: (linux-image-(\d\S*-amd64))`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no kernel package that linux-image-amd64 depends on:\n%s", out)
	}
	dir := "/var/cache/vmroute-tests/kernel"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, m[1]+"_*.deb"))
	if len(debs) == 0 {
		cmd := exec.Command("apt-get", "download", m[1])
		cmd.Dir = dir
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get download %s: %v\n%s", m[1], err, o)
		}
		debs, _ = filepath.Glob(filepath.Join(dir, m[1]+"_*.deb"))
	}
	if len(debs) != 1 {
		t.Fatalf("want one %s .deb in %s, found %v", m[1], dir, debs)
	}
	return debs[0], m[2]
}

// extract takes the one file whose name ends in suffix out of the OVA.
func extract(t *testing.T, ova, suffix, dir string) string {
	t.Helper()
	f, err := os.Open(ova)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in %s: %v", suffix, ova, err)
		}
		if strings.HasSuffix(h.Name, suffix) {
			path := filepath.Join(dir, "appliance"+suffix)
			out, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
			return path
		}
	}
}

// envISO writes an ISO-transport CD-ROM, as vSphere attaches it: label
// "OVF ENV", with ovf-env.xml, whose adapter section names the NICs of
// macs (units 7, 8, ...).
func envISO(t *testing.T, props map[string]string, macs ...string) string {
	t.Helper()
	env := ovf.Env{EsxID: "vm-42", Platform: &ovf.PlatformSection{Kind: "VMware ESXi", Version: "8.0.3", Vendor: "VMware, Inc.", Locale: "en"},
		Property: &ovf.PropertySection{}}
	for k, v := range props {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(v))
		env.Property.Properties = append(env.Property.Properties, ovf.EnvProperty{Key: k, Value: b.String()})
	}
	dir := t.TempDir()
	var adapters []appliancetest.Adapter
	for i, m := range macs {
		adapters = append(adapters, appliancetest.Adapter{MAC: m, Unit: 7 + i})
	}
	if err := os.WriteFile(filepath.Join(dir, "ovf-env.xml"), []byte(appliancetest.WithAdapters(env.MarshalManual(), adapters...)), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(t.TempDir(), "ovf-env.iso")
	if out, err := exec.Command("genisoimage", "-quiet", "-V", "OVF ENV", "-r", "-J", "-o", iso, dir).CombinedOutput(); err != nil {
		t.Fatalf("genisoimage: %v\n%s", err, out)
	}
	return iso
}

// sshRun runs a command in the appliance as root, over the forwarded
// SSH port, for at most 30 s, retrying until SSH answers.
func sshRun(ctx context.Context, key string, port int, cmd string) (string, error) {
	return sshRunFor(ctx, key, port, cmd, 30*time.Second)
}

// sshRunFor is sshRun for a command that may take up to timeout.
func sshRunFor(ctx context.Context, key string, port int, cmd string, timeout time.Duration) (string, error) {
	for {
		c, cancel := context.WithTimeout(ctx, timeout)
		out, err := exec.CommandContext(c, "ssh", "-i", key, "-p", fmt.Sprint(port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@127.0.0.1", cmd).CombinedOutput()
		cancel()
		if err == nil || ctx.Err() != nil || !strings.Contains(string(out), "onnection") && !strings.Contains(string(out), "kex_exchange") {
			return string(out), err
		}
		time.Sleep(2 * time.Second)
	}
}

// listensOnly checks ss -Hltn's output: nothing listens but the given
// addresses.
func listensOnly(out string, allowed ...string) error {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "LISTEN" {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || f[3] == a
		}
		if !ok {
			return fmt.Errorf("%s listens; only %v may:\n%s", f[3], allowed, out)
		}
	}
	return nil
}

func oneLine(pem string) string { return strings.ReplaceAll(strings.TrimSpace(pem), "\n", " ") }
