package liveness

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// oneRouter gives each site one router, named "".
func oneRouter(sites ...string) map[string][]string {
	out := map[string][]string{}
	for _, s := range sites {
		out[s] = []string{""}
	}
	return out
}

// run feeds the tracker one result per path and site every half second
// from from to to (seconds), with ok saying how each path fares then, and
// returns the transitions as "SITE FROM->TO @SECONDS".
func run(tr *Tracker, from, to float64, ok func(path Path, sec float64) bool, current bool) []string {
	var out []string
	for s := from; s <= to; s += 0.5 {
		for _, p := range []Path{PathAPI, PathProbe} {
			r := Result{Site: "B", Path: p, OK: ok(p, s), Err: "timeout"}
			if r.OK && p == PathAPI {
				r.Answer = &Answer{Site: "B", Current: current}
			}
			for _, x := range tr.Record(r, at(s)) {
				out = append(out, fmt.Sprintf("%s %s->%s @%g", x.Site, x.From, x.To, x.At.Sub(t0).Seconds()))
			}
		}
	}
	return out
}

func TestTransitions(t *testing.T) {
	tr := NewTracker(oneRouter("B"), 3*time.Second, t0)
	up := func(Path, float64) bool { return true }
	if got := run(tr, 0, 5, up, true); len(got) != 0 {
		t.Fatalf("all well: %q", got)
	}
	// The API fails from 5.5 s: partitioned 3 s after its last success.
	apiDown := func(p Path, s float64) bool { return p == PathProbe }
	if got, want := run(tr, 5.5, 10, apiDown, true), []string{"B alive->partitioned @8"}; !slices.Equal(got, want) {
		t.Errorf("API path cut: %q, want %q", got, want)
	}
	if st := tr.Status(at(10))[0]; st.State != Partitioned || len(st.Failing) != 1 || st.Failing[0] != "api failing: timeout" {
		t.Errorf("status %+v, want partitioned with the API failing", st)
	}
	if got, want := run(tr, 10.5, 11, up, true), []string{"B partitioned->alive @10.5"}; !slices.Equal(got, want) {
		t.Errorf("API back: %q, want %q", got, want)
	}
	// Both fail from 11.5 s: lost at 14 s, not partitioned first (both
	// paths fail at the same check).
	down := func(Path, float64) bool { return false }
	if got, want := run(tr, 11.5, 20, down, true), []string{"B alive->lost @14"}; !slices.Equal(got, want) {
		t.Errorf("both paths cut: %q, want %q", got, want)
	}
	// One path back is not a return.
	if got := run(tr, 20.5, 25, apiDown, false); len(got) != 0 {
		t.Errorf("the probe back alone: %q, want still lost", got)
	}
	// Both back, reports not current: returning; current: alive.
	if got, want := run(tr, 25.5, 27, up, false), []string{"B lost->returning @25.5"}; !slices.Equal(got, want) {
		t.Errorf("both back: %q, want %q", got, want)
	}
	if st := tr.Status(at(27))[0]; !st.LostAt.Equal(at(14)) {
		t.Errorf("status %+v, want lost at 14 s", st)
	}
	if got, want := run(tr, 27.5, 28, up, true), []string{"B returning->alive @27.5"}; !slices.Equal(got, want) {
		t.Errorf("current again: %q, want %q", got, want)
	}
}

func TestASiteNeverHeardIsLostAfterTheTime(t *testing.T) {
	tr := NewTracker(oneRouter("B"), 3*time.Second, t0)
	if got := tr.Evaluate(at(2.9)); len(got) != 0 {
		t.Errorf("before the time: %v", got)
	}
	if got := tr.Evaluate(at(3)); len(got) != 1 || got[0].To != Lost || !slices.Equal(got[0].Failing, []string{"api failing", "probe failing"}) {
		t.Errorf("at the time: %v, want lost, both paths failing without an error heard", got)
	}
	if got := tr.Record(Result{Site: "X", Path: PathAPI, OK: true}, at(4)); len(got) != 0 {
		t.Errorf("a site not tracked: %v", got)
	}
}

