// Package intake decides whether a hostagent's report is accepted, and
// holds the accepted state of every cluster. It does no I/O: the API
// hands it decoded reports and the names of the client's certificate, and
// it answers with the cluster's new state or a refusal that says why.
package intake

import (
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/wire"
)

// Cluster is a cluster the config allows, the sites its hosts are in (two
// for a stretched cluster), and who may report it.
type Cluster struct {
	Name    string
	Sites   []string
	Clients []string
}

// State is a cluster's accepted state: every VM the last reports left it
// with, the generation of the last accepted report, and when that was.
type State struct {
	Cluster    string
	Generation uint64
	Received   time.Time
	VMs        map[string]wire.VM
	// Gone are the cluster's tombstones: the VMs its reports withdrew,
	// with the landing of the claim withdrawn (see plan.Tombstones).
	Gone plan.Tombstones
	// Ahead are the landings reported ahead of this routeragent's clock by
	// more than the clock skew allowed, by VM: VMs holds each clamped to
	// when it was accepted plus the skew, so that a vCenter whose clock
	// runs ahead never outranks, nor voids with its tombstone, a later
	// real landing elsewhere. The reported time is kept here so that the
	// same landing reported again keeps its clamped time.
	Ahead map[string]time.Time
}

// isRetry says whether r, of the generation held, would leave the state
// as it is: the report accepted with that generation, sent again because
// its answer was lost. It asks only the state, so that a routeragent
// restarted from its state directory answers as one that never stopped.
// r's landings are already clamped as the state holds them.
func (s *State) isRetry(r *wire.Report) bool {
	if r.Kind == wire.KindFull && len(r.VMs) != len(s.VMs) {
		return false
	}
	for _, vm := range r.VMs {
		if held, ok := s.VMs[vm.UUID]; !ok || !reflect.DeepEqual(held, vm) {
			return false
		}
	}
	for _, id := range r.Removed {
		if _, ok := s.VMs[id]; ok {
			return false
		}
	}
	return true
}

// Report returns s as a full report, sorted by UUID, as it is persisted.
func (s *State) Report() *wire.Report {
	r := &wire.Report{Cluster: s.Cluster, Generation: s.Generation, Kind: wire.KindFull, VMs: []wire.VM{}}
	for _, id := range slices.Sorted(maps.Keys(s.VMs)) {
		r.VMs = append(r.VMs, s.VMs[id])
	}
	return r
}

// Refusal is a report that was not accepted: an HTTP status and a message
// for the sender. Nothing of the report was applied.
type Refusal struct {
	Status int
	Msg    string
	// Generation is, for a delta on the wrong base, what is held.
	Generation uint64
	// Clock says the report was refused for a clock: a landing or a
	// generation too far ahead of this routeragent's.
	Clock bool
}

func (r *Refusal) Error() string { return r.Msg }

