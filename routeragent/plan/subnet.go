package plan

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"

	"github.com/vmroute/vmroute/shared/wire"
)

// pinnedClaimant stands for a pinned address among a subnet's claimants;
// no VM UUID is empty.
const pinnedClaimant = ""

// subnet is the planner's running state of one configured subnet.
type subnet struct {
	cfg Subnet
	// members maps each member address to its first claimant; extra holds
	// the others of addresses claimed more than once.
	members map[netip.Addr]claimant
	extra   map[netip.Addr][]claimant
	// local are the VMs at this site with an adapter on the subnet, sorted
	// by UUID; added are more of them, merged in at the next compute.
	local []*vmEntry
	added []*vmEntry
	dirty bool
	base  *SubnetResult // the last computed plan, before ceilings
	// count is the members at each site (rule 2: a VM is one member
	// however many addresses it has, a pinned address is one), kept as
	// claims come and go; addrs counts each member's addresses.
	count map[string]int
	addrs map[memberKey]int
}

// memberKey is one member of a subnet: a VM at a site, or a pinned
// address (whose claimant names no VM).
type memberKey struct {
	vm, site string
	pinned   netip.Addr
}

func keyOf(a netip.Addr, c claimant) memberKey {
	k := memberKey{vm: c.vm, site: c.site}
	if c.vm == pinnedClaimant {
		k.pinned = a
	}
	return k
}

type claimant struct {
	vm   string
	site string
}

func newSubnet(cfg Subnet) *subnet {
	return &subnet{cfg: cfg, members: map[netip.Addr]claimant{}, extra: map[netip.Addr][]claimant{}, dirty: true,
		count: map[string]int{}, addrs: map[memberKey]int{}}
}

func (s *subnet) add(a netip.Addr, vm, site string) {
	c := claimant{vm: vm, site: site}
	k := keyOf(a, c)
	if s.addrs[k]++; s.addrs[k] == 1 {
		s.count[site]++
	}
	if _, taken := s.members[a]; taken {
		s.extra[a] = append(s.extra[a], c)
	} else {
		s.members[a] = c
	}
	s.dirty = true
}

func (s *subnet) remove(a netip.Addr, vm string) {
	if c, ok := s.members[a]; ok && c.vm == vm {
		s.uncount(keyOf(a, c))
	} else if i := slices.IndexFunc(s.extra[a], func(c claimant) bool { return c.vm == vm }); i >= 0 {
		s.uncount(keyOf(a, s.extra[a][i]))
	}
	extra := slices.DeleteFunc(s.extra[a], func(c claimant) bool { return c.vm == vm })
	if s.members[a].vm == vm {
		if len(extra) == 0 {
			delete(s.members, a)
		} else {
			s.members[a], extra = extra[0], extra[1:]
		}
	}
	if len(extra) == 0 {
		delete(s.extra, a)
	} else {
		s.extra[a] = extra
	}
	s.dirty = true
}

// uncount takes one address of member k out of the counts.
func (s *subnet) uncount(k memberKey) {
	if s.addrs[k]--; s.addrs[k] > 0 {
		return
	}
	delete(s.addrs, k)
	if s.count[k.site]--; s.count[k.site] <= 0 {
		delete(s.count, k.site)
	}
}

func (s *subnet) setLocal(e *vmEntry, on bool) {
	s.dirty = true
	if on {
		s.added = append(s.added, e)
		return
	}
	if i, found := slices.BinarySearchFunc(s.local, e.uuid, byUUID); found && s.local[i] == e {
		s.local = slices.Delete(s.local, i, i+1)
		return
	}
	s.added = slices.DeleteFunc(s.added, func(o *vmEntry) bool { return o == e })
}

func byUUID(e *vmEntry, id string) int { return cmp.Compare(e.uuid, id) }

// mergeLocal moves added into local: one by one when they are few, by
// sorting when many VMs arrived at once.
func (s *subnet) mergeLocal() {
	if len(s.added) > 16 {
		s.local = append(s.local, s.added...)
		slices.SortFunc(s.local, func(a, b *vmEntry) int { return cmp.Compare(a.uuid, b.uuid) })
	} else {
		for _, e := range s.added {
			i, _ := slices.BinarySearchFunc(s.local, e.uuid, byUUID)
			s.local = slices.Insert(s.local, i, e)
		}
	}
	clear(s.added)
	s.added = s.added[:0]
}

