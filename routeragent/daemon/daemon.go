// Package daemon wires the routeragent together: the report API feeds the
// intake, accepted changes are batched into the planner, and the plan is
// applied to the BGP speaker and the gateway announcer. One goroutine, the
// loop, owns the planner and applies plans; the others send it requests.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmroute/vmroute/routeragent/announce"
	"github.com/vmroute/vmroute/routeragent/bgp"
	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/routeragent/discover"
	"github.com/vmroute/vmroute/routeragent/intake"
	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/routeragent/ownaddr"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/routeragent/state"
	"github.com/vmroute/vmroute/shared/logging"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/wire"
)

// Daemon is one running routeragent.
type Daemon struct {
	log *slog.Logger
	// cfg is replaced whole by a reload, in the loop; the API handlers
	// and metrics read it at any time.
	cfg     atomic.Pointer[config.Config]
	intake  *intake.Intake
	store   *state.Store
	speaker *bgp.Speaker
	ann     *announce.Announcer
	metrics *metrics
	moves   *moveLog
	neigh   *discover.Table
	tls     *tlsutil.Config

	// Where the APIs listen, once serving (the configured port may be 0).
	apiAddr, statusAddr string
	// The report API's bounds: the body budget, the location tables
	// being sent, the connections, the failed handshakes' log, and the
	// certificates that may read status.
	bodies      *budget
	tables      *budget
	conns       *connGuard
	statusConns *connGuard
	handshakes  *handshakeLog
	readers     atomic.Pointer[[]string]
	// clock are the clusters whose last report was refused for a clock
	// (a landing or generation too far ahead), with why.
	clock clockRefusals
	// sibs are the other routers of this site.
	sibs siblings
	// ignored are the report fields this routeragent does not know, by
	// cluster.
	ignored ignoredFields

	// Owned by the loop.
	planner *plan.Planner
	// followSaved is what the planner followed at the last save.
	followSaved plan.Follow
	addrless    map[wire.MAC][]vmRef // VMs with an adapter without addresses
	discovered  map[string]bool      // VMs with discovered addresses
	received    map[string]time.Time // landing VM -> when its report came

	mu      sync.Mutex
	pending []*intake.Change
	macs    []wire.MAC // neighbor-table changes to look at
	addrs   bool       // this router's addresses changed
	wake    chan struct{}
	reqs    chan func()

	last    atomic.Pointer[plan.Result]
	sites   sites     // the other sites' liveness (rule 6)
	started time.Time // reports from before are not current
	// OnTick is called from the loop every second while it is healthy.
	OnTick func(status string)
	// LogLevel, when set, is the level of the daemon's logger: a reload
	// sets it to the new log.level.
	LogLevel *slog.LevelVar
	// planned, when set (by benchmarks), is told each report's delay
	// from acceptance to plan.
	planned func(time.Duration)
}

type vmRef struct{ cluster, uuid string }

// New prepares a routeragent from cfg; Run starts it.
func New(cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	if err := cfg.ReadSecrets(); err != nil {
		return nil, err
	}
	store, err := state.Open(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	cfg.Plan.Reserved = ownAddrs(cfg, log)
	p, err := plan.New(cfg.Plan)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		log: log, store: store, planner: p,
		intake:      intake.New(clusters(cfg), cfg.FutureTolerance, cfg.Plan.ClockSkew),
		speaker:     bgp.New(cfg.BGP, log.With("component", "bgp")),
		ann:         announce.New(cfg.Announce, log.With("component", "announce")),
		moves:       newMoveLog(1000),
		addrless:    map[wire.MAC][]vmRef{},
		discovered:  map[string]bool{},
		received:    map[string]time.Time{},
		wake:        make(chan struct{}, 1),
		reqs:        make(chan func()),
		bodies:      newBudget(bodyBudget),
		tables:      newBudget(bigResponses),
		conns:       newConnGuard(log, apiLimits),
		statusConns: newConnGuard(log, statusLimits),
		handshakes:  &handshakeLog{log: log.With("component", "api"), interval: 10 * time.Second},
	}
	d.cfg.Store(cfg)
	d.readers.Store(readers(cfg))
	d.metrics = newMetrics(d)
	d.ann.Sent = d.moves.announced
	return d, nil
}

