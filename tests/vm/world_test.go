//go:build linux

package vm

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/vcenter"
	"github.com/vmroute/vmroute/routeragent/daemon"
	"github.com/vmroute/vmroute/shared/pki"
	"github.com/vmroute/vmroute/tests/agents"
	"github.com/vmroute/vmroute/tests/vcsim"
)

// hostAddr is the host as a guest on qemu's user network sees it: qemu
// turns connections to it into connections to the host's loopback.
const hostAddr = "10.0.2.2"

// world is what an agent inside a VM talks to, on the host's loopback:
// vcsim with one stretched cluster, DC0_C0, whose host H0 is at site A
// and H1 at site B, the CA of vmroute's mutual TLS, and a routeragent of
// site A or a hostagent of the cluster ("hostagent:stretched").
type world struct {
	// VCenterURL and RouteragentURL are as the guest dials them.
	VCenterURL, RouteragentURL string
	User, Password, Thumbprint string
	// CA, HostCert and HostKey are PEM: the routeragents' CA and the
	// hostagent's client certificate and key.
	CA, HostCert, HostKey string

	// Web1MAC is web-1's MAC in vcsim.
	Web1MAC string

	ctx    context.Context
	dir    string
	ca     *pki.CA
	model  *simulator.Model
	vcURL  *url.URL
	c      *vim25.Client
	status string // the routeragent's status listener
}

