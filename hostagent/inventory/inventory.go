// Package inventory turns vCenter's property updates into the state of
// the watched clusters: which VMs each holds, at which site, their
// adapters and addresses, and when each landed. It does no I/O; the
// watcher feeds it.
//
// A site is a set of hosts: each host is placed at a site by its
// cluster's sitemap.Rule, from the host's name, its vSAN fault domain or
// the cluster's DRS host groups, all watched, so that a host added,
// regrouped or renamed takes effect at once. A VM is at the site of its
// host, and lands when that site changes: moves between hosts or
// clusters of one site are no landings. While its host cannot be placed a
// VM keeps its last known site. Landing times are by vCenter's clock and
// survive a restart of the hostagent (Landings and Restore), so that a
// restart is not mistaken for thousands of moves. A VM found in place
// with no landing known (a first start) is given its boot time, or a time
// long ago: it did not just land.
package inventory

import (
	"cmp"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/sitemap"
	"github.com/vmroute/vmroute/shared/wire"
)

// LongAgo is the landing time of a VM found in place with no boot time.
var LongAgo = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Properties the watcher asks vCenter for, by managed object type.
var (
	VMProperties        = []string{"config.instanceUuid", "name", "runtime.host", "runtime.powerState", "runtime.bootTime", "config.hardware.device", "guest.net"}
	HostProperties      = []string{"name", "parent"}
	PortgroupProperties = []string{"key", "name"}
	// FaultDomainProperty is a host's vSAN fault domain, watched when a
	// cluster maps hosts to sites by fault domain.
	FaultDomainProperty = "config.vsanHostConfig.faultDomainInfo.name"
	// GroupsProperty holds a cluster's DRS host groups, watched when a
	// cluster maps hosts to sites by host group.
	GroupsProperty = "configurationEx"
)

// Cluster is a watched cluster and how its hosts map to sites.
type Cluster struct {
	Name  string
	Sites sitemap.Rule
}

// Inventory is the state of the watched clusters.
type Inventory struct {
	log      *slog.Logger
	clusters map[types.ManagedObjectReference]*cluster
	hosts    map[types.ManagedObjectReference]*host
	vms      map[types.ManagedObjectReference]*vm
	pgs      map[types.ManagedObjectReference]pg
	// landed is when each VM landed at its site; where is that site.
	landed map[string]time.Time
	where  map[string]string
	// synced is set after the first complete sync: a VM seen for the
	// first time after it came in from elsewhere, it did not sit there.
	synced bool
	// Landed counts the landings seen since start.
	Landed int
}

type cluster struct {
	Cluster
	groups map[types.ManagedObjectReference][]string // host -> DRS host groups
}

type host struct {
	name        string
	parent      types.ManagedObjectReference
	faultDomain string
	// site is where the host was last placed ("" unplaced), why the
	// reason it is not; placed says a placement was computed.
	site, why string
	placed    bool
}

type pg struct{ key, name string }

type vm struct {
	uuid, name string
	host       types.ManagedObjectReference
	power      types.VirtualMachinePowerState
	boot       *time.Time
	nics       []nic
	guest      map[string][]netip.Addr // MAC -> addresses
}

type nic struct {
	mac            wire.MAC
	network, pgKey string
}

// New returns an inventory of the clusters (by managed object reference).
func New(clusters map[types.ManagedObjectReference]Cluster, log *slog.Logger) *Inventory {
	inv := &Inventory{log: log, clusters: map[types.ManagedObjectReference]*cluster{}, hosts: map[types.ManagedObjectReference]*host{},
		vms: map[types.ManagedObjectReference]*vm{}, pgs: map[types.ManagedObjectReference]pg{},
		landed: map[string]time.Time{}, where: map[string]string{}}
	for ref, c := range clusters {
		inv.clusters[ref] = &cluster{Cluster: c, groups: map[types.ManagedObjectReference][]string{}}
	}
	return inv
}

// Landing is where and when one VM last landed, as it is persisted.
type Landing struct {
	Site string    `json:"site"`
	At   time.Time `json:"at"`
	// Cluster is what hostagents before sites were made of hosts wrote
	// instead of Site; Restore reads it for clusters at one site.
	Cluster string `json:"cluster,omitempty"`
}

// Landings returns every known landing, by VM UUID.
func (inv *Inventory) Landings() map[string]Landing {
	out := make(map[string]Landing, len(inv.landed))
	for id, at := range inv.landed {
		out[id] = Landing{Site: inv.where[id], At: at}
	}
	return out
}

// Restore puts back landings persisted by an earlier run. A landing
// written with a cluster instead of a site is kept where that cluster is
// at one site, and dropped otherwise.
func (inv *Inventory) Restore(l map[string]Landing) {
	oneSite := map[string]string{}
	for _, c := range inv.clusters {
		if c.Sites.By == sitemap.Cluster {
			oneSite[c.Name] = c.Sites.Site
		}
	}
	for id, x := range l {
		site := cmp.Or(x.Site, oneSite[x.Cluster])
		if site == "" {
			continue
		}
		inv.landed[id], inv.where[id] = x.At, site
	}
}

// Reset forgets what vCenter said, before a full resync after a lost
// session; landings are kept, so a VM that moved meanwhile lands.
func (inv *Inventory) Reset() {
	clear(inv.hosts)
	clear(inv.vms)
	clear(inv.pgs)
	for _, c := range inv.clusters {
		clear(c.groups)
	}
}