// ownAddrs returns the routers' own addresses inside the subnets: those
// of this router's interfaces, its BGP next hops and neighbors, and the
// other sites' routers that the liveness checks probe. A VM that reports
// one gets no route (see plan.Config.Reserved).
func ownAddrs(cfg *config.Config, log *slog.Logger) []netip.Addr {
	var own []netip.Addr
	for _, a := range []netip.Addr{cfg.BGP.NextHop4, cfg.BGP.NextHop6} {
		if a.IsValid() {
			own = append(own, a)
		}
	}
	for _, n := range cfg.BGP.Neighbors {
		own = append(own, n.Address)
	}
	for _, s := range append([]liveness.Site{cfg.Liveness.Siblings}, cfg.Liveness.Sites...) {
		for _, r := range s.Routers {
			for _, p := range r.Probes {
				own = append(own, p.Addr)
			}
		}
	}
	ifaddrs, err := ownaddr.List()
	if err != nil {
		log.Warn("this router's addresses not read: a VM that reports one of them may get a route", "err", err)
	}
	own = append(own, ifaddrs...)
	var out []netip.Addr
	for _, a := range own {
		a = a.Unmap()
		inside := slices.ContainsFunc(cfg.Plan.Subnets, func(s plan.Subnet) bool { return s.Prefix.Contains(a) })
		if inside && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// conf returns the configuration in force.
func (d *Daemon) conf() *config.Config { return d.cfg.Load() }

// StatusAddr is where the status listener serves, once Run called ready.
func (d *Daemon) StatusAddr() string { return d.statusAddr }

// readers are the certificate names that may read status over the API.
func readers(cfg *config.Config) *[]string {
	r := append(slices.Clone(cfg.API.Operators), cfg.API.Peers...)
	return &r
}

func clusters(cfg *config.Config) []intake.Cluster {
	var out []intake.Cluster
	for _, c := range cfg.Clusters {
		out = append(out, intake.Cluster{Name: c.Name, Sites: c.Sites, Clients: c.Clients})
	}
	return out
}

// Run restores the last accepted reports, announces what they plan at
// once, starts the APIs, calls ready, and serves until ctx ends.
func (d *Daemon) Run(ctx context.Context, ready func()) error {
	d.started = time.Now()
	tc, err := tlsutil.Load(tlsutil.Files{Cert: d.conf().API.CertFile, Key: d.conf().API.KeyFile, CA: d.conf().API.ClientCAFile})
	if err != nil {
		return err
	}
	d.tls = tc
	states, problems := d.store.Load()
	for _, p := range problems {
		d.log.Error("state", "err", p)
	}
	limit := time.Now().Add(d.conf().FutureTolerance)
	for _, st := range states {
		for _, c := range st.Clamp(limit) {
			d.log.Warn("state: a time past the clock clamped", "cluster", st.Cluster, "err", c)
		}
		if err := d.intake.Restore(st); err != nil {
			d.log.Warn("state not restored", "cluster", st.Cluster, "err", err)
			d.setAside(st.Cluster)
			continue
		}
		d.planner.SetCluster(st.Cluster, d.enrich(st.Cluster, slices.Collect(maps.Values(st.VMs))), st.Gone)
		d.log.Info("state restored", "cluster", st.Cluster, "generation", st.Generation, "vms", len(st.VMs))
	}
	if f, err := d.store.LoadFollow(); err != nil {
		d.log.Error("state: what the planner followed is lost; a takeover under way starts again", "err", err)
	} else {
		d.planner.Resume(f, time.Now())
	}
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	d.startLiveness(liveCtx)
	d.planner.SetLiveness(d.liveView(time.Now()))
	res := d.planner.Plan(time.Now())
	d.saveFollow()
	d.last.Store(res)
	routes := res.Routes(d.conf().Site)
	if d.conf().DryRun {
		d.log.Warn("dry run: planning and logging, announcing nothing", "routes", len(routes))
		routes = nil
	}
	if err := d.speaker.Start(ctx, routes, len(states) > 0); err != nil {
		return err
	}
	defer d.speaker.Stop(context.WithoutCancel(ctx))
	d.startSiblings(liveCtx)
	if !d.conf().DryRun {
		annCtx, stopAnn := context.WithCancel(ctx)
		annDone := make(chan struct{})
		go func() { _ = d.ann.Run(annCtx); close(annDone) }()
		defer func() { stopAnn(); <-annDone }()
		if err := d.ann.Update(ctx, res.Neighbors(), res.Landed); err != nil {
			return err
		}
	}
	if err := ownaddr.Watch(ctx, d.addrsChanged); err != nil {
		d.log.Warn("this router's addresses are not followed: one it gains is reserved at the next reload", "err", err)
	}
	if ifaces := d.interfaces(); len(ifaces) > 0 {
		t, err := discover.Watch(ctx, ifaces, d.log.With("component", "discover"), d.neighborChanged)
		if err != nil {
			d.log.Warn("address discovery off", "err", err)
		} else {
			d.neigh = t
		}
	}
	stopAPI, err := d.serve(ctx)
	if err != nil {
		return err
	}
	defer stopAPI()
	d.log.Info("routeragent serving", "site", d.conf().Site, "routes", len(routes), "clusters", len(states), "dry_run", d.conf().DryRun)
	if ready != nil {
		ready()
	}
	return d.loop(ctx)
}

func (d *Daemon) interfaces() []string {
	var out []string
	for _, s := range d.conf().Plan.Subnets {
		if s.Interface != "" && !slices.Contains(out, s.Interface) {
			out = append(out, s.Interface)
		}
	}
	return out
}

// submit queues an accepted change for the loop.
func (d *Daemon) submit(ch *intake.Change) {
	d.mu.Lock()
	d.pending = append(d.pending, ch)
	d.mu.Unlock()
	d.poke()
}

func (d *Daemon) neighborChanged(mac wire.MAC) {
	d.mu.Lock()
	d.macs = append(d.macs, mac)
	d.mu.Unlock()
	d.poke()
}

func (d *Daemon) addrsChanged() {
	d.mu.Lock()
	d.addrs = true
	d.mu.Unlock()
	d.poke()
}

func (d *Daemon) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// do runs f in the loop and waits for it.
func (d *Daemon) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case d.reqs <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Daemon) loop(ctx context.Context) error {
	batch := time.NewTimer(time.Hour)
	batch.Stop()
	armed := false
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var certsChecked time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
			if !armed {
				batch.Reset(d.conf().BatchWindow)
				armed = true
			}
		case <-batch.C:
			armed = false
			d.reconcile(ctx)
		case f := <-d.reqs:
			f()
		case now := <-tick.C:
			d.evaluateSites(now)
			d.evaluateSiblings(now)
			if d.markStale(now) || d.due(now) {
				d.reconcile(ctx)
			}
			if now.Sub(certsChecked) >= time.Hour {
				certsChecked = now
				for _, w := range d.tls.Warnings(now) {
					d.log.Warn("certificate ends soon", "err", w)
				}
			}
			if d.OnTick != nil {
				d.OnTick(d.statusLine())
			}
		}
	}
}

