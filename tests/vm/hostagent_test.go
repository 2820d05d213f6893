//go:build linux

package vm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHostagentPackageInVM installs the hostagent's .deb, with
// vmroutectl's, in the VM and checks it under systemd, against vcsim and
// a routeragent on the host: Type=notify, the vCenter password from
// LoadCredential, reports in sync, a vMotion in vcsim arriving at the
// routeragent as a landing, an upgrade to the next release (restarted
// into it), the watchdog, reload (good and broken) and stop.
func TestHostagentPackageInVM(t *testing.T) {
	dist := needVM(t)
	start := time.Now()
	w := newWorld(t, "192.0.2.10")
	w.startRouteragent(t)
	payload := t.TempDir()
	packagesInto(t, dist, payload, "vmroute-hostagent")
	copyFile(t, "guest-hostagent.sh", filepath.Join(payload, "guest.sh"))
	copyFile(t, "checks.sh", filepath.Join(payload, "checks.sh"))
	if err := os.MkdirAll(filepath.Join(payload, "tls"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"tls/ca.crt": w.CA, "tls/hostagent.crt": w.HostCert, "tls/hostagent.key": w.HostKey,
		"vcenter-password": w.Password, "hostagent.toml": w.hostagentConf(hostagentFiles{
			State: "/var/lib/vmroute-hostagent", VCenter: w.VCenterURL, Password: "vcenter-password", TLS: "/etc/vmroute/tls",
			Routeragent: w.RouteragentURL, Status: "127.0.0.1:9180", Report: `debounce = "20ms"`,
		}),
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
	results := make(chan []hostCheck, 1)
	go func() {
		var rs []hostCheck
		first, err := w.firstReport(ctx)
		if err == nil {
			t.Logf("first report at the routeragent %s after the VM's start", first.Sub(start).Round(time.Second))
			err = w.vmotion(ctx)
			rs = append(rs, hostCheck{"first-report", nil}, hostCheck{"landing", err})
		} else {
			rs = append(rs, hostCheck{"first-report", err})
		}
		_ = os.WriteFile(filepath.Join(payload, "host-done"), nil, 0o644)
		results <- rs
	}()
	console := boot(t, machine{Disk: filepath.Join(imageDir, "root.img"),
		Kernel: filepath.Join(imageDir, "vmlinuz"), Initrd: filepath.Join(imageDir, "initrd.img"), Append: testAppend,
		Payload: payload, UserNet: true, Timeout: 6 * time.Minute})
	cancel()
	t.Logf("booted, checked and powered off in %s", time.Since(start).Round(time.Second))
	hostChecks(t, <-results, console)
	guestChecks(t, payload, console)
}
