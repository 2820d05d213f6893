package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/liveness"
)

func TestWinOverALostSiblingForOneLinger(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	linger := 2 * time.Minute
	a2 := func(state liveness.State, lostAgo time.Duration) liveness.Status {
		return liveness.Status{Site: "https://a2:8443", State: state, LostAt: now.Add(-lostAgo)}
	}
	a3 := liveness.Status{Site: "https://a3:8443", State: liveness.Alive}
	for _, tc := range []struct {
		name     string
		siblings []liveness.Status
		win      bool
		lost     string
	}{
		{"none", nil, false, ""},
		{"alive", []liveness.Status{a3}, false, ""},
		{"lost just now", []liveness.Status{a3, a2(liveness.Lost, 0)}, true, "https://a2:8443"},
		{"lost within the linger", []liveness.Status{a2(liveness.Lost, linger-time.Millisecond), a3}, true, "https://a2:8443"},
		{"lost a linger ago: the WAN holds nothing of it", []liveness.Status{a2(liveness.Lost, linger), a3}, false, ""},
		{"partitioned: it still forwards", []liveness.Status{a2(liveness.Partitioned, 0)}, false, ""},
		{"returning: both paths answer again", []liveness.Status{a2(liveness.Returning, time.Second)}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if win, lost := winOver(tc.siblings, linger, now); win != tc.win || lost != tc.lost {
				t.Errorf("winOver() = %v, %q; want %v, %q", win, lost, tc.win, tc.lost)
			}
		})
	}
}

// TestDaemonWatchesItsSibling runs a daemon with a sibling (a fake
// routeragent with a certificate of site A's, answering as site A) whose
// probe fails: it is partitioned, and nothing changes; once its API
// fails too it is lost within sibling_loss_after and a check, and the
// daemon's routes win (status, metrics, move log).
func TestDaemonWatchesItsSibling(t *testing.T) {
	e := newEnv(t, "")
	var down atomic.Bool
	sib := e.peerRouteragent(t, "router-a2", func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(liveness.Answer{Site: "A", Current: true})
	})
	e.edit(t, func(c string) string {
		return c + `
[[subnets]]
prefix = "203.0.113.0/24"
home = "A"
interface = "vmroute-none0"
[liveness]
sibling_loss_after = "400ms"
sibling_peers = ["router-a2"]
[[liveness.siblings]]
api = "` + sib.URL + `"
probe = ["203.0.113.2"]
`
	})
	d := e.start(t)
	wait := func(what string, ok func(Status) bool) Status {
		t.Helper()
		var st Status
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			get(t, d, "/v1/status", &st)
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: siblings %+v, winning %v", what, st.Siblings, st.Winning)
			}
		}
	}
	st := wait("partitioned", func(st Status) bool { return len(st.Siblings) == 1 && st.Siblings[0].State == liveness.Partitioned })
	if s := st.Siblings[0]; s.Site != sib.URL || s.APIFailing || !s.ProbeFailing || st.Winning {
		t.Errorf("sibling %+v, winning %v: want its API up, its probe down, and no win", s, st.Winning)
	}
	if len(st.Sites) != 0 {
		t.Errorf("a sibling is shown as a site: %+v", st.Sites)
	}
	down.Store(true)
	failed := time.Now()
	st = wait("lost", func(st Status) bool { return len(st.Siblings) == 1 && st.Siblings[0].State == liveness.Lost })
	if took := time.Since(failed); took > 400*time.Millisecond+time.Second {
		t.Errorf("lost %s after its API failed, want within sibling_loss_after and a check", took)
	}
	if !st.Winning {
		t.Errorf("a sibling is lost and this router does not win")
	}
	var moves []Move
	get(t, d, "/v1/moves", &moves)
	var events []string
	for _, m := range moves {
		events = append(events, m.Event)
	}
	all := strings.Join(events, "\n")
	for _, want := range []string{"sibling " + sib.URL + ": alive -> partitioned", "sibling " + sib.URL + ": partitioned -> lost",
		"winning at the WAN over lost sibling " + sib.URL + " (MED 0)"} {
		if !strings.Contains(all, want) {
			t.Errorf("move log lacks %q:\n%s", want, all)
		}
	}
	resp, err := http.Get("http://" + d.statusAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`vmroute_sibling_winning 1`, `vmroute_sibling_state{sibling="` + sib.URL + `",state="lost"} 1`,
		`vmroute_sibling_path_up{path="api",sibling="` + sib.URL + `"} 0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