// due reports whether the plan changes by time alone now (a held VM is
// released).
func (d *Daemon) due(now time.Time) bool {
	w := d.last.Load().NextWake
	return !w.IsZero() && !now.Before(w)
}

// markStale marks clusters past their lease; it changes no route.
func (d *Daemon) markStale(now time.Time) bool {
	changed := false
	for _, st := range d.intake.States() {
		stale := now.Sub(st.Received) > d.conf().Lease
		if d.metrics.setStale(st.Cluster, stale) {
			d.planner.SetStale(st.Cluster, stale)
			d.log.Warn("cluster report", "cluster", st.Cluster, "stale", stale, "received", st.Received)
			changed = true
		}
	}
	return changed
}

// saveFollow saves what the planner follows from plan to plan, when it
// changed since the last save, so that a restart goes on from it.
func (d *Daemon) saveFollow() {
	f := d.planner.Follow()
	if reflect.DeepEqual(f, d.followSaved) {
		return
	}
	if err := d.store.SaveFollow(f); err != nil {
		d.log.Error("state", "err", err)
		return
	}
	d.followSaved = f
}

// reconcile applies what is pending to the planner, plans, and converges
// BGP and the announcer to the plan.
func (d *Daemon) reconcile(ctx context.Context) {
	d.mu.Lock()
	changes, macs, addrs := d.pending, d.macs, d.addrs
	d.pending, d.macs, d.addrs = nil, nil, false
	d.mu.Unlock()
	if addrs {
		d.planner.SetReserved(ownAddrs(d.conf(), d.log))
	}
	for _, ch := range changes {
		for _, id := range ch.Landed {
			d.received[id] = ch.Received
		}
		vms := d.enrich(ch.Cluster, ch.VMs)
		if ch.Full {
			d.planner.SetCluster(ch.Cluster, vms, nil)
		} else if err := d.planner.ApplyDelta(ch.Cluster, vms, ch.Removed); err != nil {
			d.log.Error("delta not planned", "cluster", ch.Cluster, "err", err)
		}
	}
	d.rediscover(macs)
	start := time.Now()
	d.planner.SetLiveness(d.liveView(start))
	res := d.planner.Plan(start)
	planned := time.Now()
	d.saveFollow()
	d.metrics.planDuration.Observe(planned.Sub(start).Seconds())
	for _, ch := range changes {
		delay := planned.Sub(ch.Received)
		d.metrics.reportToPlan.Observe(delay.Seconds())
		if d.planned != nil {
			d.planned(delay)
		}
	}
	prev := d.last.Swap(res)
	routes := res.Routes(d.conf().Site)
	d.logDiff(prev, res)
	for _, n := range res.Landed {
		d.moves.landed(n, d.conf().Site, d.received[n.VM], planned)
	}
	clear(d.received) // every pending change is planned now
	if d.conf().DryRun {
		return
	}
	ch, err := d.speaker.Apply(ctx, routes)
	if err != nil {
		d.log.Error("bgp", "err", err)
	}
	d.moves.bgpSent(res.Landed, time.Now())
	if ch.Announced+ch.Withdrawn > 0 {
		d.log.Info("bgp updated", "announced", ch.Announced, "withdrawn", ch.Withdrawn, "routes", len(routes))
	}
	if err := d.ann.Update(ctx, res.Neighbors(), res.Landed); err != nil && !errors.Is(err, context.Canceled) {
		d.log.Error("announce", "err", err)
	}
	if addrs {
		// A VRRP failover may have made this router the gateway's master.
		if err := d.ann.AddressesChanged(ctx); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("announce", "err", err)
		}
	}
}

