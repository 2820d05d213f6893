package plan

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
)

// pinnedClaimant stands for a pinned address among a subnet's claimants;
// no VM UUID is empty.
const pinnedClaimant = ""

// subnet is the planner's running state of one configured subnet.
type subnet struct {
	cfg Subnet
	// members maps each member address to who claims it and where.
	members map[netip.Addr][]claimant
	// local are the VMs at this site with an adapter on the subnet.
	local map[string]bool
	dirty bool
	base  *SubnetResult // the last computed plan, before ceilings
}

type claimant struct {
	vm   string
	site string
}

func newSubnet(cfg Subnet) *subnet {
	return &subnet{cfg: cfg, members: map[netip.Addr][]claimant{}, local: map[string]bool{}, dirty: true}
}

func (s *subnet) add(a netip.Addr, vm, site string) {
	s.members[a] = append(s.members[a], claimant{vm: vm, site: site})
	s.dirty = true
}

func (s *subnet) remove(a netip.Addr, vm string) {
	cs := slices.DeleteFunc(s.members[a], func(c claimant) bool { return c.vm == vm })
	if len(cs) == 0 {
		delete(s.members, a)
	} else {
		s.members[a] = cs
	}
	s.dirty = true
}

func (s *subnet) setLocal(vm string, on bool) {
	if on {
		s.local[vm] = true
	} else {
		delete(s.local, vm)
	}
	s.dirty = true
}

// compute plans the subnet by rules 1 to 3 of DESIGN.md; ceilings come
// after, across subnets.
func (s *subnet) compute(p *Planner) {
	r := &SubnetResult{Prefix: s.cfg.Prefix, Home: s.cfg.Home, Members: len(s.members)}
	count := map[string]int{}
	for a, cs := range s.members {
		for i, c := range cs {
			if !slices.ContainsFunc(cs[:i], func(o claimant) bool { return o.site == c.site }) {
				count[c.site]++
			}
		}
		if len(cs) > 1 {
			r.Conflicts = append(r.Conflicts, conflict(a, cs))
		}
	}
	r.Owner = owner(s.cfg.Home, count, p.cfg.Guards.Owner)
	r.Summaries = []string{r.Owner}
	for a, cs := range s.members {
		if len(cs) != 1 || cs[0].site == r.Owner {
			continue
		}
		if r.Hosts == nil {
			r.Hosts = map[string][]netip.Prefix{}
		}
		r.Hosts[cs[0].site] = append(r.Hosts[cs[0].site], netip.PrefixFrom(a, a.BitLen()))
	}
	for _, hs := range r.Hosts {
		slices.SortFunc(hs, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	}
	slices.SortFunc(r.Conflicts, func(a, b Conflict) int { return a.Addr.Compare(b.Addr) })
	for id := range s.local {
		r.Neighbors = append(r.Neighbors, s.neighbors(p.vms[id])...)
	}
	slices.SortFunc(r.Neighbors, compareNeighbors)
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

// neighbors returns the announcement targets of e's adapters on s: those
// with an address in the subnet or on one of its networks.
func (s *subnet) neighbors(e *vmEntry) []Neighbor {
	if len(s.cfg.Gateways) == 0 {
		return nil
	}
	var out []Neighbor
	for _, nic := range e.vm.NICs {
		var addrs []netip.Addr
		for _, a := range nic.Addresses {
			if s.cfg.Prefix.Contains(a) {
				addrs = append(addrs, a)
			}
		}
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
