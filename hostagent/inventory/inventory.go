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
// VM keeps its last known site.
//
// Landing times are by vCenter's clock, never the appliance's: the time of
// the migration's event (its createdTime, from the event collectors the
// watcher adds to its filter) where vCenter gave one with the move, else
// vCenter's CurrentTime of the batch. They survive a restart of the
// hostagent (Landings and Restore), so that a restart is not mistaken for
// thousands of moves. A VM found in place with no landing known (a first
// start) has an unknown landing, which never beats a known one.
//
// What vCenter sends beyond the plain case is handled here too: guest
// addresses from guest.net[].ipConfig (preferred ones only), an empty
// guest.net while VMware Tools restarts, copies that claim nothing
// (templates, VMs another product manages, Fault Tolerance secondaries,
// a second VM with the same instance UUID), VMs vCenter cannot reach,
// changes to a part of a property, and properties withheld for want of
// permission.
package inventory

import (
	"cmp"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/sitemap"
	"github.com/vmroute/vmroute/shared/wire"
)

// Properties the watcher asks vCenter for, by managed object type.
var (
	VMProperties = []string{"config.instanceUuid", "config.uuid", "name", "runtime.host", "runtime.powerState", "runtime.connectionState",
		"config.template", "config.managedBy", "config.ftInfo", "config.hardware.device", "guest.net"}
	HostProperties      = []string{"name", "parent"}
	PortgroupProperties = []string{"key", "name"}
	// FaultDomainProperty is a host's vSAN fault domain, watched when a
	// cluster maps hosts to sites by fault domain.
	FaultDomainProperty = "config.vsanHostConfig.faultDomainInfo.name"
	// GroupsProperty holds a cluster's DRS host groups, watched when a
	// cluster maps hosts to sites by host group.
	GroupsProperty = "configurationEx"
	// LandingEvents are the events whose createdTime stamps a landing:
	// vMotion, DRS, relocation, and vSphere HA's restarts (the EventEx
	// HARestartEvent; VmRestartedOnAlternateHostEvent is deprecated since
	// API 5.0 but kept for older vCenters). A power-on is no move.
	LandingEvents = []string{"VmMigratedEvent", "DrsVmMigratedEvent", "VmRelocatedEvent", "VmRestartedOnAlternateHostEvent",
		HARestartEvent, CrossVCenterEvent}
	// HARestartEvent is the EventEx vSphere HA logs when it restarts a VM
	// on another host.
	HARestartEvent = "com.vmware.vc.ha.VmRestartedByHAEvent"
	// CrossVCenterEvent is the EventEx the destination vCenter of a
	// cross-vCenter vMotion logs for the VM that arrived.
	CrossVCenterEvent = "com.vmware.vc.vm.DstVmMigratedEvent"
)

// placeholderProducts are the vCenter extensions whose managed VMs are
// placeholders or copies of a VM that runs elsewhere: Site Recovery
// Manager and vSphere Replication. Every other product's VMs (Cloud
// Director tenants, Tanzu Supervisor, NSX Edges) are VMs like any other.
var placeholderProducts = map[string]bool{"com.vmware.vcDr": true, "com.vmware.vcHms": true}

// eventAge is how long after its event a landing may still take the
// event's time.
const eventAge = time.Minute

// HostGrace is how long the VMs of a host removed from vCenter are still
// reported as they last were: a host removed and added back (its VMs
// get new managed-object IDs) is no departure and no landing of them.
// They run on all the while.
const HostGrace = 10 * time.Minute

// Options are the inventory's settings.
type Options struct {
	// GuestGrace is how long a running VM keeps its last addresses while
	// VMware Tools reports none.
	GuestGrace time.Duration
}

// Cluster is a watched cluster and how its hosts map to sites.
type Cluster struct {
	Name  string
	Sites sitemap.Rule
}

