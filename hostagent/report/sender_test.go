package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/intake"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/pki"
)

// server is a routeragent's report endpoint on the real intake, which the
// test can reset (a routeragent that lost its state) or take down.
type server struct {
	mu      sync.Mutex
	in      *intake.Intake
	down    bool
	reports []*wire.Report
	at      []time.Time // when each report came
	// arrived and release, when set, hold each request: it says it
	// arrived, then waits to be released.
	arrived, release chan struct{}
}

func (s *server) reset() {
	s.mu.Lock()
	s.in = intake.New([]intake.Cluster{{Name: "c", Sites: []string{"A"}, Clients: []string{"hostagent"}}}, 2*time.Minute, 2*time.Second)
	s.mu.Unlock()
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	arrived, release := s.arrived, s.release
	s.mu.Unlock()
	if arrived != nil {
		arrived <- struct{}{}
		<-release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rep, err := wire.Decode(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.reports = append(s.reports, rep)
	s.at = append(s.at, time.Now())
	names, _ := tlsutil.Names(r.TLS)
	if _, ref := s.in.Accept(rep, names, time.Now(), func(*intake.State) error { return nil }); ref != nil {
		w.WriteHeader(ref.Status)
		_ = json.NewEncoder(w).Encode(wire.Problem{Error: ref.Msg, Generation: ref.Generation})
		return
	}
	_ = json.NewEncoder(w).Encode(wire.Ack{Generation: s.in.Generation(rep.Cluster)})
}

// setDown takes the routeragent down (503 to every report) or back up.
func (s *server) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *server) last() (*wire.Report, int, map[string]wire.VM) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vms map[string]wire.VM
	if st := s.in.States(); len(st) == 1 {
		vms = st[0].VMs
	}
	if len(s.reports) == 0 {
		return nil, 0, vms
	}
	return s.reports[len(s.reports)-1], len(s.reports), vms
}

