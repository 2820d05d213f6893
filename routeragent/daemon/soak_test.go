package daemon

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/pki"
)

// BenchmarkSoak loads a routeragent, run as its own process, with 100,000
// VMs, then holds 50 stalled readers (they ask for the location table and
// never read it) and 50 trickling clients (a report body a byte a second)
// against it for VMROUTE_SOAK_SECONDS (60 by default), while a
// well-behaved hostagent reports a change every 50 ms. It reports the
// routeragent's own peak RSS and CPU time, and the well-behaved client's
// round trip (p99 over at least 1,000 reports). The VMs' addresses are
// planner data in 2001:db8::/32; nothing is sent to them.
func BenchmarkSoak(b *testing.B) {
	seconds := envSeconds("VMROUTE_SOAK_SECONDS", 60)
	const vms, stalled, tricklers = 100_000, 50, 50
	dir := b.TempDir()
	bin := filepath.Join(dir, "vmroute-routeragent")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/vmroute-routeragent").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	ca := pki.New(b)
	cert, key := ca.Issue(b, "router", net.ParseIP("127.0.0.1"))
	for _, n := range []string{"big", "good", "operator"} {
		ca.Issue(b, n)
	}
	port := freePort(b)
	conf := fmt.Sprintf(`site = "A"
state_dir = %q
[log]
level = "error"
[api]
listen = "127.0.0.1:%d"
status_listen = ""
cert_file = %q
key_file = %q
client_ca_file = %q
operators = ["operator"]
[[clusters]]
name = "big"
site = "A"
clients = ["big"]
[[clusters]]
name = "good"
site = "A"
clients = ["good"]
[[subnets]]
prefix = "2001:db8::/64"
home = "A"
[bgp]
asn = 65001
router_id = "192.0.2.254"
listen_port = 0
`, filepath.Join(dir, "state"), port, cert, key, ca.CAFile)
	path := filepath.Join(dir, "routeragent.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", path)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	client := func(name string) (*http.Client, *tls.Config) {
		tc, err := tlsutil.Load(tlsutil.Files{Cert: filepath.Join(ca.Dir, name+".crt"), Key: filepath.Join(ca.Dir, name+".key"), CA: ca.CAFile})
		if err != nil {
			b.Fatal(err)
		}
		return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc.Client()}}, tc.Client()
	}
	post := func(c *http.Client, r *wire.Report) (time.Duration, error) {
		body, _ := json.Marshal(r)
		req, _ := http.NewRequest(http.MethodPost, "https://"+addr+wire.ReportsPath, bytes.NewReader(body))
		req.Header.Set(wire.ClusterHeader, r.Cluster)
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s", resp.Status)
		}
		return time.Since(start), nil
	}
	vm := func(i int) wire.VM {
		return wire.VM{UUID: fmt.Sprintf("vm-%06d", i), Name: fmt.Sprintf("vm-%06d", i), Site: "A", PowerState: wire.PoweredOn,
			LandedAt: time.Now().Add(-time.Hour), NICs: []wire.NIC{{MAC: wire.MAC{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)},
				Addresses: []netip.Addr{netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})}}}}
	}
	big, _ := client("big")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the routeragent did not listen within 30 s")
		}
	}
	full := &wire.Report{Cluster: "big", Generation: 1, Kind: wire.KindFull}
	for i := range vms {
		full.VMs = append(full.VMs, vm(i))
	}
	if _, err := post(big, full); err != nil {
		b.Fatalf("the full report of %d VMs: %v", vms, err)
	}
	full = nil

	b.ResetTimer()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var closed atomic.Int64
	_, opTLS := client("operator")
	_, bigTLS := client("big")
	hold := func(tc *tls.Config, request string, trickle bool) {
		defer wg.Done()
		for {
			conn, err := tls.Dial("tcp", addr, tc)
			if err == nil {
				_, err = conn.Write([]byte(request))
			}
			for err == nil {
				select {
				case <-stop:
					conn.Close()
					return
				case <-time.After(time.Second):
				}
				if trickle {
					_, err = conn.Write([]byte(" "))
				} else {
					// A stalled reader: reads nothing, notices a close.
					_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
					var one [1]byte
					if _, rerr := conn.Read(one[:0]); rerr != nil && !isTimeout(rerr) {
						err = rerr
					}
				}
			}
			if conn != nil {
				conn.Close()
			}
			closed.Add(1)
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	}
	for range stalled {
		wg.Add(1)
		go hold(opTLS, "GET /v1/vms HTTP/1.1\r\nHost: router\r\n\r\n", false)
	}
	for range tricklers {
		wg.Add(1)
		go hold(bigTLS, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: router\r\n%s: big\r\nContent-Length: %d\r\n\r\n{", wire.ReportsPath, wire.ClusterHeader, 24<<20), true)
	}
	good, _ := client("good")
	var rtts []time.Duration
	failed := 0
	gen := uint64(1)
	if _, err := post(good, &wire.Report{Cluster: "good", Generation: gen, Kind: wire.KindFull, VMs: []wire.VM{}}); err != nil {
		b.Fatal(err)
	}
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		gen++
		v := vm(vms + i%100)
		v.LandedAt = time.Now()
		rtt, err := post(good, &wire.Report{Cluster: "good", Generation: gen, Base: gen - 1, Kind: wire.KindDelta, VMs: []wire.VM{v}})
		if err != nil {
			failed++
			gen-- // not accepted: the next delta goes on the same base
		} else {
			rtts = append(rtts, rtt)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	b.StopTimer()
	peak, cpu := procStats(b, cmd.Process.Pid)
	slices.Sort(rtts)
	if len(rtts) == 0 {
		b.Fatalf("no report of the well-behaved client accepted (%d failed)", failed)
	}
	q := func(f float64) float64 { return float64(rtts[int(f*float64(len(rtts)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(peak)/1024, "peak-rss-MiB")
	b.ReportMetric(cpu.Seconds(), "cpu-s")
	b.ReportMetric(float64(len(rtts)), "good-reports")
	b.ReportMetric(float64(failed), "good-failed")
	b.ReportMetric(q(0.5), "good-p50-ms")
	if len(rtts) >= 1000 {
		b.ReportMetric(q(0.99), "good-p99-ms")
	}
	b.ReportMetric(q(1), "good-max-ms")
	b.ReportMetric(float64(closed.Load()), "hostile-conns-closed")
	if failed > 0 {
		b.Errorf("%d reports of the well-behaved client failed", failed)
	}
}

// envSeconds reads a benchmark's duration in seconds from the environment
// variable name, or def when it is unset or not a positive number.
func envSeconds(name string, def int) int {
	if s, err := strconv.Atoi(os.Getenv(name)); err == nil && s > 0 {
		return s
	}
	return def
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// procStats reads a process's peak RSS (KiB) and CPU time from /proc.
func procStats(b *testing.B, pid int) (peakKiB int, cpu time.Duration) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			peakKiB, _ = strconv.Atoi(strings.Fields(v)[0])
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, _ := strconv.Atoi(fields[11])
	stime, _ := strconv.Atoi(fields[12])
	return peakKiB, time.Duration(utime+stime) * time.Second / 100
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
