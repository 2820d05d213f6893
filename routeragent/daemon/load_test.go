package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
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
// against one routeragent. It reports refused or lost reports (there
// must be none), the report-to-plan delay, the HTTP round trip, and the
// process's peak RSS and CPU time (clients included: one process).
func BenchmarkReportLoad(b *testing.B) {
	seconds := 60
	if s, err := strconv.Atoi(os.Getenv("VMROUTE_LOAD_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	const clusters, vmsPer = 50, 100
	ca := pki.New(b)
	dir := b.TempDir()
	cert, key := ca.Issue(b, "router", net.ParseIP("127.0.0.1"))
	var conf strings.Builder
	fmt.Fprintf(&conf, "site = \"A\"\nstate_dir = %q\n[api]\nlisten = \"127.0.0.1:0\"\nstatus_listen = \"\"\ncert_file = %q\nkey_file = %q\nclient_ca_file = %q\n",
		filepath.Join(dir, "state"), cert, key, ca.CAFile)
	conf.WriteString("[reports]\nbatch_window = \"50ms\"\n[[subnets]]\nprefix = \"10.50.0.0/16\"\nhome = \"A\"\n")
	conf.WriteString("[bgp]\nasn = 65001\nrouter_id = \"192.0.2.254\"\nlisten_port = 0\n")
	for c := range clusters {
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
	e := &testEnv{ca: ca}
	vmJSON := func(c, v, landed int) string {
		return fmt.Sprintf(`{"uuid":"vm-%02d-%03d","name":"vm-%02d-%03d","site":%q,"power_state":"poweredOn","landed_at":"%s","nics":[{"mac":"02:00:00:%02x:%02x:%02x","addresses":["10.50.%d.%d"]}]}`,
			c, v, c, v, []string{"A", "B"}[c%2], time.Unix(int64(1_700_000_000+landed), 0).UTC().Format(time.RFC3339), c, v>>8, v&0xff, c, v+1)
	}
	var rtts []time.Duration
	refused := 0
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		start := time.Now()
		for c := range clusters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := e.client(b, fmt.Sprintf("ha-%02d", c))
				var vms []string
				for v := range vmsPer {
					vms = append(vms, vmJSON(c, v, 0))
				}
				gen := uint64(1)
				send := func(body string) {
					t0 := time.Now()
					req, _ := http.NewRequest(http.MethodPost, "https://"+d.apiAddr+wire.ReportsPath, strings.NewReader(body))
					req.Header.Set(wire.ClusterHeader, fmt.Sprintf("cl-%02d", c))
					resp, err := client.Do(req)
					mu.Lock()
					defer mu.Unlock()
					if err != nil || resp.StatusCode != http.StatusOK {
						refused++
						if err == nil {
							resp.Body.Close()
						}
						return
					}
					resp.Body.Close()
					rtts = append(rtts, time.Since(t0))
				}
				send(fmt.Sprintf(`{"cluster":"cl-%02d","generation":1,"kind":"full","vms":[%s]}`, c, strings.Join(vms, ",")))
				tick := time.NewTicker(time.Second * clusters / 200) // 4 changes a second per cluster
				defer tick.Stop()
				for i := 1; time.Since(start) < time.Duration(seconds)*time.Second; i++ {
					<-tick.C
					gen++
					send(fmt.Sprintf(`{"cluster":"cl-%02d","generation":%d,"base":%d,"kind":"delta","vms":[%s]}`,
						c, gen, gen-1, vmJSON(c, i%vmsPer, i)))
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(delays)
	slices.Sort(rtts)
	q := func(s []time.Duration, f float64) float64 {
		return float64(s[int(f*float64(len(s)-1))].Microseconds()) / 1000
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	b.ReportMetric(float64(refused), "refused")
	b.ReportMetric(float64(len(rtts)), "accepted")
	b.ReportMetric(float64(len(delays)), "planned")
	b.ReportMetric(q(delays, 0.5), "plan-p50-ms")
	b.ReportMetric(q(delays, 0.99), "plan-p99-ms")
	b.ReportMetric(q(rtts, 0.99), "http-p99-ms")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MiB")
	b.ReportMetric(cpu.Seconds()/float64(seconds), "cpu-cores")
	if refused > 0 || len(delays) != len(rtts) {
		b.Errorf("%d refused, %d accepted, %d planned", refused, len(rtts), len(delays))
	}
}
