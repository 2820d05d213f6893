package intake

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func vm(id string, landed int) wire.VM {
	return wire.VM{UUID: id, Name: id, Site: "A", PowerState: wire.PoweredOn, LandedAt: t0.Add(time.Duration(landed) * time.Second),
		NICs: []wire.NIC{{MAC: wire.MAC{2, 0, 0, 0, 0, 1}, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.10")}}}}
}

func atSite(site string, v wire.VM) wire.VM {
	v.Site = site
	return v
}

func full(gen uint64, vms ...wire.VM) *wire.Report {
	return &wire.Report{Cluster: "cl-a", Generation: gen, Kind: wire.KindFull, VMs: vms}
}

func delta(gen, base uint64, vms []wire.VM, removed ...string) *wire.Report {
	return &wire.Report{Cluster: "cl-a", Generation: gen, Base: base, Kind: wire.KindDelta, VMs: vms, Removed: removed}
}

func newIntake() *Intake {
	return New([]Cluster{
		{Name: "cl-a", Sites: []string{"A"}, Clients: []string{"hostagent-a"}},
		{Name: "cl-b", Sites: []string{"B"}, Clients: []string{"hostagent-b"}},
		{Name: "stretched", Sites: []string{"A", "B"}, Clients: []string{"hostagent-s"}},
	}, 2*time.Minute, 2*time.Second)
}

func keep(*State) error { return nil }

func TestAccept(t *testing.T) {
	in := newIntake()
	a := []string{"hostagent-a"}
	ch, ref := in.Accept(full(10, vm("v1", 0), vm("v2", 0)), a, t0, keep)
	if ref != nil || !ch.Full || len(ch.VMs) != 2 || len(ch.Landed) != 2 {
		t.Fatalf("full: %+v %v", ch, ref)
	}
	d11 := delta(11, 10, []wire.VM{vm("v3", 5), vm("v1", 0)}, "v2")
	ch, ref = in.Accept(d11, a, t0, keep)
	if ref != nil || ch.Full || len(ch.Landed) != 1 || ch.Landed[0] != "v3" {
		t.Fatalf("delta: %+v %v", ch, ref)
	}
	st := in.States()[0]
	if st.Generation != 11 || len(st.VMs) != 2 || st.VMs["v2"].UUID != "" {
		t.Errorf("state %+v", st)
	}
	if ch, ref := in.Accept(delta(11, 10, []wire.VM{vm("v3", 5), vm("v1", 0)}, "v2"), a, t0, keep); ch != nil || ref != nil {
		t.Errorf("a retry of the held generation: %+v %v, want nothing to do", ch, ref)
	}
	// Other content under the held generation: refused, never dropped.
	ch, ref = in.Accept(delta(11, 10, []wire.VM{vm("v4", 5)}), a, t0, keep)
	if ch != nil || ref == nil || ref.Status != http.StatusConflict || ref.Generation != 11 ||
		ref.Msg != "generation 11 is held with other content: send a full report above it" {
		t.Errorf("other content under generation 11: %+v %+v", ch, ref)
	}
	if st := in.States()[0]; len(st.VMs) != 2 || st.VMs["v4"].UUID != "" {
		t.Errorf("state changed: %+v", st)
	}
	// A full report under the held generation that leaves out a VM is no
	// retry either, though every VM it lists is held as it is.
	if ch, ref := in.Accept(full(11, vm("v1", 0)), a, t0, keep); ch != nil || ref == nil || ref.Status != http.StatusConflict {
		t.Errorf("a full report under generation 11 without v3: %+v %+v, want 409", ch, ref)
	}
	// A delta under the held generation that removes a VM held is none.
	if ch, ref := in.Accept(delta(11, 10, []wire.VM{vm("v1", 0)}, "v3"), a, t0, keep); ch != nil || ref == nil || ref.Status != http.StatusConflict {
		t.Errorf("a delta under generation 11 removing v3: %+v %+v, want 409", ch, ref)
	}
}

func TestSetClustersDropsWhatTheyNoLongerAllow(t *testing.T) {
	in := newIntake()
	if _, ref := in.Accept(full(10, vm("v1", 0)), []string{"hostagent-a"}, t0, keep); ref != nil {
		t.Fatal(ref)
	}
	s := &wire.Report{Cluster: "stretched", Generation: 5, Kind: wire.KindFull, VMs: []wire.VM{atSite("B", vm("v2", 0))}}
	if _, ref := in.Accept(s, []string{"hostagent-s"}, t0, keep); ref != nil {
		t.Fatal(ref)
	}
	// cl-a stays as it is; the stretched cluster no longer spans site B,
	// where it holds v2.
	dropped := in.SetClusters([]Cluster{
		{Name: "cl-a", Sites: []string{"A"}, Clients: []string{"hostagent-a"}},
		{Name: "stretched", Sites: []string{"A"}, Clients: []string{"hostagent-s"}},
	})
	if len(dropped) != 1 || dropped["stretched"] == nil {
		t.Fatalf("dropped %v, want the stretched cluster only", dropped)
	}
	if g := in.Generation("cl-a"); g != 10 {
		t.Errorf("cl-a at generation %d after SetClusters, want 10 kept", g)
	}
	if g := in.Generation("stretched"); g != 0 {
		t.Errorf("the stretched cluster at generation %d after SetClusters, want dropped", g)
	}
	if dropped := in.SetClusters([]Cluster{{Name: "cl-a", Sites: []string{"A"}, Clients: []string{"hostagent-a"}}}); len(dropped) != 0 {
		t.Errorf("dropped %v with cl-a still allowed", dropped)
	}
}

func TestRetryAfterRestore(t *testing.T) {
	// A state read from disk knows its VMs, not the report: a full report
	// equal to it is a retry, anything else a conflict.
	in := newIntake()
	st := &State{Cluster: "cl-a", Generation: 7, VMs: map[string]wire.VM{"v1": vm("v1", 0)}, Gone: plan.Tombstones{}}
	if err := in.Restore(st); err != nil {
		t.Fatal(err)
	}
	a := []string{"hostagent-a"}
	if ch, ref := in.Accept(full(7, vm("v1", 0)), a, t0, keep); ch != nil || ref != nil {
		t.Errorf("the same full report: %+v %v, want nothing to do", ch, ref)
	}
	if _, ref := in.Accept(full(7, vm("v1", 9)), a, t0, keep); ref == nil || ref.Status != http.StatusConflict {
		t.Errorf("another full report under generation 7: %v, want 409", ref)
	}
}

func TestAcceptRefuses(t *testing.T) {
	tests := []struct {
		name   string
		r      *wire.Report
		names  []string
		status int
		msg    string
	}{
		{"another cluster's certificate", full(20), []string{"hostagent-b"}, http.StatusForbidden, `client certificate [hostagent-b] may not report cluster "cl-a"`},
		{"unknown cluster", &wire.Report{Cluster: "cl-x", Generation: 1, Kind: wire.KindFull}, []string{"hostagent-a"}, http.StatusForbidden, `cluster "cl-x" is not configured on this routeragent`},
		{"a VM at a site outside the cluster", full(20, vm("v1", 0), atSite("B", vm("v2", 5))), []string{"hostagent-a"}, http.StatusForbidden, `vms[1] (v2): cluster "cl-a" spans sites A, not site "B"`},
		{"a VM at a site outside the cluster, in a delta", delta(20, 10, []wire.VM{atSite("C", vm("v1", 5))}), []string{"hostagent-a"}, http.StatusForbidden, `vms[0] (v1): cluster "cl-a" spans sites A, not site "C"`},
		{"delta on a stale base", delta(20, 9, nil), []string{"hostagent-a"}, http.StatusConflict, "delta against generation 9, but generation 10 is held: send a full report"},
		{"old full report", full(5), []string{"hostagent-a"}, http.StatusConflict, "generation 5 is older than the 10 held"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIntake()
			if _, ref := in.Accept(full(10, vm("v1", 0)), []string{"hostagent-a"}, t0, keep); ref != nil {
				t.Fatal(ref)
			}
			before := in.States()
			ch, ref := in.Accept(tt.r, tt.names, t0, keep)
			if ch != nil || ref == nil || ref.Status != tt.status || ref.Msg != tt.msg {
				t.Errorf("Accept = %+v, %+v; want %d %q", ch, ref, tt.status, tt.msg)
			}
			// A 409 names the generation held: the sender sends a full
			// report above it.
			if ref != nil && ref.Status == http.StatusConflict && ref.Generation != 10 {
				t.Errorf("409 holding generation %d, want 10", ref.Generation)
			}
			if after := in.States(); len(after) != len(before) || after[0].Generation != 10 || len(after[0].VMs) != 1 {
				t.Errorf("state changed: %+v", after)
			}
		})
	}
}

func TestAcceptChangesNothingWhenStoringFails(t *testing.T) {
	in := newIntake()
	a := []string{"hostagent-a"}
	in.Accept(full(10, vm("v1", 0)), a, t0, keep)
	ch, ref := in.Accept(full(11), a, t0, func(*State) error { return errors.New("disk full") })
	if ch != nil || ref == nil || ref.Status != http.StatusServiceUnavailable {
		t.Fatalf("Accept = %+v, %+v", ch, ref)
	}
	if g := in.Generation("cl-a"); g != 10 {
		t.Errorf("generation %d after a failed store, want 10", g)
	}
}

func TestStretchedCluster(t *testing.T) {
	in := newIntake()
	s := []string{"hostagent-s"}
	r := &wire.Report{Cluster: "stretched", Generation: 1, Kind: wire.KindFull, VMs: []wire.VM{vm("v1", 0), atSite("B", vm("v2", 0))}}
	if _, ref := in.Accept(r, s, t0, keep); ref != nil {
		t.Fatalf("a stretched cluster's VMs at both its sites: %v", ref)
	}
	// vMotion inside the cluster: same landing time, another site, is a
	// landing for the move log all the same.
	moved := &wire.Report{Cluster: "stretched", Generation: 2, Base: 1, Kind: wire.KindDelta, VMs: []wire.VM{atSite("B", vm("v1", 0))}}
	ch, ref := in.Accept(moved, s, t0, keep)
	if ref != nil || len(ch.Landed) != 1 || ch.Landed[0] != "v1" {
		t.Errorf("move inside the cluster: %+v %v, want v1 landed", ch, ref)
	}
	wrong := &wire.Report{Cluster: "stretched", Generation: 3, Kind: wire.KindFull, VMs: []wire.VM{atSite("C", vm("v1", 0))}}
	if _, ref := in.Accept(wrong, s, t0, keep); ref == nil || ref.Status != http.StatusForbidden ||
		ref.Msg != `vms[0] (v1): cluster "stretched" spans sites A, B, not site "C"` {
		t.Errorf("a VM at a third site: %v", ref)
	}
	if g := in.Generation("stretched"); g != 2 {
		t.Errorf("generation %d after the refusal, want 2", g)
	}
}

func TestRestoreChecksSites(t *testing.T) {
	in := newIntake()
	st := &State{Cluster: "cl-a", Generation: 3, VMs: map[string]wire.VM{"v1": atSite("B", vm("v1", 0))}}
	if err := in.Restore(st); err == nil || err.Error() != `cluster "cl-a" now spans sites [A], and VM v1 is at site "B"` {
		t.Errorf("Restore = %v", err)
	}
	st.Cluster = "gone"
	if err := in.Restore(st); err == nil || err.Error() != `cluster "gone" is no longer configured` {
		t.Errorf("Restore = %v", err)
	}
	if g := in.Generation("cl-a"); g != 0 {
		t.Errorf("a refused state was restored: generation %d", g)
	}
}

func TestFutureLandingsAreRefused(t *testing.T) {
	in := newIntake()
	a := []string{"hostagent-a"}
	in.Accept(full(10, vm("v1", 0)), a, t0, keep)
	soon, late := vm("v2", 0), vm("v3", 0)
	now := t0.Add(time.Hour)
	soon.LandedAt, late.LandedAt = now.Add(time.Minute), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ref := in.Accept(delta(11, 10, []wire.VM{soon}), a, now, keep); ref != nil {
		t.Fatalf("a landing a minute ahead, within the tolerance: %v", ref)
	}
	ch, ref := in.Accept(delta(12, 11, []wire.VM{late}), a, now, keep)
	if ch != nil || ref == nil || ref.Status != http.StatusUnprocessableEntity ||
		ref.Msg != "vms[0] (v3).landed_at: 2100-01-01T00:00:00Z is 640861h0m0s ahead of this routeragent's clock, more than the 2m0s allowed (reports.future_tolerance): check the clocks of vCenter and this router" {
		t.Fatalf("a landing in 2100: %+v %+v", ch, ref)
	}
	if g := in.Generation("cl-a"); g != 11 {
		t.Errorf("generation %d after the refusal, want 11", g)
	}
}

func TestTombstones(t *testing.T) {
	in := newIntake()
	a := []string{"hostagent-a"}
	unknown := vm("v3", 0)
	unknown.LandedAt = time.Time{}
	now := t0.Add(time.Minute) // every landing in the past
	in.Accept(full(10, vm("v1", 5), vm("v2", 7), unknown), a, now, keep)
	in.Accept(delta(11, 10, nil, "v1"), a, now, keep)
	in.Accept(full(12, vm("v1", 9)), a, now, keep) // v1 back, v2 and v3 gone
	got := in.States()[0].Gone
	if len(got) != 1 || !got["v2"].Equal(t0.Add(7*time.Second)) {
		t.Errorf("tombstones %v, want v2 at +7s alone (v1 claimed again, v3's landing unknown)", got)
	}
}

func TestLandedListsNewLandingTimes(t *testing.T) {
	// Change.Landed feeds the move log: a VM new to the cluster, or whose
	// landing time changed, is listed; one that only changed otherwise is not.
	in := newIntake()
	a := []string{"hostagent-a"}
	in.Accept(full(10, vm("v1", 0), vm("v2", 0)), a, t0, keep)
	v2 := vm("v2", 0)
	v2.Name = "renamed"
	ch, ref := in.Accept(delta(11, 10, []wire.VM{vm("v1", 5), v2, vm("v3", 7)}), a, t0, keep)
	if ref != nil || fmt.Sprint(ch.Landed) != "[v1 v3]" {
		t.Errorf("landed %v (%v), want [v1 v3]", ch, ref)
	}
}
