package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmroute/vmroute/routeragent/bgp/attrs"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/config"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Site != "A" || len(c.Clusters) != 3 || !slices.Equal(c.Clusters[1].Sites, []string{"B"}) || !slices.Equal(c.Clusters[2].Sites, []string{"A", "B"}) {
		t.Errorf("site %q clusters %+v", c.Site, c.Clusters)
	}
	if got := c.Plan.Subnets[1].Gateways; len(got) != 2 || got[0] != netip.MustParseAddr("fe80::1") {
		t.Errorf("IPv6 gateways %v", got)
	}
	if l := c.Liveness; l.SiteLossAfter != 3*time.Second || len(l.Sites) != 1 || len(l.Sites[0].Routers) != 1 ||
		len(l.Sites[0].Routers[0].Probes) != 2 || l.Sites[0].Routers[0].Probes[1].Interface != "bond0.100" {
		t.Errorf("liveness %+v", l)
	}
	if c.BGP.RestartTime != 30*time.Second || c.BGP.LongLivedStaleTime != time.Hour {
		t.Errorf("graceful restart %s, long-lived stale time %s; want the defaults 30s and 1h", c.BGP.RestartTime, c.BGP.LongLivedStaleTime)
	}
	if c.Plan.Guards.FlapWindow != 2*time.Minute || c.Plan.Guards.FreshLanding != 30*time.Second {
		t.Errorf("guards %+v", c.Plan.Guards)
	}
	if want := []uint32{attrs.NoExport, 65001<<16 | 100}; len(c.BGP.HostCommunities.Standard) != 2 || c.BGP.HostCommunities.Standard[1] != want[1] {
		t.Errorf("host communities %v, want %v", c.BGP.HostCommunities.Standard, want)
	}
	if l := c.BGP.SummaryCommunities.Large; len(l) != 1 || l[0] != (attrs.LargeCommunity{Global: 65001, Local1: 1, Local2: 2}) {
		t.Errorf("large communities %v", l)
	}
	if !c.BGP.GracefulRestart || *c.BGP.LocalPref != 200 || c.BGP.MED != nil {
		t.Errorf("bgp %+v", c.BGP)
	}
	if n := c.BGP.Neighbors[1]; n.IPv4 || !n.IPv6 || n.MultihopTTL != 2 || n.Port != 179 {
		t.Errorf("neighbor %+v", n)
	}
	if m, ok := c.Announce.GatewayMACs[netip.MustParsePrefix("192.0.2.0/24")]; !ok || m.String() != "00:00:5e:00:01:64" {
		t.Errorf("gateway MACs %v", c.Announce.GatewayMACs)
	}
	if _, err := plan.New(c.Plan); err != nil {
		t.Errorf("planner refuses the loaded config: %v", err)
	}
}

