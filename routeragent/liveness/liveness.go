// Package liveness tells, without vCenter, whether each other site is
// alive, partitioned or lost (DESIGN.md rule 6). The routeragents of
// different sites check each other on two independent paths: over their
// mutual-TLS API on the routed network, and with an ARP or ND probe of
// the other site's router on the stretched subnets. A site that fails
// both for the configured time is lost; one that fails one path only is
// partitioned, and nothing moves. A lost site that answers again on both
// paths is returning until its reports are current.
//
// The Tracker is pure: check results and the time go in, states and
// transitions come out. Checker runs the checks.
package liveness

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// SitePath is where the API of the routeragents answers liveness checks.
const SitePath = "/v1/site"

// Site is another site to check: its routeragent's API, and its router's
// addresses on the stretched subnets, each on this router's interface
// there.
type Site struct {
	Name string
	API  string // https://host:port
	// Peers are the certificate names that site's routeragents carry: an
	// answer from a server whose certificate names none of them is no
	// answer, whichever CA signed it.
	Peers  []string
	Probes []Probe
}

// Probe is one address to resolve with ARP (IPv4) or ND (IPv6).
type Probe struct {
	Addr      netip.Addr
	Interface string
}

// Path is one of the two independent paths.
type Path uint8

// The paths.
const (
	PathAPI   Path = iota // the other routeragent's API, on the routed network
	PathProbe             // ARP or ND of its router, on the stretched subnets
)

func (p Path) String() string {
	if p == PathAPI {
		return "api"
	}
	return "probe"
}

// State is a site's liveness.
type State string

// The states.
const (
	Alive       State = "alive"
	Partitioned State = "partitioned" // one path fails: nothing moves
	Lost        State = "lost"        // both fail: the survivors take over
	Returning   State = "returning"   // back on both paths, reports not current yet
)

// Answer is what another site's routeragent says over its API (GET
// /v1/site).
type Answer struct {
	Site string `json:"site"`
	// Summaries are the subnets it announces now.
	Summaries []netip.Prefix `json:"summaries"`
	// Current says its reports are current: every cluster reported since
	// it started, or has not for a lease since then (its hostagent is
	// gone, and it is shown stale).
	Current bool `json:"current"`
}

// Result is one check's outcome.
type Result struct {
	Site string
	Path Path
	OK   bool
	// Answer is the API's answer, when OK.
	Answer *Answer
	// Err says why a check failed.
	Err string
}

// Transition is a change of a site's state.
type Transition struct {
	Site string    `json:"site"`
	From State     `json:"from"`
	To   State     `json:"to"`
	At   time.Time `json:"at"`
	// Failing are the paths that fail, with the last error of each.
	Failing []string `json:"failing,omitempty"`
}

func (t Transition) String() string {
	s := fmt.Sprintf("site %s: %s -> %s", t.Site, t.From, t.To)
	if len(t.Failing) > 0 {
		s += " (" + strings.Join(t.Failing, "; ") + ")"
	}
	return s
}

// Status is one site's liveness for status and the planner.
type Status struct {
	Site  string    `json:"site"`
	State State     `json:"state"`
	Since time.Time `json:"since"`
	// LostAt is when the site was found lost, while lost or returning.
	LostAt time.Time `json:"lost_at,omitzero"`
	// Failing are the paths failing now, with the last error of each;
	// APIFailing and ProbeFailing say which.
	Failing      []string `json:"failing,omitempty"`
	APIFailing   bool     `json:"api_failing"`
	ProbeFailing bool     `json:"probe_failing"`
	// Heard is when its API last answered, and Answer what it said.
	Heard  time.Time `json:"heard,omitzero"`
	Answer *Answer   `json:"answer,omitempty"`
}

// Tracker keeps every other site's liveness.
type Tracker struct {
	after time.Duration
	sites map[string]*site
}

type site struct {
	state  State
	since  time.Time
	lostAt time.Time
	ok     [2]time.Time // the last success of each path
	err    [2]string    // the last failure of each path
	heard  time.Time
	answer *Answer
}

// NewTracker tracks sites, which fail a path after lossAfter without a
// success on it. At now every site counts as alive, so that a site not
// heard at all is lost lossAfter after the start.
func NewTracker(sites []string, lossAfter time.Duration, now time.Time) *Tracker {
	t := &Tracker{after: lossAfter, sites: map[string]*site{}}
	for _, name := range sites {
		t.sites[name] = &site{state: Alive, since: now, ok: [2]time.Time{now, now}}
	}
	return t
}

// Record takes a check's result and returns the transitions it causes.
// A result for a site not tracked is ignored.
func (t *Tracker) Record(r Result, now time.Time) []Transition {
	s := t.sites[r.Site]
	if s == nil {
		return nil
	}
	if r.OK {
		s.ok[r.Path], s.err[r.Path] = now, ""
		if r.Path == PathAPI && r.Answer != nil {
			s.heard, s.answer = now, r.Answer
		}
	} else {
		s.err[r.Path] = r.Err
	}
	return t.Evaluate(now)
}

// Evaluate brings every site's state to now and returns the transitions,
// sorted by site.
func (t *Tracker) Evaluate(now time.Time) []Transition {
	var out []Transition
	for _, name := range slices.Sorted(maps.Keys(t.sites)) {
		s := t.sites[name]
		failing := t.failing(s, now)
		next := s.next(len(failing))
		if next == s.state {
			continue
		}
		if next == Lost {
			s.lostAt = now
		}
		out = append(out, Transition{Site: name, From: s.state, To: next, At: now, Failing: t.reasons(s, failing)})
		s.state, s.since = next, now
	}
	return out
}

// next is the state of s when failing of its paths fail: lost when both
// do; a lost or returning site comes back (returning) only on both
// paths, and is alive again once its reports are current, heard after
// its loss; one path failing partitions an alive site.
func (s *site) next(failing int) State {
	lostBefore := s.state == Lost || s.state == Returning
	if failing == 2 {
		return Lost
	}
	if lostBefore && failing == 0 {
		if s.answer != nil && s.answer.Current && s.heard.After(s.lostAt) {
			return Alive
		}
		return Returning
	}
	if lostBefore {
		return s.state // one path back is not enough to come back
	}
	if failing == 1 {
		return Partitioned
	}
	return Alive
}

func (t *Tracker) failing(s *site, now time.Time) []Path {
	var out []Path
	for _, p := range []Path{PathAPI, PathProbe} {
		if now.Sub(s.ok[p]) >= t.after {
			out = append(out, p)
		}
	}
	return out
}

func (t *Tracker) reasons(s *site, failing []Path) []string {
	var out []string
	for _, p := range failing {
		r := p.String() + " failing"
		if s.err[p] != "" {
			r += ": " + s.err[p]
		}
		out = append(out, r)
	}
	return out
}

// Status returns every site's liveness at now, sorted by site.
func (t *Tracker) Status(now time.Time) []Status {
	var out []Status
	for _, name := range slices.Sorted(maps.Keys(t.sites)) {
		s := t.sites[name]
		failing := t.failing(s, now)
		st := Status{Site: name, State: s.state, Since: s.since, Failing: t.reasons(s, failing), Heard: s.heard, Answer: s.answer,
			APIFailing: slices.Contains(failing, PathAPI), ProbeFailing: slices.Contains(failing, PathProbe)}
		if s.state == Lost || s.state == Returning {
			st.LostAt = s.lostAt
		}
		out = append(out, st)
	}
	return out
}
