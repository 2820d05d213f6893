package plan

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vmroute/vmroute/shared/wire"
)

// Planner holds the accepted cluster reports and the plan derived from
// them. It updates incrementally: a change to one VM recomputes only the
// subnets that VM touches. A Planner is not safe for concurrent use; one
// goroutine owns it.
type Planner struct {
	cfg      Config
	subnets  []*subnet
	index    map[netip.Prefix]int // masked subnet prefix -> subnets index
	lengths4 []int                // distinct IPv4 prefix lengths, longest first
	lengths6 []int

	clusters map[string]*cluster
	vms      map[string]*vmEntry
	outside  map[string][]netip.Addr // VM -> addresses inside no subnet
	// landed are the VMs that landed here since the last plan; the value
	// is true when the landing came with a cluster's first report.
	landed map[string]bool
	held   map[string]*vmEntry // VMs the flap guard holds
}

type cluster struct {
	site    string
	stale   bool
	planned bool // a plan was made since the cluster's first report
	vms     map[string]*wire.VM
}

type claim struct {
	cluster string
	site    string
	vm      *wire.VM
}

type vmEntry struct {
	uuid   string
	claims []claim
	// gone is the latest landing of a claim that was withdrawn (the VM
	// left or was deleted there): older claims elsewhere are void.
	gone time.Time

	// The effective placement: where the plan puts the VM, nil if absent.
	site    string
	vm      *wire.VM
	members []member
	nets    []int // subnets with one of the VM's adapters

	// Flap guard.
	lastSite  string      // last site the VM was present at
	moves     []time.Time // recent landings at another site
	holdSite  string
	holdUntil time.Time
}

type member struct {
	subnet int
	addr   netip.Addr
}

// New returns a Planner for cfg, which must pass Check.
func New(cfg Config) (*Planner, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("plan config: %w", err)
	}
	p := &Planner{
		cfg:      cfg,
		index:    make(map[netip.Prefix]int, len(cfg.Subnets)),
		clusters: map[string]*cluster{},
		vms:      map[string]*vmEntry{},
		outside:  map[string][]netip.Addr{},
		landed:   map[string]bool{},
		held:     map[string]*vmEntry{},
	}
	for i, s := range cfg.Subnets {
		sn := newSubnet(s)
		for _, a := range s.Pinned {
			sn.add(a, pinnedClaimant, s.Home)
		}
		p.subnets = append(p.subnets, sn)
		p.index[s.Prefix] = i
		if s.Prefix.Addr().Is4() {
			p.lengths4 = appendUnique(p.lengths4, s.Prefix.Bits())
		} else {
			p.lengths6 = appendUnique(p.lengths6, s.Prefix.Bits())
		}
	}
	slices.SortFunc(p.lengths4, func(a, b int) int { return b - a })
	slices.SortFunc(p.lengths6, func(a, b int) int { return b - a })
	return p, nil
}