func refuse(status int, format string, args ...any) *Refusal {
	return &Refusal{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// clockRefusal is a 422 for a time or generation past the clock.
func clockRefusal(format string, args ...any) *Refusal {
	ref := refuse(http.StatusUnprocessableEntity, format, args...)
	ref.Clock = true
	return ref
}

// conflict is a 409 that names the generation held, above which the
// sender sends a full report.
func conflict(held uint64, format string, args ...any) *Refusal {
	ref := refuse(http.StatusConflict, format, args...)
	ref.Generation = held
	return ref
}

// Change is an accepted report, as the planner applies it.
type Change struct {
	Cluster  string
	Full     bool
	VMs      []wire.VM // full: every VM; delta: new or changed
	Removed  []string
	Landed   []string // VMs whose landing time changed: for the move log
	Received time.Time
}

// MaxGenerationAhead is how far past this routeragent's clock, in Unix
// nanoseconds, a generation may be. Hostagents number their reports from
// their clock in Unix nanoseconds: a generation far beyond it comes from
// a broken or hostile sender, and held, it would leave honest senders no
// generation above it.
const MaxGenerationAhead = 24 * time.Hour

// Intake holds the accepted state. It is safe for concurrent use.
type Intake struct {
	mu       sync.Mutex
	clusters map[string]Cluster
	states   map[string]*State
	// future is how far past the routeragent's clock a landing may be;
	// skew how far past it a landing is held as reported (see
	// State.Ahead).
	future, skew time.Duration
}

// New returns an intake that accepts the given clusters, and landings up
// to future past the routeragent's clock: vCenter's clock and the
// router's may differ a little, never by minutes. A landing more than
// skew ahead is held at its receipt plus skew (State.Ahead).
func New(clusters []Cluster, future, skew time.Duration) *Intake {
	in := &Intake{states: map[string]*State{}, future: future, skew: skew}
	in.SetClusters(clusters)
	return in
}

// SetLimits replaces the future tolerance and the clock skew, as on a
// reload; they apply to the reports accepted from then on.
func (in *Intake) SetLimits(future, skew time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.future, in.skew = future, skew
}

// SetClusters replaces the allowed clusters, as on a reload, and drops
// the states that the new clusters no longer allow, as a restart would
// not restore them: it returns why, by cluster.
func (in *Intake) SetClusters(clusters []Cluster) (dropped map[string]error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.clusters = map[string]Cluster{}
	for _, c := range clusters {
		in.clusters[c.Name] = c
	}
	for name, s := range in.states {
		if err := in.allows(s); err != nil {
			if dropped == nil {
				dropped = map[string]error{}
			}
			dropped[name] = err
			delete(in.states, name)
		}
	}
	return dropped
}

// Restore puts back a state read from disk, if its cluster is still
// allowed, at every site its VMs are at.
func (in *Intake) Restore(s *State) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.allows(s); err != nil {
		return err
	}
	in.states[s.Cluster] = s
	return nil
}

// allows says why the configured clusters do not allow a state, or nil.
func (in *Intake) allows(s *State) error {
	c, ok := in.clusters[s.Cluster]
	if !ok {
		return fmt.Errorf("cluster %q is no longer configured", s.Cluster)
	}
	for _, id := range slices.Sorted(maps.Keys(s.VMs)) {
		if vm := s.VMs[id]; !slices.Contains(c.Sites, vm.Site) {
			return fmt.Errorf("cluster %q now spans sites %v, and VM %s is at site %q", s.Cluster, c.Sites, id, vm.Site)
		}
	}
	return nil
}

// Authorize says whether a client whose certificate carries names may
// report cluster: asked before a report's body is read.
func (in *Intake) Authorize(cluster string, names []string) *Refusal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.authorize(cluster, names)
}

func (in *Intake) authorize(cluster string, names []string) *Refusal {
	c, ok := in.clusters[cluster]
	if !ok {
		return refuse(http.StatusForbidden, "cluster %q is not configured on this routeragent", cluster)
	}
	if !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(c.Clients, n) }) {
		return refuse(http.StatusForbidden, "client certificate %v may not report cluster %q", names, cluster)
	}
	return nil
}

