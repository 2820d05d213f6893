//go:build linux

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

// olderRelease is the commit of main whose agents this one's must work
// with, in both directions, as a hostagent and a routeragent one release
// apart do during a rolling upgrade: the first with the wire rule for
// optional fields (package wire), which lets an older routeragent read a
// newer hostagent's reports. Move it on with each release.
const olderRelease = "50d3d1d7492b064171d4778c456b162107e60178"

// TestIntegrationMixedVersions builds the agents of olderRelease in a
// git worktree and runs the lab's stretched story twice: the older
// routeragents with this commit's hostagent, and this commit's
// routeragents with the older hostagent. The lab asserts every move at
// BIRD, in the VM's neighbor cache and on the client's path. It catches
// a report an older routeragent refuses (a new field it does not know)
// and one this routeragent misreads (an old one's).
func TestIntegrationMixedVersions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	top, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "-C", top, "cat-file", "-e", olderRelease+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("commit %s of the older release is not in this clone (a shallow clone?): %v %s", olderRelease, err, out)
	}
	tree := filepath.Join(t.TempDir(), "older")
	if out, err := exec.Command("git", "-C", top, "worktree", "add", "--detach", tree, olderRelease).CombinedOutput(); err != nil {
		t.Fatalf("git worktree add: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("git", "-C", top, "worktree", "remove", "--force", tree).Run() })
	older, newer := t.TempDir(), t.TempDir()
	for _, b := range []struct{ dir, src string }{{older, tree}, {newer, top}} {
		build := exec.Command("go", "build", "-o", b.dir+"/", "./cmd/vmroute-routeragent", "./cmd/vmroute-hostagent")
		build.Dir = b.src
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build in %s: %v\n%s", b.src, err, out)
		}
	}
	lab := filepath.Join(newer, "vmroute-lab")
	build := exec.Command("go", "build", "-o", lab, "./cmd/vmroute-lab")
	build.Dir = top
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the lab: %v\n%s", err, out)
	}
	for _, tt := range []struct{ name, routeragent, hostagent string }{
		{"older routeragents, newer hostagent", older, newer},
		{"newer routeragents, older hostagent", newer, older},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin := t.TempDir()
			for _, b := range []struct{ dir, name string }{{tt.routeragent, "vmroute-routeragent"}, {tt.hostagent, "vmroute-hostagent"}} {
				if err := os.Symlink(filepath.Join(b.dir, b.name), filepath.Join(bin, b.name)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, lab, "-bin", bin, "-layout", "stretched", "demo").CombinedOutput()
			t.Logf("lab:\n%s", out)
			if err != nil {
				t.Fatalf("lab: %v", err)
			}
			for _, want := range []string{
				"web-1's gateway entry holds site B's router MAC",
				"the WAN router holds 10.50.0.10/32 via site B",
				"site A's hosts are empty: the WAN router reaches 10.50.0.0/24 via site B and holds no host route",
				"vSphere HA restarts A's VMs on site B's hosts of the same cluster",
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("lab output lacks %q", want)
				}
			}
		})
	}
}
