package plan

import (
	"cmp"
	"fmt"
	"maps"
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
	lengths4 []int                // distinct IPv4 prefix lengths (subnets never overlap: one matches at most)
	lengths6 []int

	clusters map[string]*cluster
	vms      map[string]*vmEntry
	// aliases are the instance UUIDs, other than its own, under which
	// clusters claim an entry: a VM whose instance UUID a cross-vCenter
	// vMotion changed. twins finds those entries by BIOS UUID.
	aliases map[string]*vmEntry
	twins   map[string][]*vmEntry
	outside map[string][]netip.Addr // VM -> addresses inside no subnet
	offNet  map[string][]OffNetwork // VM -> addresses on an adapter outside their subnet's networks
	infra   map[string][]Infrastructure
	landed  []*vmEntry // VMs that landed here since the last plan

	// Rule 6: the other sites' liveness; the sites lost, each subnet's
	// owner and announcing sites at the last plan; the subnets this site
	// takes over.
	live      Liveness
	lost      map[string]bool // the sites lost at the last plan
	owners    []string
	sums      [][]string
	takeovers map[int]*takeover // by subnet: from the previous owner
	beats     map[int]*takeover // by subnet: over a lost site's summary
	held      map[*vmEntry]bool // VMs the flap guard holds
	// entries are allocated in chunks: a full report of thousands of VMs
	// then costs a few allocations, not thousands.
	entries []vmEntry
}

type cluster struct {
	name    string
	stale   bool
	planned bool // a plan was made since the cluster's first report
	gone    Tombstones
}

// claim is one cluster's report of a VM, at the site the VM carries: a
// stretched cluster claims its VMs at either of its sites.
type claim struct {
	c  *cluster
	vm *wire.VM
}

// Landing states of a vmEntry.
const (
	notLanded     = iota
	landed        // landed here since the last plan
	landedInitial // the same, learnt from a cluster's first report
)

// A vmEntry is one VM, by its instance UUID. It is the instance UUID of
// one of its claims; other claims may carry another (aliases).
type vmEntry struct {
	uuid   string
	claims []claim

	// The effective placement: where the plan puts the VM, nil if absent.
	site     string
	vm       *wire.VM
	members  []member
	nets     []int // subnets with one of the VM's adapters
	lastSite string
	landing  uint8
	flap     *flapState // nil until the VM moves between sites

	memBuf   [1]member
	netBuf   [1]int
	claimBuf [2]claim
}