// Accept checks r (already decoded and validated) from a client whose
// certificate carries names, and applies it whole or not at all. commit
// is called with the new state before it replaces the old one, under the
// intake's lock: it persists the state, and if it fails nothing changes.
func (in *Intake) Accept(r *wire.Report, names []string, now time.Time, commit func(*State) error) (*Change, *Refusal) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if ref := in.authorize(r.Cluster, names); ref != nil {
		return nil, ref
	}
	c := in.clusters[r.Cluster]
	for i := range r.VMs {
		vm := &r.VMs[i]
		if !slices.Contains(c.Sites, vm.Site) {
			return nil, refuse(http.StatusForbidden, "vms[%d] (%s): cluster %q spans sites %s, not site %q",
				i, vm.UUID, r.Cluster, strings.Join(c.Sites, ", "), vm.Site)
		}
		if limit := now.Add(in.future); vm.LandedAt.After(limit) {
			return nil, clockRefusal("vms[%d] (%s).landed_at: %s is %s ahead of this routeragent's clock, more than the %s allowed (reports.future_tolerance): check the clocks of vCenter and this router",
				i, vm.UUID, vm.LandedAt.UTC().Format(time.RFC3339Nano), vm.LandedAt.Sub(now).Round(time.Second), in.future)
		}
	}
	bound := uint64(now.Add(MaxGenerationAhead).UnixNano())
	if r.Generation > bound {
		return nil, clockRefusal("generation: %d is more than %s past this routeragent's clock in Unix nanoseconds (%d): a hostagent numbers its reports from its clock; check the clocks, or the sender",
			r.Generation, MaxGenerationAhead, now.UnixNano())
	}
	old := in.states[r.Cluster]
	var held uint64
	if old != nil && old.Generation <= bound {
		// A generation held beyond the bound (saved before the bound was
		// checked) counts as none: the next full report replaces it, as
		// no honest sender could ever number one above it.
		held = old.Generation
	}
	// Landings ahead of the clock are held clamped; the report is compared
	// with the state and applied as the state would hold it.
	vms, ahead := in.clamp(old, r.VMs, now)
	r = &wire.Report{Cluster: r.Cluster, Generation: r.Generation, Kind: r.Kind, Base: r.Base, VMs: vms, Removed: r.Removed}
	if old != nil && r.Generation == held && old.isRetry(r) {
		// A retry of what is held (its answer was lost): nothing to do.
		return nil, nil
	}
	if old != nil && r.Generation == held {
		// Another report under the generation held: two senders for one
		// cluster, or a broken one. Refused, so that it sends a full
		// report above; never dropped in silence.
		return nil, conflict(held, "generation %d is held with other content: send a full report above it", held)
	}
	if r.Kind == wire.KindDelta && (old == nil || r.Base != held) {
		return nil, conflict(held, "delta against generation %d, but generation %d is held: send a full report", r.Base, held)
	}
	if r.Generation < held {
		return nil, conflict(held, "generation %d is older than the %d held", r.Generation, held)
	}
	next := &State{Cluster: r.Cluster, Generation: r.Generation, Received: now, Gone: plan.Tombstones{}, Ahead: ahead}
	if old != nil && old.Gone != nil {
		next.Gone = maps.Clone(old.Gone)
	}
	ch := &Change{Cluster: r.Cluster, Full: r.Kind == wire.KindFull, VMs: r.VMs, Removed: r.Removed, Received: now}
	if ch.Full {
		next.VMs = make(map[string]wire.VM, len(r.VMs))
		if old != nil {
			listed := make(map[string]bool, len(r.VMs))
			for _, vm := range r.VMs {
				listed[vm.UUID] = true
			}
			for id, vm := range old.VMs {
				if !listed[id] {
					next.Gone.Withdrawn(id, vm.LandedAt)
				}
			}
		}
	} else {
		next.VMs = maps.Clone(old.VMs)
		for _, id := range r.Removed {
			if vm, ok := old.VMs[id]; ok {
				next.Gone.Withdrawn(id, vm.LandedAt)
			}
			delete(next.VMs, id)
		}
	}
	for _, vm := range r.VMs {
		var prev wire.VM
		had := false
		if old != nil {
			prev, had = old.VMs[vm.UUID]
		}
		if !had || !prev.LandedAt.Equal(vm.LandedAt) || prev.Site != vm.Site {
			ch.Landed = append(ch.Landed, vm.UUID)
		}
		next.VMs[vm.UUID] = vm
		next.Gone.Claimed(vm.UUID)
	}
	for id := range next.Ahead {
		if _, ok := next.VMs[id]; !ok {
			delete(next.Ahead, id)
		}
	}
	next.Gone.Trim(plan.MaxTombstones)
	if err := commit(next); err != nil {
		return nil, refuse(http.StatusServiceUnavailable, "report not stored, nothing applied: %v", err)
	}
	in.states[r.Cluster] = next
	return ch, nil
}

