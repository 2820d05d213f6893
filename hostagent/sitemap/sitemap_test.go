package sitemap

import (
	"fmt"
	"strings"
	"testing"
)

func TestPlace(t *testing.T) {
	groups := Rule{By: HostGroup, Sites: map[string][]string{"A": {"hosts-a"}, "B": {"hosts-b", "hosts-b-new"}}}
	faults := Rule{By: FaultDomain, Sites: map[string][]string{"A": {"fd-a"}, "B": {"fd-b"}}}
	names := Rule{By: HostName, Sites: map[string][]string{"A": {"esx-a?.example.net"}, "B": {"esx-b*", "esx-[x-z]1"}}}
	whole := Rule{By: Cluster, Site: "C"}
	tests := []struct {
		name string
		rule Rule
		host Host
		site string
		why  string
	}{
		{"whole cluster", whole, Host{Name: "esx9"}, "C", ""},
		{"host group", groups, Host{Name: "esx1", Groups: []string{"all-hosts", "hosts-b-new"}}, "B", ""},
		{"in no host group", groups, Host{Name: "esx1"}, "", "in no DRS host group"},
		{"in other groups only", groups, Host{Name: "esx1", Groups: []string{"gpu"}}, "", `in DRS host groups ["gpu"], none of them a site's`},
		{"in groups of two sites", groups, Host{Name: "esx1", Groups: []string{"hosts-a", "hosts-b"}}, "", `in DRS host groups ["hosts-a" "hosts-b"] of sites A and B: ambiguous`},
		{"fault domain", faults, Host{Name: "esx1", FaultDomain: "fd-a"}, "A", ""},
		{"no fault domain", faults, Host{Name: "esx1"}, "", "in no vSAN fault domain"},
		{"unknown fault domain", faults, Host{Name: "esx1", FaultDomain: "witness"}, "", `in vSAN fault domain "witness", which is no site's`},
		{"host name pattern", names, Host{Name: "esx-a1.example.net"}, "A", ""},
		{"host name class", names, Host{Name: "esx-y1"}, "B", ""},
		{"host name matches nothing", names, Host{Name: "esx-c1"}, "", `host name "esx-c1" matches no site's pattern`},
		{"no name yet", names, Host{}, "", `host name "(none yet)" matches no site's pattern`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site, why := tt.rule.Place(tt.host)
			if site != tt.site || why != tt.why {
				t.Errorf("Place(%+v) = %q, %q; want %q, %q", tt.host, site, why, tt.site, tt.why)
			}
		})
	}
}

func TestAmbiguousHostNames(t *testing.T) {
	r := Rule{By: HostName, Sites: map[string][]string{"A": {"esx-*"}, "B": {"*.b.example.net"}}}
	if site, why := r.Place(Host{Name: "esx-1.b.example.net"}); site != "" || !strings.Contains(why, "of sites A and B: ambiguous") {
		t.Errorf("Place = %q, %q; want no site, ambiguous", site, why)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		rule     Rule
		key, msg string
	}{
		{"whole cluster", Rule{By: Cluster, Site: "A"}, "", ""},
		{"stretched", Rule{By: HostGroup, Sites: map[string][]string{"A": {"a"}, "B": {"b"}}}, "", ""},
		{"whole cluster without site", Rule{By: Cluster}, "site", "missing: the site of the whole cluster"},
		{"both", Rule{By: HostGroup, Site: "A", Sites: map[string][]string{"A": {"a"}}}, "site", "set site (the whole cluster at one site) or sites_by and sites, not both"},
		{"unknown source", Rule{By: "rack", Sites: map[string][]string{"A": {"a"}}}, "sites_by", `"rack" is not one of cluster, host_group, fault_domain, host_name`},
		{"no sites", Rule{By: FaultDomain}, "sites", "missing: the fault_domain names of each site"},
		{"site without names", Rule{By: HostGroup, Sites: map[string][]string{"A": {"a"}, "B": {}}}, "sites.B", "missing: at least one host_group name"},
		{"name at two sites", Rule{By: HostGroup, Sites: map[string][]string{"A": {"a", "shared"}, "B": {"shared"}}}, "sites.B[0]", `"shared" is named for site A too`},
		{"bad pattern", Rule{By: HostName, Sites: map[string][]string{"A": {"esx-[a"}}}, "sites.A[0]", `"esx-[a" is not a valid pattern: syntax error in pattern`},
		{"per-site names on a whole cluster", Rule{By: Cluster, Site: "A", Sites: map[string][]string{"A": {"a"}}}, "sites", `a cluster at one site (site = "A") has no per-site names`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := tt.rule.Check()
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if key != tt.key || msg != tt.msg {
				t.Errorf("Check() = %q, %q; want %q, %q", key, msg, tt.key, tt.msg)
			}
		})
	}
}

func TestUnmatchedNames(t *testing.T) {
	hosts := []Host{{Name: "esx-a1.dc1", Groups: []string{"hosts-a"}, FaultDomain: "fd-a"}, {Name: "esx-b1.dc2", Groups: []string{"hosts-b"}}}
	for _, tt := range []struct {
		rule Rule
		want string
	}{
		{Rule{By: Cluster, Site: "A"}, "[]"},
		{Rule{By: HostGroup, Sites: map[string][]string{"A": {"hosts-a"}, "B": {"hosts-b", "hosts-b2"}}}, `[site B: host_group "hosts-b2"]`},
		{Rule{By: FaultDomain, Sites: map[string][]string{"A": {"fd-a"}, "B": {"fd-b"}}}, `[site B: fault_domain "fd-b"]`},
		{Rule{By: HostName, Sites: map[string][]string{"A": {"*.dc1"}, "B": {"*.dc2"}, "C": {"*.dc3"}}}, `[site C: host_name "*.dc3"]`},
		{Rule{By: HostGroup, Sites: map[string][]string{"A": {"a"}, "B": {"b"}}}, `[site A: host_group "a" site B: host_group "b"]`},
	} {
		if got := fmt.Sprint(tt.rule.Unmatched(hosts)); got != tt.want {
			t.Errorf("%s %v: unmatched %s, want %s", tt.rule.By, tt.rule.Sites, got, tt.want)
		}
	}
}