// newSender serves h over HTTPS with a routeragent's certificate until the
// test ends, and returns a sender to it, with a hostagent's certificate,
// retrying after 10 ms to 50 ms. The test runs it.
func newSender(t *testing.T, h http.Handler, log *slog.Logger) *Sender {
	t.Helper()
	ca := pki.New(t)
	cert, key := ca.Issue(t, "router", net.ParseIP("127.0.0.1"))
	ccert, ckey := ca.Issue(t, "hostagent")
	stc, err := tlsutil.Load(tlsutil.Files{Cert: cert, Key: key, CA: ca.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	ctc, err := tlsutil.Load(tlsutil.Files{Cert: ccert, Key: ckey, CA: ca.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(h)
	hs.TLS = stc.Server()
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return NewSender(hs.URL, &http.Client{Transport: &http.Transport{TLSClientConfig: ctc.Client()}}, 10*time.Millisecond, 50*time.Millisecond, log)
}

// waitRefused waits until the sender counted a refusal.
func waitRefused(t *testing.T, s *Sender) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.Stats().Refused == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal within 5s: %+v", s.Stats())
		}
	}
}

func vm(id, addr string) wire.VM {
	v := wire.VM{UUID: id, Name: id, Site: "A", PowerState: wire.PoweredOn, LandedAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		NICs: []wire.NIC{{MAC: wire.MAC{2, 0, 0, 0, 0, id[1]}}}}
	v.NICs[0].Addresses = append(v.NICs[0].Addresses, mustAddr(addr))
	return v
}

func TestSender(t *testing.T) {
	srv := &server{}
	srv.reset()
	s := newSender(t, srv, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5s; stats %+v", what, s.Stats())
			}
		}
	}
	offer := func(vms ...wire.VM) { s.Offer(map[string][]wire.VM{"c": vms}) }

	offer(vm("v1", "192.0.2.1"), vm("v2", "192.0.2.2"))
	wait("full report", func() bool { r, _, vms := srv.last(); return r != nil && r.Kind == wire.KindFull && len(vms) == 2 })

	offer(vm("v1", "192.0.2.1"), vm("v2", "192.0.2.22"))
	wait("delta", func() bool { _, _, vms := srv.last(); return vms["v2"].NICs[0].Addresses[0] == mustAddr("192.0.2.22") })
	if r, _, _ := srv.last(); r.Kind != wire.KindDelta || len(r.VMs) != 1 || r.VMs[0].UUID != "v2" || len(r.Removed) != 0 {
		t.Errorf("delta %+v, want v2 alone", r)
	}
	_, n, _ := srv.last()
	offer(vm("v1", "192.0.2.1"), vm("v2", "192.0.2.22"))
	wait("the unchanged state handled", func() bool { return s.Stats().InSync })
	if _, m, _ := srv.last(); m != n {
		t.Errorf("an unchanged state was sent again (%d reports, was %d)", m, n)
	}

	// The routeragent lost its state: the delta is refused with 409, and a
	// full report follows.
	srv.reset()
	offer(vm("v1", "192.0.2.1"))
	wait("full after 409", func() bool { r, _, vms := srv.last(); return r.Kind == wire.KindFull && len(vms) == 1 })

	// Down for a while: retried with backoff; back, it gets the latest
	// state, not what it missed.
	srv.setDown(true)
	offer(vm("v1", "192.0.2.1"), vm("v3", "192.0.2.3"))
	wait("a failure while down", func() bool { return s.Stats().Failed > 0 })
	failed := s.Stats().Failed
	offer(vm("v4", "192.0.2.4"))
	wait("the newest state retried while down", func() bool { return s.Stats().Failed > failed })
	if st := s.Stats(); st.Failed == 0 || st.InSync {
		t.Errorf("while down: %+v", st)
	}
	srv.setDown(false)
	wait("latest state", func() bool { _, _, vms := srv.last(); _, ok := vms["v4"]; return ok && len(vms) == 1 })
	if r, _, _ := srv.last(); r.Kind != wire.KindDelta || len(r.Removed) != 1 || r.Removed[0] != "v1" {
		t.Errorf("after the outage %+v, want one delta: v4 in, v1 out", r)
	}
	wait("in sync", func() bool { return s.Stats().InSync })
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestSenderToAnOlderRouteragent(t *testing.T) {
	// A routeragent that speaks only wire v1 has no /v2/reports: the
	// sender says so, and counts a refusal, instead of retrying blindly.
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.V1ReportsPath, func(w http.ResponseWriter, r *http.Request) {})
	s := newSender(t, mux, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.1")}})
	waitRefused(t, s)
	if st := s.Stats(); !strings.Contains(st.LastError, "older wire version than this hostagent; upgrade it") || st.InSync {
		t.Errorf("stats %+v, want the older wire version named", st)
	}
}

func TestSenderNeverWrapsTheGeneration(t *testing.T) {
	// An older routeragent accepted generation 2^64-1: held+1 would wrap
	// to 0. The sender says what is wrong instead.
	var posts atomic.Int32
	s := newSender(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(wire.Problem{Error: "delta against the wrong generation", Generation: 1<<64 - 1})
	}), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.1")}})
	waitRefused(t, s)
	if st := s.Stats(); !strings.Contains(st.LastError, "holds generation 18446744073709551615, beyond the limit") {
		t.Errorf("stats %+v", st)
	}
}

// warnings counts log records at Warn and above.
type warnings struct{ n atomic.Int32 }

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(context.Context, slog.Record) error    { w.n.Add(1); return nil }
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnings) WithGroup(string) slog.Handler                { return w }

func TestSenderStopsQuietly(t *testing.T) {
	// Stopped while a report is on its way: no "retrying" warning for a
	// delivery cut short by the stop itself.
	arrived := make(chan struct{}, 1)
	warn := &warnings{}
	s := newSender(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client going
		arrived <- struct{}{}
		<-r.Context().Done()
	}), slog.New(warn))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.1")}})
	<-arrived
	cancel()
	<-done
	if n := warn.n.Load(); n != 0 {
		t.Errorf("%d warnings on a stop", n)
	}
}