// runSites feeds the tracker one result per path and site every half
// second from from to to (seconds); ok says how each site's path fares,
// current whether its reports are current. It returns the transitions.
func runSites(tr *Tracker, sites []string, from, to float64, ok func(site string, p Path, sec float64) bool, current func(site string) bool) []string {
	var out []string
	for s := from; s <= to; s += 0.5 {
		for _, site := range sites {
			for _, p := range []Path{PathAPI, PathProbe} {
				r := Result{Site: site, Path: p, OK: ok(site, p, s), Err: "timeout"}
				if r.OK && p == PathAPI {
					r.Answer = &Answer{Site: site, Current: current(site)}
				}
				for _, x := range tr.Record(r, at(s)) {
					out = append(out, fmt.Sprintf("%s %s->%s @%g", x.Site, x.From, x.To, x.At.Sub(t0).Seconds()))
				}
			}
		}
	}
	return out
}

// TestTrackerSitesPathByPath follows the last of two and of three sites
// through every state while the others stay alive: the first sites in
// order change nothing, and each path counts for the site it failed at.
func TestTrackerSitesPathByPath(t *testing.T) {
	for _, sites := range [][]string{{"B", "C"}, {"B", "C", "D"}} {
		last := sites[len(sites)-1]
		tr := NewTracker(oneRouter(sites...), 3*time.Second, t0)
		cur := false
		current := func(s string) bool { return cur || s != last }
		fails := map[Path]bool{}
		ok := func(s string, p Path, _ float64) bool { return s != last || !fails[p] }
		step := func(name string, from, to float64, want ...string) {
			t.Helper()
			if got := runSites(tr, sites, from, to, ok, current); !slices.Equal(got, want) {
				t.Errorf("%v, %s: %q, want %q", sites, name, got, want)
			}
		}
		// status checks the sites at sec: the last as given, the others alive.
		status := func(name string, sec float64, state State, api, probe bool, lostAt float64) {
			t.Helper()
			for _, st := range tr.Status(at(sec)) {
				want := Status{State: Alive}
				if st.Site == last {
					want = Status{State: state, APIFailing: api, ProbeFailing: probe}
					if lostAt > 0 {
						want.LostAt = at(lostAt)
					}
				}
				if st.State != want.State || st.APIFailing != want.APIFailing || st.ProbeFailing != want.ProbeFailing || !st.LostAt.Equal(want.LostAt) {
					t.Errorf("%v, %s: %s is %s (api failing %v, probe failing %v, lost at %v); want %s (%v, %v, %v)", sites, name,
						st.Site, st.State, st.APIFailing, st.ProbeFailing, st.LostAt, want.State, want.APIFailing, want.ProbeFailing, want.LostAt)
				}
			}
		}
		step("all well", 0, 2)
		fails[PathAPI] = true // last heard at 2 s
		step("its API fails", 2.5, 5, last+" alive->partitioned @5")
		status("its API fails", 5, Partitioned, true, false, 0)
		fails[PathAPI], fails[PathProbe] = false, true
		step("the API back, the probe fails", 5.5, 8.5, last+" partitioned->alive @5.5", last+" alive->partitioned @8")
		status("the probe fails", 8.5, Partitioned, false, true, 0)
		fails[PathAPI] = true
		step("both fail", 9, 12, last+" partitioned->lost @11.5")
		status("both fail", 12, Lost, true, true, 11.5)
		fails[PathAPI], fails[PathProbe] = false, false
		step("both back, not current", 12.5, 13, last+" lost->returning @12.5")
		// A returning site with one path down stays returning: it comes
		// back only on both paths, with current reports.
		fails[PathProbe] = true
		step("returning, the probe fails", 13.5, 17)
		status("returning, the probe fails", 17, Returning, false, true, 11.5)
		fails[PathProbe] = false
		step("returning, both up, not current", 17.5, 18)
		cur = true
		step("current", 18.5, 19, last+" returning->alive @18.5")
		// Lost again: the new loss's time, not the first.
		fails[PathAPI], fails[PathProbe] = true, true
		step("lost again", 19.5, 23, last+" alive->lost @22")
		status("lost again", 23, Lost, true, true, 22)
	}
}

