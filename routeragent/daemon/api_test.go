package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vmroute/vmroute/routeragent/config"
	"github.com/vmroute/vmroute/routeragent/liveness"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/pki"
)

// testEnv is a routeragent of site A with its own CA, state directory and
// config file, and the certificates of the hostagents of clusters cl-a
// (site A) and cl-b (site B).
type testEnv struct {
	ca       *pki.CA
	dir      string
	confPath string
}

func newEnv(t *testing.T, extra string) *testEnv {
	t.Helper()
	e := &testEnv{ca: pki.New(t), dir: t.TempDir()}
	cert, key := e.ca.Issue(t, "router-a", net.ParseIP("127.0.0.1"))
	e.ca.Issue(t, "hostagent-a")
	e.ca.Issue(t, "hostagent-b")
	e.ca.Issue(t, "operator")
	e.confPath = filepath.Join(e.dir, "routeragent.toml")
	conf := fmt.Sprintf(`site = "A"
state_dir = %q
[api]
listen = "127.0.0.1:0"
status_listen = "127.0.0.1:0"
cert_file = %q
key_file = %q
client_ca_file = %q
max_report_bytes = 8192
operators = ["operator"]
[reports]
batch_window = "5ms"
[[clusters]]
name = "cl-a"
site = "A"
clients = ["hostagent-a"]
[[clusters]]
name = "cl-b"
site = "B"
clients = ["hostagent-b"]
[[subnets]]
prefix = "192.0.2.0/24"
home = "A"
pinned = ["192.0.2.250"]
[[subnets]]
prefix = "198.51.100.0/24"
home = "B"
[bgp]
asn = 65001
router_id = "192.0.2.254"
listen_port = 0
%s
`, filepath.Join(e.dir, "state"), cert, key, e.ca.CAFile, extra)
	if err := os.WriteFile(e.confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// edit rewrites the env's config file with f.
func (e *testEnv) edit(t *testing.T, f func(conf string) string) {
	t.Helper()
	conf, err := os.ReadFile(e.confPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.confPath, []byte(f(string(conf))), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reload loads the env's config file and reloads d with it.
func (e *testEnv) reload(t *testing.T, d *Daemon) {
	t.Helper()
	cfg, err := config.Load(e.confPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

// start runs a daemon on the env's config until the test ends.
func (e *testEnv) start(t *testing.T) *Daemon {
	t.Helper()
	d, _ := e.run(t)
	return d
}

// run runs a daemon on the env's config until stop is called or the test
// ends.
func (e *testEnv) run(t *testing.T) (d *Daemon, stop func()) {
	t.Helper()
	cfg, err := config.Load(e.confPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err = New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- d.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return d, stop
}

// client is an HTTPS client with the certificate of name.
func (e *testEnv) client(t testing.TB, name string) *http.Client {
	t.Helper()
	tc, err := tlsutil.Load(tlsutil.Files{Cert: filepath.Join(e.ca.Dir, name+".crt"), Key: filepath.Join(e.ca.Dir, name+".key"), CA: e.ca.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc.Client()}, Timeout: 5 * time.Second}
}

// post sends a report's body, with the cluster header naming the cluster
// the body names (cl-b when it names none).
func post(t *testing.T, c *http.Client, d *Daemon, body string) (int, wire.Problem) {
	t.Helper()
	cluster := "cl-b"
	if m := regexp.MustCompile(`"cluster":\s*"([^"]*)"`).FindStringSubmatch(body); m != nil {
		cluster = m[1]
	}
	return postAs(t, c, d, cluster, body)
}

// postAs sends a body with the cluster header given.
func postAs(t *testing.T, c *http.Client, d *Daemon, cluster, body string) (int, wire.Problem) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "https://"+d.apiAddr+wire.ReportsPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if cluster != "" {
		req.Header.Set(wire.ClusterHeader, url.PathEscape(cluster))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p wire.Problem
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &p)
	return resp.StatusCode, p
}

func get(t *testing.T, d *Daemon, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + d.statusAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func report(cluster, site string, gen uint64, addr string) string {
	return fmt.Sprintf(`{"cluster": %q, "generation": %d, "kind": "full", "vms": [
		{"uuid": "v1", "name": "web-1", "site": %q, "power_state": "poweredOn", "landed_at": "2026-11-22T10:00:00Z",
		 "nics": [{"mac": "00:50:56:00:00:01", "addresses": [%q]}]}]}`, cluster, gen, site, addr)
}

// allRoutes returns every site's planned routes as "SITE KIND PREFIX".
func allRoutes(t *testing.T, d *Daemon) []string {
	var r Routes
	get(t, d, "/v1/routes", &r)
	var out []string
	for _, rt := range r.AllSites {
		out = append(out, fmt.Sprintf("%s %s %s", rt.Site, rt.Kind, rt.Prefix))
	}
	return out
}

// waitVM waits until the planner holds VM uuid: the report that brought
// it has been planned, and its routes are in /v1/routes.
func waitVM(t *testing.T, d *Daemon, uuid string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var vms []VM
		get(t, d, "/v1/vms", &vms)
		for _, v := range vms {
			if v.VM == uuid {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("VM %s not planned within 5s: %+v", uuid, vms)
		}
	}
}

func waitRoutes(t *testing.T, d *Daemon, want string) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := allRoutes(t, d)
		if strings.Contains(strings.Join(got, ","), want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("routes %q, want %q among them", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReportAPI(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	b := e.client(t, "hostagent-b")
	if code, p := post(t, b, d, report("cl-b", "B", 5, "192.0.2.50")); code != http.StatusOK {
		t.Fatalf("good report: %d %s", code, p.Error)
	}
	before := waitRoutes(t, d, "B host 192.0.2.50/32")
	var vms []VM
	get(t, d, "/v1/vms", &vms)
	if len(vms) != 1 || vms[0].Site != "B" || vms[0].Name != "web-1" {
		t.Errorf("location table %+v", vms)
	}
	// A retry of the same report is accepted and changes nothing: the
	// cluster's generation, the location table and the routes.
	var stBefore Status
	get(t, d, "/v1/status", &stBefore)
	if code, _ := post(t, b, d, report("cl-b", "B", 5, "192.0.2.50")); code != http.StatusOK {
		t.Errorf("retry: %d", code)
	}
	var stAfter Status
	get(t, d, "/v1/status", &stAfter)
	var vmsAfter []VM
	get(t, d, "/v1/vms", &vmsAfter)
	if len(stAfter.Clusters) != 1 || stAfter.Clusters[0].Generation != stBefore.Clusters[0].Generation || stAfter.Clusters[0].VMs != 1 {
		t.Errorf("clusters after a retry %+v, were %+v", stAfter.Clusters, stBefore.Clusters)
	}
	if fmt.Sprint(vmsAfter) != fmt.Sprint(vms) {
		t.Errorf("location table after a retry %+v, was %+v", vmsAfter, vms)
	}
	if after := allRoutes(t, d); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("routes after a retry %q, were %q", after, before)
	}

	big := report("cl-b", "B", 9, "192.0.2.60")
	big = strings.Replace(big, `"web-1"`, fmt.Sprintf("%q", strings.Repeat("x", 255)), 1)
	big = strings.Replace(big, `"kind"`, strings.Repeat(" ", 9000)+`"kind"`, 1)
	tests := []struct {
		name   string
		client string
		body   string
		code   int
		msg    string
	}{
		{"a certificate for another cluster", "hostagent-a", report("cl-b", "B", 6, "192.0.2.60"), http.StatusForbidden,
			`client certificate [hostagent-a] may not report cluster "cl-b"`},
		{"a VM at a site the cluster does not span", "hostagent-b", report("cl-b", "A", 6, "192.0.2.60"), http.StatusForbidden,
			`vms[0] (v1): cluster "cl-b" spans sites B, not site "A"`},
		{"malformed JSON", "hostagent-b", `{"cluster": `, http.StatusBadRequest, "body ends inside the JSON document"},
		{"a key given twice", "hostagent-b", strings.Replace(report("cl-b", "B", 6, "192.0.2.60"), `"kind"`, `"kind": "full", "kind"`, 1),
			http.StatusBadRequest, `kind: the key "kind" is given twice`},
		{"an address that is not one", "hostagent-b", report("cl-b", "B", 6, "192.0.2.600"), http.StatusBadRequest, `192.0.2.600`},
		{"an oversized body", "hostagent-b", big, http.StatusRequestEntityTooLarge, "report larger than the limit of 8192 bytes"},
		{"a delta on a stale generation", "hostagent-b",
			`{"cluster": "cl-b", "generation": 7, "base": 4, "kind": "delta", "vms": [], "removed": ["v1"]}`,
			http.StatusConflict, "delta against generation 4, but generation 5 is held: send a full report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accepted := testutil.ToFloat64(d.metrics.accepted.WithLabelValues("cl-b"))
			refused := testutil.ToFloat64(d.metrics.refused.WithLabelValues(fmt.Sprint(tt.code)))
			code, p := post(t, e.client(t, tt.client), d, tt.body)
			if code != tt.code || !strings.Contains(p.Error, tt.msg) {
				t.Errorf("got %d %q, want %d %q", code, p.Error, tt.code, tt.msg)
			}
			// The answer comes after the intake decided: a report it
			// accepted would be counted, and queued for the plan, by now.
			if n := testutil.ToFloat64(d.metrics.accepted.WithLabelValues("cl-b")); n != accepted {
				t.Errorf("%v reports of cl-b accepted, %v before the refused one", n, accepted)
			}
			if n := testutil.ToFloat64(d.metrics.refused.WithLabelValues(fmt.Sprint(tt.code))); n != refused+1 {
				t.Errorf("%v refusals with %d counted, want %v", n, tt.code, refused+1)
			}
			var st Status
			get(t, d, "/v1/status", &st)
			if len(st.Clusters) != 1 || st.Clusters[0].Generation != 5 {
				t.Errorf("clusters after refusal: %+v", st.Clusters)
			}
			if after := allRoutes(t, d); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("routes changed after a refusal:\n%q\n%q", before, after)
			}
		})
	}
	var p wire.Problem
	code, p := post(t, b, d, `{"cluster": "cl-b", "generation": 7, "base": 4, "kind": "delta", "vms": []}`)
	if code != http.StatusConflict || p.Generation != 5 {
		t.Errorf("a stale delta's answer: %d, generation %d; want 409 and 5", code, p.Generation)
	}

	t.Run("a v1 hostagent is told to upgrade", func(t *testing.T) {
		resp, err := b.Post("https://"+d.apiAddr+wire.V1ReportsPath, "application/json", strings.NewReader(`{"site": "B"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p wire.Problem
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusGone || !strings.Contains(p.Error, "upgrade the hostagent") {
			t.Errorf("POST %s: %d %q, want 410 asking for a hostagent upgrade", wire.V1ReportsPath, resp.StatusCode, p.Error)
		}
	})

	t.Run("no client certificate, no report", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		_, err := c.Post("https://"+d.apiAddr+wire.ReportsPath, "application/json", bytes.NewReader([]byte(report("cl-b", "B", 8, "192.0.2.70"))))
		if err == nil {
			t.Error("a report without a client certificate was taken")
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + d.statusAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, want := range []string{`vmroute_reports_accepted_total{cluster="cl-b"} 1`, `vmroute_reports_refused_total{code="403"} 2`, `vmroute_reports_refused_total{code="410"} 1`,
			`vmroute_routes{kind="summary"} 1`, "vmroute_plan_duration_seconds_count"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})
}

// TestANewerHostagentsOptionalFieldsAreIgnored checks the wire rule by
// which v2 grows (package wire): a report with fields this routeragent
// does not know is accepted and planned as without them, and status names
// the fields, each once, for the cluster that sent them.
func TestANewerHostagentsOptionalFieldsAreIgnored(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	b := e.client(t, "hostagent-b")
	newer := strings.Replace(report("cl-b", "B", 1, "192.0.2.50"), `"name": "web-1",`,
		`"name": "web-1", "hw_version": "vmx-21", "migrating": {"site": "B", "at": "2026-11-22T10:00:00Z"},`, 1)
	newer = strings.Replace(newer, `"kind": "full",`, `"kind": "full", "features": ["x"],`, 1)
	if code, p := post(t, b, d, newer); code != http.StatusOK {
		t.Fatalf("a newer hostagent's report: %d %s", code, p.Error)
	}
	waitVM(t, d, "v1")
	if got := allRoutes(t, d); !slices.Contains(got, "B host 192.0.2.50/32") {
		t.Errorf("routes %q lack B's host route for the VM", got)
	}
	if code, p := post(t, b, d, strings.Replace(newer, `"generation": 1`, `"generation": 2`, 1)); code != http.StatusOK {
		t.Fatalf("again: %d %s", code, p.Error)
	}
	var st Status
	get(t, d, "/v1/status", &st)
	if len(st.Clusters) != 1 || st.Clusters[0].Generation != 2 ||
		fmt.Sprint(st.Clusters[0].IgnoredFields) != "[features vms.hw_version vms.migrating]" {
		t.Errorf("clusters %+v: want generation 2, ignoring features, vms.hw_version and vms.migrating", st.Clusters)
	}
}

func TestIgnoredFieldsAreBounded(t *testing.T) {
	var g ignoredFields
	if got := g.add("c", []string{"a", "b"}); fmt.Sprint(got) != "[a b]" {
		t.Errorf("first: %q", got)
	}
	if got := g.add("c", []string{"b", "c"}); fmt.Sprint(got) != "[c]" {
		t.Errorf("again: %q, want only the new c", got)
	}
	if got := g.add("d", []string{"a"}); fmt.Sprint(got) != "[a]" {
		t.Errorf("another cluster's: %q", got)
	}
	for i := range 2 * maxIgnoredFields {
		g.add("c", []string{fmt.Sprint("f", i)})
	}
	if n := len(g.of("c")); n != maxIgnoredFields {
		t.Errorf("%d fields kept, want the bound %d", n, maxIgnoredFields)
	}
	if got := g.of("d"); fmt.Sprint(got) != "[a]" {
		t.Errorf("another cluster's after: %q", got)
	}
}

func TestReload(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	if code, p := post(t, e.client(t, "hostagent-b"), d, report("cl-b", "B", 1, "203.0.113.9")); code != http.StatusOK {
		t.Fatalf("report: %d %s", code, p.Error)
	}
	waitVM(t, d, "v1")
	if got := allRoutes(t, d); strings.Contains(fmt.Sprint(got), "203.0.113") {
		t.Fatalf("an address outside every subnet is routed: %q", got)
	}
	// A new subnet: the held report is planned again, with no new report.
	e.edit(t, func(c string) string {
		return c + "[[subnets]]\nprefix = \"203.0.113.0/24\"\nhome = \"A\"\npinned = [\"203.0.113.250\"]\n"
	})
	e.reload(t, d)
	waitRoutes(t, d, "B host 203.0.113.9/32")
	// A new site needs a restart: refused, nothing changes.
	cfg2, _ := config.Load(e.confPath)
	cfg2.Site = "B"
	if err := d.Reload(context.Background(), cfg2); err == nil || !strings.Contains(err.Error(), "needs a restart") {
		t.Errorf("reload to another site: %v", err)
	}
	var st Status
	get(t, d, "/v1/status", &st)
	if st.Site != "A" {
		t.Errorf("site %q after a refused reload", st.Site)
	}
}

func TestDryRun(t *testing.T) {
	e := newEnv(t, "")
	e.edit(t, func(c string) string { return "dry_run = true\n" + c })
	d := e.start(t)
	var r Routes
	get(t, d, "/v1/routes", &r)
	if len(r.Desired) != 1 || len(r.Advertised) != 0 {
		t.Errorf("dry run: desired %v, advertised %v; want the summary planned and nothing advertised", r.Desired, r.Advertised)
	}
	var st Status
	get(t, d, "/v1/status", &st)
	if !st.DryRun {
		t.Error("status does not say dry run")
	}
}

func TestReloadRemovingAClusterPlansAsARestart(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	if code, p := post(t, e.client(t, "hostagent-b"), d, report("cl-b", "B", 1, "192.0.2.50")); code != http.StatusOK {
		t.Fatalf("report: %d %s", code, p.Error)
	}
	waitRoutes(t, d, "B host 192.0.2.50/32")
	e.edit(t, func(c string) string {
		without := strings.Replace(c, "[[clusters]]\nname = \"cl-b\"\nsite = \"B\"\nclients = [\"hostagent-b\"]\n", "", 1)
		if without == c {
			t.Fatal("the config lacks cl-b's block")
		}
		return without
	})
	e.reload(t, d)
	reloaded := allRoutes(t, d)
	if strings.Contains(fmt.Sprint(reloaded), "192.0.2.50") {
		t.Errorf("after the reload, cl-b's VM is still planned: %q", reloaded)
	}
	var st Status
	get(t, d, "/v1/status", &st)
	if len(st.Clusters) != 0 {
		t.Errorf("clusters after the reload %+v, want none", st.Clusters)
	}
	// A routeragent started on the new config from the same state: the
	// same plan.
	e2 := *e
	restarted := e2.start(t)
	if got := allRoutes(t, restarted); fmt.Sprint(got) != fmt.Sprint(reloaded) {
		t.Errorf("restarted: %q\nreloaded: %q", got, reloaded)
	}
}

func TestReloadAppliesNewTLSFiles(t *testing.T) {
	e := newEnv(t, "")
	d := e.start(t)
	served := func() string {
		t.Helper()
		conn, err := tls.Dial("tcp", d.apiAddr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "router-a" {
		t.Fatalf("serves %q", cn)
	}
	cert, key := e.ca.Issue(t, "router-a-renewed", net.ParseIP("127.0.0.1"))
	e.edit(t, strings.NewReplacer(filepath.Join(e.ca.Dir, "router-a.crt"), cert, filepath.Join(e.ca.Dir, "router-a.key"), key).Replace)
	e.reload(t, d)
	if cn := served(); cn != "router-a-renewed" {
		t.Errorf("after a reload with new paths, serves %q", cn)
	}
	cfg, err := config.Load(e.confPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.API.CertFile = filepath.Join(e.dir, "missing.crt")
	if err := d.Reload(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "configuration unchanged") {
		t.Errorf("a reload with a missing certificate: %v", err)
	}
	if cn := served(); cn != "router-a-renewed" {
		t.Errorf("after a refused reload, serves %q", cn)
	}
}

// TestLeaseMarksAClusterStale: a cluster that sends nothing for its lease
// turns stale in status and metrics, its routes stay, and its next report
// makes it fresh again.
func TestLeaseMarksAClusterStale(t *testing.T) {
	e := newEnv(t, "")
	e.edit(t, func(c string) string {
		return strings.Replace(c, `batch_window = "5ms"`, "batch_window = \"5ms\"\nlease = \"1s\"", 1)
	})
	d := e.start(t)
	b := e.client(t, "hostagent-b")
	if code, p := post(t, b, d, report("cl-b", "B", 1, "192.0.2.10")); code != http.StatusOK {
		t.Fatalf("report: %d %+v", code, p)
	}
	waitRoutes(t, d, "B host 192.0.2.10/32")
	stale := func() bool {
		var st Status
		get(t, d, "/v1/status", &st)
		for _, c := range st.Clusters {
			if c.Name == "cl-b" {
				return c.Stale
			}
		}
		t.Fatalf("status %+v has no cl-b", st.Clusters)
		return false
	}
	if stale() {
		t.Fatal("cl-b stale right after its report")
	}
	for deadline := time.Now().Add(10 * time.Second); !stale(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("cl-b not stale 10s after its report, with a lease of 1s")
		}
	}
	resp, err := http.Get("http://" + d.statusAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `vmroute_cluster_stale{cluster="cl-b"} 1`) {
		t.Error(`metrics lack vmroute_cluster_stale{cluster="cl-b"} 1`)
	}
	if got := strings.Join(allRoutes(t, d), ","); !strings.Contains(got, "B host 192.0.2.10/32") {
		t.Errorf("routes %q after the lease ran out; staleness alone changes none", got)
	}
	if code, p := post(t, b, d, report("cl-b", "B", 2, "192.0.2.10")); code != http.StatusOK {
		t.Fatalf("report: %d %+v", code, p)
	}
	for deadline := time.Now().Add(10 * time.Second); stale(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("cl-b still stale after a new report")
		}
	}
}

// TestSiteAnswer: GET /v1/site tells another site's routeragent (a name
// under api.peers) what this site announces and whether its reports are
// current: every cluster reported since the start. A hostagent may not
// ask.
func TestSiteAnswer(t *testing.T) {
	e := newEnv(t, "")
	e.ca.Issue(t, "router-b")
	e.edit(t, func(c string) string {
		return strings.Replace(c, `operators = ["operator"]`, "operators = [\"operator\"]\npeers = [\"router-b\"]", 1)
	})
	d := e.start(t)
	ask := func(name string) (int, liveness.Answer) {
		t.Helper()
		resp, err := e.client(t, name).Get("https://" + d.apiAddr + liveness.SitePath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a liveness.Answer
		_ = json.NewDecoder(resp.Body).Decode(&a)
		return resp.StatusCode, a
	}
	if code, a := ask("router-b"); code != http.StatusOK || a.Site != "A" || a.Current ||
		fmt.Sprint(a.Summaries) != "[192.0.2.0/24]" {
		t.Errorf("before any report: %d %+v; want site A announcing 192.0.2.0/24, not current", code, a)
	}
	for _, r := range []struct{ client, body string }{{"hostagent-a", report("cl-a", "A", 5, "192.0.2.10")}, {"hostagent-b", report("cl-b", "B", 5, "198.51.100.10")}} {
		if code, p := post(t, e.client(t, r.client), d, r.body); code != http.StatusOK {
			t.Fatalf("report: %d %+v", code, p)
		}
	}
	waitRoutes(t, d, "A summary 192.0.2.0/24")
	if code, a := ask("router-b"); code != http.StatusOK || !a.Current {
		t.Errorf("every cluster reported: %d %+v, want current", code, a)
	}
	if code, _ := ask("hostagent-a"); code != http.StatusForbidden {
		t.Errorf("a hostagent asks: %d, want 403", code)
	}
}
