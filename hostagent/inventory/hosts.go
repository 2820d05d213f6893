package inventory

import (
	"cmp"
	"slices"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/sitemap"
)

func (inv *Inventory) applyHost(u types.ObjectUpdate) {
	if u.Kind == types.ObjectUpdateKindLeave {
		delete(inv.hosts, u.Obj)
		return
	}
	h := inv.hosts[u.Obj]
	if h == nil {
		h = &host{}
		inv.hosts[u.Obj] = h
	}
	for _, c := range u.ChangeSet {
		switch c.Name {
		case "name":
			h.name, _ = c.Val.(string)
		case "parent":
			h.parent, _ = c.Val.(types.ManagedObjectReference)
		case FaultDomainProperty:
			h.faultDomain, _ = c.Val.(string)
		}
	}
}

// applyCluster reads a watched cluster's DRS host groups.
func (inv *Inventory) applyCluster(u types.ObjectUpdate) {
	c := inv.clusters[u.Obj]
	if c == nil || u.Kind == types.ObjectUpdateKindLeave {
		return
	}
	for _, ch := range u.ChangeSet {
		if ch.Name != GroupsProperty {
			if partOf(ch.Name, GroupsProperty) {
				// A part of the groups changed: read them whole again.
				inv.markDirty(u.Obj, GroupsProperty)
			}
			continue
		}
		clear(c.groups)
		var group []types.BaseClusterGroupInfo
		switch info := ch.Val.(type) {
		case types.ClusterConfigInfoEx: // as it comes over SOAP
			group = info.Group
		case *types.ClusterConfigInfoEx:
			group = info.Group
		}
		for _, g := range group {
			hg, ok := g.(*types.ClusterHostGroup)
			if !ok {
				continue
			}
			for _, h := range hg.Host {
				c.groups[h] = append(c.groups[h], hg.Name)
			}
		}
	}
}

// placeHosts puts every host of a watched cluster at its site, and logs
// each host whose placement changed (every host, at the first sync).
func (inv *Inventory) placeHosts() {
	for ref, h := range inv.hosts {
		c := inv.clusters[h.parent]
		if c == nil {
			continue
		}
		site, why := c.Sites.Place(sitemap.Host{Name: h.name, Groups: c.groups[ref], FaultDomain: h.faultDomain})
		if h.placed && site == h.site && why == h.why {
			continue
		}
		h.site, h.why, h.placed = site, why, true
		if site == "" {
			inv.log.Warn("host not placed at any site: its VMs keep their last known site", "host", h.name, "cluster", c.Name, "why", why)
		} else {
			inv.log.Info("host placed", "host", h.name, "cluster", c.Name, "site", site)
		}
	}
}

// HostSite is one host of a watched cluster and where it is placed.
type HostSite struct {
	Name    string `json:"name"`
	Cluster string `json:"cluster"`
	// Site is empty while the host cannot be placed; Why then says why.
	Site string `json:"site,omitempty"`
	Why  string `json:"why,omitempty"`
}

// Hosts returns every host of the watched clusters with its site, sorted
// by cluster and name.
func (inv *Inventory) Hosts() []HostSite {
	var out []HostSite
	for _, h := range inv.hosts {
		if c := inv.clusters[h.parent]; c != nil && h.placed {
			out = append(out, HostSite{Name: h.name, Cluster: c.Name, Site: h.site, Why: h.why})
		}
	}
	slices.SortFunc(out, func(a, b HostSite) int { return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Name, b.Name)) })
	return out
}
