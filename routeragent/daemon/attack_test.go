package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// Catches the lockout before authentication: 520 idle TCP sockets from
// one host, each opened again 50 ms after the server closes it, filled
// the global cap before TLS, and 17 of 18 real hostagent reports failed.
// Every real report, each on a new connection, must get through.
func TestASocketFloodLocksNoHostagentOut(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	flood := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	for range 520 {
		wg.Go(func() {
			buf := make([]byte, 1)
			for ctx.Err() == nil {
				if c, err := flood.DialContext(ctx, "tcp", d.apiAddr); err == nil {
					stop := context.AfterFunc(ctx, func() { c.Close() })
					_, _ = c.Read(buf) // idle until the server closes it
					stop()
					c.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); d.conns.Refused.Load() < 500; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the flood hit the caps %d times in 10 s, want 500", d.conns.Refused.Load())
		}
	}
	failed := 0
	for i := range 18 {
		c := e.client(t, "hostagent-b")
		c.Transport.(*http.Transport).DisableKeepAlives = true
		req, _ := http.NewRequest(http.MethodPost, "https://"+d.apiAddr+wire.ReportsPath, strings.NewReader(report("cl-b", "B", uint64(i+1), "192.0.2.50")))
		req.Header.Set(wire.ClusterHeader, "cl-b")
		resp, err := c.Do(req)
		if err != nil {
			failed++
			t.Logf("report %d: %v", i+1, err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed++
				t.Logf("report %d: %s", i+1, resp.Status)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if failed > 0 {
		t.Errorf("%d of 18 reports failed during the flood (%d sockets refused)", failed, d.conns.Refused.Load())
	}
	t.Logf("flood: %d sockets refused", d.conns.Refused.Load())
}

// Catches stalled status readers holding whole answers: with 60,000 VMs,
// 200 GETs of /v1/routes that never read raised the RSS from 195 MB to
// 1,052 MB, and 60 of /v1/status reached 381 MB. The answers stream
// within the budget of large answers, and the status listener caps its
// connections: the heap grows by little, and the RSS stays under 600 MB
// (measured when not under the race detector).
func TestStalledStatusReadersHoldLittle(t *testing.T) {
	const vms = 60_000
	e := newEnv(t, `[[subnets]]
prefix = "2001:db8:100::/64"
home = "A"
[guards]
owner = "home"
`)
	e.edit(t, func(c string) string {
		return strings.Replace(c, "max_report_bytes = 8192", "max_report_bytes = 67108864", 1)
	})
	d := e.start(t)
	var b strings.Builder
	fmt.Fprintf(&b, `{"cluster": "cl-b", "generation": 1, "kind": "full", "vms": [`)
	for i := range vms {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"uuid": "vm-%d", "name": "vm-%d", "site": "B", "power_state": "poweredOn", "landed_at": "2026-11-22T10:00:00Z",
		 "nics": [{"mac": "00:50:56:%02x:%02x:%02x", "addresses": ["2001:db8:100::%x:%x"]}]}`, i, i, i>>16, (i>>8)&0xff, i&0xff, 1+i/65536, i%65536)
	}
	b.WriteString("]}")
	big := e.client(t, "hostagent-b")
	big.Timeout = 2 * time.Minute
	if code, p := post(t, big, d, b.String()); code != http.StatusOK {
		t.Fatalf("the report of %d VMs: %d %s", vms, code, p.Error)
	}
	if code, p := post(t, e.client(t, "hostagent-a"), d, report("cl-a", "A", 1, "2001:db8:100::a")); code != http.StatusOK {
		t.Fatalf("cl-a: %d %s", code, p.Error)
	}
	for deadline := time.Now().Add(2 * time.Minute); len(d.last.Load().Routes("B")) < vms; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("site B plans %d routes, want %d host routes", len(d.last.Load().Routes("B")), vms)
		}
	}
	b.Reset()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 260 {
		path := "/v1/routes"
		if i >= 200 {
			path = "/v1/status"
		}
		c, err := net.Dial("tcp", d.statusAddr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: status\r\n\r\n", path)
	}
	peak := base
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	grown := int64(peak) - int64(base)
	t.Logf("heap in use %d MB with the table held, %+d MB with 260 stalled readers; %d connections refused", base>>20, grown>>20, d.statusConns.Refused.Load())
	if grown > 200<<20 {
		t.Errorf("the heap grew by %d MB with 260 stalled readers, want under 200 MB", grown>>20)
	}
	if !raceBuild {
		if rss := vmHWM(t); rss > 600<<20 {
			t.Errorf("peak RSS %d MB, want under 600 MB", rss>>20)
		} else {
			t.Logf("peak RSS %d MB", rss>>20)
		}
	}
}

// vmHWM returns this process's peak RSS, in bytes.
func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
