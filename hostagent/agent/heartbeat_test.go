package agent

import (
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/vmroute/vmroute/hostagent/config"
	"github.com/vmroute/vmroute/hostagent/vcenter"
)

// Catches heartbeats that go on while vCenter is lost: the cluster stayed
// fresh at the routeragents while the hostagent said connected: false.
// Beats go while the session has been down for less than
// report.stop_heartbeats_after, and stop after.
func TestHeartbeatsStopOnceVCenterIsDownLongerThanTheBound(t *testing.T) {
	u, _ := url.Parse("https://vcenter.example.net/sdk")
	a := &Agent{cfg: &config.Config{StopHeartbeatsAfter: 50 * time.Millisecond}, log: slog.New(slog.DiscardHandler),
		watcher: vcenter.New(config.VCenter{URL: u}, nil, slog.New(slog.DiscardHandler))}
	a.beatsOn.Store(true)
	start := time.Now()
	if !a.beating() {
		t.Fatal("no beat right after start, before the bound")
	}
	for a.beating() {
		if time.Since(start) > 5*time.Second {
			t.Fatal("still beating 5 s after the start without a vCenter session, with a bound of 50 ms")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("beats stopped after %s, before the bound", d)
	}
}
