package vcenter

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/soap"

	"github.com/vmroute/vmroute/hostagent/inventory"
)

func TestJitterSpreadsLogins(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 200 {
		d := jitter(time.Second)
		if d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("jitter(1s) = %v, want from 0.5s to 1s", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("200 waits took %d values: hostagents would come back in lockstep", len(seen))
	}
}

func TestMissingHosts(t *testing.T) {
	// The cluster lists esx-b2, which the user's role does not let the
	// watch see.
	listed := map[string][]string{"stretched": {"esx-a1", "esx-b1", "esx-b2"}, "cl-c": {"esx-c1"}}
	seen := []inventory.HostSite{{Name: "esx-a1", Cluster: "stretched", Site: "A"}, {Name: "esx-b1", Cluster: "stretched", Site: "B"},
		{Name: "esx-c1", Cluster: "cl-c", Site: "C"}}
	if got := missingHosts(listed, seen); !slices.Equal(got, []string{"stretched/esx-b2"}) {
		t.Errorf("missing %v, want stretched/esx-b2", got)
	}
	if got := missingHosts(listed, append(seen, inventory.HostSite{Name: "esx-b2", Cluster: "stretched"})); got != nil {
		t.Errorf("missing %v once every host is seen", got)
	}
}

// deadline records the deadline of the call it is given.
type deadline struct{ at time.Time }

func (d *deadline) RoundTrip(ctx context.Context, _, _ soap.HasFault) error {
	d.at, _ = ctx.Deadline()
	return nil
}

func TestEveryCallIsBounded(t *testing.T) {
	d := &deadline{}
	rt := timeouts{RoundTripper: d, call: time.Minute}
	if err := rt.RoundTrip(context.Background(), nil, nil); err != nil || time.Until(d.at) < 59*time.Second || time.Until(d.at) > time.Minute {
		t.Errorf("a call without a deadline: %v, deadline in %v, want a minute", err, time.Until(d.at))
	}
	ctx, cancel := context.WithTimeout(context.Background(), SyncTimeout)
	defer cancel()
	if err := rt.RoundTrip(ctx, nil, nil); err != nil || time.Until(d.at) < SyncTimeout-time.Second {
		t.Errorf("a sync's call: %v, deadline in %v, want the caller's %v", err, time.Until(d.at), SyncTimeout)
	}
}

func TestTheClockCountsFromItsReading(t *testing.T) {
	vc := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c := vcClock{at: time.Now().Add(-3 * time.Second), vc: vc}
	if got := c.now().Sub(vc); got < 3*time.Second || got > 4*time.Second {
		t.Errorf("vCenter's time 3 s after the reading: %v after it", got)
	}
}
