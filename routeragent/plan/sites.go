package plan

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// Liveness is what this routeragent knows of the other sites, as its
// liveness checks find them (DESIGN.md rule 6). The planner takes it as
// input; the zero value knows nothing and changes nothing.
type Liveness struct {
	// Sites are the other sites by name.
	Sites map[string]SiteState
	// Linger is how long another site's routes may still win at the WAN
	// after it was last heard: the BGP hold time plus the graceful
	// restart time.
	Linger time.Duration
	// AllLLGR says every established BGP session of this site negotiated
	// long-lived graceful restart: a silent site's routes turn
	// LLGR_STALE, the least preferred, once its graceful restart time has
	// passed.
	AllLLGR bool
	// Current says this routeragent's reports are current: every cluster
	// reported since it started, or has not for a lease since. Until then
	// it takes no subnet that its rules give to another site while it
	// returns, when that site announces it (a site that comes back).
	Current bool
}

// SiteState is one other site as the liveness checks see it.
type SiteState struct {
	// Lost is when the site failed both paths for site_loss_after; zero
	// unless it is lost.
	Lost time.Time
	// Returning says the site came back from lost but its reports are not
	// current yet: it owns nothing until they are.
	Returning bool
	// Silent says its routeragent does not answer over the API now.
	Silent bool
	// Heard is when its routeragent last answered; Summaries are the
	// subnets it said it announces then.
	Heard     time.Time
	Summaries []netip.Prefix
}

// excluded says the site may own no subnet.
func (s SiteState) excluded() bool { return !s.Lost.IsZero() || s.Returning }

// Takeover is a subnet this site took over from another and announces
// make-before-break: with the host routes of the members it holds, and,
// when the previous owner is lost or silent towards a neighbor without
// long-lived graceful restart, the subnet's two halves.
type Takeover struct {
	From  string    `json:"from"`
	Since time.Time `json:"since"`
	// Until is when it ends unless the previous owner is heard to have
	// withdrawn the subnet first: when its routes can no longer be live or
	// stale at the WAN.
	Until  time.Time `json:"until"`
	Halves bool      `json:"halves,omitempty"`
}

type takeover struct {
	from  string
	since time.Time
}

// SetLiveness takes what the liveness checks found now. Subnets are
// planned again when a site is lost, returns or becomes current.
func (p *Planner) SetLiveness(l Liveness) {
	changed := !maps.Equal(excludedSites(l), excludedSites(p.live))
	p.live = l
	p.live.Sites = maps.Clone(l.Sites)
	if changed {
		for _, s := range p.subnets {
			s.dirty = true
		}
	}
}

// Follow is what a planner follows from plan to plan, by subnet: each
// subnet's owner and announcing sites at the last plan, the takeovers
// under way, and the sites lost. It is saved beside the reports, so that
// a routeragent that restarts goes on where it was (a takeover under way
// keeps its host routes and halves until it would have ended) and plans
// what one that did not restart plans; a reload carries it likewise.
type Follow struct {
	Subnets map[netip.Prefix]FollowSubnet `json:"subnets,omitempty"`
	Lost    []string                      `json:"lost,omitempty"`
}

// FollowSubnet is one subnet's part of Follow.
type FollowSubnet struct {
	Owner     string    `json:"owner,omitempty"`
	Summaries []string  `json:"summaries,omitempty"`
	Takeover  *Underway `json:"takeover,omitempty"`
	Beat      *Underway `json:"beat,omitempty"`
}

// Underway is a takeover from a site, or a beat over a lost site's
// summary, begun at Since (this router's clock).
type Underway struct {
	From  string    `json:"from"`
	Since time.Time `json:"since"`
}

// Follow returns what the planner follows now.
func (p *Planner) Follow() Follow {
	f := Follow{Subnets: map[netip.Prefix]FollowSubnet{}, Lost: slices.Sorted(maps.Keys(p.lost))}
	for i, s := range p.subnets {
		fs := FollowSubnet{Owner: p.owners[i], Summaries: p.sums[i]}
		if t := p.takeovers[i]; t != nil {
			fs.Takeover = &Underway{From: t.from, Since: t.since}
		}
		if b := p.beats[i]; b != nil {
			fs.Beat = &Underway{From: b.from, Since: b.since}
		}
		f.Subnets[s.cfg.Prefix] = fs
	}
	return f
}

