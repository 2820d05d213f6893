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

// Site is another site to check: a set of routers (a VRRP pair, often),
// each with its routeragent's API and its own addresses on the stretched
// subnets. A path to the site is up while any of its routers answers on
// it.
type Site struct {
	Name string
	// Peers are the certificate names that site's routeragents carry: an
	// answer from a server whose certificate names none of them is no
	// answer, whichever CA signed it.
	Peers   []string
	Routers []Router
}

// Router is one router of another site.
type Router struct {
	API    string // https://host:port
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
	// Router is the router checked, by its API URL.
	Router string
	Path   Path
	OK     bool
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
	// Failing are the paths failing now, with the last error of each
	// router; APIFailing and ProbeFailing say which.
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
	state   State
	since   time.Time
	lostAt  time.Time
	routers map[string]*router
	heard   time.Time
	answer  *Answer
}

// router is one router's paths: the last success and failure of each.
type router struct {
	ok  [2]time.Time
	err [2]string
}

// NewTracker tracks sites, each a set of routers by name (their API URL),
// which fail a path after lossAfter without a success on it from any of
// them. At now every site counts as alive, so that a site not heard at
// all is lost lossAfter after the start.
func NewTracker(sites map[string][]string, lossAfter time.Duration, now time.Time) *Tracker {
	t := &Tracker{after: lossAfter, sites: map[string]*site{}}
	for name, routers := range sites {
		s := &site{state: Alive, since: now, routers: map[string]*router{}}
		for _, r := range routers {
			s.routers[r] = &router{ok: [2]time.Time{now, now}}
		}
		t.sites[name] = s
	}
	return t
}

// Record takes a check's result and returns the transitions it causes.
// A result for a site or router not tracked is ignored.
func (t *Tracker) Record(r Result, now time.Time) []Transition {
	s := t.sites[r.Site]
	if s == nil || s.routers[r.Router] == nil {
		return nil
	}
	rt := s.routers[r.Router]
	if r.OK {
		rt.ok[r.Path], rt.err[r.Path] = now, ""
		if r.Path == PathAPI && r.Answer != nil {
			s.heard, s.answer = now, r.Answer
		}
	} else {
		rt.err[r.Path] = r.Err
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

// failing returns the paths on which no router of s answered for the
// loss time.
func (t *Tracker) failing(s *site, now time.Time) []Path {
	var out []Path
	for _, p := range []Path{PathAPI, PathProbe} {
		up := false
		for _, r := range s.routers {
			up = up || now.Sub(r.ok[p]) < t.after
		}
		if !up {
			out = append(out, p)
		}
	}
	return out
}

// reasons says, for each failing path, why each router failed it last.
func (t *Tracker) reasons(s *site, failing []Path) []string {
	var out []string
	names := slices.Sorted(maps.Keys(s.routers))
	for _, p := range failing {
		r := p.String() + " failing"
		var errs []string
		for _, name := range names {
			if e := s.routers[name].err[p]; e != "" {
				if len(names) > 1 {
					e = name + ": " + e
				}
				errs = append(errs, e)
			}
		}
		if len(errs) > 0 {
			r += ": " + strings.Join(errs, "; ")
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
