package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vmroute/vmroute/routeragent/announce"
	"github.com/vmroute/vmroute/routeragent/bgp"
	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/version"
	"github.com/vmroute/vmroute/shared/wire"
)

// serve starts the report API (mutual TLS; reports and status) and, when
// configured, the read-only status listener without TLS.
func (d *Daemon) serve(ctx context.Context) (stop func(), err error) {
	tc := d.tls
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.ReportsPath, d.handleReport)
	mux.HandleFunc("GET "+wire.AuthorizePath, func(w http.ResponseWriter, r *http.Request) {
		names, err := tlsutil.Names(r.TLS)
		if err != nil {
			writeJSON(w, http.StatusUnauthorized, wire.Problem{Error: err.Error()})
			return
		}
		cluster, err := url.PathUnescape(r.Header.Get(wire.ClusterHeader))
		if err != nil || cluster == "" {
			writeJSON(w, http.StatusBadRequest, wire.Problem{Error: "header " + wire.ClusterHeader + " missing"})
			return
		}
		if ref := d.intake.Authorize(cluster, names); ref != nil {
			writeJSON(w, ref.Status, wire.Problem{Error: ref.Msg})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+wire.V1ReportsPath, func(w http.ResponseWriter, r *http.Request) {
		d.refuse(w, http.StatusGone, "this routeragent speaks wire v2 (POST "+wire.ReportsPath+
			"), where each VM carries its site: upgrade the hostagent to the routeragent's version", 0, "")
	})
	status := http.NewServeMux()
	d.statusRoutes(status)
	mux.Handle("GET /", d.operatorsOnly(status))
	// Slow, stalled and greedy clients are bounded: the TLS handshake and
	// each request's headers take at most handshakeTimeout; a request is
	// read, and its answer written, within a minute; an idle connection
	// closes after 90 s; connections are capped (apiLimits).
	api := &http.Server{Handler: mux, TLSConfig: tc.Server(), ReadHeaderTimeout: handshakeTimeout,
		ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 90 * time.Second, MaxHeaderBytes: 64 << 10,
		ConnState:   d.conns.state,
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    log.New(d.handshakes, "", 0)}
	ln, err := net.Listen("tcp", d.conf().API.Listen)
	if err != nil {
		return nil, fmt.Errorf("report API: %w", err)
	}
	d.apiAddr = ln.Addr().String()
	go func() {
		if err := api.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("report API", "err", err)
		}
	}()
	servers := []*http.Server{api}
	if d.conf().API.StatusListen != "" {
		smux := http.NewServeMux()
		d.statusRoutes(smux)
		st := &http.Server{Handler: smux, ReadHeaderTimeout: handshakeTimeout, ReadTimeout: 10 * time.Second,
			WriteTimeout: time.Minute, IdleTimeout: 90 * time.Second, MaxHeaderBytes: 64 << 10, ConnState: d.statusConns.state}
		sln, err := net.Listen("tcp", d.conf().API.StatusListen)
		if err != nil {
			_ = api.Close()
			return nil, fmt.Errorf("status listener: %w", err)
		}
		d.statusAddr = sln.Addr().String()
		go func() {
			if err := st.Serve(sln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("status listener", "err", err)
			}
		}()
		servers = append(servers, st)
	}
	d.log.Info("api listening", "reports", d.apiAddr, "status", d.statusAddr)
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(sctx)
		}
	}, nil
}

