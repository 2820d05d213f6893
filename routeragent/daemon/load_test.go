package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/pki"
)

// BenchmarkReportLoad is 50 clusters reporting deltas concurrently, 200
// changes a second in all, for VMROUTE_LOAD_SECONDS (60 by default)
// against one routeragent. The routeragent runs in the benchmark's
// process; the 50 clients run in a child process (TestReportLoadClients),
// so that the CPU time and peak RSS it reports are the routeragent's own.
// It reports refused or lost reports (there must be none), the
// report-to-plan delay and the HTTP round trip.
func BenchmarkReportLoad(b *testing.B) {
	seconds := envSeconds("VMROUTE_LOAD_SECONDS", 60)
	ca := pki.New(b)
	dir := b.TempDir()
	cert, key := ca.Issue(b, "router", net.ParseIP("127.0.0.1"))
	var conf strings.Builder
	fmt.Fprintf(&conf, "site = \"A\"\nstate_dir = %q\n[api]\nlisten = \"127.0.0.1:0\"\nstatus_listen = \"\"\ncert_file = %q\nkey_file = %q\nclient_ca_file = %q\n",
		filepath.Join(dir, "state"), cert, key, ca.CAFile)
	conf.WriteString("[reports]\nbatch_window = \"50ms\"\n[[subnets]]\nprefix = \"10.50.0.0/16\"\nhome = \"A\"\n")
	conf.WriteString("[bgp]\nasn = 65001\nrouter_id = \"192.0.2.254\"\nlisten_port = 0\n")
	for c := range loadClusters {
		ca.Issue(b, fmt.Sprintf("ha-%02d", c))
		fmt.Fprintf(&conf, "[[clusters]]\nname = \"cl-%02d\"\nsite = %q\nclients = [\"ha-%02d\"]\n", c, []string{"A", "B"}[c%2], c)
	}
	path := filepath.Join(dir, "routeragent.toml")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var delays []time.Duration
	d.planned = func(dt time.Duration) { mu.Lock(); delays = append(delays, dt); mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- d.Run(ctx, func() { close(ready) }) }()
	<-ready
	defer func() { cancel(); <-done }()
	var res loadResult
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestReportLoadClients$", "-test.count", "1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("VMROUTE_LOAD_CLIENTS=%s,%s,%s,%d", d.apiAddr, ca.Dir, ca.CAFile, seconds))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("load clients: %v\n%s", err, out)
		}
		line, ok := strings.CutPrefix(lastLine(string(out), "LOAD "), "LOAD ")
		if !ok || json.Unmarshal([]byte(line), &res) != nil {
			b.Fatalf("load clients said no result:\n%s", out)
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	// Reports accepted just before the end are planned within a batch.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(delays)
		mu.Unlock()
		if n >= len(res.RTTs) {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(delays)
	slices.Sort(res.RTTs)
	if len(delays) == 0 || len(res.RTTs) == 0 {
		b.Fatalf("%d planned, %d accepted, %d refused", len(delays), len(res.RTTs), res.Refused)
	}
	q := func(s []time.Duration, f float64) float64 {
		return float64(s[int(f*float64(len(s)-1))].Microseconds()) / 1000
	}
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(res.Refused), "refused")
	b.ReportMetric(float64(len(res.RTTs)), "accepted")
	b.ReportMetric(float64(len(delays)), "planned")
	b.ReportMetric(q(delays, 0.5), "plan-p50-ms")
	b.ReportMetric(q(delays, 0.99), "plan-p99-ms")
	b.ReportMetric(q(res.RTTs, 0.99), "http-p99-ms")
	b.ReportMetric(float64(after.Maxrss)/1024, "routeragent-peak-rss-MiB")
	b.ReportMetric(cpu.Seconds()/float64(seconds), "routeragent-cpu-cores")
	if res.Refused > 0 || len(delays) != len(res.RTTs) {
		b.Errorf("%d refused, %d accepted, %d planned", res.Refused, len(res.RTTs), len(delays))
	}
}

const loadClusters, loadVMs = 50, 100

// loadResult is what the load clients' process reports: refusals and
// round trips.
type loadResult struct {
	Refused int             `json:"refused"`
	RTTs    []time.Duration `json:"rtts"`
}

func lastLine(out, prefix string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], prefix) {
			return lines[i]
		}
	}
	return ""
}

// TestReportLoadClients is BenchmarkReportLoad's clients, in a process of
// their own: 4 deltas a second per cluster after a full report. It prints
// its result as one line of JSON after "LOAD ".
func TestReportLoadClients(t *testing.T) {
	args := strings.Split(os.Getenv("VMROUTE_LOAD_CLIENTS"), ",")
	if len(args) != 4 {
		t.Skip("helper process for BenchmarkReportLoad")
	}
	addr, caDir, caFile := args[0], args[1], args[2]
	seconds, _ := strconv.Atoi(args[3])
	e := &testEnv{ca: &pki.CA{Dir: caDir, CAFile: caFile}}
	vmJSON := func(c, v, landed int) string {
		return fmt.Sprintf(`{"uuid":"vm-%02d-%03d","name":"vm-%02d-%03d","site":%q,"power_state":"poweredOn","landed_at":"%s","nics":[{"mac":"02:00:00:%02x:%02x:%02x","addresses":["10.50.%d.%d"]}]}`,
			c, v, c, v, []string{"A", "B"}[c%2], time.Unix(int64(1_700_000_000+landed), 0).UTC().Format(time.RFC3339), c, v>>8, v&0xff, c, v+1)
	}
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	for c := range loadClusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := e.client(t, fmt.Sprintf("ha-%02d", c))
			var vms []string
			for v := range loadVMs {
				vms = append(vms, vmJSON(c, v, 0))
			}
			gen := uint64(1)
			send := func(body string) {
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, "https://"+addr+wire.ReportsPath, strings.NewReader(body))
				req.Header.Set(wire.ClusterHeader, fmt.Sprintf("cl-%02d", c))
				resp, err := client.Do(req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil || resp.StatusCode != http.StatusOK {
					res.Refused++
					if err == nil {
						resp.Body.Close()
					}
					return
				}
				resp.Body.Close()
				res.RTTs = append(res.RTTs, time.Since(t0))
			}
			send(fmt.Sprintf(`{"cluster":"cl-%02d","generation":1,"kind":"full","vms":[%s]}`, c, strings.Join(vms, ",")))
			tick := time.NewTicker(time.Second * loadClusters / 200) // 4 changes a second per cluster
			defer tick.Stop()
			for i := 1; time.Since(start) < time.Duration(seconds)*time.Second; i++ {
				<-tick.C
				gen++
				send(fmt.Sprintf(`{"cluster":"cl-%02d","generation":%d,"base":%d,"kind":"delta","vms":[%s]}`,
					c, gen, gen-1, vmJSON(c, i%loadVMs, i)))
			}
		}()
	}
	wg.Wait()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LOAD %s\n", b)
}
