//go:build linux

package vm

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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

// TestApplianceBoot boots the OVA's disk in qemu with its own boot
// loader and an ISO-transport ovf-env.xml pointing it at vcsim and a
// routeragent on the host. The first boot must report within 120 s of
// power-on and carry a vMotion as a landing; a second boot, with a wrong
// vCenter password, shows the reason on the console and in vmroutectl
// status inside; a third, with a bad property, leaves the hostagent
// stopped with the reason on the console.
func TestApplianceBoot(t *testing.T) {
	ova := needOVA(t)
	needVM(t)
	if _, err := exec.LookPath("genisoimage"); err != nil {
		t.Fatal("genisoimage missing: run tests/install-deps.sh")
	}
	dir := t.TempDir()
	disk := extractDisk(t, ova, dir)
	key := filepath.Join(dir, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	w := newWorld(t, "192.0.2.10")
	w.startRouteragent(t)
	props := map[string]string{
		"vcenter.url": w.VCenterURL, "vcenter.user": w.User, "vcenter.password": w.Password, "vcenter.thumbprint": w.Thumbprint,
		"cluster.path": "/DC0/host/DC0_C0", "cluster.name": "stretched", "cluster.sites_by": "host_name", "cluster.sites": "A=DC0_C0_H0;B=DC0_C0_H1",
		"routeragents": w.RouteragentURL,
		// As the wizard's one-line fields hand PEM over.
		"tls.cert": oneLine(w.HostCert), "tls.key": oneLine(w.HostKey), "tls.ca": oneLine(w.CA),
		"net.mode": "static", "net.address": "10.0.2.15/24",
		"access.ssh": "true", "access.ssh_key": strings.TrimSpace(readFile(t, key+".pub")),
	}

	t.Run("first boot", func(t *testing.T) {
		sshPort := agents.FreePort(t)
		iso := envISO(t, props)
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		start := time.Now()
		results := make(chan []hostCheck, 1)
		go func() {
			var rs []hostCheck
			first, err := w.firstReport(ctx)
			if err == nil && first.Sub(start) > 120*time.Second {
				err = fmt.Errorf("first full report %s after power-on, want within 120 s", first.Sub(start).Round(time.Second))
			}
			if err == nil {
				t.Logf("first full report at the routeragent %s after power-on", first.Sub(start).Round(time.Second))
			}
			rs = append(rs, hostCheck{"report-within-120s", err})
			rs = append(rs, hostCheck{"landing", w.vmotion(ctx)})
			out, err := sshRun(ctx, key, sshPort, "vmroutectl status; echo; ss -Hltn")
			if err == nil && (!strings.Contains(out, "connected since") || !strings.Contains(out, w.RouteragentURL+"  true")) {
				err = fmt.Errorf("vmroutectl status inside the appliance:\n%s", out)
			}
			rs = append(rs, hostCheck{"vmroutectl-status", err})
			rs = append(rs, hostCheck{"listens", listensOnly(out, "127.0.0.1:9180", "0.0.0.0:22", "[::]:22")})
			_, _ = sshRun(ctx, key, sshPort, "systemctl poweroff")
			results <- rs
		}()
		console := boot(t, machine{Disk: disk, Format: "vmdk", UserNet: true, CDROM: iso,
			Forward: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:22", sshPort)}, Timeout: 8 * time.Minute})
		cancel()
		t.Logf("booted, checked and powered off in %s", time.Since(start).Round(time.Second))
		hostChecks(t, <-results, console)
	})

	t.Run("wrong vCenter password", func(t *testing.T) {
		props["vcenter.password"] = "wrong-password"
		sshPort := agents.FreePort(t)
		iso := envISO(t, props)
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
		console := boot(t, machine{Disk: disk, Format: "vmdk", UserNet: true, CDROM: iso,
			Forward: []string{fmt.Sprintf("tcp:127.0.0.1:%d-:22", sshPort)}, Timeout: 8 * time.Minute})
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
		console := boot(t, machine{Disk: disk, Format: "vmdk", UserNet: true, CDROM: envISO(t, props),
			Timeout: 6 * time.Minute, StopWhen: "hostagent:     inactive"})
		if !strings.Contains(console, reason) || !strings.Contains(console, "configuration: "+reason) {
			t.Errorf("the console does not give the reason %q:\n%s", reason, tail(console, 30))
		}
		if strings.Contains(console, w.Password) {
			t.Error("the console shows the vCenter password")
		}
	})
}

// extractDisk takes the VMDK out of the OVA.
func extractDisk(t *testing.T, ova, dir string) string {
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
			t.Fatalf("no disk in %s: %v", ova, err)
		}
		if strings.HasSuffix(h.Name, ".vmdk") {
			path := filepath.Join(dir, "disk.vmdk")
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
// "OVF ENV", with ovf-env.xml.
func envISO(t *testing.T, props map[string]string) string {
	t.Helper()
	env := ovf.Env{EsxID: "vm-42", Platform: &ovf.PlatformSection{Kind: "VMware ESXi", Version: "8.0.3", Vendor: "VMware, Inc.", Locale: "en"},
		Property: &ovf.PropertySection{}}
	for k, v := range props {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(v))
		env.Property.Properties = append(env.Property.Properties, ovf.EnvProperty{Key: k, Value: b.String()})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ovf-env.xml"), []byte(env.MarshalManual()), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(t.TempDir(), "ovf-env.iso")
	if out, err := exec.Command("genisoimage", "-quiet", "-V", "OVF ENV", "-r", "-J", "-o", iso, dir).CombinedOutput(); err != nil {
		t.Fatalf("genisoimage: %v\n%s", err, out)
	}
	return iso
}

// sshRun runs a command in the appliance as root, over the forwarded
// SSH port, retrying until SSH answers.
func sshRun(ctx context.Context, key string, port int, cmd string) (string, error) {
	for {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
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