// handleReport accepts one report: authorized by its certificate and the
// cluster its header names before the body is read; then read whole
// within the size limit and the body budget, decoded strictly, checked
// against the header, persisted, and planned.
func (d *Daemon) handleReport(w http.ResponseWriter, r *http.Request) {
	names, err := tlsutil.Names(r.TLS)
	if err != nil {
		d.refuse(w, http.StatusUnauthorized, err.Error(), 0, "")
		return
	}
	// Refused before its body is read, the connection closes: reading
	// the rest of an unwanted body is what a greedy client wants.
	w.Header().Set("Connection", "close")
	cluster, err := url.PathUnescape(r.Header.Get(wire.ClusterHeader))
	if err != nil || cluster == "" {
		d.refuse(w, http.StatusBadRequest, "header "+wire.ClusterHeader+" missing or not path-escaped: it names the report's cluster", 0, "")
		return
	}
	if ref := d.intake.Authorize(cluster, names); ref != nil {
		d.refuse(w, ref.Status, ref.Msg, 0, cluster)
		return
	}
	limit := d.conf().API.MaxReportBytes
	if r.ContentLength > limit {
		d.refuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("report larger than the limit of %d bytes (api.max_report_bytes)", limit), 0, cluster)
		return
	}
	// A body takes from the budget what has arrived of it, as it arrives
	// (a client that trickles holds little), and three times that again
	// to be decoded.
	held := int64(0)
	defer func() { d.bodies.give(held) }()
	busy := func() {
		w.Header().Set("Retry-After", "1")
		d.refuse(w, http.StatusServiceUnavailable, "too many large reports at once: try again", 0, cluster)
	}
	w.Header().Del("Connection")
	body, err := d.readBody(r.Context(), http.MaxBytesReader(w, r.Body, limit), &held)
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, errBusy):
		busy()
		return
	case errors.As(err, &tooBig):
		d.refuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("report larger than the limit of %d bytes (api.max_report_bytes)", tooBig.Limit), 0, "")
		return
	case err != nil:
		d.refuse(w, http.StatusBadRequest, "read report: "+err.Error(), 0, "")
		return
	}
	if !d.bodies.take(r.Context(), 3*int64(len(body)), budgetWait) {
		busy()
		return
	}
	held += 3 * int64(len(body))
	rep, err := wire.DecodeBytes(body)
	if err != nil {
		d.refuse(w, http.StatusBadRequest, err.Error(), 0, cluster)
		return
	}
	if rep.Cluster != cluster {
		d.refuse(w, http.StatusBadRequest, fmt.Sprintf("the report is for cluster %q, its %s header names %q", rep.Cluster, wire.ClusterHeader, cluster), 0, cluster)
		return
	}
	ch, ref := d.intake.Accept(rep, names, time.Now(), d.store.Save)
	if ref != nil {
		if ref.Clock {
			d.clock.set(rep.Cluster, ref.Msg, time.Now())
		}
		d.refuse(w, ref.Status, ref.Msg, ref.Generation, rep.Cluster)
		return
	}
	d.clock.set(rep.Cluster, "", time.Time{})
	for _, f := range d.ignored.add(rep.Cluster, rep.Ignored) {
		d.log.Info("report field ignored: a newer hostagent's optional field, which this routeragent does not know; upgrade it to use the field",
			"cluster", rep.Cluster, "field", f)
	}
	if ch != nil {
		d.metrics.accepted.WithLabelValues(rep.Cluster).Inc()
		d.submit(ch)
		d.log.Debug("report accepted", "cluster", rep.Cluster, "generation", rep.Generation,
			"kind", rep.Kind, "vms", len(rep.VMs), "removed", len(rep.Removed))
	}
	writeJSON(w, http.StatusOK, wire.Ack{Generation: d.intake.Generation(rep.Cluster)})
}

// errBusy says the body budget stayed full for budgetWait.
var errBusy = errors.New("body budget full")

