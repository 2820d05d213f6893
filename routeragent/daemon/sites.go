package daemon

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vmroute/vmroute/routeragent/bgp"
	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/routeragent/sitecheck"
)

// sites is this routeragent's view of the other sites (DESIGN.md rule
// 6): the liveness checks' tracker, and whether an established BGP
// session lacks long-lived graceful restart.
type sites struct {
	mu      sync.Mutex
	tracker *liveness.Tracker
	seen    map[liveness.Path]map[string]bool // first results, until every site has both
	first   chan struct{}
	noLLGR  atomic.Bool
}

// startLiveness starts checking the other sites and waits, at most two
// intervals, for the first result of each path to each: the first plan
// then knows which sites are lost. Without sites it does nothing.
func (d *Daemon) startLiveness(ctx context.Context) {
	lc := d.conf().Liveness
	if len(lc.Sites) == 0 {
		return
	}
	routers := map[string][]string{}
	for _, s := range lc.Sites {
		for _, r := range s.Routers {
			routers[s.Name] = append(routers[s.Name], r.API)
		}
	}
	d.sites.tracker = liveness.NewTracker(routers, lc.SiteLossAfter, time.Now())
	d.sites.seen = map[liveness.Path]map[string]bool{liveness.PathAPI: {}, liveness.PathProbe: {}}
	d.sites.first = make(chan struct{})
	c := &sitecheck.Checker{Sites: lc.Sites, Interval: lc.Interval,
		Client: &http.Client{Transport: &http.Transport{TLSClientConfig: d.tls.Client(), DisableKeepAlives: true}}}
	go c.Run(ctx, d.liveResult)
	select {
	case <-d.sites.first:
	case <-time.After(2 * lc.Interval):
		d.log.Warn("liveness: not every site checked on both paths before the first plan")
	case <-ctx.Done():
	}
}

// liveResult takes one check's result from the checker.
func (d *Daemon) liveResult(r liveness.Result) {
	d.sites.mu.Lock()
	trs := d.sites.tracker.Record(r, time.Now())
	if seen := d.sites.seen; seen != nil {
		seen[r.Path][r.Site] = true
		if len(seen[liveness.PathAPI])+len(seen[liveness.PathProbe]) == 2*len(d.conf().Liveness.Sites) {
			d.sites.seen = nil
			close(d.sites.first)
		}
	}
	d.sites.mu.Unlock()
	d.siteTransitions(trs)
	// A takeover waits for the previous owner's answer.
	// (Before the first plan there is none.)
	if res := d.last.Load(); res != nil && r.Path == liveness.PathAPI && r.OK &&
		slices.ContainsFunc(res.Subnets, func(s *plan.SubnetResult) bool { return s.Takeover != nil }) {
		d.poke()
	}
}

// evaluateSites brings the sites' states to now, every second: a site
// whose checks hang is lost on time.
func (d *Daemon) evaluateSites(now time.Time) {
	if d.sites.tracker == nil {
		return
	}
	d.sites.mu.Lock()
	trs := d.sites.tracker.Evaluate(now)
	d.sites.mu.Unlock()
	d.siteTransitions(trs)
	if peers, err := d.speaker.Peers(context.Background()); err == nil {
		no := !allLLGR(peers)
		if d.sites.noLLGR.Swap(no) != no {
			d.poke()
		}
	}
}

// allLLGR says every established BGP session negotiated long-lived
// graceful restart. A session not established holds none of this
// site's routes and counts for nothing: it is asked again once it is up.
// (Counting them turned the halves on while the sessions came back after
// a restart, and off a second later: two withdraws at each WAN router
// for a graceful restart; issue 24.)
func allLLGR(peers []bgp.PeerStatus) bool {
	for _, p := range peers {
		if p.State == "established" && !p.LLGR {
			return false
		}
	}
	return true
}

// siteTransitions logs each change of a site's state, puts it in the
// move log and plans again.
func (d *Daemon) siteTransitions(trs []liveness.Transition) {
	for _, tr := range trs {
		switch tr.To {
		case liveness.Lost:
			d.log.Warn("site lost: both paths fail; the survivors take over its subnets", "site", tr.Site, "from", tr.From, "failing", tr.Failing)
		case liveness.Partitioned:
			d.log.Warn("site partitioned: one path fails; nothing moves", "site", tr.Site, "failing", tr.Failing)
		default:
			d.log.Info("site "+string(tr.To), "site", tr.Site, "from", tr.From)
		}
		d.moves.event(tr.Site, tr.String(), tr.At)
	}
	if len(trs) > 0 {
		d.poke()
	}
}

