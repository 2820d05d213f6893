// Package preflight runs the hostagent's live checks (vmroute-hostagent
// --check): vCenter reachable with its certificate as configured, the
// login, its clock, an event collector, every watched cluster and its
// hosts visible and placed at sites, every host group, fault domain or
// host name pattern matching a host, the port groups readable,
// and every routeragent reachable over mutual TLS and allowing this
// certificate for each cluster. It reports no VM to anyone.
package preflight

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/config"
	"github.com/vmroute/vmroute/hostagent/inventory"
	"github.com/vmroute/vmroute/hostagent/sitemap"
	"github.com/vmroute/vmroute/hostagent/vcenter"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/wire"
)

// Level grades a check.
type Level string

// Levels of a check's result.
const (
	OK   Level = "OK"
	Warn Level = "WARN"
	Fail Level = "FAIL"
)

// Result is one check's outcome.
type Result struct {
	Level Level
	What  string
}

func (r Result) String() string { return fmt.Sprintf("%-4s %s", r.Level, r.What) }

// Run runs every check and returns their results in order.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) []Result {
	var out []Result
	add := func(l Level, format string, args ...any) { out = append(out, Result{l, fmt.Sprintf(format, args...)}) }
	if err := cfg.ReadSecrets(); err != nil {
		add(Fail, "vCenter password: %v", err)
		return out
	}
	tc, err := tlsutil.Load(tlsutil.Files{Cert: cfg.TLS.CertFile, Key: cfg.TLS.KeyFile, CA: cfg.TLS.CAFile})
	if err != nil {
		add(Fail, "client certificate: %v", err)
	} else {
		add(OK, "client certificate %s", cfg.TLS.CertFile)
		for _, w := range tc.Warnings(time.Now()) {
			add(Warn, "%s", w)
		}
	}
	out = append(out, checkVCenter(ctx, cfg, log)...)
	if tc != nil {
		out = append(out, checkRouteragents(ctx, cfg, tc)...)
	}
	return out
}

func checkVCenter(ctx context.Context, cfg *config.Config, log *slog.Logger) []Result {
	var out []Result
	add := func(l Level, format string, args ...any) { out = append(out, Result{l, fmt.Sprintf(format, args...)}) }
	w := vcenter.New(cfg.VCenter, cfg.Clusters, log)
	c, logout, err := w.Connect(ctx)
	if err != nil {
		add(Fail, "vCenter: %v", err)
		return out
	}
	defer logout()
	add(OK, "vCenter %s: certificate as configured, logged in as %s", cfg.VCenter.URL.Host, cfg.VCenter.User)
	if now, err := methods.GetCurrentTime(ctx, c); err != nil {
		add(Fail, "vCenter time: %v", err)
	} else if off := time.Until(*now).Round(time.Second); vcenter.OffsetTooLarge(off) {
		add(Warn, "vCenter's clock is %v off this appliance's: landing times come from vCenter, but fix NTP here", off)
	} else {
		add(OK, "vCenter's clock is within a minute of this appliance's (%v)", off)
	}
	if hc, err := event.NewManager(c).CreateCollectorForEvents(ctx, vcenter.LandingEventFilter(c)); err != nil {
		add(Fail, "vCenter events: cannot create an event collector: %v (landing times would come from vCenter's clock only)", err)
	} else {
		_ = hc.Destroy(ctx)
		add(OK, "vCenter events: an event collector for landing events")
	}
	finder := find.NewFinder(c, false)
	pc := property.DefaultCollector(c)
	for _, cl := range cfg.Clusters {
		cc, err := finder.ClusterComputeResource(ctx, cl.Path)
		if err != nil {
			add(Fail, "cluster %s: %v (is it visible to %s?)", cl.Path, err, cfg.VCenter.User)
			continue
		}
		var ccm mo.ClusterComputeResource
		if err := pc.RetrieveOne(ctx, cc.Reference(), []string{"host", "network", inventory.GroupsProperty}, &ccm); err != nil {
			add(Fail, "cluster %s: %v", cl.Path, err)
			continue
		}
		groups := map[types.ManagedObjectReference][]string{}
		if info, ok := ccm.ConfigurationEx.(*types.ClusterConfigInfoEx); ok && info != nil {
			for _, g := range info.Group {
				if hg, ok := g.(*types.ClusterHostGroup); ok {
					for _, h := range hg.Host {
						groups[h] = append(groups[h], hg.Name)
					}
				}
			}
		}
		perSite := map[string]int{}
		var seen []sitemap.Host
		for _, ref := range ccm.Host {
			var h mo.HostSystem
			props := []string{"name"}
			if cl.Sites.By == sitemap.FaultDomain {
				props = append(props, inventory.FaultDomainProperty)
			}
			if err := pc.RetrieveOne(ctx, ref, props, &h); err != nil || h.Name == "" {
				add(Fail, "cluster %s: host %s is not visible to %s: grant its role on the cluster, with propagation", cl.Path, ref.Value, cfg.VCenter.User)
				continue
			}
			fd := ""
			if h.Config != nil && h.Config.VsanHostConfig != nil && h.Config.VsanHostConfig.FaultDomainInfo != nil {
				fd = h.Config.VsanHostConfig.FaultDomainInfo.Name
			}
			host := sitemap.Host{Name: h.Name, Groups: groups[ref], FaultDomain: fd}
			seen = append(seen, host)
			site, why := cl.Sites.Place(host)
			if site == "" {
				add(Warn, "cluster %s: host %s is placed at no site: %s", cl.Path, h.Name, why)
				continue
			}
			perSite[site]++
		}
		add(OK, "cluster %s: %d hosts, by site %v", cl.Path, len(ccm.Host), perSite)
		for _, u := range cl.Sites.Unmatched(seen) {
			add(Fail, "cluster %s: %s matches no host of the cluster", cl.Path, u)
		}
		out = append(out, checkPortgroups(ctx, pc, cl.Path, ccm.Network, cfg.VCenter.User)...)
	}
	return out
}

