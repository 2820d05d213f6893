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
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/session/keepalive"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/config"
	"github.com/vmroute/vmroute/hostagent/inventory"
	"github.com/vmroute/vmroute/hostagent/sitemap"
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

	mu     sync.Mutex
	status Status
}

// Status is the vCenter connection's state, for status and metrics.
type Status struct {
	URL       string    `json:"url"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	VMs       int       `json:"vms"`
	// Unplaced are the VMs left out of reports: never seen at a site,
	// and on a host no rule places.
	Unplaced int                  `json:"unplaced_vms"`
	Hosts    []inventory.HostSite `json:"hosts"`
	Landings int                  `json:"landings"`
	Resyncs  int                  `json:"resyncs"`
}

// New returns a watcher; Run runs it.
func New(cfg config.VCenter, clusters []config.Cluster, log *slog.Logger) *Watcher {
	u := *cfg.URL
	u.User = nil
	return &Watcher{cfg: cfg, clusters: clusters, log: log, status: Status{URL: u.String()}}
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

// Run watches until ctx ends, logging in again after any failure with a
// backoff from 1 s to 1 min.
func (w *Watcher) Run(ctx context.Context) error {
	var inv *inventory.Inventory
	backoff := time.Second
	for {
		start := time.Now()
		err := w.session(ctx, &inv)
		if ctx.Err() != nil {
			return nil
		}
		w.setStatus(func(s *Status) { s.Connected, s.LastError = false, err.Error() })
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		w.log.Error("vCenter session lost: logging in again", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// session logs in, watches until something fails, and logs out.
func (w *Watcher) session(ctx context.Context, inv **inventory.Inventory) error {
	c, logout, err := w.connect(ctx)
	if err != nil {
		return err
	}
	defer logout()
	now, err := methods.GetCurrentTime(ctx, c)
	if err != nil {
		return fmt.Errorf("vCenter time: %w", err)
	}
	offset := time.Until(*now)
	finder := find.NewFinder(c, false)
	refs := map[types.ManagedObjectReference]inventory.Cluster{}
	for _, cl := range w.clusters {
		cc, err := finder.ClusterComputeResource(ctx, cl.Path)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", cl.Path, err)
		}
		refs[cc.Reference()] = inventory.Cluster{Name: cl.Name, Sites: cl.Sites}
	}
	if *inv == nil {
		*inv = inventory.New(refs, w.log)
		(*inv).Restore(w.Restore)
	} else {
		(*inv).Reset()
		w.setStatus(func(s *Status) { s.Resyncs++ })
	}
	// The views, collector and filter live as long as the session: logout
	// frees them. (Destroying them while a wait is being cancelled races
	// inside vcsim.)
	spec, err := w.filterSpec(ctx, c, refs)
	if err != nil {
		return err
	}
	pc, err := property.DefaultCollector(c).Create(ctx)
	if err != nil {
		return fmt.Errorf("property collector: %w", err)
	}
	w.setStatus(func(s *Status) { s.Connected, s.Since, s.LastError = true, time.Now(), "" })
	w.log.Info("watching vCenter", "url", w.status.URL, "clusters", len(refs), "clock_offset", offset.Round(time.Millisecond))
	if _, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: spec}); err != nil {
		return fmt.Errorf("property filter: %w", err)
	}
	synced := false
	objects, props := 0, 0
	return w.wait(ctx, c, pc.Reference(), func(updates []types.ObjectUpdate, truncated bool) {
		if len(updates) == 0 && synced {
			return
		}
		(*inv).Apply(updates, time.Now().Add(offset))
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
		}
		if !synced {
			return
		}
		up := Update{Clusters: (*inv).Snapshot(), Landings: (*inv).Landings()}
		n := 0
		for _, vms := range up.Clusters {
			n += len(vms)
		}
		hosts, unplaced := (*inv).Hosts(), (*inv).Unplaced()
		w.setStatus(func(s *Status) { s.VMs, s.Landings, s.Hosts, s.Unplaced = n, (*inv).Landed, hosts, unplaced })
		if w.Changed != nil {
			w.Changed(up)
		}
	})
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
	}}
	groups, faultDomains := false, false
	vms := view.NewManager(c)
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

// wait long-polls the collector with WaitForUpdatesEx until ctx ends or
// a call fails, handing each answer's updates to apply. A poll that ends
// with nothing new after the wait timeout is simply repeated, from the
// same version. (govmomi's helper returns at that point instead.)
func (w *Watcher) wait(ctx context.Context, c *vim25.Client, pc types.ManagedObjectReference, apply func([]types.ObjectUpdate, bool)) error {
	maxWait := int32(w.cfg.WaitTimeout / time.Second)
	req := types.WaitForUpdatesEx{This: pc, Options: &types.WaitOptions{MaxWaitSeconds: &maxWait}}
	for {
		res, err := methods.WaitForUpdatesEx(ctx, c, &req)
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
			continue // the wait timed out: nothing changed
		}
		req.Version = set.Version
		truncated := set.Truncated != nil && *set.Truncated
		var updates []types.ObjectUpdate
		for _, fs := range set.FilterSet {
			updates = append(updates, fs.ObjectSet...)
		}
		apply(updates, truncated)
	}
}

// connect logs in with TLS verified against the CA file or the pinned
// thumbprint (or not at all, with a warning, when insecure), and keeps
// the session alive while it is idle.
func (w *Watcher) connect(ctx context.Context) (*vim25.Client, func(), error) {
	u := *w.cfg.URL
	sc := soap.NewClient(&u, w.cfg.Insecure)
	sc.Timeout = w.cfg.WaitTimeout + 30*time.Second
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
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", w.status.URL, err)
	}
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