// TestTransitionString is the move log's line for a change of state.
func TestTransitionString(t *testing.T) {
	tr := Transition{Site: "B", From: Alive, To: Lost, Failing: []string{"api failing: timeout", "probe failing"}}
	if got, want := tr.String(), "site B: alive -> lost (api failing: timeout; probe failing)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got, want := (Transition{Site: "B", From: Lost, To: Returning}).String(), "site B: lost -> returning"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// TestASiteOfRouters follows site B of two and of three routers, path by
// path: a path is up while any router answers on it, and B is lost only
// when every router fails both. The first-listed router falling silent
// changes nothing while another answers (a false site loss, when the
// checks of one router used up the interval of all).
func TestASiteOfRouters(t *testing.T) {
	for _, routers := range [][]string{{"b1", "b2"}, {"b1", "b2", "b3"}} {
		tr := NewTracker(map[string][]string{"B": routers}, 3*time.Second, t0)
		down := map[string]map[Path]bool{}
		for _, r := range routers {
			down[r] = map[Path]bool{}
		}
		step := func(name string, from, to float64, want ...string) {
			t.Helper()
			var got []string
			for s := from; s <= to; s += 0.5 {
				for _, r := range routers {
					for _, p := range []Path{PathAPI, PathProbe} {
						res := Result{Site: "B", Router: r, Path: p, OK: !down[r][p], Err: r + " timeout"}
						if res.OK && p == PathAPI {
							res.Answer = &Answer{Site: "B", Current: true}
						}
						for _, x := range tr.Record(res, at(s)) {
							got = append(got, fmt.Sprintf("%s->%s @%g", x.From, x.To, x.At.Sub(t0).Seconds()))
						}
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%v, %s: %q, want %q", routers, name, got, want)
			}
		}
		step("all well", 0, 2)
		// The first-listed router falls silent on both paths.
		down["b1"][PathAPI], down["b1"][PathProbe] = true, true
		step("b1 silent", 2.5, 10)
		st := tr.Status(at(10))[0]
		if st.State != Alive || st.APIFailing || st.ProbeFailing {
			t.Errorf("%v, b1 silent: %+v, want alive", routers, st)
		}
		// Every other router loses its API: the API path fails, the probe
		// still answers (b2 answers it): partitioned.
		for _, r := range routers[1:] {
			down[r][PathAPI] = true
		}
		step("the API of every router fails", 10.5, 14, "alive->partitioned @13")
		if st := tr.Status(at(14))[0]; !st.APIFailing || st.ProbeFailing || len(st.Failing) != 1 || !strings.Contains(st.Failing[0], "b1: b1 timeout") {
			t.Errorf("%v: %+v, want the API failing, with each router's error", routers, st)
		}
		if len(routers) == 3 {
			down["b3"][PathProbe] = true // b3 loses its probe too; b2 still answers it
		}
		step("b2 alone answers the probe", 14.5, 18)
		// b2's probe fails: every router fails both paths: lost.
		down["b2"][PathProbe] = true
		step("every router fails both", 18.5, 23, "partitioned->lost @21")
		// One router back on both paths: returning, then alive (current).
		down["b2"][PathAPI], down["b2"][PathProbe] = false, false
		step("b2 back, its reports current", 23.5, 24, "lost->alive @23.5")
	}
}

// TestRecordIgnoresUnknownRouters: a result for a router the site does not
// have counts for nothing.
func TestRecordIgnoresUnknownRouters(t *testing.T) {
	tr := NewTracker(map[string][]string{"B": {"b1"}}, 3*time.Second, t0)
	tr.Record(Result{Site: "B", Router: "b9", Path: PathAPI, OK: true, Answer: &Answer{Site: "B"}}, at(2.9))
	tr.Record(Result{Site: "B", Router: "b9", Path: PathProbe, OK: true}, at(2.9))
	if got := tr.Evaluate(at(3)); len(got) != 1 || got[0].To != Lost {
		t.Errorf("%v: want B lost, its only router never heard", got)
	}
}