// logDiff logs each route this site starts or stops announcing, and the
// findings, one event per line.
func (d *Daemon) logDiff(prev, res *plan.Result) {
	site := d.conf().Site
	before := map[netip.Prefix]plan.Kind{}
	if prev != nil {
		for _, r := range prev.Routes(site) {
			before[r.Prefix] = r.Kind
		}
	}
	verb, unverb := "announce", "withdraw"
	if d.conf().DryRun {
		verb, unverb = "would announce", "would withdraw"
	}
	for _, r := range res.Routes(site) {
		if k, ok := before[r.Prefix]; !ok || k != r.Kind {
			d.log.Info(verb, "prefix", r.Prefix, "kind", r.Kind, "site", site)
		}
		delete(before, r.Prefix)
	}
	for p, k := range before {
		d.log.Info(unverb, "prefix", p, "kind", k, "site", site)
	}
	for _, n := range res.Landed {
		d.log.Info("landed", "vm", n.VM, "name", n.Name, "site", site, "prefix", n.Subnet, "mac", n.MAC)
	}
	var was plan.Findings
	if prev != nil {
		was = prev.Findings
	}
	appeared, cleared := diffFindings(was, res.Findings)
	for _, f := range appeared {
		d.log.Warn(f.msg, f.args...)
	}
	for _, f := range cleared {
		d.log.Info("cleared: "+f.msg, f.args...)
	}
}

