// Package config loads the routeragent's TOML configuration strictly and
// turns it into the typed configurations of its parts.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vmroute/vmroute/routeragent/announce"
	"github.com/vmroute/vmroute/routeragent/bgp"
	"github.com/vmroute/vmroute/routeragent/bgp/attrs"
	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/routeragent/plan"
	"github.com/vmroute/vmroute/shared/config"
	"github.com/vmroute/vmroute/shared/logging"
	"github.com/vmroute/vmroute/shared/wire"
)

// DefaultPath is where the packaged routeragent looks for its config.
const DefaultPath = "/etc/vmroute/routeragent.toml"

// Config is the routeragent's validated configuration.
type Config struct {
	Site      string
	StateDir  string
	DryRun    bool
	LogLevel  string
	LogFormat string
	API       API
	Clusters  []Cluster
	// Lease is how long a cluster's report counts as fresh.
	Lease time.Duration
	// FutureTolerance is how far past this router's clock a reported
	// landing may be; a report with a later one is refused.
	FutureTolerance time.Duration
	// BatchWindow collects changes before a plan.
	BatchWindow time.Duration
	Plan        plan.Config
	BGP         bgp.Config
	Announce    announce.Config
	Liveness    Liveness
}

// Liveness is how this routeragent checks the other sites (DESIGN.md
// rule 6). Without sites, no site is ever found lost.
type Liveness struct {
	// SiteLossAfter is how long a site fails both paths before it is lost,
	// and one path before it is shown partitioned.
	SiteLossAfter time.Duration
	// Interval is how often each path is checked; a check that takes
	// longer fails.
	Interval time.Duration
	Sites    []liveness.Site
	// Siblings are the other routers of this site (a VRRP pair's other
	// half), as one site named for this one: each is checked on the same
	// two paths, and lost after SiblingLossAfter on both.
	Siblings         liveness.Site
	SiblingLossAfter time.Duration
}

// SiblingInterval is how often each path to a sibling is checked: four
// times within the loss time.
func (l Liveness) SiblingInterval() time.Duration { return l.SiblingLossAfter / 4 }

// API is the report and status endpoint.
type API struct {
	Listen       string
	CertFile     string
	KeyFile      string
	ClientCAFile string
	// MaxReportBytes bounds a report's body.
	MaxReportBytes int64
	// StatusListen serves the read-only status and metrics without TLS,
	// for vmroutectl on the router itself: a loopback address only;
	// empty turns it off.
	StatusListen string
	// Operators and Peers are the client certificate names that may read
	// status over the report API: operators' vmroutectl, and the other
	// routeragents. A hostagent's certificate may report, not read.
	Operators []string
	Peers     []string
}

// Cluster is a cluster whose reports the routeragent accepts, the sites
// its hosts are in (one, or two for a stretched cluster), and the client
// certificate names allowed to send them.
type Cluster struct {
	Name    string
	Sites   []string
	Clients []string
}

// routerEntry is one router of another site, under liveness.sites.
type routerEntry struct {
	API   string   `toml:"api"`
	Probe []string `toml:"probe"`
}

