package vcenter

import (
	"context"
	"fmt"
	"time"

	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
)

// vcClock is vCenter's clock as this appliance reads it without asking:
// vCenter's CurrentTime at one moment, read with a round trip, plus the
// time this machine's monotonic clock has counted since. Batches are
// stamped by it, so a landing costs no round trip to vCenter; it is read
// again while the watch is idle, so it follows vCenter's clock, and a
// step of this machine's wall clock does not move it.
type vcClock struct {
	at time.Time // this machine's clock (monotonic) at the reading
	vc time.Time // vCenter's time then, give or take half the round trip
}

// readClock reads vCenter's CurrentTime, taking the middle of the round
// trip as the moment it stands for.
func readClock(ctx context.Context, c *vim25.Client) (vcClock, error) {
	t0 := time.Now()
	now, err := methods.GetCurrentTime(ctx, c)
	if err != nil {
		return vcClock{}, fmt.Errorf("vCenter time: %w", err)
	}
	return vcClock{at: t0.Add(time.Since(t0) / 2), vc: *now}, nil
}

// now is vCenter's time now, by the last reading.
func (c vcClock) now() time.Time { return c.vc.Add(time.Since(c.at)) }

// SyncTimeout bounds one answer of a full sync (the first wait of a
// session, and each page after a truncated answer): vCenter gathers up
// to MaxObjectUpdates objects of a large inventory for it, and a real
// VM's device list alone is about 6 KB of XML.
const SyncTimeout = 10 * time.Minute

// timeouts bounds every call to vCenter that its caller did not bound
// itself by call; the watcher bounds its waits itself (by call too, or
// by SyncTimeout for a sync's pages).
type timeouts struct {
	soap.RoundTripper
	call time.Duration
}

// RoundTrip makes one call under the caller's deadline, or call.
func (t timeouts) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.call)
		defer cancel()
	}
	return t.RoundTripper.RoundTrip(ctx, req, res)
}