// newWorld starts vcsim on loopback, with web-1 (DC0_C0_RP0_VM0) at H1
// and the given addresses, and makes the CA; everything stops when the
// test ends.
func newWorld(t *testing.T, web1 ...string) *world {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := &world{ctx: ctx, dir: t.TempDir()}

	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 1, 2, 0, 2
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Remove)
	m.Service.TLS = new(tls.Config)
	// A user and password of its own: vcsim's default takes any.
	m.Service.Listen = &url.URL{User: url.UserPassword("vmroute@vsphere.local", fmt.Sprintf("vc-%d", time.Now().UnixNano()))}
	s := m.Service.NewServer()
	t.Cleanup(func() {
		// vcsim's WaitForUpdatesEx does not end with its client's
		// connection, and Close waits for it: give up after a while.
		s.CloseClientConnections()
		closed := make(chan struct{})
		go func() { s.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Log("vcsim still waits for a request of the powered-off VM; not waiting longer")
		}
	})
	w.model, w.vcURL = m, s.URL
	c, err := vim25.NewClient(ctx, soap.NewClient(s.URL, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, s.URL.User); err != nil {
		t.Fatal(err)
	}
	w.c = c
	w.User = s.URL.User.Username()
	w.Password, _ = s.URL.User.Password()
	if w.Thumbprint, err = vcenter.Thumbprint(ctx, s.URL.Host); err != nil {
		t.Fatal(err)
	}
	w.VCenterURL = fmt.Sprintf("https://%s:%s/sdk", hostAddr, s.URL.Port())
	w.Web1MAC = w.setGuest(t, "DC0_C0_RP0_VM0", web1...)
	if err := w.relocate(ctx, "DC0_C0_H1"); err != nil {
		t.Fatal(err)
	}

	if w.ca, err = pki.Init(filepath.Join(w.dir, "pki"), pki.DefaultValidity); err != nil {
		t.Fatal(err)
	}
	hcert, hkey, err := w.ca.Issue(pki.Hostagent, "hostagent:stretched", nil, pki.DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	w.CA, w.HostCert, w.HostKey = readFile(t, w.ca.CAFile()), readFile(t, hcert), readFile(t, hkey)
	return w
}

// routeragentCert issues a routeragent's certificate for the addresses
// it is dialed at, and returns it and its key as PEM.
func (w *world) routeragentCert(t *testing.T, ips ...string) (cert, key string) {
	t.Helper()
	c, k, err := w.ca.Issue(pki.Routeragent, "router-a", ips, pki.DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	return readFile(t, c), readFile(t, k)
}

// startRouteragent starts a routeragent of site A on loopback, which the
// guest reaches at RouteragentURL. It is a dry run: it plans, and logs
// the landings it would announce the gateway to, but sends nothing.
func (w *world) startRouteragent(t *testing.T) {
	t.Helper()
	cert, key := w.routeragentCert(t, "127.0.0.1", hostAddr)
	certFile, keyFile := filepath.Join(w.dir, "router.crt"), filepath.Join(w.dir, "router.key")
	writeFile(t, certFile, cert)
	writeFile(t, keyFile, key)
	port := agents.FreePort(t)
	w.RouteragentURL = fmt.Sprintf("https://%s:%d", hostAddr, port)
	conf := filepath.Join(w.dir, "routeragent.toml")
	writeFile(t, conf, fmt.Sprintf(`site = "A"
dry_run = true
state_dir = %q
[api]
listen = "127.0.0.1:%d"
status_listen = "127.0.0.1:0"
cert_file = %q
key_file = %q
client_ca_file = %q
[[clusters]]
name = "stretched"
sites = ["A", "B"]
clients = ["hostagent:stretched"]
[[subnets]]
prefix = "192.0.2.0/24"
home = "A"
interface = "lo"
gateways = ["192.0.2.1"]
[bgp]
asn = 65001
router_id = "192.0.2.254"
listen_port = 0
[[bgp.neighbors]]
address = "127.0.0.1"
asn = 65000
port = %d
families = ["ipv4"]
`, filepath.Join(w.dir, "state"), port, certFile, keyFile, w.ca.CAFile(), agents.FreePort(t)))
	d := agents.Routeragent(w.ctx, t, conf)
	w.status = "http://" + d.StatusAddr()
}

// startHostagent starts a hostagent on the host, watching vcsim and
// reporting to a routeragent at url (a port qemu forwards to the guest).
func (w *world) startHostagent(t *testing.T, url string) {
	t.Helper()
	for name, content := range map[string]string{"ca.crt": w.CA, "hostagent.crt": w.HostCert, "hostagent.key": w.HostKey, "vc.pw": w.Password} {
		writeFile(t, filepath.Join(w.dir, name), content)
	}
	u := *w.vcURL
	u.User = nil
	conf := filepath.Join(w.dir, "hostagent.toml")
	writeFile(t, conf, w.hostagentConf(hostagentFiles{
		State: filepath.Join(w.dir, "hstate"), VCenter: u.String(), Password: filepath.Join(w.dir, "vc.pw"), TLS: w.dir,
		Routeragent: url, Status: "127.0.0.1:0", Report: `retry_max = "1s"`,
	}))
	agents.Hostagent(w.ctx, t, conf)
}

// firstReport waits for the routeragent's first report of the cluster
// and says when it came.
func (w *world) firstReport(ctx context.Context) (time.Time, error) {
	for {
		var st daemon.Status
		if err := w.get(ctx, "/v1/status", &st); err == nil {
			for _, c := range st.Clusters {
				if c.Name == "stretched" && c.VMs > 0 {
					return time.Now(), nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("no report of cluster stretched at the routeragent: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// vmotion moves web-1 (DC0_C0_RP0_VM0) from H1 (site B) to H0 (site A)
// and waits until the routeragent's move log holds its landing.
func (w *world) vmotion(ctx context.Context) error {
	if err := w.relocate(ctx, "DC0_C0_H0"); err != nil {
		return err
	}
	for {
		var moves []struct{ Name string }
		if err := w.get(ctx, "/v1/moves", &moves); err == nil && slices.ContainsFunc(moves, func(m struct{ Name string }) bool {
			return m.Name == "DC0_C0_RP0_VM0"
		}) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("web-1's landing did not reach the routeragent's move log: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// relocate moves web-1 to a host of the cluster, as vMotion does.
func (w *world) relocate(ctx context.Context, host string) error {
	return vcsim.Relocate(ctx, w.model, w.c, "/DC0/vm/DC0_C0_RP0_VM0", "/DC0/host/DC0_C0/"+host, "")
}

// hostagentFiles are where a hostagent of the world finds things.
type hostagentFiles struct {
	State, VCenter, Password string
	// TLS is the directory of hostagent.crt, hostagent.key and ca.crt.
	TLS         string
	Routeragent string
	Status      string
	// Report is the [report] section's body.
	Report string
}

// hostagentConf is the configuration of a hostagent of the world's
// stretched cluster, its hosts mapped to sites by name.
func (w *world) hostagentConf(f hostagentFiles) string {
	return fmt.Sprintf(`state_dir = %q
routeragents = [%q]
[vcenter]
url = %q
user = %q
password_file = %q
thumbprint = %q
[[clusters]]
path = "/DC0/host/DC0_C0"
name = "stretched"
sites_by = "host_name"
[clusters.sites]
A = ["DC0_C0_H0"]
B = ["DC0_C0_H1"]
[tls]
cert_file = %q
key_file = %q
ca_file = %q
[report]
%s
[status]
listen = %q
`, f.State, f.Routeragent, f.VCenter, w.User, f.Password, w.Thumbprint,
		f.TLS+"/hostagent.crt", f.TLS+"/hostagent.key", f.TLS+"/ca.crt", f.Report, f.Status)
}

// setGuest sets the addresses VMware Tools reports for a VM, and
// returns its MAC.
func (w *world) setGuest(t *testing.T, name string, ips ...string) string {
	t.Helper()
	ctx := context.Background()
	vm, err := find.NewFinder(w.c, false).VirtualMachine(ctx, "/DC0/vm/"+name)
	if err != nil {
		t.Fatal(err)
	}
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nics := devs.SelectByType((*types.VirtualEthernetCard)(nil))
	if len(nics) == 0 {
		t.Fatalf("%s has no adapter", name)
	}
	mac := nics[0].(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().MacAddress
	sctx := w.model.Service.Context
	sim := sctx.Map.Get(vm.Reference()).(*simulator.VirtualMachine)
	sctx.WithLock(sim, func() {
		sctx.Update(sim, []types.PropertyChange{{Name: "guest.net", Val: []types.GuestNicInfo{{MacAddress: mac, Connected: true, IpAddress: ips}}}})
	})
	return mac
}

func (w *world) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.status+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
