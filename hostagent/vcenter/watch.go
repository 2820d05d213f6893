// Package vcenter watches the VMs of the configured clusters with one
// PropertyCollector session and WaitForUpdatesEx, no polling: one
// ContainerView of the hosts of each watched cluster (so a hostagent
// watches its own clusters, not all of vCenter), the VMs registered on
// those hosts and the port groups they use, and, where hosts are mapped
// to sites by DRS host group, the cluster's configurationEx. Any lost session is
// followed by a new login, with backoff, and a full resync.
package vcenter

import (
	"cmp"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/history"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/session/keepalive"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/config"
	"github.com/vmroute/vmroute/hostagent/inventory"
	"github.com/vmroute/vmroute/hostagent/sitemap"
	"github.com/vmroute/vmroute/shared/version"
	"github.com/vmroute/vmroute/shared/wire"
)

// Update is the watched clusters' state after a batch of vCenter changes.
type Update struct {
	Clusters map[string][]wire.VM
	Landings map[string]inventory.Landing
}

// Watcher watches vCenter and hands each new state to Changed.
type Watcher struct {
	cfg      config.VCenter
	clusters []config.Cluster
	log      *slog.Logger
	// Changed is called from the watcher's goroutine after each batch.
	Changed func(Update)
	// Watched, when set, is told the objects and properties the first
	// full sync of each session returned, as a measure of what this
	// hostagent asks of vCenter.
	Watched func(objects, properties int)
	// Restore, when set before Run, are the landings of an earlier run.
	Restore map[string]inventory.Landing
	// Clock is the appliance's clock (time.Now when nil). Landing times
	// never come from it: it is only compared with vCenter's, to warn.
	Clock func() time.Time
	// GuestGrace is how long a running VM keeps its last addresses while
	// VMware Tools report none.
	GuestGrace time.Duration
	// CallTimeout bounds each call to vCenter but a sync's answers, waits
	// included (vcenter.wait_timeout plus 30 s when zero).
	CallTimeout time.Duration

	// refs are the watched clusters' managed-object IDs, by path, once
	// found: Run's goroutine only.
	refs map[string]types.ManagedObjectReference

	mu     sync.Mutex
	status Status
}