type flapState struct {
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
		aliases:  map[string]*vmEntry{},
		twins:    map[string][]*vmEntry{},
		outside:  map[string][]netip.Addr{},
		offNet:   map[string][]OffNetwork{},
		infra:    map[string][]Infrastructure{},
		held:     map[*vmEntry]bool{},

		owners:    make([]string, len(cfg.Subnets)),
		sums:      make([][]string, len(cfg.Subnets)),
		takeovers: map[int]*takeover{},
		beats:     map[int]*takeover{},
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
// VMs it no longer lists are withdrawn from it. Each VM is claimed at the
// site it carries. restored, when not nil, are the cluster's tombstones as
// its state file kept them (a routeragent that starts, or reloads); the
// planner keeps its own copy. The planner keeps the VM values; the caller
// must not modify them afterwards.
func (p *Planner) SetCluster(name string, vms []wire.VM, restored Tombstones) {
	c := p.clusters[name]
	if c == nil {
		c = &cluster{name: name, gone: Tombstones{}}
		p.clusters[name] = c
	}
	if len(p.vms) == 0 {
		p.vms = make(map[string]*vmEntry, len(vms))
	}
	keep := make(map[string]bool, len(vms))
	for i := range vms {
		keep[vms[i].UUID] = true
	}
	p.withdrawAll(c, keep, true)
	for i := range vms {
		p.put(c, &vms[i])
	}
	if restored != nil {
		old := c.gone
		c.gone = maps.Clone(restored)
		for id := range old {
			p.replace(id)
		}
		for id := range restored {
			p.replace(id)
		}
	}
	p.trim(c)
}

// ApplyDelta applies a delta to a cluster known from an earlier full
// report: vms are new or changed, removed left the cluster. The planner
// keeps the VM values.
func (p *Planner) ApplyDelta(name string, vms []wire.VM, removed []string) error {
	c := p.clusters[name]
	if c == nil {
		return fmt.Errorf("cluster %q: delta without a full report first", name)
	}
	for _, id := range removed {
		if e := p.entry(id); e != nil && e.claimOf(c) != nil && e.claimOf(c).vm.UUID == id {
			p.withdraw(c, e, true)
		}
	}
	for i := range vms {
		p.put(c, &vms[i])
	}
	p.trim(c)
	return nil
}

// trim bounds a cluster's tombstones, as the intake does, and places the
// VMs whose tombstone went again.
func (p *Planner) trim(c *cluster) {
	for _, id := range c.gone.Trim(MaxTombstones) {
		p.replace(id)
	}
}

// replace places a VM again, if any cluster claims it.
func (p *Planner) replace(id string) {
	if e := p.entry(id); e != nil {
		p.place(e, false)
	}
}

// entry returns the entry a cluster's claim under instance UUID id is
// part of, or nil.
func (p *Planner) entry(id string) *vmEntry {
	if e := p.vms[id]; e != nil {
		return e
	}
	return p.aliases[id]
}

// goneOf returns the latest tombstone of any cluster on a VM, under any
// of the instance UUIDs it is claimed by.
func (p *Planner) goneOf(e *vmEntry) time.Time {
	var t time.Time
	for _, c := range p.clusters {
		for i := range e.claims {
			if g := c.gone[e.claims[i].vm.UUID]; g.After(t) {
				t = g
			}
		}
	}
	return t
}

// RemoveCluster forgets a cluster, as when it is no longer configured:
// its claims and its tombstones.
func (p *Planner) RemoveCluster(name string) {
	c := p.clusters[name]
	if c == nil {
		return
	}
	p.withdrawAll(c, nil, false)
	delete(p.clusters, name)
	for id := range c.gone {
		p.replace(id)
	}
}

// SetStale marks a cluster's report as past its lease. Staleness alone
// changes no route: it only decides conflicts between claims (a stale
// cluster's claim gives way to a tombstone, and to a live cluster that
// reports the VM present), and it is reported.
func (p *Planner) SetStale(name string, stale bool) {
	c := p.clusters[name]
	if c == nil || c.stale == stale {
		return
	}
	c.stale = stale
	for _, e := range p.vms {
		if e.claimOf(c) != nil {
			p.place(e, false)
		}
	}
}

func (p *Planner) put(c *cluster, vm *wire.VM) {
	e := p.entry(vm.UUID)
	var split *wire.VM
	if e != nil {
		if cl := e.claimOf(c); cl != nil && cl.vm.UUID != vm.UUID {
			// c claims e as the twin of this VM, which c now reports
			// too: the twin becomes a VM of its own.
			split = cl.vm
			p.withdraw(c, e, false)
			e = p.entry(vm.UUID)
		}
	}
	if e == nil {
		if e = p.twinOf(c, vm); e != nil {
			p.aliases[vm.UUID] = e
		}
	}
	if e == nil {
		e = p.newEntry(vm.UUID)
	}
	if cl := e.claimOf(c); cl != nil {
		old := cl.vm
		cl.vm = vm
		p.unindex(e, old)
	} else {
		e.claims = append(e.claims, claim{c: c, vm: vm})
	}
	if vm.BIOSUUID != "" && !slices.Contains(p.twins[vm.BIOSUUID], e) {
		p.twins[vm.BIOSUUID] = append(p.twins[vm.BIOSUUID], e)
	}
	c.gone.Claimed(vm.UUID)
	p.place(e, !c.planned)
	if split != nil {
		p.put(c, split)
	}
}

// twinOf returns the entry that vm, new to the planner under its instance
// UUID, is the same VM as: one another cluster claims with the same BIOS
// UUID and the same set of MACs. That is a cross-vCenter vMotion that
// changed the instance UUID, and the two claims are one VM's. Two such
// VMs in one cluster are two VMs.
func (p *Planner) twinOf(c *cluster, vm *wire.VM) *vmEntry {
	if vm.BIOSUUID == "" || len(vm.NICs) == 0 {
		return nil
	}
	for _, e := range p.twins[vm.BIOSUUID] {
		if e.claimOf(c) != nil {
			continue
		}
		for i := range e.claims {
			if sameHardware(e.claims[i].vm, vm) {
				return e
			}
		}
	}
	return nil
}

// sameHardware says whether two VMs have the same BIOS UUID and the same
// set of MACs.
func sameHardware(a, b *wire.VM) bool {
	if a.BIOSUUID != b.BIOSUUID || len(a.NICs) != len(b.NICs) {
		return false
	}
	for _, n := range b.NICs {
		if !slices.ContainsFunc(a.NICs, func(m wire.NIC) bool { return m.MAC == n.MAC }) {
			return false
		}
	}
	return true
}

// unindex drops e from the twins of the BIOS UUID that vm, one of its
// claims' VMs until now, had, unless another claim still has it.
func (p *Planner) unindex(e *vmEntry, vm *wire.VM) {
	if vm.BIOSUUID == "" || slices.ContainsFunc(e.claims, func(cl claim) bool { return cl.vm.BIOSUUID == vm.BIOSUUID }) {
		return
	}
	p.twins[vm.BIOSUUID] = slices.DeleteFunc(p.twins[vm.BIOSUUID], func(o *vmEntry) bool { return o == e })
	if len(p.twins[vm.BIOSUUID]) == 0 {
		delete(p.twins, vm.BIOSUUID)
	}
}

func (e *vmEntry) claimOf(c *cluster) *claim {
	for i := range e.claims {
		if e.claims[i].c == c {
			return &e.claims[i]
		}
	}
	return nil
}

func (p *Planner) newEntry(id string) *vmEntry {
	if len(p.entries) == 0 {
		p.entries = make([]vmEntry, 512)
	}
	e := &p.entries[0]
	p.entries = p.entries[1:]
	e.uuid = id
	e.claims, e.members, e.nets = e.claimBuf[:0], e.memBuf[:0], e.netBuf[:0]
	p.vms[id] = e
	return e
}

// withdrawAll withdraws c's claims on every VM not in keep, by the
// instance UUIDs c claims them under.
func (p *Planner) withdrawAll(c *cluster, keep map[string]bool, left bool) {
	for _, e := range p.vms {
		if cl := e.claimOf(c); cl != nil && !keep[cl.vm.UUID] {
			p.withdraw(c, e, left)
		}
	}
}

// withdraw removes c's claim on e, if it has one. left says the cluster
// reported the VM gone (it left or was deleted), which leaves a tombstone;
// a cluster that is no longer configured says nothing of its VMs.
func (p *Planner) withdraw(c *cluster, e *vmEntry, left bool) {
	cl := e.claimOf(c)
	if cl == nil {
		return
	}
	vm := cl.vm
	if left {
		c.gone.Withdrawn(vm.UUID, vm.LandedAt)
	}
	e.claims = slices.DeleteFunc(e.claims, func(cl claim) bool { return cl.c == c })
	p.unindex(e, vm)
	if !slices.ContainsFunc(e.claims, func(cl claim) bool { return cl.vm.UUID == vm.UUID }) {
		if vm.UUID != e.uuid && p.aliases[vm.UUID] == e {
			delete(p.aliases, vm.UUID)
		} else if len(e.claims) > 0 {
			p.rekey(e, e.claims[0].vm.UUID)
		}
	}
	p.place(e, false)
	if len(e.claims) == 0 {
		delete(p.vms, e.uuid)
	}
}

// rekey names e by id, the instance UUID of a claim it keeps, when the
// claims under its own went: the plan names a VM as a cluster reports it.
func (p *Planner) rekey(e *vmEntry, id string) {
	p.unregister(e)
	delete(p.vms, e.uuid)
	delete(p.aliases, id)
	e.uuid = id
	p.vms[id] = e
	p.register(e)
}

// winner returns the claim that places the VM. A live cluster that
// reports the VM present is positive evidence that nothing overrules: the
// best of those claims wins. Otherwise the best claim wins, leaving out
// the claims of stale clusters that a tombstone voids: those that landed
// before it by more than the clock skew allowed between vCenters. An
// unknown landing is never voided.
func (p *Planner) winner(e *vmEntry) *claim {
	var w *claim
	for i := range e.claims {
		if c := &e.claims[i]; !c.c.stale && c.vm.Present() {
			w = better(w, c)
		}
	}
	if w != nil {
		return w
	}
	void := time.Time{}
	if gone := p.goneOf(e); !gone.IsZero() {
		void = gone.Add(-p.cfg.ClockSkew)
	}
	for i := range e.claims {
		c := &e.claims[i]
		if c.c.stale && !c.vm.LandedAt.IsZero() && c.vm.LandedAt.Before(void) {
			continue
		}
		w = better(w, c)
	}
	return w
}

// better returns the better of two claims: a known landing beats an
// unknown one, then the later landing, then the greater (site, cluster),
// so that every routeragent picks the same.
func better(w, c *claim) *claim {
	if w == nil {
		return c
	}
	wt, ct := w.vm.LandedAt, c.vm.LandedAt
	if wt.IsZero() != ct.IsZero() {
		if ct.IsZero() {
			return w
		}
		return c
	}
	if !wt.Equal(ct) {
		if ct.After(wt) {
			return c
		}
		return w
	}
	if cmp.Or(cmp.Compare(c.vm.Site, w.vm.Site), cmp.Compare(c.c.name, w.c.name)) > 0 {
		return c
	}
	return w
}

// place recomputes where e is and updates the subnets it touches.
func (p *Planner) place(e *vmEntry, initial bool) {
	site, vm := "", (*wire.VM)(nil)
	if w := p.winner(e); w != nil && w.vm.Present() {
		site, vm = w.vm.Site, w.vm
	}
	if vm != nil && site != e.lastSite {
		if e.lastSite != "" && !vm.LandedAt.IsZero() {
			p.noteMove(e, vm.LandedAt)
		}
		e.lastSite = site
	}
	if vm == nil {
		p.release(e)
	} else if e.flap != nil && e.flap.holdSite != "" {
		site = e.flap.holdSite
	}
	// A landing of unknown time is no landing to announce: a hostagent
	// that lost its landings reports every VM so.
	if site == p.cfg.Site && vm != nil && !vm.LandedAt.IsZero() && (e.site != site || e.vm == nil || !e.vm.LandedAt.Equal(vm.LandedAt)) {
		if e.landing == notLanded {
			p.landed = append(p.landed, e)
		}
		e.landing = landed
		if initial {
			e.landing = landedInitial
		}
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
	if e.flap == nil {
		e.flap = &flapState{}
	}
	f := e.flap
	f.moves = append(f.moves, at)
	if len(f.moves) > g.FlapMoves {
		f.moves = f.moves[len(f.moves)-g.FlapMoves:]
	}
	if len(f.moves) == g.FlapMoves && at.Sub(f.moves[0]) <= g.FlapWindow && e.site != "" {
		if f.holdSite == "" {
			f.holdSite = e.site
			p.held[e] = true
		}
		f.holdUntil = at.Add(g.FlapWindow)
	}
}

func (p *Planner) release(e *vmEntry) {
	if e.flap != nil {
		e.flap.holdSite = ""
	}
	delete(p.held, e)
}

func (p *Planner) unregister(e *vmEntry) {
	for _, m := range e.members {
		p.subnets[m.subnet].remove(m.addr, e.uuid)
	}
	for _, i := range e.nets {
		p.subnets[i].setLocal(e, false)
	}
	e.members, e.nets = e.members[:0], e.nets[:0]
	delete(p.outside, e.uuid)
	delete(p.offNet, e.uuid)
	delete(p.infra, e.uuid)
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
			if what := p.reserved(i, a); what != "" {
				p.infra[e.uuid] = append(p.infra[e.uuid], Infrastructure{VM: e.uuid, Addr: a, What: what})
				continue
			}
			if !p.subnets[i].carries(nic) {
				p.offNet[e.uuid] = append(p.offNet[e.uuid], OffNetwork{VM: e.uuid, Addr: a, Network: nic.Network})
				continue
			}
			if slices.Contains(e.members, member{i, a}) {
				continue
			}
			e.members = append(e.members, member{i, a})
			p.subnets[i].add(a, e.uuid, e.site)
			e.nets = appendUnique(e.nets, i)
		}
		if nic.Network == "" {
			continue
		}
		for i, s := range p.subnets {
			if slices.Contains(s.cfg.Networks, nic.Network) {
				e.nets = appendUnique(e.nets, i)
			}
		}
	}
	if len(outside) > 0 {
		p.outside[e.uuid] = outside
	}
	if e.site == p.cfg.Site {
		for _, i := range e.nets {
			p.subnets[i].setLocal(e, true)
		}
	}
}

