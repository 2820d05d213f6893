package vcenter

import (
	"testing"
	"time"
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