// Resume goes on from f, what a planner followed before a restart or a
// reload, for each subnet still configured (by prefix). Times after
// latest (a saved clock that ran ahead) count as latest.
func (p *Planner) Resume(f Follow, latest time.Time) {
	underway := func(u *Underway) *takeover {
		if u == nil {
			return nil
		}
		return &takeover{from: u.From, since: minTime(u.Since, latest)}
	}
	for i, s := range p.subnets {
		fs, ok := f.Subnets[s.cfg.Prefix]
		if !ok {
			continue
		}
		p.owners[i], p.sums[i] = fs.Owner, fs.Summaries
		if t := underway(fs.Takeover); t != nil {
			p.takeovers[i] = t
		}
		if b := underway(fs.Beat); b != nil {
			p.beats[i] = b
		}
	}
	p.lost = map[string]bool{}
	for _, name := range f.Lost {
		p.lost[name] = true
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// excludedSites returns the sites that may own nothing.
func excludedSites(l Liveness) map[string]bool {
	out := map[string]bool{}
	for name, st := range l.Sites {
		if st.excluded() {
			out[name] = true
		}
	}
	return out
}

// ownerOf applies rule 2 over the sites that are not lost: a lost site
// owns nothing, and a subnet whose home is lost goes to the survivor that
// holds the most members, ties and a subnet without members to the first
// survivor by name. A site named as without owns nothing either, as when
// it returns from lost: "" when no site is left.
func (p *Planner) ownerOf(home string, count map[string]int, without string) string {
	out := func(s string) bool { return s == without || p.live.Sites[s].excluded() }
	live := map[string]int{}
	for s, n := range count {
		if !out(s) {
			live[s] = n
		}
	}
	if !out(home) {
		return owner(home, live, p.cfg.Guards.Owner)
	}
	if len(live) == 0 {
		return p.firstSurvivor(out)
	}
	return owner(home, live, OwnerMajority)
}

// firstSurvivor is the first site by name that is not out, or "".
func (p *Planner) firstSurvivor(out func(string) bool) string {
	var sites []string
	for _, name := range append(slices.Collect(maps.Keys(p.live.Sites)), p.cfg.Site) {
		if !out(name) {
			sites = append(sites, name)
		}
	}
	if len(sites) == 0 {
		return ""
	}
	return slices.Min(sites)
}

// makeBeforeBreak follows each subnet's owner and announcers from plan
// to plan. A subnet this site takes over keeps the host routes of the
// members it holds until the previous owner is heard to have withdrawn
// it, or its routes can no longer win at the WAN; the two halves come
// too while a site that announced the subnet is lost, or the previous
// owner is silent towards a neighbor without long-lived graceful
// restart; and the VMs last known at the lost site are this site's to
// announce the gateway to, with a burst (adopted) when the loss is new:
// vSphere HA may have restarted them at this site without a report, when
// vCenter was lost with the site. A site whose reports are not current
// defers a subnet it would announce to a site that announces it. It
// returns when the plan changes by time alone, or zero.
func (p *Planner) makeBeforeBreak(subnets []*SubnetResult, now time.Time) (adopted []*Neighbor, wake time.Time) {
	site := p.cfg.Site
	newlyLost := map[string]bool{}
	lost := map[string]bool{}
	for name, st := range p.live.Sites {
		if !st.Lost.IsZero() {
			lost[name] = true
			if !p.lost[name] {
				newlyLost[name] = true
			}
		}
	}
	p.lost = lost
	for i, r := range subnets {
		prevOwner, prevSums := p.owners[i], p.sums[i]
		p.owners[i], p.sums[i] = r.Owner, r.Summaries
		if to := p.deferTo(i, r); to != "" {
			nr := *r
			nr.Summaries = slices.DeleteFunc(slices.Clone(r.Summaries), func(s string) bool { return s == site })
			nr.Hosts = maps.Clone(r.Hosts)
			delete(nr.Hosts, site)
			nr.DeferredTo = to
			subnets[i] = &nr
			if r.Owner == site {
				p.owners[i] = to
			}
			delete(p.takeovers, i)
			delete(p.beats, i)
			continue
		}
		if r.Owner != site {
			delete(p.takeovers, i)
			delete(p.beats, i)
			continue
		}
		if prevOwner != "" && prevOwner != site {
			p.takeovers[i] = &takeover{from: prevOwner, since: now}
		}
		// A site newly lost whose summary may linger at the WAN: it
		// announced the subnet in the last plan, or said so last, or this
		// site is taking the subnet over from it.
		for name := range newlyLost {
			if slices.Contains(prevSums, name) || slices.Contains(p.live.Sites[name].Summaries, r.Prefix) ||
				p.takeovers[i] != nil && p.takeovers[i].from == name {
				p.beats[i] = &takeover{from: name, since: now}
			}
		}
		tk, active := p.takeoverNow(i, r.Prefix, now)
		if !active {
			continue
		}
		nr := *r
		nr.Hosts = maps.Clone(r.Hosts)
		if nr.Hosts == nil {
			nr.Hosts = map[string][]netip.Prefix{}
		}
		nr.Hosts[site] = p.subnets[i].hostsAt(site)
		if tk.Halves && r.Prefix.Bits() < r.Prefix.Addr().BitLen() {
			nr.Halves = []string{site}
		}
		nr.Takeover = &tk
		if b := p.beats[i]; b != nil && len(p.subnets[i].cfg.Gateways) > 0 {
			nr.Neighbors = slices.Clone(r.Neighbors)
			first := len(nr.Neighbors)
			for _, e := range p.subnets[i].vmsAt(b.from, p.vms) {
				nr.Neighbors = p.subnets[i].appendNeighbors(nr.Neighbors, e)
			}
			if b.since.Equal(now) {
				for k := first; k < len(nr.Neighbors); k++ {
					adopted = append(adopted, &nr.Neighbors[k])
				}
			}
		}
		subnets[i] = &nr
		if wake.IsZero() || tk.Until.Before(wake) {
			wake = tk.Until
		}
	}
	return adopted, wake
}

// deferTo returns the site to which this site, whose reports are not
// current, defers subnet i that it would announce (as its owner, or over
// a ceiling): the site that the planner's own rules give the subnet to
// while this site may own nothing (as the others plan it while it
// returns), when that site is heard announcing it. Another site's claim
// alone moves nothing: its answer is its own RIB, not a rule.
func (p *Planner) deferTo(i int, r *SubnetResult) string {
	site := p.cfg.Site
	if p.live.Current || !slices.Contains(r.Summaries, site) || len(p.live.Sites) == 0 {
		return ""
	}
	to := p.ownerOf(p.subnets[i].cfg.Home, p.subnets[i].count, site)
	if st, ok := p.live.Sites[to]; ok && !st.excluded() && !st.Silent && slices.Contains(st.Summaries, r.Prefix) {
		return to
	}
	return ""
}

// takeoverNow says where subnet i's takeover stands at now, if it is
// still active. A takeover from the previous owner ends when that owner
// answers, after the takeover began, without the subnet, and at the
// latest Linger after it began: by then the previous owner's routes can
// no longer be live or stale at the WAN, and one that still claims the
// subnet (a buggy peer, whose answer is its own RIB) keeps nothing going
// longer. Beating a lost site's lingering summary with the halves ends
// Linger after it began too.
func (p *Planner) takeoverNow(i int, prefix netip.Prefix, now time.Time) (tk Takeover, active bool) {
	until := func(t *takeover) time.Time { return t.since.Add(p.live.Linger) }
	if t := p.takeovers[i]; t != nil {
		st, known := p.live.Sites[t.from]
		confirmed := known && st.Lost.IsZero() && !st.Silent && !st.Heard.Before(t.since) && !slices.Contains(st.Summaries, prefix)
		if confirmed || !now.Before(until(t)) {
			delete(p.takeovers, i)
		} else {
			tk = Takeover{From: t.from, Since: t.since, Until: until(t), Halves: known && st.Silent && !p.live.AllLLGR}
			active = true
		}
	}
	if b := p.beats[i]; b != nil {
		if u := until(b); !now.Before(u) {
			delete(p.beats, i)
		} else {
			if !active {
				tk = Takeover{From: b.from, Since: b.since}
			}
			tk.Halves, active = true, true
			if u.After(tk.Until) {
				tk.Until = u
			}
		}
	}
	return tk, active
}

// hostsAt returns the host routes of the members at site that no other
// claim contests, sorted.
func (s *subnet) hostsAt(site string) []netip.Prefix {
	var out []netip.Prefix
	for a, c := range s.members {
		if c.site == site && len(s.extra[a]) == 0 {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

// vmsAt returns the VMs with a member address at site, by UUID.
func (s *subnet) vmsAt(site string, vms map[string]*vmEntry) []*vmEntry {
	var out []*vmEntry
	for _, c := range s.members {
		if e := vms[c.vm]; c.site == site && e != nil && e.vm != nil && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *vmEntry) int { return cmp.Compare(a.uuid, b.uuid) })
	return out
}

// halves returns the two halves of p, one bit longer.
func halves(p netip.Prefix) [2]netip.Prefix {
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	b := p.Addr().AsSlice()
	b[p.Bits()/8] |= 0x80 >> (p.Bits() % 8)
	hi, _ := netip.AddrFromSlice(b)
	return [2]netip.Prefix{lo, netip.PrefixFrom(hi, p.Bits()+1)}
}