type file struct {
	Site     string `toml:"site"`
	StateDir string `toml:"state_dir"`
	DryRun   bool   `toml:"dry_run"`
	Log      struct {
		Level  string `toml:"level"`
		Format string `toml:"format"`
	} `toml:"log"`
	API struct {
		Listen         string   `toml:"listen"`
		CertFile       string   `toml:"cert_file"`
		KeyFile        string   `toml:"key_file"`
		ClientCAFile   string   `toml:"client_ca_file"`
		MaxReportBytes int      `toml:"max_report_bytes"`
		StatusListen   *string  `toml:"status_listen"`
		Operators      []string `toml:"operators"`
		Peers          []string `toml:"peers"`
	} `toml:"api"`
	Reports struct {
		Lease           string `toml:"lease"`
		BatchWindow     string `toml:"batch_window"`
		FutureTolerance string `toml:"future_tolerance"`
		ClockSkew       string `toml:"clock_skew"`
	} `toml:"reports"`
	Clusters []struct {
		Name    string   `toml:"name"`
		Site    string   `toml:"site"`
		Sites   []string `toml:"sites"`
		Clients []string `toml:"clients"`
	} `toml:"clusters"`
	Guards struct {
		Owner                 string `toml:"owner"`
		HostRouteCeiling      int    `toml:"host_route_ceiling"`
		TotalHostRouteCeiling int    `toml:"total_host_route_ceiling"`
		FlapMoves             int    `toml:"flap_moves"`
		FlapWindow            string `toml:"flap_window"`
		FreshLanding          string `toml:"fresh_landing"`
	} `toml:"guards"`
	Subnets []struct {
		Prefix           string   `toml:"prefix"`
		Home             string   `toml:"home"`
		Interface        string   `toml:"interface"`
		Gateways         []string `toml:"gateways"`
		GatewayMAC       string   `toml:"gateway_mac"`
		Pinned           []string `toml:"pinned"`
		Reserved         []string `toml:"reserved"`
		Networks         []string `toml:"networks"`
		HostRouteCeiling int      `toml:"host_route_ceiling"`
	} `toml:"subnets"`
	BGP struct {
		ASN             int64    `toml:"asn"`
		RouterID        string   `toml:"router_id"`
		ListenAddress   string   `toml:"listen_address"`
		ListenPort      *int     `toml:"listen_port"`
		GracefulRestart *bool    `toml:"graceful_restart"`
		RestartTime     string   `toml:"restart_time"`
		LongLivedStale  *string  `toml:"long_lived_stale_time"`
		WithdrawOnStop  bool     `toml:"withdraw_on_stop"`
		HostCommunities []string `toml:"host_communities"`
		SummaryComms    []string `toml:"summary_communities"`
		LocalPref       *int64   `toml:"local_pref"`
		MED             *int64   `toml:"med"`
		NextHopIPv4     string   `toml:"next_hop_ipv4"`
		NextHopIPv6     string   `toml:"next_hop_ipv6"`
		Neighbors       []struct {
			Address      string   `toml:"address"`
			ASN          int64    `toml:"asn"`
			Port         int      `toml:"port"`
			PasswordFile string   `toml:"password_file"`
			MultihopTTL  int      `toml:"multihop_ttl"`
			LocalAddress string   `toml:"local_address"`
			Passive      bool     `toml:"passive"`
			Families     []string `toml:"families"`
		} `toml:"neighbors"`
	} `toml:"bgp"`
	Announce struct {
		Count    int     `toml:"count"`
		Interval string  `toml:"interval"`
		Refresh  *string `toml:"refresh"`
		Rate     int     `toml:"rate"`
		Mode     string  `toml:"mode"`
	} `toml:"announce"`
	Liveness struct {
		SiteLossAfter    string        `toml:"site_loss_after"`
		Interval         string        `toml:"interval"`
		SiblingLossAfter string        `toml:"sibling_loss_after"`
		SiblingPeers     []string      `toml:"sibling_peers"`
		Siblings         []routerEntry `toml:"siblings"`
		Sites            []struct {
			Name  string   `toml:"name"`
			Peers []string `toml:"peers"`
			// API and Probe are a site of one router; Routers, a site of
			// several (a VRRP pair).
			API     string        `toml:"api"`
			Probe   []string      `toml:"probe"`
			Routers []routerEntry `toml:"routers"`
		} `toml:"sites"`
	} `toml:"liveness"`
}

