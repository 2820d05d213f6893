package intake

import (
	"net/http"
	"testing"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// Catches generations far past the clock accepted: one at the wire's
// limit left every honest report after it a 409, also after a restart.
func TestGenerationsFarAheadOfTheClockAreRefused(t *testing.T) {
	now := time.Now()
	a := []string{"hostagent-a"}
	for _, gen := range []uint64{wire.MaxGeneration, wire.MaxGeneration - 3, uint64(now.Add(25 * time.Hour).UnixNano())} {
		in := newIntake()
		ch, ref := in.Accept(full(gen, vm("v1", 0)), a, now, keep)
		if ch != nil || ref == nil || ref.Status != http.StatusUnprocessableEntity {
			t.Fatalf("generation %d: %+v %+v, want 422", gen, ch, ref)
		}
		if g := in.Generation("cl-a"); g != 0 {
			t.Errorf("generation %d held after the refusal", g)
		}
		honest := uint64(now.UnixNano())
		if _, ref := in.Accept(full(honest, vm("v1", 0)), a, now, keep); ref != nil {
			t.Errorf("an honest report after generation %d: %v", gen, ref)
		}
	}
	// Within a day ahead (a hostagent whose clock runs a little fast).
	in := newIntake()
	if _, ref := in.Accept(full(uint64(now.Add(time.Hour).UnixNano()), vm("v1", 0)), a, now, keep); ref != nil {
		t.Errorf("a generation an hour ahead: %v", ref)
	}
}

// Catches a wedged generation restored from a state file written before
// the bound: the next full report must replace it, and a delta must be
// told to send one, not be told the wedged number to count above.
func TestAWedgedGenerationIsReplacedByAFullReport(t *testing.T) {
	now := time.Now()
	a := []string{"hostagent-a"}
	for _, gen := range []uint64{wire.MaxGeneration, wire.MaxGeneration - 3} {
		in := newIntake()
		if err := in.Restore(&State{Cluster: "cl-a", Generation: gen, Received: now, VMs: map[string]wire.VM{"v1": vm("v1", 0)}}); err != nil {
			t.Fatal(err)
		}
		honest := uint64(now.UnixNano())
		ch, ref := in.Accept(delta(honest+1, honest, []wire.VM{vm("v2", 0)}), a, now, keep)
		if ch != nil || ref == nil || ref.Status != http.StatusConflict || ref.Generation != 0 {
			t.Fatalf("a delta against wedged generation %d: %+v %+v, want 409 naming generation 0", gen, ch, ref)
		}
		if _, ref := in.Accept(full(honest+2, vm("v1", 0), vm("v2", 0)), a, now, keep); ref != nil {
			t.Fatalf("a full report after wedged generation %d: %v", gen, ref)
		}
		if g := in.Generation("cl-a"); g != honest+2 {
			t.Errorf("generation %d held, want %d", g, honest+2)
		}
		if _, ref := in.Accept(delta(honest+3, honest+2, nil, "v2"), a, now, keep); ref != nil {
			t.Errorf("a delta after the reset: %v", ref)
		}
	}
}

// Catches a landing ahead of the clock held as reported: it outranked,
// and its tombstone voided, a later real landing elsewhere. It is held at
// its receipt plus the skew, and keeps that time when sent again.
func TestLandingsAheadOfTheClockAreHeldClamped(t *testing.T) {
	in := newIntake()
	a := []string{"hostagent-a"}
	ahead := vm("v1", 100) // vCenter's clock 100 s ahead
	ch, ref := in.Accept(full(10, ahead), a, t0, keep)
	if ref != nil || len(ch.VMs) != 1 || !ch.VMs[0].LandedAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("accepted %+v %v: want the landing held at receipt + 2 s", ch, ref)
	}
	st := in.States()[0]
	if !st.VMs["v1"].LandedAt.Equal(t0.Add(2*time.Second)) || !st.Ahead["v1"].Equal(ahead.LandedAt) {
		t.Fatalf("state %+v", st)
	}
	if ch, ref := in.Accept(full(10, ahead), a, t0.Add(time.Second), keep); ch != nil || ref != nil {
		t.Errorf("a retry of the clamped report: %+v %v, want nothing to do", ch, ref)
	}
	// Sent again, before and after the clock catches up: no new landing.
	for i, now := range []time.Time{t0.Add(10 * time.Second), t0.Add(200 * time.Second)} {
		ch, ref := in.Accept(delta(uint64(11+i), uint64(10+i), []wire.VM{ahead}), a, now, keep)
		if ref != nil || len(ch.Landed) != 0 || !ch.VMs[0].LandedAt.Equal(t0.Add(2*time.Second)) {
			t.Errorf("sent again at +%s: %+v %v, want the held time and no landing", now.Sub(t0), ch, ref)
		}
	}
	// A new landing at the same site (it left between two reports) is one.
	again := vm("v1", 300)
	ch, ref = in.Accept(delta(13, 12, []wire.VM{again}), a, t0.Add(200*time.Second), keep)
	if ref != nil || len(ch.Landed) != 1 || !ch.VMs[0].LandedAt.Equal(t0.Add(202*time.Second)) {
		t.Errorf("a new landing ahead: %+v %v", ch, ref)
	}
	// The VM leaves: its tombstone is the clamped time, and Ahead forgets it.
	if _, ref := in.Accept(delta(14, 13, nil, "v1"), a, t0.Add(210*time.Second), keep); ref != nil {
		t.Fatal(ref)
	}
	st = in.States()[0]
	if !st.Gone["v1"].Equal(t0.Add(202*time.Second)) || len(st.Ahead) != 0 {
		t.Errorf("after the VM left: gone %v, ahead %v", st.Gone, st.Ahead)
	}
}