// readBody reads a report's body in chunks, taking each chunk from the
// body budget before it is read; held is what it took.
func (d *Daemon) readBody(ctx context.Context, r io.Reader, held *int64) ([]byte, error) {
	const chunk = 256 << 10
	var buf bytes.Buffer
	for {
		if !d.bodies.take(ctx, chunk, budgetWait) {
			return nil, errBusy
		}
		*held += chunk
		n, err := io.CopyN(&buf, r, chunk)
		if err == io.EOF || err == nil && n < chunk {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// operatorsOnly lets through the status requests of the configured
// operators' and peer routeragents' certificates, not every certificate
// the CA signed (a hostagent's may report, not read).
func (d *Daemon) operatorsOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		names, err := tlsutil.Names(r.TLS)
		allowed := d.readers.Load()
		if err != nil || !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(*allowed, n) }) {
			writeJSON(w, http.StatusForbidden, wire.Problem{Error: fmt.Sprintf(
				"client certificate %v may not read status: name it under api.operators (or api.peers) on this routeragent", names)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (d *Daemon) refuse(w http.ResponseWriter, status int, msg string, gen uint64, cluster string) {
	d.metrics.refused.WithLabelValues(fmt.Sprint(status)).Inc()
	d.log.Warn("report refused", "cluster", cluster, "status", status, "err", msg)
	writeJSON(w, status, wire.Problem{Error: msg, Generation: gen})
}

// takeTable takes a slot of the budget of large answers for r, or
// answers 503 when none comes free within budgetWait; the caller gives
// it back.
func (d *Daemon) takeTable(w http.ResponseWriter, r *http.Request) bool {
	if d.tables.take(r.Context(), 1, budgetWait) {
		return true
	}
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, wire.Problem{Error: "too many large answers being sent: try again"})
	return false
}

// writeArray streams items as a JSON array, one element at a time; it
// stops at the first error (the client went away).
func writeArray[T any](bw *bufio.Writer, items []T) error {
	if _, err := bw.WriteString("["); err != nil {
		return err
	}
	for i, it := range items {
		if i > 0 {
			if _, err := bw.WriteString(","); err != nil {
				return err
			}
		}
		b, err := json.Marshal(it)
		if err != nil {
			return err
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	_, err := bw.WriteString("]")
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Status is the routeragent's summary, at /v1/status.
type Status struct {
	Site     string           `json:"site"`
	Version  string           `json:"version"`
	DryRun   bool             `json:"dry_run"`
	Clusters []ClusterStatus  `json:"clusters"`
	Routes   map[string]int   `json:"routes"`
	Findings plan.Findings    `json:"findings"`
	Peers    []bgp.PeerStatus `json:"peers"`
	// Certificates are the API's certificates that end within 30 days.
	Certificates []string `json:"certificate_warnings,omitempty"`
	// Local are what this machine lacks of the configuration: a missing
	// interface, a gateway not here, a next hop not its own.
	Local []string `json:"local_problems,omitempty"`
	// Announce are the reasons gateway announcements are skipped now
	// ("gateway [192.0.2.1] is on no local interface (not the VRRP
	// master?)"), each once.
	Announce []string `json:"announce_problems,omitempty"`
	// Sites are the other sites' liveness (rule 6).
	Sites []liveness.Status `json:"sites,omitempty"`
	// Siblings are the liveness of this site's other routers, each by its
	// API URL; Winning says this router's routes win over a lost one's
	// at the WAN now (MED 0, for one linger after its loss).
	Siblings []liveness.Status `json:"siblings,omitempty"`
	Winning  bool              `json:"winning,omitempty"`
	// ClockRefused are the clusters whose last report was refused for a
	// clock: a landing or generation too far ahead of this router's.
	ClockRefused []ClockRefusal `json:"clock_refused,omitempty"`
}

// ClockRefusal is a cluster whose last report was refused for a clock.
type ClockRefusal struct {
	Cluster string    `json:"cluster"`
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
}

// clockRefusals are the clusters whose last report was refused for a
// clock, by cluster.
type clockRefusals struct {
	mu sync.Mutex
	by map[string]ClockRefusal
}

// set records a cluster's refusal, or clears it when msg is empty.
func (c *clockRefusals) set(cluster, msg string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if msg == "" {
		delete(c.by, cluster)
		return
	}
	if c.by == nil {
		c.by = map[string]ClockRefusal{}
	}
	c.by[cluster] = ClockRefusal{Cluster: cluster, At: at, Error: msg}
}

// list returns the refusals, by cluster name.
func (c *clockRefusals) list() []ClockRefusal {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Collect(maps.Values(c.by))
	slices.SortFunc(out, func(a, b ClockRefusal) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}

// ignoredFields are, by cluster, the fields of its accepted reports that
// this routeragent does not know (wire.Report.Ignored): at most
// maxIgnoredFields a cluster, so that a hostagent cannot grow them.
type ignoredFields struct {
	mu sync.Mutex
	by map[string][]string
}

const maxIgnoredFields = 16

// add records fields for cluster and returns those not seen before.
func (g *ignoredFields) add(cluster string, fields []string) (added []string) {
	if len(fields) == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.by == nil {
		g.by = map[string][]string{}
	}
	for _, f := range fields {
		if have := g.by[cluster]; !slices.Contains(have, f) && len(have) < maxIgnoredFields {
			g.by[cluster] = append(have, f)
			added = append(added, f)
		}
	}
	return added
}

// of returns cluster's ignored fields, sorted.
func (g *ignoredFields) of(cluster string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(slices.Values(g.by[cluster]))
}

// ClusterStatus is one cluster's report state.
type ClusterStatus struct {
	Name string `json:"name"`
	// Sites are the sites the cluster spans, as configured.
	Sites      []string  `json:"sites"`
	Generation uint64    `json:"generation"`
	Received   time.Time `json:"received"`
	Stale      bool      `json:"stale"`
	VMs        int       `json:"vms"`
	// IgnoredFields are the fields of its reports that this routeragent
	// does not know: its hostagent is newer.
	IgnoredFields []string `json:"ignored_fields,omitempty"`
}

// VM is a location-table row, at /v1/vms.
type VM struct {
	plan.Location
	Discovered bool `json:"discovered,omitempty"`
}

// Routes are this site's routes, at /v1/routes: what the plan wants, what
// the speaker advertises, and every site's plan.
type Routes struct {
	Desired    []plan.Route `json:"desired"`
	Advertised []plan.Route `json:"advertised"`
	AllSites   []plan.Route `json:"all_sites"`
}

func (d *Daemon) statusRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		if !d.takeTable(w, r) {
			return
		}
		defer d.tables.give(1)
		cfg := d.conf()
		res := d.last.Load()
		st := Status{Site: cfg.Site, Version: version.Version, DryRun: cfg.DryRun, Routes: map[string]int{}, Findings: res.Findings,
			ClockRefused: d.clock.list()}
		stale := map[string]bool{}
		for _, c := range res.Findings.Stale {
			stale[c] = true
		}
		for _, s := range d.intake.States() {
			st.Clusters = append(st.Clusters, ClusterStatus{Name: s.Cluster, Sites: d.intake.Sites(s.Cluster), Generation: s.Generation,
				Received: s.Received, Stale: stale[s.Cluster], VMs: len(s.VMs), IgnoredFields: d.ignored.of(s.Cluster)})
		}
		for _, rt := range res.Routes(cfg.Site) {
			st.Routes[rt.Kind.String()]++
		}
		st.Peers, _ = d.speaker.Peers(r.Context())
		st.Sites = d.siteStatus(time.Now())
		st.Siblings, st.Winning = d.siblingStatus(time.Now()), d.winning()
		st.Local = Msgs(LocalChecks(cfg))
		st.Certificates = d.tls.Warnings(time.Now())
		if !cfg.DryRun {
			st.Announce, _ = d.ann.ProblemList(r.Context())
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /v1/vms", func(w http.ResponseWriter, r *http.Request) {
		// The location table is large: few are built at once, and each
		// is streamed, so a client that does not read holds one copy,
		// until the write timeout.
		if !d.takeTable(w, r) {
			return
		}
		defer d.tables.give(1)
		var locs []plan.Location
		var discovered map[string]bool
		err := d.do(r.Context(), func() {
			locs = d.planner.Locations()
			discovered = maps.Clone(d.discovered)
		})
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, wire.Problem{Error: err.Error()})
			return
		}
		rows := make([]VM, len(locs))
		for i, l := range locs {
			rows[i] = VM{Location: l, Discovered: discovered[l.VM]}
		}
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 64<<10)
		if writeArray(bw, rows) == nil {
			_, _ = bw.WriteString("\n")
			_ = bw.Flush()
		}
	})
	mux.HandleFunc("GET /v1/routes", func(w http.ResponseWriter, r *http.Request) {
		// As large as the location table, and streamed within the same
		// budget: a reader that stalls holds a slot, not a body.
		if !d.takeTable(w, r) {
			return
		}
		defer d.tables.give(1)
		site := d.conf().Site
		res := d.last.Load()
		advertised := d.speaker.Advertised()
		slices.SortFunc(advertised, func(a, b plan.Route) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
		seen := map[string]bool{}
		for _, s := range res.Subnets {
			for _, site := range append(slices.Clone(s.Summaries), slices.Collect(maps.Keys(s.Hosts))...) {
				seen[site] = true
			}
		}
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 64<<10)
		_, _ = bw.WriteString(`{"desired":`)
		if writeArray(bw, res.Routes(site)) != nil {
			return
		}
		_, _ = bw.WriteString(`,"advertised":`)
		if writeArray(bw, advertised) != nil {
			return
		}
		var all []plan.Route
		for _, s := range slices.Sorted(maps.Keys(seen)) {
			all = append(all, res.Routes(s)...)
		}
		_, _ = bw.WriteString(`,"all_sites":`)
		if writeArray(bw, all) != nil {
			return
		}
		_, _ = bw.WriteString("}\n")
		_ = bw.Flush()
	})
	mux.HandleFunc("GET /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		peers, err := d.speaker.Peers(r.Context())
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, wire.Problem{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, peers)
	})
	mux.HandleFunc("GET "+liveness.SitePath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.answer(time.Now()))
	})
	mux.HandleFunc("GET /v1/moves", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.moves.list())
	})
	mux.HandleFunc("GET /v1/announcements", func(w http.ResponseWriter, r *http.Request) {
		var st []announce.Status
		if !d.conf().DryRun {
			var err error
			if st, err = d.ann.Status(r.Context()); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, wire.Problem{Error: err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
}