// reserved says what network address a is in subnet i, or "".
func (p *Planner) reserved(i int, a netip.Addr) string {
	s := p.subnets[i].cfg
	if a == s.Prefix.Addr() && s.Prefix.Bits() < a.BitLen()-1 {
		return "network address"
	}
	if a.Is4() && s.Prefix.Bits() < 31 && a == lastAddr(s.Prefix) {
		return "broadcast address"
	}
	if slices.Contains(s.Gateways, a) {
		return "gateway"
	}
	if slices.Contains(s.Reserved, a) {
		return "reserved"
	}
	if slices.Contains(p.cfg.Reserved, a) {
		return "this router's"
	}
	if subnetAnycast(s.Prefix, a) {
		return "subnet anycast address"
	}
	return ""
}

// subnetAnycast says whether a is one of the reserved subnet anycast
// addresses of an IPv6 prefix (RFC 2526): the top 128 interface IDs, in
// the EUI-64 form with the universal/local bit clear (fdff:ffff:ffff:ff80
// to ff) on a /64, and the last 128 addresses of any prefix of 121 bits
// or fewer.
func subnetAnycast(p netip.Prefix, a netip.Addr) bool {
	if !a.Is6() || p.Bits() > 121 {
		return false
	}
	b := a.As16()
	if b[15] < 0x80 {
		return false
	}
	if p.Bits() == 64 && b[8] == 0xfd && b[9] == 0xff && b[10] == 0xff && b[11] == 0xff && b[12] == 0xff && b[13] == 0xff && b[14] == 0xff {
		return true
	}
	return a == lastAddr(p) || netip.PrefixFrom(lastAddr(p), 121).Masked().Contains(a)
}

