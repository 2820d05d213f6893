package docs

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/shared/pki"
	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/agents"
)

// TestGrafanaDashboard runs a routeragent and a hostagent (on vcsim, a
// stretched cluster with one host in no site's group) in this process,
// and checks that every metric docs/grafana/vmroute.json queries is in
// one of their /metrics.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../../docs/grafana/vmroute.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	queried := map[string]string{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range regexp.MustCompile(`vmroute_[a-z0-9_]+`).FindAllString(tg.Expr, -1) {
				queried[strings.TrimSuffix(m, "_bucket")] = p.Title
			}
		}
	}
	for _, want := range []string{"landings per minute", "landing to gateway announcement", "routes by site", "bgp peers", "reports accepted and refused", "stale clusters", "certificates"} {
		if !slices.ContainsFunc(dash.Panels, func(p struct {
			Title   string
			Targets []struct{ Expr string }
		}) bool {
			return strings.Contains(strings.ToLower(p.Title), want)
		}) {
			t.Errorf("the dashboard has no panel on %s", want)
		}
	}

	dir := t.TempDir()
	ca, err := pki.Init(filepath.Join(dir, "pki"), pki.DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	rcert, rkey, _ := ca.Issue(pki.Routeragent, "router", []string{"127.0.0.1"}, pki.DefaultValidity)
	hcert, hkey, _ := ca.Issue(pki.Hostagent, "hostagent:stretched", nil, pki.DefaultValidity)
	port := agents.FreePort(t)
	rconf := filepath.Join(dir, "routeragent.toml")
	write(t, rconf, fmt.Sprintf(`site = "A"
state_dir = %q
[api]
listen = "127.0.0.1:%d"
status_listen = "127.0.0.1:0"
cert_file = %q
key_file = %q
client_ca_file = %q
[reports]
lease = "1s"
[[clusters]]
name = "stretched"
sites = ["A", "B"]
clients = ["hostagent:stretched"]
[[subnets]]
prefix = "192.0.2.0/24"
home = "A"
[bgp]
asn = 65001
router_id = "192.0.2.254"
listen_port = 0
[[bgp.neighbors]]
address = "127.0.0.1"
asn = 65000
port = %d
families = ["ipv4"]
`, filepath.Join(dir, "state"), port, rcert, rkey, ca.CAFile(), agents.FreePort(t)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := agents.Routeragent(ctx, t, rconf)

	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 1, 3, 0, 2
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Remove) // after the hostagent stopped: cleanups run last first
	m.Service.TLS = new(tls.Config)
	s := m.Service.NewServer()
	t.Cleanup(s.Close)
	vcCA, _ := s.CertificateFile()
	c, err := vim25.NewClient(ctx, soap.NewClient(s.URL, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, s.URL.User); err != nil {
		t.Fatal(err)
	}
	setGroups(t, c, "/DC0/host/DC0_C0", map[string][]string{"hosts-a": {"DC0_C0_H0"}, "hosts-b": {"DC0_C0_H1"}})
	pw, _ := s.URL.User.Password()
	write(t, filepath.Join(dir, "vc.pw"), pw)
	u := *s.URL
	u.User = nil
	hconf := filepath.Join(dir, "hostagent.toml")
	write(t, hconf, fmt.Sprintf(`state_dir = %q
routeragents = ["https://127.0.0.1:%d"]
[vcenter]
url = %q
user = %q
password_file = %q
ca_file = %q
[[clusters]]
path = "/DC0/host/DC0_C0"
name = "stretched"
sites_by = "host_group"
[clusters.sites]
A = ["hosts-a"]
B = ["hosts-b"]
[tls]
cert_file = %q
key_file = %q
ca_file = %q
[status]
listen = "127.0.0.1:0"
`, filepath.Join(dir, "hstate"), port, u.String(), s.URL.User.Username(), filepath.Join(dir, "vc.pw"), vcCA, hcert, hkey, ca.CAFile()))
	a := agents.Hostagent(ctx, t, hconf)

	// A refused report, so that the refusal counter has a value.
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("https://127.0.0.1:%d%s", port, wire.ReportsPath), strings.NewReader("{}"))
	if resp, err := cl.Do(req); err == nil {
		resp.Body.Close()
	}
	exposed := func() string {
		var all strings.Builder
		for _, addr := range []string{d.StatusAddr(), a.StatusAddr} {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			all.Write(b)
		}
		return all.String()
	}
	var missing []string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		text := exposed()
		missing = missing[:0]
		for m, panel := range queried {
			if !regexp.MustCompile(`(?m)^`+m+`[{ ]`).MatchString(text) && !strings.Contains(text, m+"_bucket") {
				missing = append(missing, fmt.Sprintf("%s (panel %q)", m, panel))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard queries metrics the agents do not export:\n%s", strings.Join(missing, "\n"))
	}
}

func setGroups(t *testing.T, c *vim25.Client, path string, groups map[string][]string) {
	t.Helper()
	ctx := context.Background()
	f := find.NewFinder(c, false)
	cl, err := f.ClusterComputeResource(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	spec := &types.ClusterConfigSpecEx{}
	for name, hosts := range groups {
		hg := &types.ClusterHostGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: name}}
		for _, h := range hosts {
			host, err := f.HostSystem(ctx, path+"/"+h)
			if err != nil {
				t.Fatal(err)
			}
			hg.Host = append(hg.Host, host.Reference())
		}
		spec.GroupSpec = append(spec.GroupSpec, types.ClusterGroupSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd}, Info: hg})
	}
	task, err := cl.Reconfigure(ctx, spec, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.WaitEx(ctx); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
