//go:build linux

package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLabInVM runs the lab's per-site story inside the VM, whose kernel
// has sch_netem, with tc netem as the stretched segment's interconnect
// instead of the relay that this machine's kernel needs.
func TestLabInVM(t *testing.T) {
	needVM(t)
	start := time.Now()
	payload := t.TempDir()
	if err := os.Mkdir(filepath.Join(payload, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for dir, pkgs := range map[string][]string{
		payload:                       {"../../cmd/vmroute-lab"},
		filepath.Join(payload, "bin"): {"../../cmd/vmroute-routeragent", "../../cmd/vmroute-hostagent"},
	} {
		if out, err := exec.Command("go", append([]string{"build", "-o", dir + "/"}, pkgs...)...).CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	copyFile(t, "guest-lab.sh", filepath.Join(payload, "guest.sh"))
	copyFile(t, "checks.sh", filepath.Join(payload, "checks.sh"))
	console := boot(t, machine{Disk: filepath.Join(imageDir, "root.img"),
		Kernel: filepath.Join(imageDir, "vmlinuz"), Initrd: filepath.Join(imageDir, "initrd.img"), Append: testAppend,
		Payload: payload, Timeout: 10 * time.Minute})
	t.Logf("booted, ran the lab and powered off in %s", time.Since(start).Round(time.Second))
	if log, err := os.ReadFile(filepath.Join(payload, "lab.log")); err == nil {
		t.Logf("the lab in the VM:\n%s", strings.TrimSpace(string(log)))
	}
	guestChecks(t, payload, console)
}