// TestHeartbeat: a quiet cluster sends an empty delta after Heartbeat,
// which the routeragent's intake accepts (its lease starts again), and
// none before.
func TestHeartbeat(t *testing.T) {
	srv := &server{}
	srv.reset()
	s := newSender(t, srv, slog.New(slog.DiscardHandler))
	s.Heartbeat = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.11")}})
	start := time.Now()
	for deadline := start.Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, n, _ := srv.last(); n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat within 5s: %+v", s.Stats())
		}
	}
	if d := time.Since(start); d < s.Heartbeat {
		t.Errorf("a heartbeat %s after the full report, want no sooner than %s", d, s.Heartbeat)
	}
	last, _, vms := srv.last()
	if last.Kind != wire.KindDelta || len(last.VMs) != 0 || len(last.Removed) != 0 || len(vms) != 1 {
		t.Errorf("heartbeat %+v, held %v; want an empty delta and v1 still held", last, vms)
	}
	if st := srv.in.States()[0]; st.Generation != last.Generation {
		t.Errorf("intake at generation %d, want the heartbeat's %d accepted", st.Generation, last.Generation)
	} // And no later than a quarter of the period past it: the quiet
	// cluster's beats come every period, never two periods apart.
	waitFor(t, "five more heartbeats", func() bool { _, n, _ := srv.last(); return n >= 7 })
	srv.mu.Lock()
	var gaps []time.Duration
	for i := 2; i < len(srv.at); i++ {
		gaps = append(gaps, srv.at[i].Sub(srv.at[i-1]))
	}
	srv.mu.Unlock()
	slices.Sort(gaps)
	if median := gaps[len(gaps)/2]; median > s.Heartbeat*3/2 {
		t.Errorf("heartbeats %v apart (median %s), want within 1.25 periods of %s", gaps, median, s.Heartbeat)
	}
}

// TestNotInSyncBeforeAnyState: a sender that has had no state to send
// (vCenter not connected yet) is not in sync, even after a beat.
func TestNotInSyncBeforeAnyState(t *testing.T) {
	srv := &server{}
	srv.reset()
	s := newSender(t, srv, slog.New(slog.DiscardHandler))
	s.Heartbeat = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	waitFor(t, "two heartbeat rounds", func() bool { return s.Stats().Beats >= 2 })
	if st := s.Stats(); st.InSync {
		t.Errorf("in sync with nothing sent, after a round: %+v", st)
	}
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.11")}})
	for deadline := time.Now().Add(5 * time.Second); !s.Stats().InSync; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not in sync 5 s after the first state: %+v", s.Stats())
		}
	}
}

// Catches heartbeats that hide a lost vCenter: while Beating says no, the
// cluster's heartbeats are withheld (and counted), so the routeragent
// shows it stale; a change still goes out, and the beats resume after.
func TestHeartbeatsWithheldWhileVCenterIsDown(t *testing.T) {
	srv := &server{}
	srv.reset()
	s := newSender(t, srv, slog.New(slog.DiscardHandler))
	s.Heartbeat = 20 * time.Millisecond
	var up atomic.Bool
	s.Beating = up.Load
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.11")}})
	waitFor(t, "3 heartbeats withheld", func() bool { return s.Stats().Withheld >= 3 })
	if _, n, _ := srv.last(); n != 1 {
		t.Errorf("%d reports while vCenter is down, want the full report alone", n)
	}
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.11"), vm("v2", "192.0.2.12")}})
	waitFor(t, "the change delivered", func() bool { _, _, vms := srv.last(); return len(vms) == 2 })
	up.Store(true)
	_, before, _ := srv.last()
	waitFor(t, "a heartbeat after vCenter is back", func() bool { _, n, _ := srv.last(); return n > before })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
	}
}