// Load reads and validates the routeragent's configuration at path. Every
// problem found is reported, each with the file, line and key.
func Load(path string) (*Config, error) {
	var raw file
	f, err := config.Load(path, &raw)
	if err != nil {
		return nil, err
	}
	c := &Config{
		Site:      f.String("site", raw.Site, true),
		StateDir:  orDefault(raw.StateDir, "/var/lib/vmroute-routeragent"),
		DryRun:    raw.DryRun,
		LogLevel:  f.OneOf("log.level", raw.Log.Level, "info", "debug", "warn", "error"),
		LogFormat: f.OneOf("log.format", raw.Log.Format, logging.FormatText, logging.FormatJSON),
		API: API{
			Listen:         orDefault(raw.API.Listen, ":8443"),
			CertFile:       f.String("api.cert_file", raw.API.CertFile, true),
			KeyFile:        f.String("api.key_file", raw.API.KeyFile, true),
			ClientCAFile:   f.String("api.client_ca_file", raw.API.ClientCAFile, true),
			MaxReportBytes: int64(f.Int("api.max_report_bytes", raw.API.MaxReportBytes, wire.MaxReportBytes, 1024, 1<<30)),
		},
		Lease:           f.Duration("reports.lease", raw.Reports.Lease, 5*time.Minute),
		FutureTolerance: f.Duration("reports.future_tolerance", raw.Reports.FutureTolerance, 2*time.Minute),
		BatchWindow:     f.Duration("reports.batch_window", raw.Reports.BatchWindow, 50*time.Millisecond),
	}
	c.API.StatusListen = "127.0.0.1:9181"
	if raw.API.StatusListen != nil {
		c.API.StatusListen = *raw.API.StatusListen
	}
	if l := c.API.StatusListen; l != "" && !loopback(l) {
		f.Errorf("api.status_listen", "%q is not a loopback address: status_listen serves without TLS or authentication, so only to this router; "+
			"remote operators read status over the report API with a certificate named under api.operators", l)
	}
	c.API.Operators, c.API.Peers = raw.API.Operators, raw.API.Peers
	seen := map[string]int{}
	for i, cl := range raw.Clusters {
		key := fmt.Sprintf("clusters[%d]", i)
		if j, dup := seen[cl.Name]; dup && cl.Name != "" {
			f.Errorf(key+".name", "%q is configured twice (also clusters[%d])", cl.Name, j)
		}
		seen[cl.Name] = i
		if len(cl.Clients) == 0 {
			f.Errorf(key+".clients", "missing: name the client certificates allowed to report this cluster")
		}
		sites := cl.Sites
		switch {
		case cl.Site != "" && len(cl.Sites) > 0:
			f.Errorf(key+".sites", "set site (a cluster at one site) or sites (a stretched cluster), not both")
		case cl.Site != "":
			sites = []string{cl.Site}
		case len(cl.Sites) == 0:
			f.Errorf(key+".sites", "missing: the sites this cluster's hosts are in (site = \"A\", or sites = [\"A\", \"B\"] for a stretched cluster)")
		}
		for j, s := range sites {
			if s == "" || slices.Contains(sites[:j], s) {
				f.Errorf(fmt.Sprintf("%s.sites[%d]", key, j), "%q is empty or named twice", s)
			}
		}
		c.Clusters = append(c.Clusters, Cluster{
			Name:    f.String(key+".name", cl.Name, true),
			Sites:   sites,
			Clients: cl.Clients,
		})
	}
	c.Plan, c.Announce.GatewayMACs = loadPlan(f, &raw)
	c.Plan.Site = c.Site
	c.Plan.ClockSkew = f.Duration("reports.clock_skew", raw.Reports.ClockSkew, 2*time.Second)
	c.BGP = loadBGP(f, &raw)
	c.Announce = loadAnnounce(f, &raw, c.Announce.GatewayMACs)
	c.Liveness = loadLiveness(f, &raw, c)
	if len(c.Liveness.Siblings.Routers) > 0 {
		c.BGP.MED = siblingMED(f, c.BGP.MED)
	}
	if err := c.Plan.Check(); err != nil {
		var fe *plan.FieldError
		for _, e := range unwrapAll(err) {
			if errors.As(e, &fe) && !strings.HasSuffix(fe.Msg, "missing") {
				f.Errorf(fe.Key, "%s", fe.Msg)
			}
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func loadLiveness(f *config.File, raw *file, c *Config) Liveness {
	l := raw.Liveness
	out := Liveness{
		SiteLossAfter: f.Duration("liveness.site_loss_after", l.SiteLossAfter, 3*time.Second),
		Interval:      f.Duration("liveness.interval", l.Interval, 500*time.Millisecond),
	}
	if out.Interval <= 0 || out.Interval*2 > out.SiteLossAfter {
		f.Errorf("liveness.interval", "%s: needs to be above zero and at most half of site_loss_after (%s), so that a site is checked twice before it is lost", out.Interval, out.SiteLossAfter)
	}
	// The sites this configuration names elsewhere: a liveness site must
	// be one of them, or its loss would take over nothing.
	named := map[string]bool{c.Site: true}
	for _, cl := range c.Clusters {
		for _, s := range cl.Sites {
			named[s] = true
		}
	}
	for _, sn := range c.Plan.Subnets {
		named[sn.Home] = true
	}
	seen := map[string]int{}
	apis := map[string]string{}
	for i, s := range l.Sites {
		key := fmt.Sprintf("liveness.sites[%d]", i)
		site := liveness.Site{Name: f.String(key+".name", s.Name, true)}
		if site.Name == c.Site {
			f.Errorf(key+".name", "%q is this router's own site", s.Name)
		} else if site.Name != "" && !named[site.Name] {
			f.Errorf(key+".name", "%q is no site of the clusters or the subnets' homes (%s): a site is a set of routers, named as the clusters name it",
				s.Name, strings.Join(slices.Sorted(maps.Keys(named)), ", "))
		}
		if j, dup := seen[s.Name]; dup {
			f.Errorf(key+".name", "%q is configured twice (also liveness.sites[%d])", s.Name, j)
		}
		seen[s.Name] = i
		site.Peers = s.Peers
		if len(site.Peers) == 0 {
			site.Peers = c.API.Peers
		}
		if len(site.Peers) == 0 {
			f.Errorf(key+".peers", "missing: the certificate names of site %s's routeragents, whose answers alone are believed (or api.peers)", s.Name)
		}
		routers, rkey := s.Routers, key+".routers"
		switch {
		case len(routers) > 0 && (s.API != "" || len(s.Probe) > 0):
			f.Errorf(key+".api", "set api and probe for a site of one router, or [[%s]] for each of its routers, not both", rkey)
		case len(routers) == 0:
			routers, rkey = []routerEntry{{API: s.API, Probe: s.Probe}}, ""
		}
		for j, r := range routers {
			k := fmt.Sprintf("%s[%d]", rkey, j)
			if rkey == "" {
				k = key
			}
			site.Routers = append(site.Routers, loadRouter(f, c, k, r, apis))
		}
		out.Sites = append(out.Sites, site)
	}
	out.Siblings = liveness.Site{Name: c.Site, Peers: l.SiblingPeers}
	if len(out.Siblings.Peers) == 0 {
		out.Siblings.Peers = c.API.Peers
	}
	if len(l.Siblings) > 0 && len(out.Siblings.Peers) == 0 {
		f.Errorf("liveness.sibling_peers", "missing: the certificate names of this site's other routeragents, whose answers alone are believed (or api.peers)")
	}
	for j, r := range l.Siblings {
		out.Siblings.Routers = append(out.Siblings.Routers, loadRouter(f, c, fmt.Sprintf("liveness.siblings[%d]", j), r, apis))
	}
	out.SiblingLossAfter = f.Duration("liveness.sibling_loss_after", l.SiblingLossAfter, time.Second)
	if sl := out.SiblingLossAfter; sl < 100*time.Millisecond || sl > out.SiteLossAfter {
		f.Errorf("liveness.sibling_loss_after", "%s is not from 100ms to site_loss_after (%s): the routers of a site share a LAN, so a sibling is lost sooner than a site", sl, out.SiteLossAfter)
	}
	return out
}

// loadRouter reads one router of another site, or a sibling, at key:
// its API, once in the whole config (apis, by URL, says where it was
// seen), and its probe addresses, each on the interface of its subnet.
func loadRouter(f *config.File, c *Config, key string, r routerEntry, apis map[string]string) liveness.Router {
	rt := liveness.Router{API: strings.TrimSuffix(r.API, "/")}
	if u, err := url.Parse(r.API); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		f.Errorf(key+".api", "%q is not the other routeragent's API as https://host:port", r.API)
	} else if other, dup := apis[rt.API]; dup {
		f.Errorf(key+".api", "%s is configured twice (also %s)", rt.API, other)
	}
	apis[rt.API] = key
	if len(r.Probe) == 0 {
		f.Errorf(key+".probe", "missing: the router's addresses on the stretched subnets, checked with ARP or ND")
	}
	for m, a := range f.Addrs(key+".probe", r.Probe) {
		n := slices.IndexFunc(c.Plan.Subnets, func(sn plan.Subnet) bool { return sn.Prefix.Contains(a) && sn.Interface != "" })
		if n < 0 {
			f.Errorf(fmt.Sprintf("%s.probe[%d]", key, m), "%s is in no subnet with an interface on this router", a)
			continue
		}
		rt.Probes = append(rt.Probes, liveness.Probe{Addr: a, Interface: c.Plan.Subnets[n].Interface})
	}
	return rt
}

// loopback says whether a listen address is on the loopback interface.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ReadSecrets reads the BGP passwords from their files or systemd
// credentials. The daemon calls it when it starts; --check-config only
// warns, since a credential exists only under systemd.
func (c *Config) ReadSecrets() error {
	var errs []error
	for i := range c.BGP.Neighbors {
		n := &c.BGP.Neighbors[i]
		if n.PasswordFile == "" {
			continue
		}
		pw, err := config.ReadSecret(n.PasswordFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp.neighbors[%d].password_file: %w", i, err))
			continue
		}
		n.Password = pw
	}
	return errors.Join(errs...)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func loadPlan(f *config.File, raw *file) (plan.Config, map[netip.Prefix]wire.MAC) {
	g := raw.Guards
	var pc plan.Config
	switch f.OneOf("guards.owner", g.Owner, "majority", "home") {
	case "home":
		pc.Guards.Owner = plan.OwnerHome
	default:
		pc.Guards.Owner = plan.OwnerMajority
	}
	pc.Guards.HostRouteCeiling = f.Int("guards.host_route_ceiling", g.HostRouteCeiling, 0, 1, 1<<20)
	pc.Guards.TotalHostRouteCeiling = f.Int("guards.total_host_route_ceiling", g.TotalHostRouteCeiling, 0, 1, 1<<24)
	pc.Guards.FlapMoves = f.Int("guards.flap_moves", g.FlapMoves, 0, 2, 1000)
	pc.Guards.FlapWindow = f.Duration("guards.flap_window", g.FlapWindow, time.Minute)
	pc.Guards.FreshLanding = f.Duration("guards.fresh_landing", g.FreshLanding, 30*time.Second)
	macs := map[netip.Prefix]wire.MAC{}
	for i, s := range raw.Subnets {
		key := fmt.Sprintf("subnets[%d]", i)
		sn := plan.Subnet{
			Prefix:           f.Prefix(key+".prefix", s.Prefix),
			Home:             f.String(key+".home", s.Home, true),
			Interface:        s.Interface,
			Gateways:         f.Addrs(key+".gateways", s.Gateways),
			Pinned:           f.Addrs(key+".pinned", s.Pinned),
			Reserved:         f.Addrs(key+".reserved", s.Reserved),
			Networks:         s.Networks,
			HostRouteCeiling: f.Int(key+".host_route_ceiling", s.HostRouteCeiling, 0, 1, 1<<20),
		}
		if s.GatewayMAC != "" {
			m, err := wire.ParseMAC(s.GatewayMAC)
			if err != nil || !m.IsUnicast() {
				f.Errorf(key+".gateway_mac", "%q is not a unicast Ethernet address", s.GatewayMAC)
			}
			macs[sn.Prefix] = m
		}
		pc.Subnets = append(pc.Subnets, sn)
	}
	return pc, macs
}

func loadBGP(f *config.File, raw *file) bgp.Config {
	b := raw.BGP
	c := bgp.Config{
		ASN:             asn(f, "bgp.asn", b.ASN),
		RouterID:        f.Addr("bgp.router_id", b.RouterID),
		ListenPort:      179,
		GracefulRestart: b.GracefulRestart == nil || *b.GracefulRestart,
		RestartTime:     f.Duration("bgp.restart_time", b.RestartTime, 30*time.Second),
		WithdrawOnStop:  b.WithdrawOnStop,
	}
	c.LongLivedStaleTime = time.Hour
	if b.LongLivedStale != nil {
		c.LongLivedStaleTime = f.Duration("bgp.long_lived_stale_time", *b.LongLivedStale, 0)
	}
	if st := c.LongLivedStaleTime; st > 16777215*time.Second || st < 0 {
		f.Errorf("bgp.long_lived_stale_time", "%s is not from 0 (off) to the 16777215 s BGP can carry", st)
	}
	if c.RouterID.IsValid() && !c.RouterID.Is4() {
		f.Errorf("bgp.router_id", "%s is not an IPv4 address", c.RouterID)
	}
	if b.ListenAddress != "" {
		c.ListenAddress = f.Addr("bgp.listen_address", b.ListenAddress)
	}
	if b.ListenPort != nil {
		c.ListenPort = *b.ListenPort
		if c.ListenPort < 0 || c.ListenPort > 65535 {
			f.Errorf("bgp.listen_port", "%d is not a port (0 makes the speaker client-only)", c.ListenPort)
		}
	}
	if rt := c.RestartTime; rt > 4095*time.Second {
		f.Errorf("bgp.restart_time", "%s is more than the 4095 s BGP can carry", rt)
	}
	hostComms := b.HostCommunities
	if hostComms == nil {
		hostComms = []string{"no-export"}
	}
	c.HostCommunities = communities(f, "bgp.host_communities", hostComms)
	c.SummaryCommunities = communities(f, "bgp.summary_communities", b.SummaryComms)
	c.LocalPref = u32(f, "bgp.local_pref", b.LocalPref)
	c.MED = u32(f, "bgp.med", b.MED)
	if b.NextHopIPv4 != "" {
		if c.NextHop4 = f.Addr("bgp.next_hop_ipv4", b.NextHopIPv4); c.NextHop4.IsValid() && !c.NextHop4.Is4() {
			f.Errorf("bgp.next_hop_ipv4", "%s is not an IPv4 address", c.NextHop4)
		}
	}
	if b.NextHopIPv6 != "" {
		if c.NextHop6 = f.Addr("bgp.next_hop_ipv6", b.NextHopIPv6); c.NextHop6.IsValid() && !c.NextHop6.Is6() {
			f.Errorf("bgp.next_hop_ipv6", "%s is not an IPv6 address", c.NextHop6)
		}
	}
	for i, n := range b.Neighbors {
		key := fmt.Sprintf("bgp.neighbors[%d]", i)
		nb := bgp.Neighbor{
			Address:     f.Addr(key+".address", n.Address),
			ASN:         asn(f, key+".asn", n.ASN),
			Port:        f.Int(key+".port", n.Port, 179, 1, 65535),
			MultihopTTL: f.Int(key+".multihop_ttl", n.MultihopTTL, 0, 1, 255),
			Passive:     n.Passive,
		}
		if n.LocalAddress != "" {
			nb.LocalAddress = f.Addr(key+".local_address", n.LocalAddress)
		}
		families := n.Families
		if len(families) == 0 {
			families = []string{"ipv4", "ipv6"}
		}
		for j, fam := range families {
			switch f.OneOf(fmt.Sprintf("%s.families[%d]", key, j), fam, "ipv4", "ipv6") {
			case "ipv4":
				nb.IPv4 = true
			case "ipv6":
				nb.IPv6 = true
			}
		}
		nb.PasswordFile = n.PasswordFile
		if nb.Address.Is4() && nb.IPv6 && !c.NextHop6.IsValid() {
			f.Errorf(key+".families", "IPv6 routes over an IPv4 session need bgp.next_hop_ipv6")
		}
		if nb.Address.Is6() && nb.IPv4 && !c.NextHop4.IsValid() {
			f.Errorf(key+".families", "IPv4 routes over an IPv6 session need bgp.next_hop_ipv4")
		}
		for j, o := range c.Neighbors {
			if o.Address == nb.Address && nb.Address.IsValid() {
				f.Errorf(key+".address", "%s is configured twice (also bgp.neighbors[%d])", nb.Address, j)
			}
		}
		c.Neighbors = append(c.Neighbors, nb)
	}
	return c
}

// DefaultSiblingMED is the MED of every route of a site with siblings,
// when bgp.med is not set: a survivor beats a lost sibling's routes
// with bgp.WinningMED, which needs a higher one to beat.
const DefaultSiblingMED = 100

// siblingMED is the MED of a router with siblings: bgp.med, which must be
// above bgp.WinningMED, or DefaultSiblingMED.
func siblingMED(f *config.File, med *uint32) *uint32 {
	if med == nil {
		m := uint32(DefaultSiblingMED)
		return &m
	}
	if *med <= bgp.WinningMED {
		f.Errorf("bgp.med", "%d: a router with liveness.siblings sends a MED above %d, so that its sibling can beat its routes with MED %d when it is lost",
			*med, bgp.WinningMED, bgp.WinningMED)
	}
	return med
}

func loadAnnounce(f *config.File, raw *file, macs map[netip.Prefix]wire.MAC) announce.Config {
	a := raw.Announce
	c := announce.Config{
		Count:       f.Int("announce.count", a.Count, 3, 1, 100),
		Interval:    f.Duration("announce.interval", a.Interval, time.Second),
		Refresh:     time.Minute,
		Rate:        f.Int("announce.rate", a.Rate, 1000, 1, 1_000_000),
		Broadcast:   f.OneOf("announce.mode", a.Mode, "unicast", "broadcast") == "broadcast",
		GatewayMACs: macs,
	}
	if a.Refresh != nil {
		c.Refresh = f.Duration("announce.refresh", *a.Refresh, 0)
	}
	return c
}

func asn(f *config.File, key string, v int64) uint32 {
	if v < 1 || v > 4294967294 {
		f.Errorf(key, "%d is not an AS number (1 to 4294967294)", v)
		return 0
	}
	return uint32(v)
}

func u32(f *config.File, key string, v *int64) *uint32 {
	if v == nil {
		return nil
	}
	if *v < 0 || *v > 1<<32-1 {
		f.Errorf(key, "%d is out of range 0 to 4294967295", *v)
		return nil
	}
	u := uint32(*v)
	return &u
}

func communities(f *config.File, key string, ss []string) attrs.Communities {
	var c attrs.Communities
	for i, s := range ss {
		std, large, isLarge, err := attrs.ParseCommunity(s)
		switch {
		case err != nil:
			f.Errorf(fmt.Sprintf("%s[%d]", key, i), "%v", err)
		case isLarge:
			c.Large = append(c.Large, large)
		default:
			c.Standard = append(c.Standard, std)
		}
	}
	return c
}