// Inventory is the state of the watched clusters.
type Inventory struct {
	log      *slog.Logger
	opts     Options
	clusters map[types.ManagedObjectReference]*cluster
	hosts    map[types.ManagedObjectReference]*host
	vms      map[types.ManagedObjectReference]*vm
	pgs      map[types.ManagedObjectReference]pg
	// landed is when each VM landed at its site; where is that site.
	landed map[string]time.Time
	where  map[string]string
	// events are the latest landing events, by VM.
	events map[types.ManagedObjectReference]landingEvent
	// dirty are the properties to read again, by object: vCenter sent a
	// change to a part of them.
	dirty map[types.ManagedObjectReference][]string
	// missing are the properties vCenter withheld, by object, and why.
	missing map[types.ManagedObjectReference]map[string]string
	// departing are the VMs that left in the batch being applied.
	departing []*vm
	// parked are the VMs whose host was removed from vCenter, by UUID,
	// with when: reported as they last were for HostGrace.
	parked map[string]parkedVM
	// duplicates are the instance UUIDs held by more than one VM, logged.
	duplicates map[string]bool
	// managers are the extension keys of managed VMs seen, logged once.
	managers map[string]bool
	// hiddenPGs are the keys of port groups an adapter is on that vCenter
	// did not show, logged once.
	hiddenPGs map[string]bool
	// synced is set after the first complete sync: a VM seen for the
	// first time after it came in from elsewhere, it did not sit there.
	synced bool
	// complete says the current sync is complete: every watched host is
	// known. Reset clears it, so that a VM whose host comes on a later
	// page of a resync does not leave and land again.
	complete bool
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

// parkedVM is a VM whose host left vCenter, as it was last reported.
type parkedVM struct {
	vm      wire.VM
	cluster string
	since   time.Time
}

// landingEvent is a migration's event: the VM's destination host and the
// event's time.
type landingEvent struct {
	host types.ManagedObjectReference
	at   time.Time
}

// New returns an inventory of the clusters (by managed object reference).
func New(clusters map[types.ManagedObjectReference]Cluster, opts Options, log *slog.Logger) *Inventory {
	inv := &Inventory{log: log, opts: opts, hosts: map[types.ManagedObjectReference]*host{},
		vms: map[types.ManagedObjectReference]*vm{}, pgs: map[types.ManagedObjectReference]pg{},
		landed: map[string]time.Time{}, where: map[string]string{}, events: map[types.ManagedObjectReference]landingEvent{},
		dirty: map[types.ManagedObjectReference][]string{}, missing: map[types.ManagedObjectReference]map[string]string{},
		duplicates: map[string]bool{}, managers: map[string]bool{}, hiddenPGs: map[string]bool{}, parked: map[string]parkedVM{}}
	inv.setClusters(clusters)
	return inv
}

// setClusters takes the watched clusters, by managed object reference,
// with no host groups known yet.
func (inv *Inventory) setClusters(clusters map[types.ManagedObjectReference]Cluster) {
	inv.clusters = make(map[types.ManagedObjectReference]*cluster, len(clusters))
	for ref, c := range clusters {
		inv.clusters[ref] = &cluster{Cluster: c, groups: map[types.ManagedObjectReference][]string{}}
	}
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
// session, and takes the clusters as this session found them (a cluster
// whose ID vCenter lost was looked up again); landings are kept, so a VM
// that moved meanwhile lands, and a VM whose host comes on a later page
// of the resync keeps its site.
func (inv *Inventory) Reset(clusters map[types.ManagedObjectReference]Cluster) {
	inv.complete = false
	inv.setClusters(clusters)
	clear(inv.hosts)
	clear(inv.vms)
	clear(inv.pgs)
	clear(inv.events)
	clear(inv.dirty)
	clear(inv.missing)
}

// Apply takes one batch of updates, an answer whole or its last page;
// now is vCenter's time of the batch (its CurrentTime). A batch without
// updates ages what waits on time.
func (inv *Inventory) Apply(updates []types.ObjectUpdate, now time.Time) {
	inv.apply(updates, now)
	inv.depart(now)
	inv.placeHosts()
	inv.settle(now)
	inv.expire(now)
}

// ApplyPage takes a page of an answer that goes on (truncated) as Apply
// does, but settles the VMs that left only with the answer's last page:
// a host removed with its VMs is one change in vCenter, and the host's
// leaving may come pages after theirs. Until then they are reported as
// they were.
func (inv *Inventory) ApplyPage(updates []types.ObjectUpdate, now time.Time) {
	inv.apply(updates, now)
	inv.placeHosts()
	inv.settle(now)
	inv.expire(now)
}

func (inv *Inventory) apply(updates []types.ObjectUpdate, now time.Time) {
	for _, u := range updates {
		switch u.Obj.Type {
		case "VirtualMachine":
			inv.applyVM(u, now)
		case "HostSystem":
			inv.noteMissing(u)
			inv.applyHost(u)
		case "ClusterComputeResource":
			inv.noteMissing(u)
			inv.applyCluster(u)
		case "DistributedVirtualPortgroup":
			inv.noteMissing(u)
			inv.applyPortgroup(u)
		case "EventHistoryCollector":
			inv.applyEvents(u)
		}
	}
}

// depart settles the VMs that left in the batch: one whose host left
// vCenter too (removed, perhaps to be added back) is parked, reported as
// it last was for HostGrace; one that came back within the answer stays;
// any other left its site.
func (inv *Inventory) depart(now time.Time) {
	back := map[string]bool{}
	if len(inv.departing) > 0 {
		for _, v := range inv.vms {
			back[v.uuid] = true
		}
	}
	for _, v := range inv.departing {
		if back[v.uuid] {
			continue
		}
		if inv.hosts[v.host] == nil && v.last != nil && inv.where[v.uuid] != "" {
			inv.parked[v.uuid] = parkedVM{vm: *v.last, cluster: v.lastCluster, since: now}
			inv.log.Info("the VM's host left vCenter: the VM is reported as it was while the host may be added back",
				"vm", v.uuid, "name", v.name, "grace", HostGrace)
			continue
		}
		inv.where[v.uuid] = ""
	}
	inv.departing = inv.departing[:0]
}

// applyEvents reads an event collector's latest page: the latest landing
// event of each VM, with the host it names as the VM's destination.
func (inv *Inventory) applyEvents(u types.ObjectUpdate) {
	for _, c := range u.ChangeSet {
		page, ok := c.Val.(types.ArrayOfEvent)
		if c.Name != "latestPage" || !ok {
			continue
		}
		for _, be := range page.Event {
			e := be.GetEvent()
			if e.Vm == nil || e.Host == nil || !isLanding(be) {
				continue
			}
			if ref := e.Vm.Vm; e.CreatedTime.After(inv.events[ref].at) {
				inv.events[ref] = landingEvent{host: e.Host.Host, at: e.CreatedTime}
			}
		}
	}
}

// isLanding says an event is one of LandingEvents: by its type, or an
// EventEx by its eventTypeId.
func isLanding(e types.BaseEvent) bool {
	id := reflect.TypeOf(e).Elem().Name()
	if x, ok := e.(*types.EventEx); ok {
		id = x.EventTypeId
	}
	return slices.Contains(LandingEvents, id)
}

// stamp returns the landing time of a VM that landed on host in the batch
// of vCenter time now: its landing event's, if vCenter sent one naming
// that host within eventAge and later than the VM's previous landing
// (since), else now.
func (inv *Inventory) stamp(ref, host types.ManagedObjectReference, since, now time.Time) time.Time {
	e, ok := inv.events[ref]
	delete(inv.events, ref)
	if ok && e.host == host && e.at.After(since) && !e.at.After(now) && now.Sub(e.at) <= eventAge {
		return e.at
	}
	return now
}

// expire ends the grace of VMs whose VMware Tools report no address for
// longer than Options.GuestGrace, and forgets old events.
func (inv *Inventory) expire(now time.Time) {
	for _, v := range inv.vms {
		if !v.guestLost.IsZero() && now.Sub(v.guestLost) > inv.opts.GuestGrace {
			inv.log.Warn("VMware Tools still report no address: the VM's last addresses are dropped", "vm", v.uuid, "name", v.name)
			v.guest, v.guestLost = nil, time.Time{}
		}
	}
	for id, p := range inv.parked {
		if now.Sub(p.since) > HostGrace {
			inv.log.Warn("the VM's host was not added back within the grace: the VM is no longer reported", "vm", id, "name", p.vm.Name)
			delete(inv.parked, id)
			inv.where[id] = ""
		}
	}
	for ref, e := range inv.events {
		if now.Sub(e.at) > eventAge {
			delete(inv.events, ref)
		}
	}
}

// Dirty returns, and forgets, the properties to read again whole, by
// object: vCenter sent changes to a part of them.
func (inv *Inventory) Dirty() map[types.ManagedObjectReference][]string {
	if len(inv.dirty) == 0 {
		return nil
	}
	d := inv.dirty
	inv.dirty = map[types.ManagedObjectReference][]string{}
	return d
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

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
// VMs found in place at the first sync without a known landing did not,
// and their landing is unknown. A VM on a host that cannot be placed, or
// that vCenter cannot reach, keeps its last known site.
func (inv *Inventory) settle(now time.Time) {
	for ref, v := range inv.vms {
		if v.uuid == "" || !v.reachable() || v.copyOf() != "" {
			continue
		}
		// Seen again, with its host or on another: what vCenter says now
		// counts, a landing only if the site changed.
		delete(inv.parked, v.uuid)
		c, h := inv.cluster(v)
		if c == nil {
			// On a host outside every watched cluster, the VM left: its
			// coming back will be a landing. A host not known yet says
			// nothing before a sync is complete; after it, every watched
			// host is known.
			if (h != nil || inv.complete) && inv.where[v.uuid] != "" {
				inv.where[v.uuid] = ""
			}
			continue
		}
		if h.site == "" {
			continue
		}
		was, known := inv.where[v.uuid]
		if known && was == h.site {
			continue
		}
		if known || inv.synced {
			// A new site; or, new to this hostagent after its first sync,
			// it came from a cluster another hostagent watches, or was
			// created.
			at := inv.stamp(ref, v.host, inv.landed[v.uuid], now)
			inv.landed[v.uuid], inv.where[v.uuid] = at, h.site
			inv.Landed++
			inv.log.Info("vm landed", "vm", v.uuid, "name", v.name, "cluster", c.Name, "host", h.name, "site", h.site,
				"from", cmp.Or(was, "elsewhere"), "at", at)
		} else {
			inv.landed[v.uuid], inv.where[v.uuid] = time.Time{}, h.site
		}
	}
}

// Prune forgets the landings of VMs vCenter no longer has; call it after
// a complete sync. From the first Prune on, a VM seen for the first time
// has just landed.
func (inv *Inventory) Prune() {
	inv.synced, inv.complete = true, true
	alive := map[string]bool{}
	for _, v := range inv.vms {
		alive[v.uuid] = true
	}
	for id := range inv.parked {
		alive[id] = true
	}
	for id := range inv.landed {
		if !alive[id] {
			delete(inv.landed, id)
			delete(inv.where, id)
		}
	}
}

// Snapshot returns the VMs of every watched cluster, sorted by UUID; each
// cluster appears, with no VMs if it holds none. Left out are the VMs
// never placed at a site (Unplaced counts them) and the copies that claim
// nothing; of two VMs with one instance UUID, the running one is kept. A
// VM that vCenter cannot reach is reported as it last was.
func (inv *Inventory) Snapshot() map[string][]wire.VM {
	out := map[string][]wire.VM{}
	for _, c := range inv.clusters {
		out[c.Name] = nil
	}
	pgNames := map[string]string{}
	for _, p := range inv.pgs {
		pgNames[p.key] = p.name
	}
	type pick struct {
		ref     types.ManagedObjectReference
		cluster string
		vm      wire.VM
	}
	picked := map[string]pick{}
	for ref, v := range inv.vms {
		c, _ := inv.cluster(v)
		site := inv.where[v.uuid]
		if c == nil || v.uuid == "" || v.copyOf() != "" {
			continue
		}
		var w wire.VM
		if !v.reachable() && v.last != nil {
			w = *v.last
		} else if !v.reachable() || site == "" {
			continue
		} else {
			w = wire.VM{UUID: v.uuid, BIOSUUID: v.bios, Name: cmp.Or(v.name, v.uuid), Site: site, PowerState: power(v.power), LandedAt: inv.landed[v.uuid]}
			for _, n := range v.nics {
				network := n.network
				if n.pgKey != "" {
					network = cmp.Or(pgNames[n.pgKey], n.pgKey)
					if pgNames[n.pgKey] == "" && !inv.hiddenPGs[n.pgKey] {
						inv.hiddenPGs[n.pgKey] = true
						inv.log.Warn("an adapter is on a distributed port group the vCenter user cannot see: it is reported by the port group's key, which no subnet's networks name; grant the user's role on the port group",
							"vm", v.uuid, "name", v.name, "portgroup", n.pgKey)
					}
				}
				nc := wire.NIC{MAC: n.mac, Network: network}
				if n.connected {
					nc.Addresses = v.guest[n.mac.String()]
				}
				w.NICs = append(w.NICs, nc)
			}
			err := validVM(c.Name, w)
			if err != nil && w.BIOSUUID != "" {
				// The BIOS UUID is optional: the VM is reported
				// without one its report cannot carry.
				w.BIOSUUID = ""
				err = validVM(c.Name, w)
			}
			if err != nil {
				inv.log.Warn("vCenter data for a VM does not validate: left out", "vm", v.uuid, "name", v.name, "err", err)
				continue
			}
			v.last, v.lastCluster = &w, c.Name
		}
		if p, dup := picked[v.uuid]; dup {
			if !inv.duplicates[v.uuid] {
				inv.duplicates[v.uuid] = true
				inv.log.Warn("two VMs have one instance UUID: the running one is reported", "vm", v.uuid, "objects", []string{p.ref.Value, ref.Value})
			}
			if p.vm.Present() && !w.Present() || p.vm.Present() == w.Present() && p.ref.Value < ref.Value {
				continue
			}
		}
		picked[v.uuid] = pick{ref: ref, cluster: c.Name, vm: w}
	}
	for id, p := range inv.parked {
		if _, seen := picked[id]; !seen {
			picked[id] = pick{cluster: p.cluster, vm: p.vm}
		}
	}
	for _, v := range inv.departing {
		if _, seen := picked[v.uuid]; !seen && v.last != nil && inv.where[v.uuid] != "" {
			picked[v.uuid] = pick{cluster: v.lastCluster, vm: *v.last}
		}
	}
	for _, p := range picked {
		out[p.cluster] = append(out[p.cluster], p.vm)
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
		if c, _ := inv.cluster(v); c != nil && v.uuid != "" && v.copyOf() == "" && inv.where[v.uuid] == "" {
			n++
		}
	}
	return n
}

// Flagged are the VMs reported with less than vCenter knows, for status.
type Flagged struct {
	// Truncated VMs have an adapter with more addresses than a report
	// carries; the first ones are reported.
	Truncated []string `json:"truncated,omitempty"`
	// ToolsSilent VMs run while VMware Tools report no address: their
	// last addresses are kept for the grace period.
	ToolsSilent []string `json:"tools_silent,omitempty"`
	// Unreachable VMs are inaccessible, orphaned or disconnected in
	// vCenter: reported as they last were.
	Unreachable []string `json:"unreachable,omitempty"`
	// Copies claim nothing: templates, VMs another product manages
	// ("managed"), Fault Tolerance secondaries ("ft_secondary"), by kind.
	Copies map[string]int `json:"copies,omitempty"`
	// Missing are the properties vCenter withholds ("vm-42 guest.net:
	// NoPermission").
	Missing []string `json:"missing,omitempty"`
	// Duplicates are instance UUIDs that more than one VM has: the
	// running one is reported.
	Duplicates []string `json:"duplicates,omitempty"`
	// HiddenPortgroup VMs have an adapter on a distributed port group
	// the vCenter user cannot see: it is reported by the port group's
	// key, which no subnet's networks name.
	HiddenPortgroup []string `json:"hidden_portgroup,omitempty"`
}

// Flags returns the VMs reported with less than vCenter knows.
func (inv *Inventory) Flags() Flagged {
	var f Flagged
	pgs := map[string]bool{}
	for _, p := range inv.pgs {
		pgs[p.key] = p.name != ""
	}
	for _, v := range inv.vms {
		name := cmp.Or(v.name, v.uuid)
		if why := v.copyOf(); why != "" {
			if f.Copies == nil {
				f.Copies = map[string]int{}
			}
			f.Copies[why]++
			continue
		}
		if !v.reachable() {
			f.Unreachable = append(f.Unreachable, name)
		}
		if v.truncated {
			f.Truncated = append(f.Truncated, name)
		}
		if !v.guestLost.IsZero() {
			f.ToolsSilent = append(f.ToolsSilent, name)
		}
		if slices.ContainsFunc(v.nics, func(n nic) bool { return n.pgKey != "" && !pgs[n.pgKey] }) {
			f.HiddenPortgroup = append(f.HiddenPortgroup, name)
		}
	}
	for id := range inv.duplicates {
		f.Duplicates = append(f.Duplicates, id)
	}
	for ref, props := range inv.missing {
		for p, why := range props {
			f.Missing = append(f.Missing, fmt.Sprintf("%s %s: %s", ref.Value, p, why))
		}
	}
	for _, l := range [][]string{f.Truncated, f.ToolsSilent, f.Unreachable, f.Missing, f.Duplicates, f.HiddenPortgroup} {
		slices.Sort(l)
	}
	return f
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

// validVM checks w as one VM of a report of cluster.
func validVM(cluster string, w wire.VM) error {
	return (&wire.Report{Cluster: cluster, Generation: 1, Kind: wire.KindFull, VMs: []wire.VM{w}}).Validate()
}