// siteStatus returns the other sites' liveness now.
func (d *Daemon) siteStatus(now time.Time) []liveness.Status {
	if d.sites.tracker == nil {
		return nil
	}
	d.sites.mu.Lock()
	defer d.sites.mu.Unlock()
	return d.sites.tracker.Status(now)
}

// liveView is what the planner needs of the other sites at now.
func (d *Daemon) liveView(now time.Time) plan.Liveness {
	l := plan.Liveness{Linger: bgp.HoldTime + d.conf().BGP.RestartTime, AllLLGR: !d.sites.noLLGR.Load(), Current: d.current(now)}
	return planLiveness(l, d.siteStatus(now))
}

// planLiveness fills l's sites from their liveness statuses: a lost
// site's loss, a returning one, whether its API answers, and what it last
// said it announces.
func planLiveness(l plan.Liveness, st []liveness.Status) plan.Liveness {
	if len(st) == 0 {
		return l
	}
	l.Sites = map[string]plan.SiteState{}
	for _, s := range st {
		ps := plan.SiteState{Heard: s.Heard, Silent: s.APIFailing, Returning: s.State == liveness.Returning}
		if s.State == liveness.Lost {
			ps.Lost = s.LostAt
		}
		if s.Answer != nil {
			ps.Summaries = s.Answer.Summaries
		}
		l.Sites[s.Site] = ps
	}
	return l
}

// current says this routeragent's reports are current (see currentAt).
func (d *Daemon) current(now time.Time) bool {
	got := map[string]time.Time{}
	for _, st := range d.intake.States() {
		got[st.Cluster] = st.Received
	}
	cfg := d.conf()
	return currentAt(cfg.Clusters, got, d.started, cfg.Lease, now)
}

// currentAt says the reports received, by cluster, are current at now
// for a routeragent started at started: every configured cluster has
// reported since the start. A cluster that has not, one lease after the
// start, holds the site back no longer: its hostagent is gone, its
// claims stay as they were (fail static), and status shows it stale. One
// stale cluster never keeps a whole site from being current, and one that
// goes stale later does not make it so again.
func currentAt(clusters []config.Cluster, received map[string]time.Time, started time.Time, lease time.Duration, now time.Time) bool {
	waited := now.Sub(started) > lease
	for _, c := range clusters {
		if r, ok := received[c.Name]; (!ok || r.Before(started)) && !waited {
			return false
		}
	}
	return true
}

// answer is what this routeragent tells the others over GET /v1/site:
// the subnets its BGP speaker announces, and whether its reports are
// current. (The API starts once BGP announces this site's plan, so the
// answer never says this site withdrew what its peers still hold.)
func (d *Daemon) answer(now time.Time) liveness.Answer {
	a := liveness.Answer{Site: d.conf().Site, Summaries: []netip.Prefix{}, Current: d.current(now)}
	for _, r := range d.speaker.Advertised() {
		if r.Kind == plan.Summary {
			a.Summaries = append(a.Summaries, r.Prefix)
		}
	}
	slices.SortFunc(a.Summaries, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	return a
}

// livenessCollector exports the liveness of other sites, or of this
// site's other routers, as status gives it.
type livenessCollector struct {
	state, path *prometheus.Desc
	status      func(time.Time) []liveness.Status
}

// newLivenessCollector names its metrics vmroute_NOUN_state and
// vmroute_NOUN_path_up, labelled by NOUN: each of whom's liveness, a path
// to one of whom.
func newLivenessCollector(noun, whom, one string, status func(time.Time) []liveness.Status) *livenessCollector {
	return &livenessCollector{
		state: prometheus.NewDesc("vmroute_"+noun+"_state", "1 for each "+whom+" liveness state: alive, partitioned, lost or returning.",
			[]string{noun, "state"}, nil),
		path: prometheus.NewDesc("vmroute_"+noun+"_path_up", "1 while a path to "+one+" answers (api: its routeragent; probe: ARP/ND of its router).",
			[]string{noun, "path"}, nil),
		status: status,
	}
}

func (c *livenessCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.state; ch <- c.path }
func (c *livenessCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status(time.Now()) {
		for _, state := range []liveness.State{liveness.Alive, liveness.Partitioned, liveness.Lost, liveness.Returning} {
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, b2f(s.State == state), s.Site, string(state))
		}
		ch <- prometheus.MustNewConstMetric(c.path, prometheus.GaugeValue, b2f(!s.APIFailing), s.Site, liveness.PathAPI.String())
		ch <- prometheus.MustNewConstMetric(c.path, prometheus.GaugeValue, b2f(!s.ProbeFailing), s.Site, liveness.PathProbe.String())
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
