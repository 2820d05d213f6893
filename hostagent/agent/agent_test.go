package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/hostagent/config"
	"github.com/vmroute/vmroute/hostagent/sitemap"
	"github.com/vmroute/vmroute/hostagent/vcenter"
	"github.com/vmroute/vmroute/routeragent/intake"
	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/shared/wire"
	"github.com/vmroute/vmroute/tests/pki"
	"github.com/vmroute/vmroute/tests/vcsim"
)

// routeragent is a test routeragent: the real intake behind an HTTPS
// server with client certificates; it can be taken down and back up.
type routeragent struct {
	t      testing.TB
	intake *intake.Intake
	srv    *httptest.Server
	mu     sync.Mutex
	down   bool
	posts  int
	// accepted, when set, is told of every accepted report.
	accepted func(*wire.Report)
}

// newRouteragent accepts reports for clusters, by default those of the
// per-site layout.
func newRouteragent(t testing.TB, ca *pki.CA, clusters ...intake.Cluster) *routeragent {
	if clusters == nil {
		clusters = perSite.clusters
	}
	cert, key := ca.Issue(t, "router", net.ParseIP("127.0.0.1"))
	tc, err := tlsutil.Load(tlsutil.Files{Cert: cert, Key: key, CA: ca.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	r := &routeragent{t: t, intake: intake.New(clusters, 2*time.Minute, 2*time.Second)}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.handle))
	r.srv.TLS = tc.Server()
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *routeragent) handle(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == wire.AuthorizePath {
		names, _ := tlsutil.Names(req.TLS)
		if ref := r.intake.Authorize(req.Header.Get(wire.ClusterHeader), names); ref != nil {
			w.WriteHeader(ref.Status)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	r.mu.Lock()
	down := r.down
	r.posts++
	r.mu.Unlock()
	if down {
		http.Error(w, `{"error": "down for the test"}`, http.StatusServiceUnavailable)
		return
	}
	names, _ := tlsutil.Names(req.TLS)
	rep, err := wire.Decode(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(wire.Problem{Error: err.Error()})
		return
	}
	if _, ref := r.intake.Accept(rep, names, time.Now(), func(*intake.State) error { return nil }); ref != nil {
		w.WriteHeader(ref.Status)
		_ = json.NewEncoder(w).Encode(wire.Problem{Error: ref.Msg, Generation: ref.Generation})
		return
	}
	r.mu.Lock()
	hook := r.accepted
	r.mu.Unlock()
	if hook != nil {
		hook(rep)
	}
	_ = json.NewEncoder(w).Encode(wire.Ack{Generation: r.intake.Generation(rep.Cluster)})
}

// postCount returns how many reports the routeragent has been sent.
func (r *routeragent) postCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posts
}

// vm returns what the routeragent holds for a VM by name, and its cluster.
func (r *routeragent) vm(name string) (wire.VM, string) {
	for _, st := range r.intake.States() {
		for _, v := range st.VMs {
			if v.Name == name {
				return v, st.Cluster
			}
		}
	}
	return wire.VM{}, ""
}

// counts returns how many VMs the routeragent holds in cl-a and cl-b.
func (r *routeragent) counts() (int, int) {
	n := map[string]int{}
	for _, st := range r.intake.States() {
		n[st.Cluster] = len(st.VMs)
	}
	return n["cl-a"], n["cl-b"]
}

// wait waits until cond holds for the routeragent's state.
func (r *routeragent) wait(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, st := range r.intake.States() {
				fmt.Fprintf(&b, "%s gen %d:", st.Cluster, st.Generation)
				for _, v := range st.VMs {
					fmt.Fprintf(&b, " %s(%s %s %v)", v.Name, v.PowerState, v.LandedAt.Format(time.StampMilli), v.NICs)
				}
				b.WriteString("\n")
			}
			r.t.Fatalf("routeragent: %s: not within 10s; it holds:\n%s", what, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lab is vcsim with two clusters, DC0_C0 (site A) and DC0_C1 (site B), a
// hostagent watching both, and one routeragent.
type lab struct {
	model *simulator.Model
	c     *vim25.Client
	r     *routeragent
	agent *Agent
	stop  func() // stops the agent; idempotent
	dir   string
	url   *url.URL // the simulator's, with its credentials
	srv   *simulator.Server
}

func newLab(t testing.TB) *lab {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 2, 0, 2
	l := newLabModel(t, m)
	l.start(t)
	return l
}

// layout is how the lab's clusters map to sites: the hostagent's
// [[clusters]] and the routeragent's.
type layout struct {
	toml     string
	clusters []intake.Cluster
}

// perSite is a cluster per site: DC0_C0 at A, DC0_C1 at B.
var perSite = layout{toml: `[[clusters]]
path = "/DC0/host/DC0_C0"
name = "cl-a"
site = "A"
[[clusters]]
path = "/DC0/host/DC0_C1"
name = "cl-b"
site = "B"
`, clusters: []intake.Cluster{
	{Name: "cl-a", Sites: []string{"A"}, Clients: []string{"hostagent"}},
	{Name: "cl-b", Sites: []string{"B"}, Clients: []string{"hostagent"}},
}}

// newLabModel serves the model and writes the hostagent's configuration
// (hostagent.toml in l.dir) for the per-site layout, but starts no
// hostagent.
func newLabModel(t testing.TB, m *simulator.Model) *lab { return newLabLayout(t, m, perSite) }

// newLabLayout is newLabModel for any layout.
func newLabLayout(t testing.TB, m *simulator.Model, lay layout) *lab {
	ca := pki.New(t)
	ca.Issue(t, "hostagent")
	return newLabWith(t, m, lay, ca, newRouteragent(t, ca, lay.clusters...))
}

// newLabWith is newLabLayout with a routeragent (and the CA it trusts)
// that another lab may share: a second vCenter, with its own hostagent.
func newLabWith(t testing.TB, m *simulator.Model, lay layout, ca *pki.CA, r *routeragent) *lab {
	s, c := serve(t, m, "")
	l := &lab{model: m, c: c, r: r, dir: t.TempDir(), url: s.URL, srv: s}
	pw, _ := s.URL.User.Password()
	// A copy of vcsim's certificate: the server deletes its own file when
	// it closes, and a restarted vcsim serves the same certificate.
	simCA, err := s.CertificateFile()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(simCA)
	if err != nil {
		t.Fatal(err)
	}
	vcCA := filepath.Join(l.dir, "vcenter-ca.pem")
	if err := os.WriteFile(vcCA, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.dir, "vc.pw"), []byte(pw), 0o600); err != nil {
		t.Fatal(err)
	}
	u := *s.URL
	u.User = nil
	conf := fmt.Sprintf(`state_dir = %q
routeragents = [%q]
[vcenter]
url = %q
user = %q
password_file = %q
ca_file = %q
wait_timeout = "1s"
%s[tls]
cert_file = %q
key_file = %q
ca_file = %q
[report]
debounce = "20ms"
retry_min = "50ms"
retry_max = "200ms"
[status]
listen = "127.0.0.1:0"
`, filepath.Join(l.dir, "state"), l.r.srv.URL, u.String(), s.URL.User.Username(), filepath.Join(l.dir, "vc.pw"),
		vcCA, lay.toml, filepath.Join(ca.Dir, "hostagent.crt"), filepath.Join(ca.Dir, "hostagent.key"), ca.CAFile)
	if err := os.WriteFile(filepath.Join(l.dir, "hostagent.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// via has the hostagent reach vCenter at u, whose certificate is pem (a
// server in front of vcsim), instead of vcsim itself.
func (l *lab) via(t testing.TB, u *url.URL, pem []byte) {
	t.Helper()
	conf := filepath.Join(l.dir, "hostagent.toml")
	text, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	sim := *l.url
	sim.User = nil
	if err := os.WriteFile(conf, []byte(strings.Replace(string(text), sim.String(), u.String(), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.dir, "vcenter-ca.pem"), pem, 0o600); err != nil {
		t.Fatal(err)
	}
}

// restartVCenter stops vcsim and starts a new one with the same inventory
// on the same address, as a vCenter restart looks to its clients: every
// session is gone. Cleanups go to t.
func (l *lab) restartVCenter(t testing.TB) {
	addr := l.srv.URL.Host
	l.srv.Close() // returns once the hostagent's poll has ended (wait_timeout)
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 2, 0, 2
	s, c := serve(t, m, addr)
	l.model, l.c, l.srv = m, c, s
}

// serve creates the model and serves it over HTTPS on addr (any port of
// 127.0.0.1 when empty), and returns the server and a client logged in.
func serve(t testing.TB, m *simulator.Model, addr string) (*simulator.Server, *vim25.Client) {
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Remove)
	m.Service.TLS = new(tls.Config)
	if addr != "" {
		m.Service.Listen = &url.URL{Host: addr}
	}
	s := m.Service.NewServer()
	t.Cleanup(s.Close)
	ctx := context.Background()
	c, err := vim25.NewClient(ctx, soap.NewClient(s.URL, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(c).Login(ctx, s.URL.User); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// start runs a hostagent on the lab's configuration; prepare, if any, is
// called before it runs.
func (l *lab) start(t testing.TB, prepare ...func(*Agent)) {
	cfg, err := config.Load(filepath.Join(l.dir, "hostagent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range prepare {
		f(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, nil) }()
	l.stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(l.stop)
	l.agent = a
}

func (l *lab) obj(t testing.TB, path string) object.Reference {
	t.Helper()
	o, err := find.NewFinder(l.c, false).ManagedObjectList(context.Background(), path)
	if err != nil || len(o) != 1 {
		t.Fatalf("find %s: %v (%d found)", path, err, len(o))
	}
	return o[0].Object
}

func (l *lab) vmObj(t testing.TB, name string) *object.VirtualMachine {
	vm, err := find.NewFinder(l.c, false).VirtualMachine(context.Background(), "/DC0/vm/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// relocate moves a powered-on VM to a host (and the host's cluster's pool).
func (l *lab) relocate(t testing.TB, vmName, hostPath, poolPath string) {
	t.Helper()
	l.relocateAt(t, vmName, hostPath, poolPath)
}

// relocateAt relocates as relocate does and returns when vCenter
// completed the task, by its clock.
func (l *lab) relocateAt(t testing.TB, vmName, hostPath, poolPath string) time.Time {
	t.Helper()
	ctx := context.Background()
	host := l.obj(t, hostPath).Reference()
	pool := l.obj(t, poolPath).Reference()
	vm := l.vmObj(t, vmName)
	task, err := vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Host: &host, Pool: &pool}, types.VirtualMachineMovePriorityDefaultPriority)
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.taskInfo(task)
	if err != nil {
		t.Fatal(err)
	}
	vcsim.HostMoved(l.model, vm.Reference())
	if info.CompleteTime == nil {
		t.Fatalf("task %s done without a completion time", task.Reference().Value)
	}
	return *info.CompleteTime
}

// waitTask waits for a vCenter task by reading its state. govmomi's
// task.Wait creates and destroys a property filter for each task, which
// races inside vcsim with other waits on the same collector.
func (l *lab) waitTask(task *object.Task) error {
	_, err := l.taskResult(task)
	return err
}

// taskResult waits for a task as waitTask does and returns its result.
func (l *lab) taskResult(task *object.Task) (types.AnyType, error) {
	info, err := l.taskInfo(task)
	if err != nil {
		return nil, err
	}
	return info.Result, nil
}

// taskInfo waits for a task as waitTask does and returns its info.
func (l *lab) taskInfo(task *object.Task) (*types.TaskInfo, error) {
	ctx := context.Background()
	pc := property.DefaultCollector(l.c)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var t mo.Task
		if err := pc.RetrieveOne(ctx, task.Reference(), []string{"info"}, &t); err != nil {
			return nil, err
		}
		switch t.Info.State {
		case types.TaskInfoStateSuccess:
			return &t.Info, nil
		case types.TaskInfoStateError:
			if t.Info.Error != nil {
				return nil, fmt.Errorf("task %s: %s", task.Reference().Value, t.Info.Error.LocalizedMessage)
			}
			return nil, fmt.Errorf("task %s failed", task.Reference().Value)
		}
	}
	return nil, fmt.Errorf("task %s: not done within 30s", task.Reference().Value)
}

// setGuestNet sets a VM's guest.net inside the simulator.
func (l *lab) setGuestNet(t *testing.T, vmName string, net []types.GuestNicInfo) {
	ref := l.vmObj(t, vmName).Reference()
	ctx := l.model.Service.Context
	sim := ctx.Map.Get(ref).(*simulator.VirtualMachine)
	ctx.WithLock(sim, func() {
		ctx.Update(sim, []types.PropertyChange{{Name: "guest.net", Val: net}})
	})
}

func (l *lab) mac(t *testing.T, vmName string) string {
	devs, err := l.vmObj(t, vmName).Device(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if e, ok := d.(types.BaseVirtualEthernetCard); ok {
			return e.GetVirtualEthernetCard().MacAddress
		}
	}
	t.Fatalf("%s has no adapter", vmName)
	return ""
}

const (
	vmA = "DC0_C0_RP0_VM0"
	hB0 = "/DC0/host/DC0_C1/DC0_C1_H0"
	hA1 = "/DC0/host/DC0_C0/DC0_C0_H1"
	rpA = "/DC0/host/DC0_C0/Resources"
	rpB = "/DC0/host/DC0_C1/Resources"
)

func TestIntegrationVcsim(t *testing.T) {
	l := newLab(t)
	r := l.r
	r.wait("both clusters reported", func() bool { _, c := r.vm(vmA); return c == "cl-a" && len(r.intake.States()) == 2 })
	first, _ := r.vm(vmA)
	if first.LandedAt.After(time.Now().Add(-time.Hour)) {
		t.Errorf("a VM found in place has landed_at %v: it did not just land", first.LandedAt)
	}

	t.Run("a VM without guest info reports its MACs only", func(t *testing.T) {
		l.setGuestNet(t, vmA, nil)
		r.wait("no addresses", func() bool {
			v, _ := r.vm(vmA)
			return len(v.NICs) == 1 && len(v.NICs[0].Addresses) == 0 && v.NICs[0].MAC.String() == l.mac(t, vmA)
		})
	})

	t.Run("an address change is reported", func(t *testing.T) {
		l.setGuestNet(t, vmA, []types.GuestNicInfo{{MacAddress: l.mac(t, vmA), Connected: true, IpAddress: []string{"192.0.2.10", "2001:db8:100::10", "fe80::1%eth0", "bogus"}}})
		r.wait("addresses", func() bool {
			v, _ := r.vm(vmA)
			return len(v.NICs) == 1 && fmt.Sprint(v.NICs[0].Addresses) == "[192.0.2.10 2001:db8:100::10 fe80::1]"
		})
	})

	t.Run("a migration inside the site sends nothing", func(t *testing.T) {
		posts := r.postCount()
		l.relocate(t, vmA, hA1, rpA)
		// A change that is reported after it marks when the hostagent has
		// seen the move: only that change may reach the routeragent.
		const other = "DC0_C0_RP0_VM1"
		l.setGuestNet(t, other, []types.GuestNicInfo{{MacAddress: l.mac(t, other), Connected: true, IpAddress: []string{"192.0.2.11"}}})
		r.wait("the marker change", func() bool {
			v, _ := r.vm(other)
			return len(v.NICs) == 1 && fmt.Sprint(v.NICs[0].Addresses) == "[192.0.2.11]"
		})
		if n := r.postCount() - posts; n != 1 {
			t.Errorf("%d reports after a move inside site A and one address change, want 1", n)
		}
		if v, c := r.vm(vmA); c != "cl-a" || v.Site != "A" || !v.LandedAt.Equal(first.LandedAt) {
			t.Errorf("after an intra-site move: %s at %s, landed %v (was %v)", c, v.Site, v.LandedAt, first.LandedAt)
		}
	})

	var landed time.Time
	t.Run("a migration from A to B lands in B with MACs and addresses", func(t *testing.T) {
		before := time.Now()
		l.relocate(t, vmA, hB0, rpB)
		r.wait("in cl-b", func() bool { _, c := r.vm(vmA); return c == "cl-b" })
		v, _ := r.vm(vmA)
		landed = v.LandedAt
		if landed.Before(before.Add(-time.Second)) || v.PowerState != wire.PoweredOn {
			t.Errorf("landed at %v (migration at %v), %s", landed, before, v.PowerState)
		}
		if len(v.NICs) != 1 || len(v.NICs[0].Addresses) != 3 {
			t.Errorf("adapters %v", v.NICs)
		}
		for _, st := range r.intake.States() {
			if _, ok := st.VMs[v.UUID]; ok && st.Cluster == "cl-a" {
				t.Error("cl-a still lists the VM")
			}
		}
	})

	t.Run("power off and on", func(t *testing.T) {
		vm := l.vmObj(t, vmA)
		task, err := vm.PowerOff(context.Background())
		if err != nil || l.waitTask(task) != nil {
			t.Fatal(err)
		}
		r.wait("off", func() bool { v, _ := r.vm(vmA); return v.PowerState == wire.PoweredOff })
		task, err = vm.PowerOn(context.Background())
		if err != nil || l.waitTask(task) != nil {
			t.Fatal(err)
		}
		r.wait("on", func() bool { v, _ := r.vm(vmA); return v.PowerState == wire.PoweredOn })
		if v, _ := r.vm(vmA); !v.LandedAt.Equal(landed) {
			t.Errorf("power cycle changed landed_at: %v, was %v", v.LandedAt, landed)
		}
	})

	const vm1 = "DC0_C0_RP0_VM1"
	var hostMoved time.Time
	t.Run("a host moved to the other cluster brings its VMs", func(t *testing.T) {
		// vSphere moves only a host in maintenance mode: its VMs are off,
		// still registered on it.
		ctx := context.Background()
		l.relocate(t, vm1, hA1, rpA)
		task, err := l.vmObj(t, vm1).PowerOff(ctx)
		if err != nil || l.waitTask(task) != nil {
			t.Fatal(err)
		}
		r.wait("vm1 off in cl-a", func() bool { v, c := r.vm(vm1); return c == "cl-a" && v.PowerState == wire.PoweredOff })
		host := object.NewHostSystem(l.c, l.obj(t, hA1).Reference())
		if task, err = host.EnterMaintenanceMode(ctx, 60, false, nil); err != nil || l.waitTask(task) != nil {
			t.Fatalf("maintenance mode: %v", err)
		}
		cluster := object.NewClusterComputeResource(l.c, l.obj(t, "/DC0/host/DC0_C1").Reference())
		hostMoved = time.Now().Add(-time.Second)
		task, err = cluster.MoveInto(ctx, host)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.waitTask(task); err != nil {
			t.Fatalf("move host: %v", err)
		}
		// vcsim's MoveIntoTask sets the host's parent without telling the
		// property collectors; vCenter tells them. Tell them as it would.
		sctx := l.model.Service.Context
		simHost := sctx.Map.Get(host.Reference()).(*simulator.HostSystem)
		sctx.WithLock(simHost, func() {
			sctx.Update(simHost, []types.PropertyChange{{Name: "parent", Val: *simHost.Parent}})
		})
		r.wait("vm1 in cl-b", func() bool { v, c := r.vm(vm1); return c == "cl-b" && v.Site == "B" })
	})

	t.Run("a deleted VM is removed", func(t *testing.T) {
		vm := l.vmObj(t, vmA)
		task, _ := vm.PowerOff(context.Background())
		_ = l.waitTask(task)
		task, err := vm.Destroy(context.Background())
		if err != nil || l.waitTask(task) != nil {
			t.Fatal(err)
		}
		r.wait("gone", func() bool { _, c := r.vm(vmA); return c == "" })
	})

	var st Status
	resp, err := http.Get("http://" + l.agent.StatusAddr + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if !st.VCenter.Connected || st.VCenter.Landings < 1 || len(st.Routeragents) != 1 || st.Routeragents[0].Sent < 5 {
		t.Errorf("status %+v", st)
	}

	// Last: vcsim does not send a restarted hostagent the changes of a VM
	// it relocated before (see the closing note of issue 19).
	t.Run("a hostagent restart: the routeragent keeps every VM and landing time", func(t *testing.T) {
		held := func() map[string]string {
			out := map[string]string{}
			for _, st := range r.intake.States() {
				for _, v := range st.VMs {
					out[v.Name] = fmt.Sprintf("%s %s %s", st.Cluster, v.Site, v.LandedAt.UTC().Format(time.RFC3339Nano))
				}
			}
			return out
		}
		before := held()
		gens := map[string]uint64{}
		for _, st := range r.intake.States() {
			gens[st.Cluster] = st.Generation
		}
		l.stop()
		l.start(t)
		// The restarted hostagent sends each cluster a full report, with
		// a generation of its own.
		r.wait("the restarted hostagent's reports", func() bool {
			for _, st := range r.intake.States() {
				if st.Generation == gens[st.Cluster] {
					return false
				}
			}
			return true
		})
		if after := held(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("after a hostagent restart the routeragent holds\n%v\nwas\n%v", after, before)
		}
		if v, _ := r.vm(vm1); v.LandedAt.IsZero() || v.LandedAt.Before(hostMoved) {
			t.Errorf("after a restart %s landed at %v; want its landing with its host, after %v", vm1, v.LandedAt, hostMoved)
		}
	})
}

// TestThumbprint logs in to vCenter with a pinned certificate thumbprint
// instead of a CA.
func TestThumbprint(t *testing.T) {
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	defer m.Remove()
	m.Service.TLS = new(tls.Config)
	s := m.Service.NewServer()
	defer s.Close()
	pw, _ := s.URL.User.Password()
	u := *s.URL
	u.User = nil
	w := vcenter.New(config.VCenter{URL: &u, User: s.URL.User.Username(), Password: pw, Thumbprint: soap.ThumbprintSHA1(s.Certificate())},
		[]config.Cluster{{Path: "/DC0/host/DC0_C0", Name: "c", Sites: sitemap.Rule{By: sitemap.Cluster, Site: "A"}}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); !w.Status().Connected; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not connected with the thumbprint: %+v", w.Status())
		}
	}
	w2 := vcenter.New(config.VCenter{URL: &u, User: s.URL.User.Username(), Password: pw, Thumbprint: "00:11:22"},
		[]config.Cluster{{Path: "/DC0/host/DC0_C0", Name: "c", Sites: sitemap.Rule{By: sitemap.Cluster, Site: "A"}}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done2 := make(chan error, 1)
	go func() { done2 <- w2.Run(ctx) }()
	defer func() { cancel(); <-done2 }()
	for deadline := time.Now().Add(5 * time.Second); w2.Status().LastError == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no error with a wrong thumbprint: %+v", w2.Status())
		}
	}
	want := "vCenter presents the certificate thumbprint " + soap.ThumbprintSHA1(s.Certificate()) + ", and vcenter.thumbprint pins 00:11:22"
	if st := w2.Status(); st.Connected || !strings.Contains(st.LastError, want) {
		t.Errorf("with a wrong thumbprint: %+v\nwant the error to say %q", st, want)
	}
}

// TestIntegrationFaults restarts vCenter (a new vcsim on the same
// address) and drops the hostagent's vCenter session, each while a VM
// moves, and takes the routeragent down while another moves: each ends
// with the routeragent holding the correct state.
func TestIntegrationFaults(t *testing.T) {
	l := newLab(t)
	r := l.r
	ctx := context.Background()
	r.wait("reported", func() bool { _, c := r.vm(vmA); return c == "cl-a" })

	t.Run("vCenter restarted mid-watch: log in again and resync", func(tt *testing.T) {
		resyncs := l.agent.Status().VCenter.Resyncs
		l.restartVCenter(t)
		// In the new vCenter a VM moves before the hostagent is back.
		l.relocate(tt, "DC0_C0_RP0_VM1", hB0, rpB)
		r.wait("moved to cl-b in the restarted vCenter, resynced", func() bool {
			_, c := r.vm("DC0_C0_RP0_VM1")
			st := l.agent.Status().VCenter
			return c == "cl-b" && st.Resyncs > resyncs && st.Connected
		})
		if _, c := r.vm(vmA); c != "cl-a" {
			tt.Errorf("%s is in %q after the resync, want cl-a", vmA, c)
		}
	})

	t.Run("session dropped mid-watch: log in again and resync", func(t *testing.T) {
		sm := session.NewManager(l.c)
		own, err := sm.UserSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m mo.SessionManager
		if err := property.DefaultCollector(l.c).RetrieveOne(ctx, l.c.ServiceContent.SessionManager.Reference(), []string{"sessionList"}, &m); err != nil {
			t.Fatal(err)
		}
		var others []string
		for _, s := range m.SessionList {
			if s.Key != own.Key {
				others = append(others, s.Key)
			}
		}
		if len(others) == 0 {
			t.Fatal("no hostagent session to drop")
		}
		resyncs := l.agent.Status().VCenter.Resyncs
		if err := sm.TerminateSession(ctx, others); err != nil {
			t.Fatal(err)
		}
		l.relocate(t, vmA, hB0, rpB)
		r.wait("moved to cl-b, resynced and connected again", func() bool {
			_, c := r.vm(vmA)
			st := l.agent.Status().VCenter
			return c == "cl-b" && st.Resyncs > resyncs && st.Connected
		})
	})

	t.Run("a routeragent down for a while gets the current state when it returns", func(t *testing.T) {
		r.mu.Lock()
		r.down = true
		r.mu.Unlock()
		failed := l.agent.Status().Routeragents[0].Failed
		l.relocate(t, "DC0_C1_RP0_VM1", hA1, rpA)
		const vm = "DC0_C1_RP0_VM1"
		l.waitStatus(t, "three failed deliveries", func(s Status) bool { return s.Routeragents[0].Failed >= failed+3 })
		if _, c := r.vm(vm); c != "cl-b" {
			t.Fatalf("the routeragent changed while down: %s", c)
		}
		if st := l.agent.Status().Routeragents[0]; st.Failed == 0 || st.InSync {
			t.Errorf("sender while the routeragent is down: %+v", st)
		}
		r.mu.Lock()
		r.down = false
		r.mu.Unlock()
		r.wait("moved to cl-a", func() bool { _, c := r.vm(vm); return c == "cl-a" })
		r.wait("sender in sync", func() bool { return l.agent.Status().Routeragents[0].InSync })
	})
}
