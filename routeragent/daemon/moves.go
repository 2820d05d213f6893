package daemon

import (
	"sync"
	"time"

	"github.com/vmroute/vmroute/routeragent/plan"
)

// Move is the timeline of one landing at this site: when vCenter says it
// landed, when its report came, when it was planned, when BGP was updated
// and when each gateway announcement of the burst left.
type Move struct {
	VM        string      `json:"vm"`
	Name      string      `json:"name"`
	Site      string      `json:"site"`
	LandedAt  time.Time   `json:"landed_at"`
	Received  time.Time   `json:"received,omitzero"`
	Planned   time.Time   `json:"planned"`
	BGP       time.Time   `json:"bgp,omitzero"`
	Announced []time.Time `json:"announced,omitempty"`
	// Event, instead of a VM's landing, is a change of another site's
	// liveness ("site A: alive -> lost (...)"), or of a sibling's, at
	// Planned.
	Event string `json:"event,omitempty"`
}

// moveLog keeps the last moves, oldest first.
type moveLog struct {
	mu    sync.Mutex
	max   int
	moves []*Move
	open  map[string]*Move // the latest move of each VM
	// firstFrame, when set, is told the delay from landing to first frame.
	firstFrame func(time.Duration)
}

func newMoveLog(max int) *moveLog { return &moveLog{max: max, open: map[string]*Move{}} }

func (l *moveLog) landed(n *plan.Neighbor, site string, received, planned time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := l.open[n.VM]; m != nil && m.LandedAt.Equal(n.LandedAt) {
		return // another adapter of the same landing
	}
	m := &Move{VM: n.VM, Name: n.Name, Site: site, LandedAt: n.LandedAt, Received: received, Planned: planned}
	l.moves = append(l.moves, m)
	if len(l.moves) > l.max {
		old := l.moves[0]
		if l.open[old.VM] == old {
			delete(l.open, old.VM)
		}
		l.moves = l.moves[1:]
	}
	l.open[n.VM] = m
}

// event records a change of another site's liveness, or of a sibling's,
// at site.
func (l *moveLog) event(site, text string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.moves = append(l.moves, &Move{Site: site, Event: text, Planned: at})
	if len(l.moves) > l.max {
		old := l.moves[0]
		if l.open[old.VM] == old {
			delete(l.open, old.VM)
		}
		l.moves = l.moves[1:]
	}
}

func (l *moveLog) bgpSent(landed []*plan.Neighbor, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range landed {
		if m := l.open[n.VM]; m != nil && m.BGP.IsZero() {
			m.BGP = at
		}
	}
}

// announced is the announcer's Sent hook.
func (l *moveLog) announced(vm string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.open[vm]
	if m == nil || len(m.Announced) >= 16 {
		return
	}
	if len(m.Announced) == 0 && l.firstFrame != nil {
		l.firstFrame(at.Sub(m.LandedAt))
	}
	m.Announced = append(m.Announced, at)
}

func (l *moveLog) list() []Move {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Move, len(l.moves))
	for i, m := range l.moves {
		out[i] = *m
		out[i].Announced = append([]time.Time(nil), m.Announced...)
	}
	return out
}