func appendUnique(s []int, v int) []int {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// Config returns the planner's configuration.
func (p *Planner) Config() Config { return p.cfg }

// SetCluster replaces everything known of one cluster with a full report.
// VMs it no longer lists are withdrawn from it. The planner keeps the VM
// values; the caller must not modify them afterwards.
func (p *Planner) SetCluster(site, name string, vms []wire.VM) {
	c := p.clusters[name]
	if c == nil {
		c = &cluster{vms: make(map[string]*wire.VM, len(vms))}
		p.clusters[name] = c
	}
	if c.site != site {
		for id := range c.vms {
			p.withdraw(c, name, id)
		}
		c.site = site
	}
	next := make(map[string]*wire.VM, len(vms))
	store := slices.Clone(vms)
	for i := range store {
		next[store[i].UUID] = &store[i]
	}
	for id := range c.vms {
		if next[id] == nil {
			p.withdraw(c, name, id)
		}
	}
	for i := range store {
		p.put(c, name, &store[i])
	}
}

// ApplyDelta applies a delta to a cluster known from an earlier full
// report: vms are new or changed, removed left the cluster.
func (p *Planner) ApplyDelta(name string, vms []wire.VM, removed []string) error {
	c := p.clusters[name]
	if c == nil {
		return fmt.Errorf("cluster %q: delta without a full report first", name)
	}
	for _, id := range removed {
		p.withdraw(c, name, id)
	}
	store := slices.Clone(vms)
	for i := range store {
		p.put(c, name, &store[i])
	}
	return nil
}

// RemoveCluster forgets a cluster, as when it is no longer configured.
func (p *Planner) RemoveCluster(name string) {
	c := p.clusters[name]
	if c == nil {
		return
	}
	for id := range c.vms {
		p.withdraw(c, name, id)
	}
	delete(p.clusters, name)
}

// SetStale marks a cluster's report as past its lease. Staleness changes
// no route; it is only reported.
func (p *Planner) SetStale(name string, stale bool) {
	if c := p.clusters[name]; c != nil {
		c.stale = stale
	}
}

func (p *Planner) put(c *cluster, name string, vm *wire.VM) {
	old := c.vms[vm.UUID]
	c.vms[vm.UUID] = vm
	e := p.vms[vm.UUID]
	if e == nil {
		e = &vmEntry{uuid: vm.UUID}
		p.vms[vm.UUID] = e
	}
	if old == nil {
		e.claims = append(e.claims, claim{cluster: name, site: c.site, vm: vm})
	} else {
		for i := range e.claims {
			if e.claims[i].cluster == name {
				e.claims[i].vm = vm
			}
		}
	}
	p.place(e, !c.planned)
}

func (p *Planner) withdraw(c *cluster, name, id string) {
	vm := c.vms[id]
	if vm == nil {
		return
	}
	delete(c.vms, id)
	e := p.vms[id]
	e.claims = slices.DeleteFunc(e.claims, func(cl claim) bool { return cl.cluster == name })
	if vm.LandedAt.After(e.gone) {
		e.gone = vm.LandedAt
	}
	p.place(e, false)
	if len(e.claims) == 0 {
		delete(p.vms, id)
	}
}

// winner returns the claim of the latest landing, ignoring claims older
// than a withdrawal; ties go to the greater (site, cluster) so that every
// routeragent picks the same.
func (e *vmEntry) winner() *claim {
	var w *claim
	for i := range e.claims {
		c := &e.claims[i]
		if !c.vm.LandedAt.After(e.gone) {
			continue
		}
		if w == nil || c.vm.LandedAt.After(w.vm.LandedAt) ||
			c.vm.LandedAt.Equal(w.vm.LandedAt) && cmp.Or(cmp.Compare(c.site, w.site), cmp.Compare(c.cluster, w.cluster)) > 0 {
			w = c
		}
	}
	return w
}

// place recomputes where e is and updates the subnets it touches.
func (p *Planner) place(e *vmEntry, initial bool) {
	site, vm := "", (*wire.VM)(nil)
	if w := e.winner(); w != nil && w.vm.Present() {
		site, vm = w.site, w.vm
	}
	if vm != nil && site != e.lastSite {
		if e.lastSite != "" {
			p.noteMove(e, vm.LandedAt)
		}
		e.lastSite = site
	}
	if vm != nil && e.holdSite != "" {
		site = e.holdSite
	}
	if vm == nil {
		p.release(e)
	}
	if site == p.cfg.Site && vm != nil && (e.site != site || e.vm == nil || !e.vm.LandedAt.Equal(vm.LandedAt)) {
		p.landed[e.uuid] = initial
	}
	if site == e.site && vm == e.vm {
		return
	}
	p.unregister(e)
	e.site, e.vm = site, vm
	p.register(e)
}

// noteMove records a landing at another site and starts or extends a hold
// when the VM moved FlapMoves times within FlapWindow.
func (p *Planner) noteMove(e *vmEntry, at time.Time) {
	g := p.cfg.Guards
	if g.FlapMoves == 0 {
		return
	}
	e.moves = append(e.moves, at)
	if len(e.moves) > g.FlapMoves {
		e.moves = e.moves[len(e.moves)-g.FlapMoves:]
	}
	if len(e.moves) == g.FlapMoves && at.Sub(e.moves[0]) <= g.FlapWindow && e.site != "" {
		if e.holdSite == "" {
			e.holdSite = e.site
			p.held[e.uuid] = e
		}
		e.holdUntil = at.Add(g.FlapWindow)
	}
}

func (p *Planner) release(e *vmEntry) {
	e.holdSite = ""
	delete(p.held, e.uuid)
}

func (p *Planner) unregister(e *vmEntry) {
	for _, m := range e.members {
		p.subnets[m.subnet].remove(m.addr, e.uuid)
	}
	for _, i := range e.nets {
		p.subnets[i].setLocal(e.uuid, false)
	}
	e.members, e.nets = e.members[:0], e.nets[:0]
	delete(p.outside, e.uuid)
}

func (p *Planner) register(e *vmEntry) {
	if e.vm == nil {
		return
	}
	var outside []netip.Addr
	for _, nic := range e.vm.NICs {
		for _, a := range nic.Addresses {
			if !a.IsGlobalUnicast() {
				continue
			}
			i, ok := p.lookup(a)
			if !ok {
				outside = append(outside, a)
				continue
			}
			if slices.Contains(e.members, member{i, a}) {
				continue
			}
			e.members = append(e.members, member{i, a})
			p.subnets[i].add(a, e.uuid, e.site)
			e.nets = appendUnique(e.nets, i)
		}
		for i, s := range p.subnets {
			if nic.Network != "" && slices.Contains(s.cfg.Networks, nic.Network) {
				e.nets = appendUnique(e.nets, i)
			}
		}
	}
	if len(outside) > 0 {
		p.outside[e.uuid] = outside
	}
	if e.site == p.cfg.Site {
		for _, i := range e.nets {
			p.subnets[i].setLocal(e.uuid, true)
		}
	}
}

// lookup finds the configured subnet that holds a.
func (p *Planner) lookup(a netip.Addr) (int, bool) {
	lengths := p.lengths6
	if a.Is4() {
		lengths = p.lengths4
	}
	for _, l := range lengths {
		pfx, _ := a.Prefix(l)
		if i, ok := p.index[pfx]; ok {
			return i, true
		}
	}
	return 0, false
}

// Plan returns the plan for the reports held now. now is the
// routeragent's clock; it releases held VMs and ages first-report
// landings.
func (p *Planner) Plan(now time.Time) *Result {
	res := &Result{Site: p.cfg.Site}
	for _, e := range p.held {
		if !now.Before(e.holdUntil) {
			p.release(e)
			p.place(e, false)
			continue
		}
		if res.NextWake.IsZero() || e.holdUntil.Before(res.NextWake) {
			res.NextWake = e.holdUntil
		}
		if w := e.winner(); w != nil && w.site != e.site {
			res.Findings.Held = append(res.Findings.Held, Held{VM: e.uuid, Site: e.site, Actual: w.site, Until: e.holdUntil})
		}
	}
	for _, s := range p.subnets {
		if s.dirty {
			s.compute(p)
		}
	}
	res.Subnets, res.Findings.Ceilings = p.applyCeilings()
	for _, s := range res.Subnets {
		res.Findings.Conflicts = append(res.Findings.Conflicts, s.Conflicts...)
	}
	for id, addrs := range p.outside {
		for _, a := range addrs {
			res.Findings.Outside = append(res.Findings.Outside, Outside{VM: id, Addr: a})
		}
	}
	slices.SortFunc(res.Findings.Outside, func(a, b Outside) int {
		return cmp.Or(cmp.Compare(a.VM, b.VM), a.Addr.Compare(b.Addr))
	})
	slices.SortFunc(res.Findings.Held, func(a, b Held) int { return cmp.Compare(a.VM, b.VM) })
	for name, c := range p.clusters {
		if c.stale {
			res.Findings.Stale = append(res.Findings.Stale, name)
		}
		c.planned = true
	}
	slices.Sort(res.Findings.Stale)
	res.Landed = p.takeLanded(now)
	return res
}

// takeLanded returns the adapters of VMs due a burst of announcements and
// clears the set.
func (p *Planner) takeLanded(now time.Time) []Neighbor {
	var out []Neighbor
	for id, initial := range p.landed {
		delete(p.landed, id)
		e := p.vms[id]
		if e == nil || e.vm == nil || e.site != p.cfg.Site {
			continue
		}
		if initial && now.Sub(e.vm.LandedAt) > p.cfg.Guards.FreshLanding {
			continue
		}
		for _, i := range e.nets {
			out = append(out, p.subnets[i].neighbors(e)...)
		}
	}
	slices.SortFunc(out, compareNeighbors)
	return out
}

func compareNeighbors(a, b Neighbor) int {
	return cmp.Or(cmp.Compare(a.VM, b.VM), a.Subnet.Addr().Compare(b.Subnet.Addr()), slices.Compare(a.MAC[:], b.MAC[:]))
}