// SetReserved replaces this router's own addresses (Config.Reserved), as
// they come and go on its interfaces: the VMs that claim one that changed
// are placed again, and get a route or lose it.
func (p *Planner) SetReserved(addrs []netip.Addr) {
	if slices.Equal(addrs, p.cfg.Reserved) {
		return
	}
	changed := map[netip.Addr]bool{}
	for _, a := range addrs {
		changed[a] = !changed[a]
	}
	for _, a := range p.cfg.Reserved {
		changed[a] = !changed[a]
	}
	p.cfg.Reserved = slices.Clone(addrs)
	for _, e := range p.vms {
		if e.vm == nil || !slices.ContainsFunc(e.vm.NICs, func(n wire.NIC) bool {
			return slices.ContainsFunc(n.Addresses, func(a netip.Addr) bool { return changed[a] })
		}) {
			continue
		}
		p.unregister(e)
		p.register(e)
	}
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		if bit := i * 8; bit >= p.Bits() {
			b[i] = 0xff
		} else if bit+8 > p.Bits() {
			b[i] |= 0xff >> (p.Bits() - bit)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
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
	for e := range p.held {
		if !now.Before(e.flap.holdUntil) {
			p.release(e)
			p.place(e, false)
			continue
		}
		if res.NextWake.IsZero() || e.flap.holdUntil.Before(res.NextWake) {
			res.NextWake = e.flap.holdUntil
		}
		if w := p.winner(e); w != nil && w.vm.Site != e.site {
			res.Findings.Held = append(res.Findings.Held, Held{VM: e.uuid, Site: e.site, Actual: w.vm.Site, Until: e.flap.holdUntil})
		}
	}
	for _, s := range p.subnets {
		if s.dirty {
			s.compute(p)
		}
	}
	res.Subnets, res.Findings.Ceilings = p.applyCeilings()
	adopted, w := p.makeBeforeBreak(res.Subnets, now)
	if !w.IsZero() && (res.NextWake.IsZero() || w.Before(res.NextWake)) {
		res.NextWake = w
	}
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
	for _, in := range p.infra {
		res.Findings.Infrastructure = append(res.Findings.Infrastructure, in...)
	}
	slices.SortFunc(res.Findings.Infrastructure, func(a, b Infrastructure) int {
		return cmp.Or(cmp.Compare(a.VM, b.VM), a.Addr.Compare(b.Addr))
	})
	for _, o := range p.offNet {
		res.Findings.OffNetwork = append(res.Findings.OffNetwork, o...)
	}
	slices.SortFunc(res.Findings.OffNetwork, func(a, b OffNetwork) int {
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
	res.Landed = append(p.takeLanded(res.Subnets, now), adopted...)
	return res
}

// takeLanded returns the adapters of VMs due a burst of announcements,
// subnet by subnet, and clears the landings.
func (p *Planner) takeLanded(subnets []*SubnetResult, now time.Time) []*Neighbor {
	if len(p.landed) == 0 {
		return nil
	}
	due := make([]bool, len(subnets))
	anyDue, size := false, 0
	for _, e := range p.landed {
		if e.vm == nil || e.site != p.cfg.Site || p.vms[e.uuid] != e ||
			e.landing == landedInitial && now.Sub(e.vm.LandedAt) > p.cfg.Guards.FreshLanding {
			e.landing = notLanded
			continue
		}
		for _, i := range e.nets {
			if !due[i] {
				size += len(subnets[i].Neighbors)
			}
			due[i], anyDue = true, true
		}
	}
	var out []*Neighbor
	if anyDue {
		out = make([]*Neighbor, 0, size)
	}
	for i, s := range subnets {
		if !due[i] {
			continue
		}
		for j := range s.Neighbors {
			if e := p.vms[s.Neighbors[j].VM]; e != nil && e.landing != notLanded {
				out = append(out, &s.Neighbors[j])
			}
		}
	}
	for _, e := range p.landed {
		e.landing = notLanded
	}
	p.landed = p.landed[:0]
	return out
}

// Location is where the planner puts one VM, for status.
type Location struct {
	VM      string `json:"vm"`
	Name    string `json:"name"`
	Site    string `json:"site"`
	Cluster string `json:"cluster"`
	Present bool   `json:"present"`
	Held    bool   `json:"held,omitempty"`
	// Voided says every claim is void: a VM whose stale claims a later
	// withdrawal elsewhere overruled. It is listed, not placed.
	Voided   bool       `json:"voided,omitempty"`
	LandedAt time.Time  `json:"landed_at"`
	NICs     []wire.NIC `json:"nics"`
	// Claims is how many clusters report the VM (two during a move).
	Claims int `json:"claims"`
	// SiteLost says the VM's site is lost (rule 6): it is listed where it
	// was last known.
	SiteLost bool `json:"site_lost,omitempty"`
}

// Locations returns the location table: every VM some cluster reports,
// where the plan puts it (or, for a voided VM, its best claim), sorted by
// name and UUID.
func (p *Planner) Locations() []Location {
	out := make([]Location, 0, len(p.vms))
	for _, e := range p.vms {
		w := p.winner(e)
		if w == nil {
			w = &e.claims[0]
			for i := range e.claims {
				w = better(w, &e.claims[i])
			}
			out = append(out, Location{VM: e.uuid, Name: w.vm.Name, Site: w.vm.Site, Cluster: w.c.name, LandedAt: w.vm.LandedAt,
				NICs: w.vm.NICs, Claims: len(e.claims), Voided: true})
			continue
		}
		l := Location{VM: e.uuid, Name: w.vm.Name, Site: w.vm.Site, Cluster: w.c.name, LandedAt: w.vm.LandedAt,
			NICs: w.vm.NICs, Claims: len(e.claims)}
		if e.vm != nil {
			l.Present, l.Site = true, e.site
			l.Held = e.flap != nil && e.flap.holdSite != ""
		}
		l.SiteLost = !p.live.Sites[l.Site].Lost.IsZero()
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Location) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.VM, b.VM)) })
	return out
}
