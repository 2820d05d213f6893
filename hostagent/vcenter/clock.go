package vcenter

import (
	"context"
	"fmt"
	"time"

	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
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
