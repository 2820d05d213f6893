// Package bird runs BIRD 2 inside a test's network namespace as a real BGP
// peer, and reads its routing tables with birdc.
package bird

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/tests/netns"
)

// Bird is one running BIRD daemon.
type Bird struct {
	t   testing.TB
	Dir string
	ctl string
}

// Start writes config into a temporary directory and runs BIRD with it in
// namespace ns; it is stopped when the test ends.
func Start(t testing.TB, ns, config string) *Bird {
	t.Helper()
	netns.Need(t, "bird", "birdc")
	dir := t.TempDir()
	b := &Bird{t: t, Dir: dir, ctl: filepath.Join(dir, "bird.ctl")}
	conf := filepath.Join(dir, "bird.conf")
	config = fmt.Sprintf("log %q all;\n", filepath.Join(dir, "bird.log")) + config
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	netns.Start(t, ns, dir, "bird", "-f", "-c", conf, "-s", b.ctl, "-P", filepath.Join(dir, "bird.pid"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := b.Try("show", "status"); err == nil {
			return b
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "bird.log"))
			t.Fatalf("BIRD did not start within 5s; its log:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Try runs a birdc command and returns its output, or an error when
// birdc fails (as for a prefix BIRD holds no route for yet).
func (b *Bird) Try(args ...string) (string, error) {
	out, err := exec.Command("birdc", append([]string{"-s", b.ctl}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("birdc %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Cmd runs a birdc command and returns its output.
func (b *Bird) Cmd(args ...string) string {
	b.t.Helper()
	out, err := b.Try(args...)
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

// Route is one route BIRD holds, with its BGP attributes as birdc shows
// them ("BGP.next_hop" -> "192.0.2.1").
type Route struct {
	Prefix string
	Attrs  map[string]string
	Line   string // the route's first line, with protocol and flags
}

// Routes returns the routes of table (master4, master6) as
// "show route all" prints them, keyed by prefix.
func (b *Bird) Routes(table string) map[string]Route {
	b.t.Helper()
	return ParseRoutes(b.Cmd("show", "route", "all", "table", table))
}

// ParseRoutes parses the output of "show route all".
func ParseRoutes(out string) map[string]Route {
	routes := map[string]Route{}
	var cur *Route
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "BIRD ") || strings.HasPrefix(line, "Table "):
		case line[0] != ' ' && line[0] != '\t':
			f := strings.Fields(line)
			r := Route{Prefix: f[0], Attrs: map[string]string{}, Line: line}
			routes[r.Prefix] = r
			cur = &r
		case cur != nil:
			k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
			if ok {
				cur.Attrs[k] = v
			}
		}
	}
	return routes
}

// Count returns how many routes table holds.
func (b *Bird) Count(table string) int {
	b.t.Helper()
	out := b.Cmd("show", "route", "count", "table", table)
	var n, m, k int
	for _, line := range strings.Split(out, "\n") {
		if _, err := fmt.Sscanf(line, "%d of %d routes for %d networks", &n, &m, &k); err == nil {
			return n
		}
	}
	b.t.Fatalf("no count in %q", out)
	return 0
}

// WaitCount waits until table holds n routes, for at most d.
func (b *Bird) WaitCount(table string, n int, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := b.Count(table)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("BIRD %s holds %d routes after %s, want %d\n%s", table, got, d, n, b.Cmd("show", "protocols", "all"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ProtocolStat returns a number from "show protocols all NAME", such as
// the received count of "Import withdraws".
func (b *Bird) ProtocolStat(proto, row string) (received int) {
	b.t.Helper()
	for _, line := range strings.Split(b.Cmd("show", "protocols", "all", proto), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), row+":") {
			f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), row+":"))
			if len(f) > 0 {
				if _, err := fmt.Sscan(f[0], &received); err == nil {
					return received
				}
			}
		}
	}
	b.t.Fatalf("no %q row for protocol %s", row, proto)
	return 0
}

// Log returns what BIRD logged so far.
func (b *Bird) Log() string {
	log, _ := os.ReadFile(filepath.Join(b.Dir, "bird.log"))
	return string(log)
}

// State returns the BGP state of protocol proto ("Established", ...).
func (b *Bird) State(proto string) string {
	b.t.Helper()
	for _, line := range strings.Split(b.Cmd("show", "protocols", "all", proto), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "BGP state:"); ok {
			return strings.TrimSpace(s)
		}
	}
	return ""
}