// Apply takes one batch of updates; now is vCenter's time.
func (inv *Inventory) Apply(updates []types.ObjectUpdate, now time.Time) {
	for _, u := range updates {
		switch u.Obj.Type {
		case "VirtualMachine":
			inv.applyVM(u)
		case "HostSystem":
			inv.applyHost(u)
		case "ClusterComputeResource":
			inv.applyCluster(u)
		case "DistributedVirtualPortgroup":
			inv.applyPortgroup(u)
		}
	}
	inv.placeHosts()
	inv.settle(now)
}

func (inv *Inventory) applyPortgroup(u types.ObjectUpdate) {
	if u.Kind == types.ObjectUpdateKindLeave {
		delete(inv.pgs, u.Obj)
		return
	}
	p := inv.pgs[u.Obj]
	for _, c := range u.ChangeSet {
		switch c.Name {
		case "key":
			p.key, _ = c.Val.(string)
		case "name":
			p.name, _ = c.Val.(string)
		}
	}
	inv.pgs[u.Obj] = p
}

// cluster returns the watched cluster a VM runs in and its host, if any.
func (inv *Inventory) cluster(v *vm) (*cluster, *host) {
	h := inv.hosts[v.host]
	if h == nil {
		return nil, nil
	}
	return inv.clusters[h.parent], h
}

// settle records landings: VMs whose site changed since they were last
// seen (or that come back from outside the watched clusters) land now;
// VMs found in place at the first sync without a known landing did not.
// A VM on a host that cannot be placed keeps its last known site.
func (inv *Inventory) settle(now time.Time) {
	for _, v := range inv.vms {
		if v.uuid == "" {
			continue
		}
		c, h := inv.cluster(v)
		if c == nil {
			// On a host outside every watched cluster, the VM left: its
			// coming back will be a landing. A host not known yet says
			// nothing before the first complete sync; after it, every
			// watched host is known.
			if (h != nil || inv.synced) && inv.where[v.uuid] != "" {
				inv.where[v.uuid] = ""
			}
			continue
		}
		if h.site == "" {
			continue
		}
		was, known := inv.where[v.uuid]
		switch {
		case known && was == h.site:
		case known || inv.synced:
			// A new site; or, new to this hostagent after its first sync,
			// it came from a cluster another hostagent watches, or was
			// created.
			inv.landed[v.uuid], inv.where[v.uuid] = now, h.site
			inv.Landed++
			inv.log.Info("vm landed", "vm", v.uuid, "name", v.name, "cluster", c.Name, "host", h.name, "site", h.site, "from", cmp.Or(was, "elsewhere"))
		default:
			at := LongAgo
			if v.boot != nil {
				at = *v.boot
			}
			inv.landed[v.uuid], inv.where[v.uuid] = at, h.site
		}
	}
}

// Prune forgets the landings of VMs vCenter no longer has; call it after
// a complete sync. From the first Prune on, a VM seen for the first time
// has just landed.
func (inv *Inventory) Prune() {
	inv.synced = true
	alive := map[string]bool{}
	for _, v := range inv.vms {
		alive[v.uuid] = true
	}
	for id := range inv.landed {
		if !alive[id] {
			delete(inv.landed, id)
			delete(inv.where, id)
		}
	}
}

// Snapshot returns the VMs of every watched cluster, sorted by UUID; each
// cluster appears, with no VMs if it holds none. A VM that has never been
// placed at a site is left out (Unplaced counts them).
func (inv *Inventory) Snapshot() map[string][]wire.VM {
	out := map[string][]wire.VM{}
	for _, c := range inv.clusters {
		out[c.Name] = nil
	}
	pgNames := map[string]string{}
	for _, p := range inv.pgs {
		pgNames[p.key] = p.name
	}
	for _, v := range inv.vms {
		c, _ := inv.cluster(v)
		site := inv.where[v.uuid]
		if c == nil || v.uuid == "" || site == "" {
			continue
		}
		w := wire.VM{UUID: v.uuid, Name: cmp.Or(v.name, v.uuid), Site: site, PowerState: power(v.power),
			LandedAt: inv.landed[v.uuid]}
		for _, n := range v.nics {
			network := n.network
			if n.pgKey != "" {
				network = cmp.Or(pgNames[n.pgKey], n.pgKey)
			}
			w.NICs = append(w.NICs, wire.NIC{MAC: n.mac, Network: network, Addresses: v.guest[n.mac.String()]})
		}
		if err := (&wire.Report{Cluster: c.Name, Generation: 1, Kind: wire.KindFull, VMs: []wire.VM{w}}).Validate(); err != nil {
			inv.log.Warn("vCenter data for a VM does not validate: left out", "vm", v.uuid, "name", v.name, "err", err)
			continue
		}
		out[c.Name] = append(out[c.Name], w)
	}
	for _, vms := range out {
		slices.SortFunc(vms, func(a, b wire.VM) int { return strings.Compare(a.UUID, b.UUID) })
	}
	return out
}

// Unplaced counts the VMs of the watched clusters that have no site: their
// host cannot be placed and they were never seen at a site.
func (inv *Inventory) Unplaced() int {
	n := 0
	for _, v := range inv.vms {
		if c, _ := inv.cluster(v); c != nil && v.uuid != "" && inv.where[v.uuid] == "" {
			n++
		}
	}
	return n
}

func power(p types.VirtualMachinePowerState) wire.PowerState {
	switch p {
	case types.VirtualMachinePowerStatePoweredOn:
		return wire.PoweredOn
	case types.VirtualMachinePowerStateSuspended:
		return wire.Suspended
	}
	return wire.PoweredOff
}