// clamp returns vms with each landing more than the skew ahead of now
// held at now plus the skew, and the reported times of those clamped. A
// landing that old holds clamped, reported again at the same site with
// the same time, keeps the time old holds for it, so that it is no new
// landing, now or once the clock has caught up with it.
func (in *Intake) clamp(old *State, vms []wire.VM, now time.Time) ([]wire.VM, map[string]time.Time) {
	var ahead map[string]time.Time
	limit := now.Add(in.skew)
	out := vms
	for i, vm := range vms {
		at := vm.LandedAt
		if old != nil {
			if reported, ok := old.Ahead[vm.UUID]; ok && reported.Equal(vm.LandedAt) {
				if prev, ok := old.VMs[vm.UUID]; ok && prev.Site == vm.Site {
					at = prev.LandedAt
				}
			}
		}
		if at.Equal(vm.LandedAt) && !at.After(limit) {
			continue
		}
		if at.Equal(vm.LandedAt) {
			at = limit
		}
		if ahead == nil {
			ahead = map[string]time.Time{}
			out = slices.Clone(vms)
		}
		ahead[vm.UUID] = vm.LandedAt
		out[i].LandedAt = at
	}
	if old != nil && len(old.Ahead) > 0 {
		// A delta leaves the VMs it does not list as they are. (The set of
		// those listed is made once: a full report may list 100,000.)
		listed := make(map[string]bool, len(vms))
		for _, vm := range vms {
			listed[vm.UUID] = true
		}
		for id, t := range old.Ahead {
			if !listed[id] {
				if ahead == nil {
					ahead = map[string]time.Time{}
				}
				ahead[id] = t
			}
		}
	}
	return out, ahead
}

// Clamp bounds the times of a state read from disk to limit (the
// routeragent's clock plus its future tolerance): a landing, a tombstone
// or a receipt later than that came from a broken or tampered file, and
// held, it would outrank real landings, void them, or keep the cluster
// fresh, until that time. It returns one line for each time clamped.
func (s *State) Clamp(limit time.Time) []string {
	var out []string
	if s.Received.After(limit) {
		out = append(out, fmt.Sprintf("received %s clamped to %s", s.Received.UTC().Format(time.RFC3339), limit.UTC().Format(time.RFC3339)))
		s.Received = limit
	}
	for _, id := range slices.Sorted(maps.Keys(s.VMs)) {
		if vm := s.VMs[id]; vm.LandedAt.After(limit) {
			out = append(out, fmt.Sprintf("VM %s: landed_at %s clamped to %s", id, vm.LandedAt.UTC().Format(time.RFC3339), limit.UTC().Format(time.RFC3339)))
			vm.LandedAt = limit
			s.VMs[id] = vm
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.Gone)) {
		if t := s.Gone[id]; t.After(limit) {
			out = append(out, fmt.Sprintf("VM %s: tombstone %s clamped to %s", id, t.UTC().Format(time.RFC3339), limit.UTC().Format(time.RFC3339)))
			s.Gone[id] = limit
		}
	}
	return out
}

// Sites returns the sites a configured cluster spans, nil for a cluster
// not configured.
func (in *Intake) Sites(cluster string) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.clusters[cluster].Sites
}

// Generation returns the generation held for a cluster, 0 for none.
func (in *Intake) Generation(cluster string) uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if s := in.states[cluster]; s != nil {
		return s.Generation
	}
	return 0
}

// States returns every held state, sorted by cluster. An accepted state
// never changes (the next report makes a new one), so the VMs maps are
// shared, read-only.
func (in *Intake) States() []State {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]State, 0, len(in.states))
	for _, s := range in.states {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b State) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}
