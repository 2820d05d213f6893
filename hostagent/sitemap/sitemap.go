// Package sitemap places hosts at sites: a site is a set of hosts, not a
// cluster. Each watched cluster has one Rule, from the hostagent's config:
// the whole cluster is one site (a cluster per site), or its hosts are
// split by DRS host group (vSphere Metro Storage Cluster), by vSAN fault
// domain (vSAN stretched cluster) or by host name. It is pure: vCenter's
// facts about a host in, its site out. A host that cannot be placed has
// no site and a reason; nothing is guessed.
package sitemap

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// Source says which fact of a host decides its site.
type Source string

// Sources of a cluster's mapping.
const (
	// Cluster puts every host of the cluster at one site.
	Cluster Source = "cluster"
	// HostGroup places a host by the cluster's DRS host groups that list
	// it (ClusterComputeResource configurationEx.group).
	HostGroup Source = "host_group"
	// FaultDomain places a host by its vSAN fault domain
	// (config.vsanHostConfig.faultDomainInfo.name).
	FaultDomain Source = "fault_domain"
	// HostName places a host by its name, matched against glob patterns
	// (path.Match: *, ?, [a-z]).
	HostName Source = "host_name"
)

// Sources lists every Source, for config errors.
var Sources = []Source{Cluster, HostGroup, FaultDomain, HostName}

// Rule is one cluster's host-to-site mapping.
type Rule struct {
	By Source
	// Site is the cluster's one site, with By == Cluster.
	Site string
	// Sites are, for the other sources, the names per site: host group
	// names, fault domain names, or host name patterns.
	Sites map[string][]string
}

// Host is what vCenter says of one host, as far as the mapping needs it.
type Host struct {
	Name string
	// Groups are the names of the cluster's DRS host groups that list
	// the host.
	Groups []string
	// FaultDomain is the host's vSAN fault domain name; empty for none.
	FaultDomain string
}

// Check returns the first problem with the rule's shape, naming the key
// below the cluster's table that holds it ("sites.A[1]").
func (r Rule) Check() (key string, err error) {
	switch r.By {
	case Cluster:
		if r.Site == "" {
			return "site", fmt.Errorf("missing: the site of the whole cluster")
		}
		if len(r.Sites) > 0 {
			return "sites", fmt.Errorf("a cluster at one site (site = %q) has no per-site names", r.Site)
		}
		return "", nil
	case HostGroup, FaultDomain, HostName:
	default:
		return "sites_by", fmt.Errorf("%q is not one of %s", r.By, joinSources())
	}
	if r.Site != "" {
		return "site", fmt.Errorf("set site (the whole cluster at one site) or sites_by and sites, not both")
	}
	if len(r.Sites) == 0 {
		return "sites", fmt.Errorf("missing: the %s names of each site", r.By)
	}
	owner := map[string]string{}
	for _, site := range slices.Sorted(maps.Keys(r.Sites)) {
		names := r.Sites[site]
		if site == "" {
			return "sites", fmt.Errorf("a site name is empty")
		}
		if len(names) == 0 {
			return "sites." + site, fmt.Errorf("missing: at least one %s name", r.By)
		}
		for i, n := range names {
			key := fmt.Sprintf("sites.%s[%d]", site, i)
			if n == "" {
				return key, fmt.Errorf("empty name")
			}
			if r.By == HostName {
				if _, err := path.Match(n, ""); err != nil {
					return key, fmt.Errorf("%q is not a valid pattern: %w", n, err)
				}
			}
			if o, dup := owner[n]; dup {
				return key, fmt.Errorf("%q is named for site %s too", n, o)
			}
			owner[n] = site
		}
	}
	return "", nil
}

// Place returns the host's site, or "" and why it cannot be placed: no
// name, group or fault domain of any site, or those of two sites.
func (r Rule) Place(h Host) (site, why string) {
	if r.By == Cluster {
		return r.Site, ""
	}
	var matched []string
	for s, names := range r.Sites {
		if slices.ContainsFunc(names, func(n string) bool { return r.matches(n, h) }) {
			matched = append(matched, s)
		}
	}
	slices.Sort(matched)
	switch len(matched) {
	case 1:
		return matched[0], ""
	case 0:
		return "", r.none(h)
	}
	return "", fmt.Sprintf("%s of sites %s: ambiguous", r.what(h), strings.Join(matched, " and "))
}

func (r Rule) matches(name string, h Host) bool {
	switch r.By {
	case HostGroup:
		return slices.Contains(h.Groups, name)
	case FaultDomain:
		return h.FaultDomain != "" && h.FaultDomain == name
	case HostName:
		ok, _ := path.Match(name, h.Name)
		return ok
	}
	return false
}

func (r Rule) what(h Host) string {
	switch r.By {
	case HostGroup:
		return fmt.Sprintf("in DRS host groups %q", h.Groups)
	case FaultDomain:
		return fmt.Sprintf("in vSAN fault domain %q", h.FaultDomain)
	}
	return fmt.Sprintf("host name %q matches patterns", h.Name)
}

func (r Rule) none(h Host) string {
	switch r.By {
	case HostGroup:
		if len(h.Groups) == 0 {
			return "in no DRS host group"
		}
		return fmt.Sprintf("in DRS host groups %q, none of them a site's", h.Groups)
	case FaultDomain:
		if h.FaultDomain == "" {
			return "in no vSAN fault domain"
		}
		return fmt.Sprintf("in vSAN fault domain %q, which is no site's", h.FaultDomain)
	}
	return fmt.Sprintf("host name %q matches no site's pattern", cmp.Or(h.Name, "(none yet)"))
}

// Unmatched returns what the rule names that places none of hosts, as
// "site A: host group \"hosts-a\"", sorted: a host group, fault domain
// or host name pattern that matches no host is a typo or a stale name.
func (r Rule) Unmatched(hosts []Host) []string {
	if r.By == Cluster {
		return nil
	}
	var out []string
	for site, names := range r.Sites {
		for _, n := range names {
			if !slices.ContainsFunc(hosts, func(h Host) bool { return r.matches(n, h) }) {
				out = append(out, fmt.Sprintf("site %s: %s %q", site, r.By, n))
			}
		}
	}
	slices.Sort(out)
	return out
}

// SitesOf returns the sites a rule can place hosts at, sorted.
func (r Rule) SitesOf() []string {
	if r.By == Cluster {
		return []string{r.Site}
	}
	return slices.Sorted(maps.Keys(r.Sites))
}

func joinSources() string {
	var s []string
	for _, src := range Sources {
		s = append(s, string(src))
	}
	return strings.Join(s, ", ")
}
