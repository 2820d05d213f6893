package plan

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// MaxTombstones bounds the tombstones one cluster keeps.
const MaxTombstones = 100_000

// Tombstones are one cluster's withdrawn claims: for each VM the cluster
// reported gone (it left, or was deleted), the landing of the claim it
// withdrew. A tombstone voids the older claims of stale clusters on the
// same VM. The routeragent's intake keeps them with each cluster's
// accepted state, and the planner keeps its own by the same rules, so
// that a routeragent restarted from its state plans as one that never
// stopped.
type Tombstones map[string]time.Time

// Withdrawn records that the cluster withdrew its claim on id, which had
// landed at landed; an unknown landing voids nothing and leaves none.
func (t Tombstones) Withdrawn(id string, landed time.Time) {
	if !landed.IsZero() && landed.After(t[id]) {
		t[id] = landed
	}
}

// Claimed records that the cluster claims id again: its tombstone goes.
func (t Tombstones) Claimed(id string) { delete(t, id) }

// Trim drops the tombstones of the oldest landings (then the smallest
// UUIDs) until at most max are left, and returns the VMs dropped.
func (t Tombstones) Trim(max int) []string {
	if len(t) <= max {
		return nil
	}
	ids := make([]string, 0, len(t))
	for id := range t {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Or(t[a].Compare(t[b]), strings.Compare(a, b)) })
	dropped := ids[:len(t)-max]
	for _, id := range dropped {
		delete(t, id)
	}
	return dropped
}
