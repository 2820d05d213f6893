//go:build linux

package vm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHostagentPackageInVM installs the hostagent's .deb in the VM (its
// own VM: the two packages conflict over vmroutectl) and checks it under
// systemd, against vcsim and a routeragent on the host: Type=notify, the
// vCenter password from LoadCredential, reports in sync, a vMotion in
// vcsim arriving at the routeragent as a landing, the watchdog, reload
// (good and broken) and stop.
func TestHostagentPackageInVM(t *testing.T) {
	dist := needVM(t)
	start := time.Now()
	w := newWorld(t, "192.0.2.10")
	w.startRouteragent(t)
	payload := t.TempDir()
	deb := findDeb(t, dist, "vmroute-hostagent")
	copyFile(t, deb, filepath.Join(payload, filepath.Base(deb)))
	copyFile(t, "guest-hostagent.sh", filepath.Join(payload, "guest.sh"))
	if err := os.MkdirAll(filepath.Join(payload, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"tls/ca.crt": w.CA, "tls/hostagent.crt": w.HostCert, "tls/hostagent.key": w.HostKey,
		"vcenter-password": w.Password, "hostagent.toml": hostagentConf(w),
	} {
		if err := os.WriteFile(filepath.Join(payload, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The host's side, while the VM runs: the first report, then a
	// vMotion whose landing the routeragent must see. The guest waits for
	// host-done before it stops the hostagent.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan []result, 1)
	go func() {
		var rs []result
		first, err := w.firstReport(ctx)
		if err == nil {
			t.Logf("first report at the routeragent %s after the VM's start", first.Sub(start).Round(time.Second))
			err = w.vmotion(ctx)
			rs = append(rs, result{"first-report", nil}, result{"landing", err})
		} else {
			rs = append(rs, result{"first-report", err})
		}
		_ = os.WriteFile(filepath.Join(payload, "host-done"), nil, 0o644)
		results <- rs
	}()
	console := boot(t, machine{Disk: filepath.Join(imageDir, "root.img"),
		Kernel: filepath.Join(imageDir, "vmlinuz"), Initrd: filepath.Join(imageDir, "initrd.img"), Append: testAppend,
		Payload: payload, UserNet: true, Timeout: 6 * time.Minute})
	cancel()
	t.Logf("booted, checked and powered off in %s", time.Since(start).Round(time.Second))
	for _, r := range <-results {
		t.Run(r.name, func(t *testing.T) {
			if r.err != nil {
				t.Error(r.err)
			}
		})
	}
	guestChecks(t, payload, console)
}

// hostagentConf is the hostagent's configuration inside the VM: vcsim
// and the routeragent on the host, the stretched cluster's hosts mapped
// to sites by name.
func hostagentConf(w *world) string {
	return fmt.Sprintf(`state_dir = "/var/lib/vmroute-hostagent"
routeragents = [%q]
[vcenter]
url = %q
user = %q
password_file = "vcenter-password"
thumbprint = %q
[[clusters]]
path = "/DC0/host/DC0_C0"
name = "stretched"
sites_by = "host_name"
[clusters.sites]
A = ["DC0_C0_H0"]
B = ["DC0_C0_H1"]
[tls]
cert_file = "/etc/vmroute/tls/hostagent.crt"
key_file = "/etc/vmroute/tls/hostagent.key"
ca_file = "/etc/vmroute/tls/ca.crt"
[report]
debounce = "20ms"
[status]
listen = "127.0.0.1:9180"
`, w.RouteragentURL, w.VCenterURL, w.User, w.Thumbprint)
}