// TestLoadBroken edits one line of the good file at a time and checks that
// the error names the file, the line and the key.
func TestLoadBroken(t *testing.T) {
	good, err := os.ReadFile("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new string
		want           string // file:line: key: message
	}{
		{"bad prefix", `prefix = "192.0.2.0/24"`, `prefix = "192.0.2.0/33"`,
			`:37: subnets[0].prefix: "192.0.2.0/33" is not a prefix`},
		{"host bits", `prefix = "192.0.2.0/24"`, `prefix = "192.0.2.7/24"`,
			`:37: subnets[0].prefix: "192.0.2.7/24" has host bits set; the prefix is 192.0.2.0/24`},
		{"bad address", `gateways = ["fe80::1", "2001:db8:100::1"]`, `gateways = ["fe80::1", "2001:db8:100::g"]`,
			`:49: subnets[1].gateways[1]: "2001:db8:100::g" is not an IP address`},
		{"gateway outside", `gateways = ["192.0.2.1"]`, `gateways = ["198.51.100.1"]`,
			`:40: subnets[0].gateways[0]: 198.51.100.1 is outside 192.0.2.0/24`},
		{"bad duration", `lease = "5m"`, `lease = "5 minutes"`,
			`:16: reports.lease: "5 minutes" is not a duration`},
		{"unknown key", `batch_window = "50ms"`, `batch_windw = "50ms"`,
			`:17: unknown key reports.batch_windw`},
		{"unknown key in array table", `multihop_ttl = 2`, `multihop_tll = 2`,
			`:69: unknown key bgp.neighbors[1].multihop_tll`},
		{"wrong type", `asn = 65001`, `asn = "65001"`,
			`:52: bgp.asn: incompatible types`},
		{"bad community", `"65001:1:2"]`, `"65001:1:x"]`,
			`:56: bgp.summary_communities[1]: "65001:1:x": part "x" is not a number of 32 bits`},
		{"overlap", `prefix = "2001:db8:100::/64"`, `prefix = "192.0.2.128/25"`,
			`:46: subnets[1].prefix: 192.0.2.128/25 overlaps subnets[0] 192.0.2.0/24`},
		{"syntax", `lease = "5m"`, `lease = "5m`,
			`:16: strings cannot contain newlines`},
		{"bad word", `mode = "unicast"`, `mode = "multicast"`,
			`:76: announce.mode: "multicast" is not one of unicast, broadcast`},
		{"stretched cluster with site too", `sites = ["A", "B"]`, "sites = [\"A\", \"B\"]\nsite = \"A\"",
			`:81: clusters[2].sites: set site (a cluster at one site) or sites (a stretched cluster), not both`},
		{"cluster without sites", `sites = ["A", "B"]`, ``,
			`:79: clusters[2].sites: missing: the sites this cluster's hosts are in`},
		{"site named twice", `sites = ["A", "B"]`, `sites = ["A", "A"]`,
			`:81: clusters[2].sites[1]: "A" is empty or named twice`},
		{"status without TLS beyond this router", `listen = "[::]:8443"`, "listen = \"[::]:8443\"\nstatus_listen = \"0.0.0.0:9181\"",
			`:11: api.status_listen: "0.0.0.0:9181" is not a loopback address`},
		{"long-lived stale time beyond 24 bits", `asn = 65001`, "asn = 65001\nlong_lived_stale_time = \"4700h\"",
			`:53: bgp.long_lived_stale_time: 4700h0m0s is not from 0 (off) to the 16777215 s BGP can carry`},
		{"liveness of this site", `name = "B"`, `name = "A"`, `:90: liveness.sites[0].name: "A" is this router's own site`},
		{"liveness without the peer's names", `peers = ["routeragent-b.example.net"]`, ``,
			`:89: liveness.sites[0].peers: missing: the certificate names of site B's routeragents, whose answers alone are believed (or api.peers)`},
		{"liveness over plain HTTP", `api = "https://203.0.113.2:8443"`, `api = "http://203.0.113.2:8443"`,
			`:91: liveness.sites[0].api: "http://203.0.113.2:8443" is not the other routeragent's API as https://host:port`},
		{"a probe outside the subnets", `probe = ["192.0.2.3", "2001:db8:100::3"]`, `probe = ["198.51.100.3"]`,
			`:92: liveness.sites[0].probe[0]: 198.51.100.3 is in no subnet with an interface on this router`},
		{"checks too rare to see a loss", `interval = "500ms"`, `interval = "2s"`,
			`:88: liveness.interval: 2s: needs to be above zero and at most half of site_loss_after (3s)`},
		{"liveness of a site named nowhere else", `name = "B"`, `name = "B1"`,
			`:90: liveness.sites[0].name: "B1" is no site of the clusters or the subnets' homes (A, B): a site is a set of routers, named as the clusters name it`},
		{"liveness: a site of one router and of routers", `peers = ["routeragent-b.example.net"]`, `peers = ["routeragent-b.example.net"]
[[liveness.sites.routers]]
api = "https://203.0.113.3:8443"
probe = ["192.0.2.4"]`,
			`:91: liveness.sites[0].api: set api and probe for a site of one router, or [[liveness.sites[0].routers]] for each of its routers, not both`},
		{"IPv6 over IPv4 without a next hop", `next_hop_ipv6 = "2001:db8:ffff::1"`, ``,
			`:63: bgp.neighbors[0].families: IPv6 routes over an IPv4 session need bgp.next_hop_ipv6`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(good), tt.old) {
				t.Fatalf("good.toml lacks %q", tt.old)
			}
			path := filepath.Join(t.TempDir(), "routeragent.toml")
			if err := os.WriteFile(path, []byte(strings.Replace(string(good), tt.old, tt.new, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), path+tt.want) {
				t.Errorf("Load() = %v\nwant it to contain %q", err, path+tt.want)
			}
		})
	}
}

