//go:build linux

package announce

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/mdlayher/packet"

	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/tests/netns"
)

// benchLink is a veth from the router (the benchmark's namespace, with
// the gateway 10.23.0.1) to a sink namespace.
func benchLink(b *testing.B) {
	netns.Peer(b, "sink", "rbench", []string{"10.23.0.1/24"}, "sink", nil)
}

func benchNeighbors(n int) []plan.Neighbor {
	out := make([]plan.Neighbor, n)
	for i := range out {
		out[i] = neighbor(fmt.Sprint("v", i), fmt.Sprintf("02:02:%02x:%02x:%02x:%02x", i>>24&0xff, i>>16&0xff, i>>8&0xff, i&0xff),
			"rbench", "10.23.0.0/24", nil, "10.23.0.1")
	}
	return out
}

// BenchmarkAnnounceThroughput is how many frames a second the announcer
// sends on one core with the rate limit out of the way: in each
// iteration 10,000 VMs land at once, one frame each.
func BenchmarkAnnounceThroughput(b *testing.B) {
	if !netns.Enter(b) {
		return
	}
	benchLink(b)
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	a := startAnnouncerB(b, Config{Count: 1, Interval: time.Second, Rate: 100_000_000})
	const batch = 10_000
	sent := uint64(0)
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		all := benchNeighbors(batch)
		var landed []*plan.Neighbor
		for j := range all {
			all[j].VM = fmt.Sprintf("%s-%d", all[j].VM, i) // new VMs every round
			landed = append(landed, &all[j])
		}
		start := time.Now()
		if err := a.Update(context.Background(), all, landed); err != nil {
			b.Fatal(err)
		}
		sent += batch
		for a.FramesSent.Load() < sent {
			time.Sleep(100 * time.Microsecond)
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "frames/s")
}

// BenchmarkAnnounceLatency is the time from a landing handed to the
// announcer to its first frame on the wire, as a packet socket on the
// router's interface sees it leave; median and maximum of 100 landings
// per loop (too few for a p99).
func BenchmarkAnnounceLatency(b *testing.B) {
	if !netns.Enter(b) {
		return
	}
	benchLink(b)
	ifi, err := net.InterfaceByName("rbench")
	if err != nil {
		b.Fatal(err)
	}
	capture, err := packet.Listen(ifi, packet.Raw, 0x0003, nil) // ETH_P_ALL: outgoing frames too
	if err != nil {
		b.Fatal(err)
	}
	defer capture.Close()
	a := startAnnouncerB(b, Config{Count: 1, Interval: time.Second, Rate: 1000})
	buf := make([]byte, 1500)
	var lat []time.Duration
	for b.Loop() {
		lat = lat[:0]
		for i, n := range benchNeighbors(100) {
			n.VM = fmt.Sprint("lat", i)
			time.Sleep(5 * time.Millisecond) // a landing meets a quiet announcer, not the pacer
			start := time.Now()
			if err := a.Update(context.Background(), []plan.Neighbor{n}, []*plan.Neighbor{&n}); err != nil {
				b.Fatal(err)
			}
			for {
				_ = capture.SetReadDeadline(time.Now().Add(time.Second))
				if _, _, err := capture.ReadFrom(buf); err != nil {
					b.Fatalf("no frame for %s: %v", n.VM, err)
				}
				if bytes.Equal(buf[:6], n.MAC[:]) {
					lat = append(lat, time.Since(start))
					break
				}
			}
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "median-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

func startAnnouncerB(b *testing.B, cfg Config) *Announcer {
	a := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return a
}