// finding is one finding of a plan, as logged.
type finding struct {
	key  string
	msg  string
	args []any
}

// findingsOf returns the findings that are logged, by a key that stays
// the same while the finding stands (a ceiling's count or a hold's end
// may change; it is the same finding).
func findingsOf(f plan.Findings) map[string]finding {
	out := map[string]finding{}
	add := func(fd finding) { out[fd.key] = fd }
	for _, c := range f.Conflicts {
		add(finding{fmt.Sprint("conflict ", c.Addr, c.VMs), "address claimed twice: no host route", []any{"addr", c.Addr, "vms", c.VMs}})
	}
	for _, c := range f.Ceilings {
		add(finding{fmt.Sprint("ceiling ", c.Site, " ", c.Subnet), "host-route ceiling: summary instead",
			[]any{"site", c.Site, "prefix", c.Subnet, "host_routes", c.HostRoutes, "total", c.Total}})
	}
	for _, h := range f.Held {
		add(finding{fmt.Sprint("held ", h.VM, " ", h.Site), "flapping VM held", []any{"vm", h.VM, "site", h.Site, "actual", h.Actual, "until", h.Until}})
	}
	return out
}

// diffFindings returns the findings of now that were not standing
// before, and those of before that no longer stand, each sorted: a
// standing finding is logged once when it appears and once when it
// clears, not at every plan.
func diffFindings(before, now plan.Findings) (appeared, cleared []finding) {
	b, n := findingsOf(before), findingsOf(now)
	for k, f := range n {
		if _, ok := b[k]; !ok {
			appeared = append(appeared, f)
		}
	}
	for k, f := range b {
		if _, ok := n[k]; !ok {
			cleared = append(cleared, f)
		}
	}
	byKey := func(x, y finding) int { return strings.Compare(x.key, y.key) }
	slices.SortFunc(appeared, byKey)
	slices.SortFunc(cleared, byKey)
	return appeared, cleared
}

// enrich fills the addresses of adapters that report none from the
// router's neighbor table, and remembers them to look again when the
// table changes. The intake's VMs are never modified.
func (d *Daemon) enrich(cluster string, vms []wire.VM) []wire.VM {
	out := make([]wire.VM, len(vms))
	for i, vm := range vms {
		out[i] = vm
		delete(d.discovered, vm.UUID)
		cloned := false
		for j, nic := range vm.NICs {
			if len(nic.Addresses) > 0 {
				continue
			}
			refs := d.addrless[nic.MAC]
			if !slices.Contains(refs, vmRef{cluster, vm.UUID}) {
				d.addrless[nic.MAC] = append(refs, vmRef{cluster, vm.UUID})
			}
			if d.neigh == nil {
				continue
			}
			if addrs := d.neigh.Lookup(nic.MAC); len(addrs) > 0 {
				if !cloned {
					out[i].NICs, cloned = slices.Clone(vm.NICs), true
				}
				out[i].NICs[j].Addresses = addrs
				d.discovered[vm.UUID] = true
			}
		}
	}
	return out
}

// rediscover puts again into the planner the VMs whose adapters' MACs
// changed in the neighbor table.
func (d *Daemon) rediscover(macs []wire.MAC) {
	for _, mac := range macs {
		for _, ref := range d.addrless[mac] {
			for _, st := range d.intake.States() {
				if st.Cluster != ref.cluster {
					continue
				}
				vm, ok := st.VMs[ref.uuid]
				if !ok {
					continue
				}
				if err := d.planner.ApplyDelta(ref.cluster, d.enrich(ref.cluster, []wire.VM{vm}), nil); err != nil {
					d.log.Error("discovered address not planned", "vm", ref.uuid, "err", err)
				}
			}
		}
	}
}

func (d *Daemon) statusLine() string {
	res := d.last.Load()
	stale := len(res.Findings.Stale)
	n := len(res.Routes(d.conf().Site))
	mode := ""
	if d.conf().DryRun {
		mode = " (dry run)"
	}
	return fmt.Sprintf("site %s%s: %d clusters (%d stale), %d routes announced, %d held, %d conflicts",
		d.conf().Site, mode, len(d.intake.States()), stale, n, len(res.Findings.Held), len(res.Findings.Conflicts))
}

