// Package netns gives integration tests network namespaces of their own:
// the whole test process re-runs inside a fresh namespace, and can add
// peer namespaces joined to it by veth pairs. Everything is deleted when
// the test ends. Tests that use it need root and skip loudly without it.
package netns

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const envName = "VMROUTE_TEST_NETNS"

var counter atomic.Int32

// Enter runs the calling test inside a new network namespace with its
// loopback up. In the parent process it runs the test again in the
// namespace, reports its output and returns false: the caller returns. In
// the re-run it returns true: the caller goes on, inside the namespace.
//
// For a benchmark, the re-run prints its own result lines and the parent
// skips, saying where the results are.
func Enter(t testing.TB) bool {
	t.Helper()
	if os.Getenv(envName) != "" {
		return true
	}
	RequireRoot(t)
	sweep()
	name := fmt.Sprintf("vmrt-%d-%d", os.Getpid(), counter.Add(1))
	mustRun(t, "ip", "netns", "add", name)
	t.Cleanup(func() { Delete(name) })
	mustRun(t, "ip", "-n", name, "link", "set", "lo", "up")
	args := []string{"netns", "exec", name, os.Args[0], "-test.timeout=30m"}
	_, bench := t.(*testing.B)
	if bench {
		// A skipped benchmark is not run again, so the re-run does all
		// the counts.
		args = append(args, "-test.run=^$", "-test.bench=^"+t.Name()+"$", "-test.benchmem")
		for _, name := range []string{"test.benchtime", "test.count"} {
			if f := flag.Lookup(name); f != nil {
				args = append(args, "-"+name+"="+f.Value.String())
			}
		}
	} else {
		args = append(args, "-test.count=1")
		run := "^" + t.Name() + "$"
		if f := flag.Lookup("test.run"); f != nil {
			if _, sub, ok := strings.Cut(f.Value.String(), "/"); ok {
				run += "/" + sub
			}
		}
		args = append(args, "-test.run="+run, "-test.v")
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), envName+"="+name)
	out, err := cmd.CombinedOutput()
	if bench {
		os.Stdout.Write(out)
	} else {
		t.Logf("inside network namespace %s:\n%s", name, indent(out))
	}
	if err != nil {
		t.Fatalf("test in namespace %s failed: %v", name, err)
	}
	if bench {
		t.Skip("ran inside network namespace " + name + ": results above")
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("test in namespace %s did not pass", name)
	}
	// A subtest skipped in the namespace is skipped here too, with its
	// reason, so that go test -json, and make test's list, show it.
	if tt, ok := t.(*testing.T); ok {
		for sub, why := range skipped(out, t.Name()) {
			tt.Run(sub, func(t *testing.T) { t.Skipf("skipped inside network namespace %s: %s", name, why) })
		}
	}
	return false
}

// skipped finds the subtests of parent that a -test.v output says were
// skipped, each with the first message it logged.
func skipped(out []byte, parent string) map[string]string {
	first := map[string]string{}
	running := ""
	found := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(l, "=== RUN"):
			running = strings.TrimSpace(strings.TrimPrefix(l, "=== RUN"))
		case strings.Contains(l, ".go:") && running != "" && first[running] == "":
			first[running] = l
		}
		if rest, ok := strings.CutPrefix(l, "--- SKIP: "+parent+"/"); ok {
			sub, _, _ := strings.Cut(rest, " (")
			found[sub] = first[parent+"/"+sub]
		}
	}
	return found
}

// sweep deletes the namespaces of test processes that died before they
// could clean up (killed by a timeout, say): "vmrt-PID-..." whose PID is
// gone.
func sweep() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "vmrt-") {
			continue
		}
		pid, _, _ := strings.Cut(strings.TrimPrefix(f[0], "vmrt-"), "-")
		if _, err := os.Stat("/proc/" + pid); os.IsNotExist(err) {
			Delete(f[0])
		}
	}
}

// RequireRoot skips the test, loudly, when not run as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "WARNING: %s SKIPPED: it needs root for network namespaces\n", t.Name())
		t.Skip("needs root for network namespaces")
	}
}

// Current returns the name of the namespace Enter made for this test.
func Current() string { return os.Getenv(envName) }

// Peer creates another namespace for this test, joined to the test's own
// by a veth pair: local is the end in the test's namespace, remote the end
// in the peer. Both are up, with the given addresses (CIDR) on them.
func Peer(t testing.TB, suffix, local string, localAddrs []string, remote string, remoteAddrs []string) string {
	t.Helper()
	name := Current() + "-" + suffix
	mustRun(t, "ip", "netns", "add", name)
	t.Cleanup(func() { Delete(name) })
	mustRun(t, "ip", "-n", name, "link", "set", "lo", "up")
	mustRun(t, "ip", "link", "add", local, "type", "veth", "peer", "name", remote, "netns", name)
	for _, a := range localAddrs {
		mustRun(t, "ip", "addr", "add", a, "dev", local, "nodad")
	}
	for _, a := range remoteAddrs {
		mustRun(t, "ip", "-n", name, "addr", "add", a, "dev", remote, "nodad")
	}
	mustRun(t, "ip", "link", "set", local, "up")
	mustRun(t, "ip", "-n", name, "link", "set", remote, "up")
	return name
}

// Delete kills what still runs in namespace name and deletes it.
func Delete(name string) {
	if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
		for _, pid := range strings.Fields(string(out)) {
			_ = exec.Command("kill", "-9", pid).Run()
		}
	}
	for range 50 {
		if exec.Command("ip", "netns", "del", name).Run() == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Run runs a command and fails the test if it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	return mustRun(t, name, args...)
}

func mustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Start runs a long-lived command inside namespace ns (the test's own
// when ns is empty), logging its output to a file in dir; it is killed
// when the test ends.
func Start(t testing.TB, ns, dir, name string, args ...string) *exec.Cmd {
	t.Helper()
	if ns != "" {
		args = append([]string{"netns", "exec", ns, name}, args...)
		name = "ip"
	}
	logf, err := os.Create(fmt.Sprintf("%s/%s.log", dir, strings.ReplaceAll(args[len(args)-1], "/", "_")))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	return cmd
}

// Need fails the test when a command is missing: the make targets
// install it as root, so a missing one means a broken set-up, never a
// reason to skip.
func Need(t testing.TB, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is not installed: run `make deps` (tests/install-deps.sh) as root", c)
		}
	}
}

func indent(b []byte) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(string(b), "\n"), "\n", "\n    ")
}
