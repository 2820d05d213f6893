package announce

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
)

// recordConn is a socket that keeps the time of every frame written.
type recordConn struct {
	net.PacketConn
	mu  sync.Mutex
	at  []time.Time
	dst []net.HardwareAddr
}

func (c *recordConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = append(c.at, time.Now())
	c.dst = append(c.dst, net.HardwareAddr(append([]byte(nil), b[:6]...)))
	return len(b), nil
}
func (c *recordConn) Close() error { return nil }

func (c *recordConn) frames() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at...)
}

// waitFrames waits until the socket saw n frames.
func (c *recordConn) waitFrames(t *testing.T, n int) []time.Time {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if f := c.frames(); len(f) >= n {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d frames within 10s, want %d", len(c.frames()), n)
		}
	}
}

// TestSchedule runs the announcer's schedule, scaled down, on a socket
// that records: a landing's burst of Count frames Interval apart, then a
// refresh every Refresh while the VM stays; a reload (SetConfig) changes
// the next burst's length and can turn the refresh off.
func TestSchedule(t *testing.T) {
	const interval, refresh = 40 * time.Millisecond, 150 * time.Millisecond
	conn := &recordConn{}
	// lo has no MAC of its own: the gateway's is given, as for VRRP.
	gwMAC := map[netip.Prefix]wire.MAC{netip.MustParsePrefix("127.0.0.0/8"): {0x00, 0x00, 0x5e, 0x00, 0x01, 0x01}}
	a := newAnnouncer(Config{Count: 3, Interval: interval, Refresh: refresh, Rate: 1000, GatewayMACs: gwMAC}, slog.New(slog.DiscardHandler),
		func(*net.Interface) (net.PacketConn, error) { return conn, nil })
	var mu sync.Mutex
	burst := 0
	a.Sent = func(string, time.Time) { mu.Lock(); burst++; mu.Unlock() }
	bursts := func() int { mu.Lock(); defer mu.Unlock(); return burst }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	vm := plan.Neighbor{VM: "502e-0001", Subnet: netip.MustParsePrefix("127.0.0.0/8"), Interface: "lo",
		MAC: wire.MAC{0x00, 0x50, 0x56, 0, 0, 1}, Gateways: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	landed := time.Now()
	if err := a.Update(ctx, []plan.Neighbor{vm}, []*plan.Neighbor{&vm}); err != nil {
		t.Fatal(err)
	}
	f := conn.waitFrames(t, 5)
	if got := bursts(); got != 3 {
		t.Errorf("%d burst frames, want Count = 3", got)
	}
	if f[0].Sub(landed) > interval {
		t.Errorf("first frame %s after the landing, want it at once", f[0].Sub(landed))
	}
	for i := 1; i < 3; i++ {
		if gap := f[i].Sub(f[i-1]); gap < interval {
			t.Errorf("burst frames %d and %d %s apart, want at least Interval %s", i, i+1, gap, interval)
		}
	}
	for i := 3; i < 5; i++ {
		if gap := f[i].Sub(f[i-1]); gap < refresh {
			t.Errorf("frames %d and %d %s apart, want the refresh, at least %s", i, i+1, gap, refresh)
		}
	}
	for i, d := range conn.dst {
		if d.String() != vm.MAC.HardwareAddr().String() {
			t.Errorf("frame %d to %s, want unicast to the VM %s", i+1, d, vm.MAC.HardwareAddr())
		}
	}

	// A reload: bursts of 5, no refresh. The next landing gets 5 frames,
	// and then nothing is scheduled for the VM.
	if err := a.SetConfig(ctx, Config{Count: 5, Interval: interval, Rate: 1000, GatewayMACs: gwMAC}); err != nil {
		t.Fatal(err)
	}
	before := bursts()
	if err := a.Update(ctx, []plan.Neighbor{vm}, []*plan.Neighbor{&vm}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		st, err := a.Status(ctx)
		if err != nil || len(st) != 1 {
			t.Fatalf("status %+v, %v", st, err)
		}
		if st[0].BurstLeft == 0 && st[0].Next.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v 10s after the landing; want the burst done and nothing scheduled", st[0])
		}
	}
	if got := bursts() - before; got != 5 {
		t.Errorf("after SetConfig(Count: 5): %d burst frames, want 5", got)
	}
}