// Status is the vCenter connection's state, for status and metrics.
type Status struct {
	URL       string    `json:"url"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since,omitzero"`
	// DownSince is when the session last went down, or the watcher
	// started without one; zero while connected.
	DownSince time.Time `json:"down_since,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	VMs       int       `json:"vms"`
	// ClockOffset is vCenter's clock less the appliance's, at login.
	ClockOffset time.Duration `json:"clock_offset"`
	// Unplaced are the VMs left out of reports: never seen at a site,
	// and on a host no rule places.
	Unplaced int                  `json:"unplaced_vms"`
	Hosts    []inventory.HostSite `json:"hosts"`
	// HiddenHosts are hosts of a watched cluster that the vCenter user
	// cannot see: its role lacks a permission there.
	HiddenHosts []string          `json:"hidden_hosts,omitempty"`
	Flags       inventory.Flagged `json:"flags"`
	Landings    int               `json:"landings"`
	Resyncs     int               `json:"resyncs"`
	// LoginsRefused counts the logins vCenter refused (InvalidLogin)
	// since start; RetryAt is when the next login is due while down.
	LoginsRefused int       `json:"logins_refused"`
	RetryAt       time.Time `json:"retry_at,omitzero"`
}

// OffsetTooLarge says vCenter's clock is more than a minute off this
// machine's: worth a warning, though landing times come from vCenter.
func OffsetTooLarge(offset time.Duration) bool { return offset > time.Minute || offset < -time.Minute }

// UserAgent names the hostagent's sessions in vCenter's session list.
var UserAgent = "vmroute-hostagent/" + version.Version

// RefusedWait is the least wait after vCenter refused the login
// (InvalidLogin): vCenter's SSO locks an account out after 5 failures
// (its default lockout policy), and trying every minute would lock the
// hostagent's account out within minutes of a password change.
const RefusedWait = 5 * time.Minute

// New returns a watcher; Run runs it.
func New(cfg config.VCenter, clusters []config.Cluster, log *slog.Logger) *Watcher {
	u := *cfg.URL
	u.User = nil
	return &Watcher{cfg: cfg, clusters: clusters, log: log, status: Status{URL: u.String(), DownSince: time.Now()}}
}

// Status returns the connection's state.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *Watcher) setStatus(f func(*Status)) {
	w.mu.Lock()
	f(&w.status)
	w.mu.Unlock()
}

func (w *Watcher) callTimeout() time.Duration {
	if w.CallTimeout > 0 {
		return w.CallTimeout
	}
	return w.cfg.WaitTimeout + 30*time.Second
}

func (w *Watcher) now() time.Time {
	if w.Clock != nil {
		return w.Clock()
	}
	return time.Now()
}

// Run watches until ctx ends, logging in again after any failure with a
// backoff from 1 s to 1 min, jittered so that the hostagents of a vCenter
// that restarted do not all come back at once.
func (w *Watcher) Run(ctx context.Context) error {
	var inv *inventory.Inventory
	backoff := time.Second
	for {
		start := time.Now()
		watched, err := w.session(ctx, &inv)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute || watched && fault.Is(err, &types.NotAuthenticated{}) {
			// A session that lasted, or one that expired or was ended
			// while watching: vCenter works, log in again at once.
			backoff = time.Second
		}
		wait := jitter(backoff)
		refused := fault.Is(err, &types.InvalidLogin{})
		if refused {
			wait = max(wait, RefusedWait)
		}
		w.setStatus(func(s *Status) {
			if s.Connected {
				s.DownSince = time.Now()
			}
			s.Connected, s.LastError, s.RetryAt = false, err.Error(), time.Now().Add(wait)
			if refused {
				s.LoginsRefused++
			}
		})
		switch {
		case refused:
			w.log.Error("vCenter refused the user name or password: check them (vsphere.local passwords expire after 90 days by default); waiting so as not to lock the account out",
				"user", w.cfg.User, "err", err, "retry_in", wait.Round(time.Second))
		case watched:
			w.log.Error("vCenter session lost: logging in again", "err", err, "retry_in", wait.Round(time.Millisecond))
		default:
			w.log.Error("vCenter login failed: trying again", "err", err, "retry_in", wait.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// jitter returns a wait from half the backoff up to the backoff, at
// random, so that hostagents that lost one vCenter spread their logins.
func jitter(backoff time.Duration) time.Duration { return backoff/2 + rand.N(backoff/2+1) }

// session logs in, watches until something fails, and logs out; watched
// says it got as far as watching.
func (w *Watcher) session(ctx context.Context, inv **inventory.Inventory) (watched bool, err error) {
	c, logout, err := w.Connect(ctx)
	if err != nil {
		return false, err
	}
	defer logout()
	clock, err := readClock(ctx, c)
	if err != nil {
		return false, err
	}
	offset := clock.vc.Sub(w.now())
	if OffsetTooLarge(offset) {
		w.log.Warn("this appliance's clock differs from vCenter's: landing times come from vCenter and are right, but fix NTP here",
			"clock_offset", offset.Round(time.Second))
	}
	refs := map[types.ManagedObjectReference]inventory.Cluster{}
	for _, cl := range w.clusters {
		ref, err := w.cluster(ctx, c, cl.Path)
		if err != nil {
			return false, err
		}
		refs[ref] = inventory.Cluster{Name: cl.Name, Sites: cl.Sites}
	}
	if *inv == nil {
		*inv = inventory.New(refs, inventory.Options{GuestGrace: w.GuestGrace}, w.log)
		(*inv).Restore(w.Restore)
	} else {
		(*inv).Reset(refs)
		w.setStatus(func(s *Status) { s.Resyncs++ })
	}
	// The views, collectors and filter live as long as the session:
	// logout frees them. (Destroying them while a wait is being cancelled
	// races inside vcsim.)
	spec, err := w.filterSpec(ctx, c, refs)
	if err != nil {
		return false, err
	}
	pc, err := property.DefaultCollector(c).Create(ctx)
	if err != nil {
		return false, fmt.Errorf("property collector: %w", err)
	}
	w.setStatus(func(s *Status) {
		s.Connected, s.Since, s.DownSince, s.LastError, s.ClockOffset, s.RetryAt = true, time.Now(), time.Time{}, "", offset, time.Time{}
	})
	w.log.Info("watching vCenter", "url", w.status.URL, "clusters", len(refs), "clock_offset", offset.Round(time.Millisecond))
	if _, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: spec}); err != nil {
		return false, fmt.Errorf("property filter: %w", err)
	}
	synced := false
	objects, props := 0, 0
	return true, w.wait(ctx, c, pc.Reference(), func(updates []types.ObjectUpdate, truncated bool) error {
		if updates == nil && !truncated {
			// Idle: read vCenter's clock again, off every landing's path.
			if clock, err = readClock(ctx, c); err != nil {
				return err
			}
		}
		// Every batch is stamped by vCenter's clock.
		now := clock.now()
		// A truncated answer's VMs that left are settled with its last
		// page, which may bring their host's leaving too.
		apply := (*inv).Apply
		if truncated {
			apply = (*inv).ApplyPage
		}
		apply(updates, now)
		for d := (*inv).Dirty(); d != nil; d = (*inv).Dirty() {
			again, err := refetch(ctx, c, d)
			if err != nil {
				return err
			}
			apply(again, now)
		}
		if !synced {
			objects += len(updates)
			for _, u := range updates {
				props += len(u.ChangeSet)
			}
		}
		if !synced && !truncated {
			(*inv).Prune()
			synced = true
			if w.Watched != nil {
				w.Watched(objects, props)
			}
			hidden, err := hiddenHosts(ctx, c, refs, (*inv).Hosts())
			if err != nil {
				return err
			}
			for _, h := range hidden {
				w.log.Error("a host of a watched cluster is hidden from the vCenter user: grant its role on the cluster, with propagation", "host", h)
			}
			w.setStatus(func(s *Status) { s.HiddenHosts = hidden })
		}
		if !synced {
			return nil
		}
		up := Update{Clusters: (*inv).Snapshot(), Landings: (*inv).Landings()}
		n := 0
		for _, vms := range up.Clusters {
			n += len(vms)
		}
		hosts, unplaced, flags := (*inv).Hosts(), (*inv).Unplaced(), (*inv).Flags()
		w.setStatus(func(s *Status) {
			s.VMs, s.Landings, s.Hosts, s.Unplaced, s.Flags = n, (*inv).Landed, hosts, unplaced, flags
		})
		if w.Changed != nil {
			w.Changed(up)
		}
		return nil
	})
}

// cluster returns a watched cluster's managed-object ID: the one found at
// the first lookup by its path, as long as vCenter still has it, so that
// a cluster renamed or moved to another folder is still watched; by its
// path again once that ID is gone.
func (w *Watcher) cluster(ctx context.Context, c *vim25.Client, path string) (types.ManagedObjectReference, error) {
	if ref, ok := w.refs[path]; ok {
		var cc mo.ClusterComputeResource
		err := property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"name"}, &cc)
		if err == nil {
			return ref, nil
		}
		if _, gone := notFound(err); !gone {
			return ref, fmt.Errorf("cluster %s (%s): %w", path, ref.Value, err)
		}
		w.log.Warn("the watched cluster's ID is gone from vCenter: looking it up by its path again", "cluster", path, "id", ref.Value)
	}
	cc, err := find.NewFinder(c, false).ClusterComputeResource(ctx, path)
	if err != nil {
		return types.ManagedObjectReference{}, fmt.Errorf("cluster %s: %w", path, err)
	}
	if w.refs == nil {
		w.refs = map[string]types.ManagedObjectReference{}
	}
	w.refs[path] = cc.Reference()
	return cc.Reference(), nil
}

// refetch reads again, whole, the properties vCenter sent changes to a
// part of, as assignments. vCenter fails the whole read when one of the
// objects was deleted meanwhile (ManagedObjectNotFound): that object is
// dropped, its Leave is on its way, and the others are read again.
func refetch(ctx context.Context, c *vim25.Client, dirty map[types.ManagedObjectReference][]string) ([]types.ObjectUpdate, error) {
	for {
		var spec types.PropertyFilterSpec
		for ref, props := range dirty {
			spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: ref})
			spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: ref.Type, PathSet: props})
		}
		if len(spec.ObjectSet) == 0 {
			return nil, nil
		}
		res, err := property.DefaultCollector(c).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{spec}})
		if gone, ok := notFound(err); ok && len(dirty[gone]) > 0 {
			delete(dirty, gone)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read changed properties again: %w", err)
		}
		var out []types.ObjectUpdate
		for _, oc := range res.Returnval {
			u := types.ObjectUpdate{Obj: oc.Obj, Kind: types.ObjectUpdateKindModify, MissingSet: oc.MissingSet}
			for _, p := range oc.PropSet {
				u.ChangeSet = append(u.ChangeSet, types.PropertyChange{Name: p.Name, Op: types.PropertyChangeOpAssign, Val: p.Val})
			}
			out = append(out, u)
		}
		return out, nil
	}
}

// notFound returns the object a ManagedObjectNotFound fault names.
func notFound(err error) (types.ManagedObjectReference, bool) {
	var nf *types.ManagedObjectNotFound
	if _, ok := fault.As(err, &nf); !ok || nf == nil {
		return types.ManagedObjectReference{}, false
	}
	return nf.Obj, true
}

// hiddenHosts returns the hosts that the watched clusters list (their
// host property) and the watch did not see: the user may not read them.
func hiddenHosts(ctx context.Context, c *vim25.Client, clusters map[types.ManagedObjectReference]inventory.Cluster, seen []inventory.HostSite) ([]string, error) {
	listed := map[string][]string{}
	for ref, cl := range clusters {
		var cc mo.ClusterComputeResource
		if err := property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"host"}, &cc); err != nil {
			return nil, fmt.Errorf("hosts of cluster %s: %w", cl.Name, err)
		}
		for _, h := range cc.Host {
			var hs mo.HostSystem
			label := h.Value
			if property.DefaultCollector(c).RetrieveOne(ctx, h, []string{"name"}, &hs) == nil && hs.Name != "" {
				label = hs.Name
			}
			listed[cl.Name] = append(listed[cl.Name], label)
		}
	}
	return missingHosts(listed, seen), nil
}

// missingHosts returns the hosts a cluster lists that the watch did not
// see, as "cluster/host", sorted.
func missingHosts(listed map[string][]string, seen []inventory.HostSite) []string {
	visible := map[string]bool{}
	for _, h := range seen {
		visible[h.Cluster+"/"+h.Name] = true
	}
	var out []string
	for cluster, hosts := range listed {
		for _, h := range hosts {
			if !visible[cluster+"/"+h] {
				out = append(out, cluster+"/"+h)
			}
		}
	}
	slices.Sort(out)
	return out
}

// filterSpec watches, in each cluster, its hosts through a ContainerView
// rooted at the cluster, the VMs on those hosts and their port groups;
// the cluster itself where its hosts are mapped by DRS host group; and
// the hosts' vSAN fault domain where they are mapped by it.
func (w *Watcher) filterSpec(ctx context.Context, c *vim25.Client, clusters map[types.ManagedObjectReference]inventory.Cluster) (types.PropertyFilterSpec, error) {
	spec := types.PropertyFilterSpec{PropSet: []types.PropertySpec{
		{Type: "VirtualMachine", PathSet: inventory.VMProperties},
		{Type: "HostSystem", PathSet: slices.Clone(inventory.HostProperties)},
		{Type: "DistributedVirtualPortgroup", PathSet: inventory.PortgroupProperties},
		{Type: "EventHistoryCollector", PathSet: []string{"latestPage"}},
	}}
	groups, faultDomains := false, false
	vms := view.NewManager(c)
	// The landing events, whose createdTime stamps landings: one collector
	// for the session, as vCenter caps collectors per session. Events of
	// VMs outside the watched clusters name no watched VM.
	hc, err := event.NewManager(c).CreateCollectorForEvents(ctx, LandingEventFilter(c))
	if err != nil {
		return spec, fmt.Errorf("event collector: %w", err)
	}
	if err := history.NewCollector(c, hc.Reference()).SetPageSize(ctx, EventPage); err != nil {
		return spec, fmt.Errorf("event collector: %w", err)
	}
	spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: hc.Reference()})
	for _, ref := range slices.SortedFunc(maps.Keys(clusters), func(a, b types.ManagedObjectReference) int { return cmp.Compare(a.Value, b.Value) }) {
		cv, err := vms.CreateContainerView(ctx, ref, []string{"HostSystem"}, true)
		if err != nil {
			return spec, fmt.Errorf("container view of cluster %s: %w", clusters[ref].Name, err)
		}
		// The cluster's hosts, the VMs registered on them, and their port
		// groups. A VM moved onto or off a watched host enters or leaves
		// the filter with the host's vm property.
		spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: cv.Reference(), Skip: types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view",
				SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "HostSystem", Path: "vm",
					SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "VirtualMachine", Path: "network"}}}}}}})
		switch clusters[ref].Sites.By {
		case sitemap.HostGroup:
			groups = true
			spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: ref})
		case sitemap.FaultDomain:
			faultDomains = true
		}
	}
	if groups {
		spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: "ClusterComputeResource", PathSet: []string{inventory.GroupsProperty}})
	}
	if faultDomains {
		spec.PropSet[1].PathSet = append(spec.PropSet[1].PathSet, inventory.FaultDomainProperty)
	}
	return spec, nil
}

// LandingEventFilter selects the landing events of all of vCenter, which
// the watcher's one event collector follows.
func LandingEventFilter(c *vim25.Client) types.EventFilterSpec {
	return types.EventFilterSpec{EventTypeId: inventory.LandingEvents,
		Entity: &types.EventFilterSpecByEntity{Entity: c.ServiceContent.RootFolder, Recursion: types.EventFilterSpecRecursionOptionAll}}
}

// EventPage is how many of the latest landing events the event collector
// keeps in its page, which vCenter sends whole with every new event, in
// the same answer as the move: the page only has to hold the migrations
// that end between two answers, and a landing whose event scrolled off
// takes vCenter's time of its batch, a few milliseconds later. Every event
// in the page costs the landing path: BenchmarkLandingLatency's median
// was 86 ms at 200 events, 41.5 ms at 10, 34.1 ms at 3, 33.3 ms at 1 and
// 32.5 ms with no event collector at all, against 30 ms for a bare watch
// and the debounce.
const EventPage = 3

// MaxObjectUpdates is the most objects the watcher asks of vCenter in
// one answer: a full sync of a large inventory comes in pages of this
// size (vCenter may make them smaller), and no page holds up a landing
// behind megabytes of others.
const MaxObjectUpdates = 300

// wait long-polls the collector with WaitForUpdatesEx until ctx ends or
// a call fails, handing each answer's updates to apply. A poll that ends
// with nothing new after the wait timeout is simply repeated, from the
// same version. (govmomi's helper returns at that point instead.)
func (w *Watcher) wait(ctx context.Context, c *vim25.Client, pc types.ManagedObjectReference, apply func([]types.ObjectUpdate, bool) error) error {
	maxWait := int32(w.cfg.WaitTimeout / time.Second)
	req := types.WaitForUpdatesEx{This: pc, Options: &types.WaitOptions{MaxWaitSeconds: &maxWait, MaxObjectUpdates: MaxObjectUpdates}}
	syncing := true // the first answer, and each after a truncated one
	for {
		limit := w.callTimeout()
		if syncing {
			limit = SyncTimeout
		}
		cctx, cancel := context.WithTimeout(ctx, limit)
		res, err := methods.WaitForUpdatesEx(cctx, c, &req)
		cancel()
		if ctx.Err() != nil {
			// Ends the wait inside vCenter too, but never holds up a stop.
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = methods.CancelWaitForUpdates(cctx, c, &types.CancelWaitForUpdates{This: pc})
			cancel()
			return nil
		}
		if err != nil {
			return fmt.Errorf("wait for updates: %w", err)
		}
		set := res.Returnval
		if set == nil {
			// The wait timed out: nothing changed, but time passed.
			if err := apply(nil, false); err != nil {
				return err
			}
			continue
		}
		req.Version = set.Version
		truncated := set.Truncated != nil && *set.Truncated
		syncing = truncated
		var updates []types.ObjectUpdate
		for _, fs := range set.FilterSet {
			updates = append(updates, fs.ObjectSet...)
		}
		if err := apply(updates, truncated); err != nil {
			return err
		}
	}
}

// Thumbprint returns the SHA-1 thumbprint of the certificate a server
// presents, as vSphere shows it (AB:CD:...), without verifying it.
func Thumbprint(ctx context.Context, hostport string) (string, error) {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "443")
	}
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // only to read the certificate it presents
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", fmt.Errorf("%s presents no certificate", hostport)
	}
	sum := sha1.Sum(certs[0].Raw)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hexes, ":"), nil
}

// Connect logs in with TLS verified against the CA file or the pinned
// thumbprint (or not at all, with a warning, when insecure), and keeps
// the session alive while it is idle.
func (w *Watcher) Connect(ctx context.Context) (*vim25.Client, func(), error) {
	u := *w.cfg.URL
	sc := soap.NewClient(&u, w.cfg.Insecure)
	// Each call is bounded by its context (timeouts), not by the HTTP
	// client, so that a sync's long answers are not cut.
	sc.Timeout = 0
	// vCenter lists each session with its client: name this one.
	sc.UserAgent = UserAgent
	switch {
	case w.cfg.CAFile != "":
		if err := sc.SetRootCAs(w.cfg.CAFile); err != nil {
			return nil, nil, fmt.Errorf("vCenter CA file: %w", err)
		}
	case w.cfg.Thumbprint != "":
		sc.SetThumbprint(u.Host, w.cfg.Thumbprint)
	default:
		w.log.Warn("vCenter's certificate is not verified (vcenter.insecure = true)")
	}
	nctx, cancel := context.WithTimeout(ctx, w.callTimeout())
	c, err := vim25.NewClient(nctx, sc)
	cancel()
	if err != nil {
		if w.cfg.Thumbprint != "" {
			if seen, terr := Thumbprint(ctx, u.Host); terr == nil && seen != w.cfg.Thumbprint {
				return nil, nil, fmt.Errorf("connect to %s: vCenter presents the certificate thumbprint %s, and vcenter.thumbprint pins %s: %w",
					w.status.URL, seen, w.cfg.Thumbprint, err)
			}
		}
		return nil, nil, fmt.Errorf("connect to %s: %w", w.status.URL, err)
	}
	c.RoundTripper = timeouts{RoundTripper: c.RoundTripper, call: w.callTimeout()}
	sm := session.NewManager(c)
	c.RoundTripper = keepalive.NewHandlerSOAP(c.RoundTripper, 5*time.Minute, nil)
	if err := sm.Login(ctx, url.UserPassword(w.cfg.User, w.cfg.Password)); err != nil {
		return nil, nil, fmt.Errorf("log in to %s as %s: %w", w.status.URL, w.cfg.User, err)
	}
	logout := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sm.Logout(ctx)
	}
	return c, logout, nil
}