func TestReadSecrets(t *testing.T) {
	c, err := Load("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bgp-pw"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.BGP.Neighbors[0].PasswordFile = filepath.Join(dir, "bgp-pw")
	c.BGP.Neighbors[1].PasswordFile = "/nonexistent/pw"
	err = c.ReadSecrets()
	if c.BGP.Neighbors[0].Password != "s3cret" {
		t.Errorf("password %q", c.BGP.Neighbors[0].Password)
	}
	if err == nil || !strings.Contains(err.Error(), "bgp.neighbors[1].password_file: read secret: open /nonexistent/pw: no such file or directory") {
		t.Errorf("ReadSecrets() = %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if !errors.Is(err, config.ErrNotFound) {
		t.Errorf("Load() = %v, want ErrNotFound", err)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routeragent.toml")
	if err := os.WriteFile(path, []byte("[bgp]\nasn = 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	for _, want := range []string{
		path + `: site: missing`,
		path + `: api.cert_file: missing`,
		path + `:2: bgp.asn: 0 is not an AS number`,
		path + `:1: bgp.router_id: missing`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load() = %v\nwant it to contain %q", err, want)
		}
	}
}

// TestLivenessRouters loads a site of two routers, and refuses a router
// without addresses to probe, or one configured twice.
func TestLivenessRouters(t *testing.T) {
	good, err := os.ReadFile("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	one := `api = "https://203.0.113.2:8443"
probe = ["192.0.2.3", "2001:db8:100::3"]
`
	two := `[[liveness.sites.routers]]
api = "https://203.0.113.2:8443"
probe = ["192.0.2.3"]
[[liveness.sites.routers]]
api = "https://203.0.113.3:8443"
probe = ["192.0.2.4", "2001:db8:100::4"]
`
	if !strings.Contains(string(good), one) {
		t.Fatal("good.toml lacks site B's router")
	}
	load := func(conf string) (*Config, error) {
		path := filepath.Join(t.TempDir(), "routeragent.toml")
		if err := os.WriteFile(path, []byte(strings.Replace(string(good), one, "", 1)+conf), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(path)
	}
	c, err := load(two)
	if err != nil {
		t.Fatal(err)
	}
	rs := c.Liveness.Sites[0].Routers
	if len(rs) != 2 || rs[0].API != "https://203.0.113.2:8443" || len(rs[0].Probes) != 1 || rs[1].API != "https://203.0.113.3:8443" ||
		len(rs[1].Probes) != 2 || rs[1].Probes[1].Interface != "bond0.100" {
		t.Errorf("routers %+v", rs)
	}
	for conf, want := range map[string]string{
		strings.Replace(two, `probe = ["192.0.2.4", "2001:db8:100::4"]`, "", 1): "liveness.sites[0].routers[1].probe: missing",
		strings.Replace(two, "203.0.113.3", "203.0.113.2", 1):                   "liveness.sites[0].routers[1].api: https://203.0.113.2:8443 is configured twice (also liveness.sites[0].routers[0])",
	} {
		if _, err := load(conf); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load() = %v, want %q", err, want)
		}
	}
}

// TestLivenessSiblings loads the other routers of this site, and refuses
// what would make a sibling's loss wrong or silent: no names to believe,
// a loss time longer than a site's, a MED the survivor cannot beat, and a
// router configured twice.
func TestLivenessSiblings(t *testing.T) {
	good, err := os.ReadFile("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	const at = `interval = "500ms"` + "\n"
	if !strings.Contains(string(good), at) {
		t.Fatal("good.toml lacks liveness.interval")
	}
	siblings := `[[liveness.siblings]]
api = "https://198.51.100.12:8443"
probe = ["192.0.2.12", "2001:db8:100::12"]
[[liveness.siblings]]
api = "https://198.51.100.13:8443"
probe = ["192.0.2.13"]
`
	load := func(keys, tables, med string) (*Config, error) {
		conf := strings.Replace(string(good), at, at+keys, 1)
		conf = strings.Replace(conf, "local_pref = 200\n", "local_pref = 200\n"+med, 1)
		path := filepath.Join(t.TempDir(), "routeragent.toml")
		if err := os.WriteFile(path, []byte(conf+tables), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(path)
	}
	c, err := load(`sibling_peers = ["routeragent-a.example.net"]`+"\n", siblings, "")
	if err != nil {
		t.Fatal(err)
	}
	l := c.Liveness
	if l.Siblings.Name != "A" || !slices.Equal(l.Siblings.Peers, []string{"routeragent-a.example.net"}) || len(l.Siblings.Routers) != 2 ||
		l.Siblings.Routers[0].API != "https://198.51.100.12:8443" || len(l.Siblings.Routers[0].Probes) != 2 ||
		l.Siblings.Routers[0].Probes[1].Interface != "bond0.100" || len(l.Siblings.Routers[1].Probes) != 1 {
		t.Errorf("siblings %+v", l.Siblings)
	}
	if l.SiblingLossAfter != time.Second || l.SiblingInterval() != 250*time.Millisecond {
		t.Errorf("sibling loss after %s, checked every %s; want the default 1s and 250ms", l.SiblingLossAfter, l.SiblingInterval())
	}
	if c.BGP.MED == nil || *c.BGP.MED != DefaultSiblingMED {
		t.Errorf("MED %v, want the default %d of a router with siblings", c.BGP.MED, DefaultSiblingMED)
	}
	if c, err := load("sibling_peers = [\"a\"]\nsibling_loss_after = \"400ms\"\n", siblings, "med = 50\n"); err != nil || c.Liveness.SiblingLossAfter != 400*time.Millisecond || *c.BGP.MED != 50 {
		t.Errorf("Load() = %v, %v; want a 400ms loss and MED 50", c, err)
	}
	if c, err := load("", "", ""); err != nil || c.BGP.MED != nil || len(c.Liveness.Siblings.Routers) != 0 {
		t.Errorf("without siblings: %v, %v; want no MED and no siblings", c, err)
	}
	for _, tc := range []struct{ keys, tables, med, want string }{
		{"", siblings, "", "liveness.sibling_peers: missing: the certificate names of this site's other routeragents"},
		{`sibling_peers = ["a"]` + "\n", siblings, "med = 0\n",
			"bgp.med: 0: a router with liveness.siblings sends a MED above 0, so that its sibling can beat its routes with MED 0 when it is lost"},
		{`sibling_peers = ["a"]` + "\nsibling_loss_after = \"4s\"\n", siblings, "",
			"liveness.sibling_loss_after: 4s is not from 100ms to site_loss_after (3s)"},
		{`sibling_peers = ["a"]` + "\nsibling_loss_after = \"50ms\"\n", siblings, "",
			"liveness.sibling_loss_after: 50ms is not from 100ms to site_loss_after (3s)"},
		{`sibling_peers = ["a"]` + "\n", strings.Replace(siblings, "198.51.100.13", "198.51.100.12", 1), "",
			"liveness.siblings[1].api: https://198.51.100.12:8443 is configured twice (also liveness.siblings[0])"},
		{`sibling_peers = ["a"]` + "\n", strings.Replace(siblings, "198.51.100.13", "203.0.113.2", 1), "",
			"liveness.siblings[1].api: https://203.0.113.2:8443 is configured twice (also liveness.sites[0])"},
		{`sibling_peers = ["a"]` + "\n", strings.Replace(siblings, `probe = ["192.0.2.13"]`, "", 1), "", "liveness.siblings[1].probe: missing"},
	} {
		if _, err := load(tc.keys, tc.tables, tc.med); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load() = %v\nwant %q", err, tc.want)
		}
	}
}