// Catches a sender in sync with a state older than the newest offered:
// the first state is delivered while a newer one waits, and the sender
// must not say in sync until the newer one is delivered too.
func TestInSyncOnlyWithTheNewestState(t *testing.T) {
	srv := &server{arrived: make(chan struct{}), release: make(chan struct{})}
	srv.reset()
	s := newSender(t, srv, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.11")}})
	<-srv.arrived // the first report is being handled
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.11"), vm("v2", "192.0.2.12")}})
	srv.release <- struct{}{}
	<-srv.arrived // the second is being handled: the first was answered
	if st := s.Stats(); st.InSync {
		t.Errorf("in sync while the newest state is being sent: %+v", st)
	}
	srv.mu.Lock()
	srv.arrived = nil // no request waits from here on
	srv.mu.Unlock()
	close(srv.release)
	waitFor(t, "in sync with the newest state", func() bool { return s.Stats().InSync })
	if _, _, vms := srv.last(); len(vms) != 2 {
		t.Errorf("the routeragent holds %d VMs, want 2", len(vms))
	}
}

// Catches a backoff that never starts again: after a delivery, the next
// failure is retried after the shortest wait, not the longest reached.
func TestBackoffStartsAgainAfterADelivery(t *testing.T) {
	srv := &server{down: true}
	srv.reset()
	s := newSender(t, srv, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.11")}})
	waitFor(t, "the backoff at its longest", func() bool { return s.Stats().RetryIn == s.retryMax })
	srv.setDown(false)
	waitFor(t, "delivered", func() bool { return s.Stats().InSync })
	if st := s.Stats(); st.RetryIn != 0 {
		t.Errorf("retry_in %s once delivered, want none", st.RetryIn)
	}
	srv.setDown(true)
	failed := s.Stats().Failed
	s.Offer(map[string][]wire.VM{"c": {vm("v1", "192.0.2.11"), vm("v2", "192.0.2.12")}})
	waitFor(t, "a failure", func() bool { return s.Stats().Failed > failed })
	if st := s.Stats(); st.RetryIn != s.retryMin {
		t.Errorf("the first retry after a delivery waits %s, want the shortest, %s", st.RetryIn, s.retryMin)
	}
}

// scripted answers each report with the next of its answers (status and
// body), and records the reports.
type scripted struct {
	mu      sync.Mutex
	answers []answer
	got     []*wire.Report
}

type answer struct {
	status int
	body   string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep, err := wire.Decode(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, rep)
	a := answer{http.StatusOK, `{"generation": 1}`}
	if len(s.answers) > 0 {
		a, s.answers = s.answers[0], s.answers[1:]
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

// then sets the next answers and returns how many reports came so far.
func (s *scripted) then(as ...answer) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = as
	return len(s.got)
}

func (s *scripted) since(n int) []*wire.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got[n:])
}

// TestSyncAnswers runs one sync per answer of the routeragent and checks
// what the sender sent, what it says and what it counted: deliveries,
// full reports and refusals, a routeragent's problem as it said it or,
// when it said none in JSON, its status and body.
func TestSyncAnswers(t *testing.T) {
	srv := &scripted{}
	s := newSender(t, srv, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	state := map[string][]wire.VM{"c": {vm("v1", "192.0.2.11")}}
	for _, tt := range []struct {
		name    string
		answers []answer
		vms     []wire.VM
		err     string
		kinds   string // the kinds of the reports sent
		stats   Stats
	}{
		{"the first report: full", nil, []wire.VM{vm("v1", "192.0.2.11")}, "", "[full]", Stats{Sent: 1, Full: 1}},
		{"a change: a delta", nil, []wire.VM{vm("v1", "192.0.2.11"), vm("v2", "192.0.2.12")}, "", "[delta]", Stats{Sent: 2, Full: 1}},
		{"nothing changed: nothing sent", nil, []wire.VM{vm("v1", "192.0.2.11"), vm("v2", "192.0.2.12")}, "", "[]", Stats{Sent: 2, Full: 1}},
		{"an older routeragent", []answer{{http.StatusNotFound, "404 page not found"}}, []wire.VM{vm("v1", "192.0.2.11")},
			"cluster c: the routeragent has no /v2/reports (404): it speaks an older wire version than this hostagent; upgrade it", "[delta]", Stats{Sent: 2, Full: 1, Refused: 1}},
		{"a problem in JSON", []answer{{http.StatusForbidden, `{"error": "client certificate may not report cluster \"c\""}`}}, []wire.VM{vm("v1", "192.0.2.11")},
			`cluster c: refused with 403: client certificate may not report cluster "c"`, "[delta]", Stats{Sent: 2, Full: 1, Refused: 2}},
		{"a problem in plain text", []answer{{http.StatusBadGateway, "upstream gone\n"}}, []wire.VM{vm("v1", "192.0.2.11")},
			"cluster c: refused with 502: 502 Bad Gateway: upstream gone", "[delta]", Stats{Sent: 2, Full: 1, Refused: 3}},
		{"JSON without a problem", []answer{{http.StatusTeapot, `{"generation": 3}`}}, []wire.VM{vm("v1", "192.0.2.11")},
			`cluster c: refused with 418: 418 I'm a teapot: {"generation": 3}`, "[delta]", Stats{Sent: 2, Full: 1, Refused: 4}},
		{"a conflict: a full report above it", []answer{{http.StatusConflict, `{"error": "delta against 1", "generation": 5}`}}, []wire.VM{vm("v1", "192.0.2.11")},
			"", "[delta full]", Stats{Sent: 3, Full: 2, Refused: 4}},
		{"conflicts twice: refused", []answer{{http.StatusConflict, `{"error": "x", "generation": 5}`}, {http.StatusConflict, `{"error": "x", "generation": 5}`}, {http.StatusOK, "{}"}},
			[]wire.VM{vm("v1", "192.0.2.13")}, "cluster c: the routeragent refuses even a full report", "[delta full]", Stats{Sent: 3, Full: 2, Refused: 4}},
		{"a generation at the limit", []answer{{http.StatusConflict, fmt.Sprintf(`{"error": "x", "generation": %d}`, uint64(wire.MaxGeneration))}},
			[]wire.VM{vm("v1", "192.0.2.13")}, "beyond the limit", "[full]", Stats{Sent: 3, Full: 2, Refused: 5}},
	} {
		n := srv.then(tt.answers...)
		state["c"] = tt.vms
		err := s.sync(ctx, state)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
		}
		var kinds []wire.Kind
		for _, r := range srv.since(n) {
			kinds = append(kinds, r.Kind)
		}
		st := s.Stats()
		if fmt.Sprint(kinds) != tt.kinds || st.Sent != tt.stats.Sent || st.Full != tt.stats.Full || st.Refused != tt.stats.Refused {
			t.Errorf("%s: sent %v, stats sent %d full %d refused %d; want %s, %d %d %d", tt.name, kinds, st.Sent, st.Full, st.Refused,
				tt.kinds, tt.stats.Sent, tt.stats.Full, tt.stats.Refused)
		}
	}
	// After a conflict, the full report goes above what is held.
	n := srv.then(answer{http.StatusConflict, `{"error": "x", "generation": 4000000000000000000}`}, answer{http.StatusOK, "{}"})
	state["c"] = []wire.VM{vm("v1", "192.0.2.14")}
	if err := s.sync(ctx, state); err != nil {
		t.Fatal(err)
	}
	if got := srv.since(n); len(got) != 2 || got[1].Kind != wire.KindFull || got[1].Generation != 4000000000000000001 {
		t.Errorf("after a conflict at 4000000000000000000: %+v, want a full report at 4000000000000000001", got)
	}
}

// TestClustersThatGainedGoFirst: of the clusters that changed, those that
// gained a VM are sent first: a landing matters more than the departure
// it goes with.
func TestClustersThatGainedGoFirst(t *testing.T) {
	srv := &scripted{}
	s := newSender(t, srv, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if err := s.sync(ctx, map[string][]wire.VM{"a": {vm("v1", "192.0.2.11")}, "b": {}, "c": {vm("v3", "192.0.2.13")}}); err != nil {
		t.Fatal(err)
	}
	n := srv.then()
	// v1 moves from a to b; c loses v3.
	if err := s.sync(ctx, map[string][]wire.VM{"a": {}, "b": {vm("v1", "192.0.2.11")}, "c": {}}); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range srv.since(n) {
		order = append(order, r.Cluster)
	}
	if fmt.Sprint(order) != "[b a c]" {
		t.Errorf("sent %v, want b (gained v1) first, then a and c in order", order)
	}
}