// setAside renames the state file of a cluster whose reports were
// dropped, so that a restart never restores them.
func (d *Daemon) setAside(cluster string) {
	to, err := d.store.SetAside(cluster)
	switch {
	case err != nil:
		d.log.Error("state", "cluster", cluster, "err", err)
	case to != "":
		d.log.Warn("state file set aside: it is not restored again", "cluster", cluster, "file", to)
	}
}

// Reload applies a new configuration in the loop. What needs a restart
// (site, state directory, API listeners, BGP identity) is refused and
// nothing changes; otherwise the clusters, planner, BGP neighbors and
// attributes, announcer and TLS files take the new values, and the
// reports held are planned again.
func (d *Daemon) Reload(ctx context.Context, cfg *config.Config) error {
	var err error
	doErr := d.do(ctx, func() { err = d.reload(ctx, cfg) })
	return errors.Join(doErr, err)
}

func (d *Daemon) reload(ctx context.Context, cfg *config.Config) error {
	old := d.conf()
	if cfg.Site != old.Site || cfg.StateDir != old.StateDir || cfg.API.Listen != old.API.Listen ||
		cfg.API.StatusListen != old.API.StatusListen || cfg.DryRun != old.DryRun || cfg.LogFormat != old.LogFormat ||
		!reflect.DeepEqual(cfg.Liveness, old.Liveness) {
		return errors.New("a new site, state_dir, dry_run, log.format, API listener or liveness section needs a restart; configuration unchanged")
	}
	level, err := logging.ParseLevel(cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("configuration unchanged: %w", err)
	}
	// The API's TLS files, read first: a reload whose files fail is
	// refused whole. (Unchanged paths are read again: renewed files.)
	tlsFiles := tlsutil.Files{Cert: cfg.API.CertFile, Key: cfg.API.KeyFile, CA: cfg.API.ClientCAFile}
	if err := tlsutil.Check(tlsFiles); err != nil {
		return fmt.Errorf("configuration unchanged: %w", err)
	}
	var p *plan.Planner
	// This router's addresses are followed apart (SetReserved): they
	// alone call for no new planner.
	cfg.Plan.Reserved = old.Plan.Reserved
	if !reflect.DeepEqual(cfg.Plan, old.Plan) {
		var err error
		if p, err = plan.New(cfg.Plan); err != nil {
			return err
		}
	}
	if err := cfg.ReadSecrets(); err != nil {
		return err
	}
	if err := d.speaker.Reconfigure(ctx, cfg.BGP); err != nil {
		return fmt.Errorf("configuration partly applied: %w", err)
	}

	for name, why := range d.intake.SetClusters(clusters(cfg)) {
		d.log.Warn("cluster's reports dropped: the new configuration does not allow them", "cluster", name, "err", why)
		d.planner.RemoveCluster(name)
		d.metrics.forget(name)
		d.setAside(name)
	}
	if !cfg.DryRun {
		if err := d.ann.SetConfig(ctx, cfg.Announce); err != nil {
			return err
		}
	}
	if err := d.tls.Use(tlsFiles); err != nil {
		d.log.Error("TLS files changed between two reads; the old ones stay in use", "err", err)
	}
	d.readers.Store(readers(cfg))
	d.intake.SetLimits(cfg.FutureTolerance, cfg.Plan.ClockSkew)
	if d.LogLevel != nil {
		d.LogLevel.Set(level)
	}
	d.cfg.Store(cfg)
	if p != nil {
		p.Resume(d.planner.Follow(), time.Now())
		d.planner = p
		for _, st := range d.intake.States() {
			p.SetCluster(st.Cluster, d.enrich(st.Cluster, slices.Collect(maps.Values(st.VMs))), st.Gone)
			p.SetStale(st.Cluster, time.Since(st.Received) > cfg.Lease)
		}
		d.log.Info("planner configuration changed: reports planned again")
	}
	d.planner.SetReserved(ownAddrs(cfg, d.log))
	d.reconcile(ctx)
	d.log.Info("configuration reloaded")
	return nil
}
