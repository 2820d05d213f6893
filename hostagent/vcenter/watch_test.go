package vcenter

import (
	"slices"
	"testing"
	"time"

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
