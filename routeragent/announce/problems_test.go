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

// records keeps the log records at Warn and above.
type records struct {
	mu   sync.Mutex
	msgs []string
}

func (r *records) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// nopConn is a socket that sends nothing.
type nopConn struct{ net.PacketConn }

func (nopConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (nopConn) Close() error                              { return nil }

func TestAVRRPBackupLogsOnce(t *testing.T) {
	// A backup router holds no gateway: every VM's every refresh is
	// skipped. That is one log line, a count and a status, not a flood.
	logs := &records{}
	cfg := Config{Count: 3, Interval: 5 * time.Millisecond, Refresh: 5 * time.Millisecond, Rate: 100_000}
	a := newAnnouncer(cfg, slog.New(logs), func(*net.Interface) (net.PacketConn, error) { return nopConn{}, nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	var all []plan.Neighbor
	for i := range 50 {
		all = append(all, plan.Neighbor{VM: string(rune('a'+i%26)) + string(rune('a'+i/26)), Subnet: netip.MustParsePrefix("192.0.2.0/24"),
			Interface: "lo", MAC: wire.MAC{2, 0, 0, 0, 0, byte(i)}, Gateways: []netip.Addr{netip.MustParseAddr("192.0.2.1")}})
	}
	if err := a.Update(ctx, all, nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); a.RoundsSkipped.Load() < 500; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d rounds skipped within 5s", a.RoundsSkipped.Load())
		}
	}
	logs.mu.Lock()
	n := len(logs.msgs)
	logs.mu.Unlock()
	if n != 1 {
		t.Errorf("%d warnings for %d skipped rounds, want 1", n, a.RoundsSkipped.Load())
	}
	problems, err := a.ProblemList(ctx)
	if err != nil || len(problems) != 1 || a.Problems.Load() != 1 {
		t.Errorf("problems %q (%v), gauge %d; want the gateway not held, once", problems, err, a.Problems.Load())
	}
}