// compute plans the subnet by rules 1 to 3 of DESIGN.md; ceilings come
// after, across subnets.
func (s *subnet) compute(p *Planner) {
	r := &SubnetResult{Prefix: s.cfg.Prefix, Home: s.cfg.Home, Members: len(s.members)}
	for a, extra := range s.extra {
		r.Conflicts = append(r.Conflicts, conflict(a, append([]claimant{s.members[a]}, extra...)))
	}
	r.Owner = p.ownerOf(s.cfg.Home, s.count, "")
	r.Summaries = []string{r.Owner}
	for a, c := range s.members {
		if c.site == r.Owner || len(s.extra[a]) > 0 {
			continue
		}
		if r.Hosts == nil {
			r.Hosts = map[string][]netip.Prefix{}
		}
		r.Hosts[c.site] = append(r.Hosts[c.site], netip.PrefixFrom(a, a.BitLen()))
	}
	for _, hs := range r.Hosts {
		slices.SortFunc(hs, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	}
	slices.SortFunc(r.Conflicts, func(a, b Conflict) int { return a.Addr.Compare(b.Addr) })
	s.mergeLocal()
	if len(s.cfg.Gateways) > 0 {
		for _, e := range s.local {
			r.Neighbors = s.appendNeighbors(r.Neighbors, e)
		}
	}
	s.base, s.dirty = r, false
}

// owner applies rule 2 to the number of members each site holds.
func owner(home string, count map[string]int, policy OwnerPolicy) string {
	if len(count) == 1 {
		for site := range count {
			return site
		}
	}
	if policy != OwnerMajority {
		return home
	}
	best := home
	for site, n := range count {
		if n > count[best] || n == count[best] && best != home && site < best {
			best = site
		}
	}
	return best
}

func conflict(a netip.Addr, cs []claimant) Conflict {
	c := Conflict{Addr: a}
	for _, cl := range cs {
		c.VMs = append(c.VMs, cmp.Or(cl.vm, "pinned"))
	}
	slices.Sort(c.VMs)
	return c
}

// carries says whether the subnet counts addresses of the adapter: any
// adapter when the subnet lists no networks, else those on one of them.
func (s *subnet) carries(nic wire.NIC) bool {
	return len(s.cfg.Networks) == 0 || slices.Contains(s.cfg.Networks, nic.Network)
}

// appendNeighbors appends the announcement targets of e's adapters on s:
// those with an address in the subnet or on one of its networks.
func (s *subnet) appendNeighbors(out []Neighbor, e *vmEntry) []Neighbor {
	for _, nic := range e.vm.NICs {
		if !s.carries(nic) {
			continue
		}
		addrs := s.inside(nic.Addresses)
		if len(addrs) == 0 && (nic.Network == "" || !slices.Contains(s.cfg.Networks, nic.Network)) {
			continue
		}
		out = append(out, Neighbor{
			VM:        e.uuid,
			Name:      e.vm.Name,
			Subnet:    s.cfg.Prefix,
			Interface: s.cfg.Interface,
			MAC:       nic.MAC,
			Addrs:     addrs,
			Gateways:  s.cfg.Gateways,
			LandedAt:  e.vm.LandedAt,
		})
	}
	return out
}

// inside returns the addresses of as in the subnet, sharing as when all
// of them are.
func (s *subnet) inside(as []netip.Addr) []netip.Addr {
	n := 0
	for _, a := range as {
		if s.cfg.Prefix.Contains(a) {
			n++
		}
	}
	if n == len(as) {
		return as
	}
	out := make([]netip.Addr, 0, n)
	for _, a := range as {
		if s.cfg.Prefix.Contains(a) {
			out = append(out, a)
		}
	}
	return out
}

// applyCeilings applies rule 4: a site over the subnet's host-route
// ceiling announces the subnet instead; a site over the total ceiling
// summarises its subnets with the most host routes first until it is
// under. It returns the final subnet plans and the ceilings hit.
func (p *Planner) applyCeilings() ([]*SubnetResult, []Ceiling) {
	summarize := make([][]string, len(p.subnets))
	var hit []Ceiling
	totals := map[string]int{}
	for i, s := range p.subnets {
		limit := cmp.Or(s.cfg.HostRouteCeiling, p.cfg.Guards.HostRouteCeiling)
		for site, hs := range s.base.Hosts {
			if limit > 0 && len(hs) > limit {
				summarize[i] = append(summarize[i], site)
				hit = append(hit, Ceiling{Site: site, Subnet: s.cfg.Prefix, HostRoutes: len(hs)})
			} else {
				totals[site] += len(hs)
			}
		}
	}
	if limit := p.cfg.Guards.TotalHostRouteCeiling; limit > 0 {
		for _, site := range slices.Sorted(maps.Keys(totals)) {
			for n := totals[site]; n > limit; {
				best, most := -1, 0
				for i, s := range p.subnets {
					if k := len(s.base.Hosts[site]); k > most && !slices.Contains(summarize[i], site) {
						best, most = i, k
					}
				}
				summarize[best] = append(summarize[best], site)
				hit = append(hit, Ceiling{Site: site, Subnet: p.subnets[best].cfg.Prefix, HostRoutes: most, Total: true})
				n -= most
			}
		}
	}
	out := make([]*SubnetResult, len(p.subnets))
	for i, s := range p.subnets {
		if len(summarize[i]) == 0 {
			out[i] = s.base
			continue
		}
		r := *s.base
		r.Hosts = maps.Clone(r.Hosts)
		for _, site := range summarize[i] {
			delete(r.Hosts, site)
		}
		r.Summaries = append(slices.Clone(r.Summaries), summarize[i]...)
		slices.Sort(r.Summaries)
		r.Summaries = slices.Compact(r.Summaries)
		out[i] = &r
	}
	slices.SortFunc(hit, func(a, b Ceiling) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), a.Subnet.Addr().Compare(b.Subnet.Addr()))
	})
	return out, hit
}