// checkPortgroups reads the key and name of the cluster's distributed
// port groups, which reports name the VMs' networks by.
func checkPortgroups(ctx context.Context, pc *property.Collector, cluster string, networks []types.ManagedObjectReference, user string) []Result {
	var refs []types.ManagedObjectReference
	for _, n := range networks {
		if n.Type == "DistributedVirtualPortgroup" {
			refs = append(refs, n)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	var pgs []mo.DistributedVirtualPortgroup
	if err := pc.Retrieve(ctx, refs, inventory.PortgroupProperties, &pgs); err != nil {
		return []Result{{Fail, fmt.Sprintf("cluster %s: its distributed port groups cannot be read: %v", cluster, err)}}
	}
	var out []Result
	for _, pg := range pgs {
		if pg.Key == "" || pg.Name == "" {
			out = append(out, Result{Fail, fmt.Sprintf("cluster %s: port group %s is not readable by %s: grant its role on the distributed switch, with propagation", cluster, pg.Self.Value, user)})
		}
	}
	if len(pgs) < len(refs) {
		out = append(out, Result{Fail, fmt.Sprintf("cluster %s: %d of its %d distributed port groups are not readable by %s", cluster, len(refs)-len(pgs), len(refs), user)})
	}
	if len(out) == 0 {
		out = append(out, Result{OK, fmt.Sprintf("cluster %s: %d distributed port groups readable", cluster, len(refs))})
	}
	return out
}

func checkRouteragents(ctx context.Context, cfg *config.Config, tc *tlsutil.Config) []Result {
	var out []Result
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc.Client()}}
	for _, ra := range cfg.Routeragents {
		for _, cl := range cfg.Clusters {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, ra+wire.AuthorizePath, nil)
			if err != nil {
				out = append(out, Result{Fail, fmt.Sprintf("routeragent %s: %v", ra, err)})
				continue
			}
			req.Header.Set(wire.ClusterHeader, url.PathEscape(cl.Name))
			resp, err := client.Do(req)
			if err != nil {
				out = append(out, Result{Fail, fmt.Sprintf("routeragent %s: %v", ra, err)})
				break
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusNoContent:
				out = append(out, Result{OK, fmt.Sprintf("routeragent %s: reachable over mutual TLS, accepts this certificate for cluster %s", ra, cl.Name)})
			case http.StatusNotFound:
				out = append(out, Result{Fail, fmt.Sprintf("routeragent %s: no %s: it speaks an older wire version; upgrade it", ra, wire.AuthorizePath)})
			default:
				out = append(out, Result{Fail, fmt.Sprintf("routeragent %s: does not accept this certificate for cluster %s (%s): list its name under the cluster's clients there", ra, cl.Name, resp.Status)})
			}
		}
	}
	return out
}