// Catches times of a tampered or broken state file restored as they are.
func TestClampBoundsTheTimesOfASavedState(t *testing.T) {
	far := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	v1, v2 := vm("v1", 0), vm("v2", 0)
	v1.LandedAt = far
	st := &State{Cluster: "cl-a", Generation: 10, Received: far, VMs: map[string]wire.VM{"v1": v1, "v2": v2},
		Gone: map[string]time.Time{"v3": far, "v4": t0}}
	limit := t0.Add(2 * time.Minute)
	lines := st.Clamp(limit)
	if len(lines) != 3 {
		t.Errorf("clamped %q, want received, v1's landing and v3's tombstone", lines)
	}
	if !st.Received.Equal(limit) || !st.VMs["v1"].LandedAt.Equal(limit) || !st.VMs["v2"].LandedAt.Equal(t0) ||
		!st.Gone["v3"].Equal(limit) || !st.Gone["v4"].Equal(t0) {
		t.Errorf("state after Clamp: %+v", st)
	}
	if again := st.Clamp(limit); len(again) != 0 {
		t.Errorf("clamped twice: %q", again)
	}
}

// TestGenerationBoundsExactly: a generation a day past the clock is the
// last accepted, and a held one at that bound still counts.
func TestGenerationBoundsExactly(t *testing.T) {
	a := []string{"hostagent-a"}
	bound := uint64(t0.Add(MaxGenerationAhead).UnixNano())
	in := newIntake()
	if _, ref := in.Accept(full(bound+1, vm("v1", 0)), a, t0, keep); ref == nil || ref.Status != http.StatusUnprocessableEntity {
		t.Errorf("a day and a nanosecond ahead: %v, want 422", ref)
	}
	if _, ref := in.Accept(full(bound, vm("v1", 0)), a, t0, keep); ref != nil {
		t.Errorf("exactly a day ahead: %v, want accepted", ref)
	}
	// Held at the bound: it counts, and an older full report is refused.
	if _, ref := in.Accept(full(bound-1, vm("v1", 0)), a, t0, keep); ref == nil || ref.Status != http.StatusConflict || ref.Generation != bound {
		t.Errorf("older than the %d held at the bound: %+v, want 409 naming it", bound, ref)
	}
}

// Catches the reported time of a clamped landing forgotten by a delta
// that does not list its VM: sent again later, the same landing would be
// clamped anew and count as a new landing.
func TestADeltaKeepsTheClampedLandingsItDoesNotList(t *testing.T) {
	in := newIntake()
	a := []string{"hostagent-a"}
	ahead := vm("v1", 100)
	if _, ref := in.Accept(full(10, ahead), a, t0, keep); ref != nil {
		t.Fatal(ref)
	}
	if _, ref := in.Accept(delta(11, 10, []wire.VM{vm("v2", 0)}), a, t0.Add(5*time.Second), keep); ref != nil {
		t.Fatal(ref)
	}
	ch, ref := in.Accept(delta(12, 11, []wire.VM{ahead}), a, t0.Add(10*time.Second), keep)
	if ref != nil || len(ch.Landed) != 0 || !ch.VMs[0].LandedAt.Equal(t0.Add(2*time.Second)) {
		t.Errorf("v1 sent again after a delta without it: %+v %v; want its held time and no landing", ch, ref)
	}
}

func TestClockRefusalsAreMarked(t *testing.T) {
	now := time.Now()
	a := []string{"hostagent-a"}
	ahead := vm("v1", 0)
	ahead.LandedAt = now.Add(time.Hour)
	for _, tt := range []struct {
		name  string
		rep   *wire.Report
		names []string
		clock bool
	}{
		{"a landing ahead", full(uint64(now.UnixNano()), ahead), a, true},
		{"a generation ahead", full(uint64(now.Add(25*time.Hour).UnixNano()), vm("v1", 0)), a, true},
		{"a certificate not allowed", full(uint64(now.UnixNano()), vm("v1", 0)), []string{"hostagent-b"}, false},
	} {
		_, ref := newIntake().Accept(tt.rep, tt.names, now, keep)
		if ref == nil || ref.Clock != tt.clock {
			t.Errorf("%s: %+v, want a refusal with Clock %v", tt.name, ref, tt.clock)
		}
	}
}
