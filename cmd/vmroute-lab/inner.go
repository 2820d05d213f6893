package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vmroute/vmroute/shared/tlsutil"
	"github.com/vmroute/vmroute/tests/pki"
	"github.com/vmroute/vmroute/tests/vcsim"
)

// lab is the running lab, inside the management namespace.
type lab struct {
	dir   string
	bin   string
	start time.Time
	// op reads the routeragents' status over their API, with the lab's
	// operator certificate; agents sets it.
	op    *http.Client
	model *simulator.Model
	vcs   *simulator.Server // vCenter's endpoint, which a site-loss scenario stops
	c     *vim25.Client

	// The site-loss scenarios' options: the WAN router ("bird" or
	// "frr"), and site A's router ID above site B's.
	wan    string
	idHigh bool

	layout layout

	mu      sync.Mutex           // the programs: a Ctrl-C stops them while a scenario runs
	procs   map[string]*exec.Cmd // by log name
	args    map[string][]string
	stopped bool
}

func (l *lab) say(format string, args ...any) {
	fmt.Printf("[%7.3fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}

// layout is how the lab's vCenter places hosts at sites.
type layout string

// Layouts of the lab.
const (
	// stretched is one cluster whose hosts sit in both sites, two each,
	// split by a DRS host group per site: the common layout.
	stretched layout = "stretched"
	// perSite is a cluster per site.
	perSite layout = "per-site"
)

// inner runs inside the management namespace: vCenter, the agents and
// the scenarios.
func inner(bin, dir, mode string, lay layout) error {
	l := &lab{dir: dir, bin: bin, start: time.Now(), layout: lay, procs: map[string]*exec.Cmd{}, args: map[string][]string{}, wan: "bird"}
	var lossScn string
	if f := strings.Split(mode, ":"); (f[0] == "siteloss" || f[0] == "pair") && len(f) == 4 {
		mode, lossScn, l.wan, l.idHigh = f[0], f[1], f[2], f[3] == "true"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer l.stopAll()
	if err := l.vcenter(ctx, mode == "bench"); err != nil {
		return err
	}
	defer l.model.Remove()
	if err := l.agents(mode == "bench"); err != nil {
		return err
	}
	run := l.perSiteScenarios
	if l.layout == stretched {
		run = l.stretchedScenarios
	}
	if mode == "bench" {
		run = l.bench
		if l.layout == stretched {
			run = l.benchMaintenance
		}
	}
	if mode == "siteloss" {
		run = func(ctx context.Context) error { return l.siteLoss(ctx, lossScn) }
	}
	if mode == "pair" {
		run = func(ctx context.Context) error { return l.pair(lossScn) }
	}
	// On Ctrl-C, stop at once rather than after the scenario in progress.
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("interrupted")
	}
}

// vcenter serves vcsim on loopback. Per site: two clusters, DC0_C0 (site
// A) and DC0_C1 (site B), two VMs in each. Stretched: one cluster, DC0_C0,
// with hosts H0 and H1 in DRS host group "hosts-a" and H2 and H3 in
// "hosts-b", and four VMs. web-1 is DC0_C0_RP0_VM0, whose MAC the vm1
// namespace takes; web-2 is DC0_C0_RP0_VM1, a VM with an address only.
// With bench, the stretched cluster also holds the maintenance
// benchmark's VMs.
func (l *lab) vcenter(ctx context.Context, bench bool) error {
	m := simulator.VPX()
	m.Cluster, m.ClusterHost, m.Host, m.Machine = 2, 2, 0, 2
	if l.layout == stretched {
		m.Cluster, m.ClusterHost, m.Machine = 1, 4, 4
		if bench {
			m.Machine += maintVMs
		}
	}
	if err := m.Create(); err != nil {
		return err
	}
	l.model = m
	if vcenterKind == "harsh" {
		h := vcsim.Install(m)
		h.PageSize(5)
		h.VMsFirst()
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(3 * time.Second):
					h.ExpireSession()
				}
			}
		}()
		l.say("vCenter is harsh: answers in pages of 5 objects, VMs before their hosts; the hostagent's session expires every 3 s")
	}
	m.Service.TLS = new(tls.Config)
	s := m.Service.NewServer()
	l.vcs = s
	caFile, err := s.CertificateFile()
	if err != nil {
		return err
	}
	c, err := vim25.NewClient(ctx, soap.NewClient(s.URL, true))
	if err != nil {
		return err
	}
	if err := session.NewManager(c).Login(ctx, s.URL.User); err != nil {
		return err
	}
	l.c = c
	pw, _ := s.URL.User.Password()
	if err := os.WriteFile(filepath.Join(l.dir, "vc.pw"), []byte(pw), 0o600); err != nil {
		return err
	}
	u := *s.URL
	u.User = nil
	l.write("vcenter.url", u.String())
	l.write("vcenter.user", s.URL.User.Username())
	l.write("vcenter.ca", caFile)
	guest := map[string]string{"DC0_C0_RP0_VM0": web1, "DC0_C0_RP0_VM1": web2, "DC0_C1_RP0_VM0": "", "DC0_C1_RP0_VM1": outside}
	if l.layout == stretched {
		guest = map[string]string{"DC0_C0_RP0_VM0": web1, "DC0_C0_RP0_VM1": web2, "DC0_C0_RP0_VM2": web3, "DC0_C0_RP0_VM3": outside}
		if err := l.stretch(ctx); err != nil {
			return err
		}
	}
	for name, ip := range guest {
		vm, err := find.NewFinder(c, false).VirtualMachine(ctx, "/DC0/vm/"+name)
		if err != nil {
			return err
		}
		mac, err := macOf(ctx, vm)
		if err != nil {
			return err
		}
		var ips []string
		if ip != "" {
			ips = []string{ip}
		}
		if ip == web1 && routers == 2 {
			ips = append(ips, web16)
		}
		if err := l.setGuest(ctx, name, ips...); err != nil {
			return err
		}
		if name == "DC0_C0_RP0_VM0" {
			if err := sh("ip", "-n", prefix+"vm1", "link", "set", "eth0", "address", mac); err != nil {
				return err
			}
			l.write("web1.mac", mac)
		}
	}
	if l.layout == stretched && bench {
		if err := l.placeMaintVMs(ctx); err != nil {
			return err
		}
	}
	if l.layout == stretched {
		l.say("vCenter (vcsim) serves one stretched cluster, DC0_C0: hosts H0 and H1 in DRS host group hosts-a (site A), H2 and H3 in hosts-b (site B)")
	} else {
		l.say("vCenter (vcsim) serves two clusters: DC0_C0 at site A, DC0_C1 at site B")
	}
	return nil
}

// setGuest sets the addresses VMware Tools reports for a VM's adapter
// (guest.net), inside the simulator.
func (l *lab) setGuest(ctx context.Context, name string, ips ...string) error {
	vm, err := find.NewFinder(l.c, false).VirtualMachine(ctx, "/DC0/vm/"+name)
	if err != nil {
		return err
	}
	mac, err := macOf(ctx, vm)
	if err != nil {
		return err
	}
	var net []types.GuestNicInfo
	if len(ips) > 0 {
		net = []types.GuestNicInfo{{MacAddress: mac, Connected: true, IpAddress: ips}}
	}
	sctx := l.model.Service.Context
	sim := sctx.Map.Get(vm.Reference()).(*simulator.VirtualMachine)
	sctx.WithLock(sim, func() { sctx.Update(sim, []types.PropertyChange{{Name: "guest.net", Val: net}}) })
	return nil
}

func macOf(ctx context.Context, vm *object.VirtualMachine) (string, error) {
	devs, err := vm.Device(ctx)
	if err != nil {
		return "", err
	}
	for _, d := range devs {
		if e, ok := d.(types.BaseVirtualEthernetCard); ok {
			return e.GetVirtualEthernetCard().MacAddress, nil
		}
	}
	return "", fmt.Errorf("%s has no adapter", vm.Name())
}

func (l *lab) write(name, value string) {
	_ = os.WriteFile(filepath.Join(l.dir, name), []byte(value), 0o600)
}
func (l *lab) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(l.dir, name))
	return string(b)
}

// agents writes certificates and configs and starts BIRD at the WAN
// router, a routeragent at each site router and a hostagent per cluster.
// With evac, the routeragents also hold the evacuation benchmark's
// subnets and clusters.
func (l *lab) agents(evac bool) error {
	ca, err := pki.NewDir(l.dir)
	if err != nil {
		return err
	}
	extra := ""
	switch {
	case evac && l.layout == stretched:
		extra = maintConfig()
	case evac:
		extra = evacConfig()
	}
	for _, name := range []string{"hostagent-a", "hostagent-b", "hostagent-ab", evacClient, "lab-operator"} {
		if _, _, err := ca.IssueFiles(name); err != nil {
			return err
		}
	}
	op, err := tlsutil.Load(tlsutil.Files{Cert: filepath.Join(l.dir, "lab-operator.crt"), Key: filepath.Join(l.dir, "lab-operator.key"), CA: ca.CAFile})
	if err != nil {
		return err
	}
	l.op = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: op.Client()}}
	bird := fmt.Sprintf(`log %q all;
router id %s;
protocol device {}
protocol kernel { ipv4 { import none; export all; }; }
protocol bgp site_a { local %s as 65000; neighbor %s as 65001; graceful restart on; long lived graceful restart on; debug { states, events }; ipv4 { import all; export none; }; }
protocol bgp site_b { local %s as 65000; neighbor %s as 65001; graceful restart on; long lived graceful restart on; debug { states, events }; ipv4 { import all; export none; }; }
`, filepath.Join(l.dir, "bird.log"), wanA, wanA, raWAN, wanB, rbWAN)
	if routers == 2 {
		for _, r := range []struct{ name, local, neighbor string }{{"site_a2", wanA2, ra2WAN}, {"site_b2", wanB2, rb2WAN}} {
			bird += fmt.Sprintf("protocol bgp %s { local %s as 65000; neighbor %s as 65001; graceful restart on; long lived graceful restart on; debug { states, events }; ipv4 { import all; export none; }; }\n",
				r.name, r.local, r.neighbor)
		}
		// IPv6 routes over the same sessions, into the kernel too.
		bird = strings.ReplaceAll(bird, "ipv4 { import all; export none; }; }", "ipv4 { import all; export none; }; ipv6 { import all; export none; }; }") +
			"protocol kernel { ipv6 { import none; export all; }; }\n"
	}
	if l.wan == "frr" {
		if err := l.startFRR(); err != nil {
			return err
		}
	} else {
		if err := os.WriteFile(filepath.Join(l.dir, "bird.conf"), []byte(bird), 0o644); err != nil {
			return err
		}
		l.run("wan", "bird.out", "bird", "-f", "-c", filepath.Join(l.dir, "bird.conf"), "-s", filepath.Join(l.dir, "bird.ctl"))
	}
	type router struct{ site, ns, mgmt, wanIP, peer, other, otherWAN, otherLAN, routerID string }
	rts := []router{{"A", "ra", raMgmt, raWAN, wanA, "B", rbWAN, rbLAN, l.routerID("A")}, {"B", "rb", rbMgmt, rbWAN, wanB, "A", raWAN, raLAN, l.routerID("B")}}
	if routers == 2 {
		rts = append(rts, router{"A", "ra2", ra2Mgmt, ra2WAN, wanA2, "B", rbWAN, rbLAN, ra2WAN}, router{"B", "rb2", rb2Mgmt, rb2WAN, wanB2, "A", raWAN, raLAN, rb2WAN})
	}
	for _, r := range rts {
		cert, key, err := ca.IssueFiles("router-"+r.ns, net.ParseIP(r.mgmt), net.ParseIP(r.wanIP))
		if err != nil {
			return err
		}
		liveness := fmt.Sprintf("[[liveness.sites]]\nname = %q\napi = \"https://%s:8443\"\nprobe = [%q]\n", r.other, r.otherWAN, r.otherLAN)
		v6 := ipv6Config{families: `"ipv4"`}
		if routers == 2 {
			liveness, v6 = pairLiveness(r.ns), pairIPv6(r.ns)
		}
		conf := fmt.Sprintf(`site = %q
state_dir = %q
[log]
level = "info"
[api]
listen = "0.0.0.0:8443"  # hostagents on the management link, the other site's routeragent on the WAN
operators = ["lab-operator"]
peers = ["router-ra", "router-ra2", "router-rb", "router-rb2"]
cert_file = %q
key_file = %q
client_ca_file = %q
[reports]
batch_window = "20ms"
%s
[[subnets]]
prefix = %q
home = "A"
interface = "lan0"
gateways = [%q]
reserved = [%q, %q, %q, %q]       # the routers' own addresses on the segment
%s[liveness]
%s[bgp]
asn = 65001
router_id = %q
listen_port = 0
%s[[bgp.neighbors]]
address = %q
asn = 65000
families = [%s]
[announce]
count = 3
interval = "1s"
%s`, r.site, filepath.Join(l.dir, "state-"+r.ns), cert, key, ca.CAFile, l.routerClusters(), subnet, gateway, raLAN, rbLAN, ra2LAN, rb2LAN,
			v6.subnet, liveness, r.routerID, v6.nextHop, r.peer, v6.families, extra)
		path := filepath.Join(l.dir, "routeragent-"+r.ns+".toml")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			return err
		}
		// Pin web-1 in the router's cache: only vmroute's announcement
		// may tell web-1 where its gateway is.
		if err := in(r.ns, "ip", "neigh", "replace", web1, "lladdr", l.read("web1.mac"), "dev", "lan0", "nud", "permanent"); err != nil {
			return err
		}
		if routers == 2 {
			if err := in(r.ns, "ip", "neigh", "replace", web16, "lladdr", l.read("web1.mac"), "dev", "lan0", "nud", "permanent"); err != nil {
				return err
			}
		}
		l.run(r.ns, "routeragent-"+r.ns+".log", filepath.Join(l.bin, "vmroute-routeragent"), "--config", path)
	}
	if routers == 2 {
		if err := l.startKeepalived(); err != nil {
			return err
		}
	}
	hostagents := []struct{ name, clusters string }{
		{"hostagent-a", "[[clusters]]\npath = \"/DC0/host/DC0_C0\"\nsite = \"A\"\n"},
		{"hostagent-b", "[[clusters]]\npath = \"/DC0/host/DC0_C1\"\nsite = \"B\"\n"},
	}
	if l.layout == stretched {
		hostagents = []struct{ name, clusters string }{{"hostagent-ab", stretchedCluster}}
	}
	for i, c := range hostagents {
		conf := fmt.Sprintf(`state_dir = %q
routeragents = [%s]
[vcenter]
url = %q
user = %q
password_file = %q
ca_file = %q
%s[tls]
cert_file = %q
key_file = %q
ca_file = %q
[report]
debounce = "20ms"
[status]
listen = "127.0.0.1:%d"
`, filepath.Join(l.dir, "state-"+c.name), routeragentURLs(), l.read("vcenter.url"), l.read("vcenter.user"), filepath.Join(l.dir, "vc.pw"),
			l.read("vcenter.ca"), c.clusters, filepath.Join(l.dir, c.name+".crt"), filepath.Join(l.dir, c.name+".key"), ca.CAFile, 9180+i)
		path := filepath.Join(l.dir, c.name+".toml")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			return err
		}
		l.run("", c.name+".log", filepath.Join(l.bin, "vmroute-hostagent"), "--config", path)
	}
	// web-1 knows its gateway at site A's router, as after booting there.
	if routers == 2 {
		if err := in("vm1", "ip", "neigh", "replace", gateway6, "lladdr", macA, "dev", "eth0", "nud", "stale"); err != nil {
			return err
		}
	}
	return in("vm1", "ip", "neigh", "replace", gateway, "lladdr", macA, "dev", "eth0", "nud", "stale")
}

// run starts a program in a namespace ("" for this one), logging to a file.
func (l *lab) run(ns, logName string, args ...string) {
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", prefix + ns}, args...)
	}
	l.spawn(logName, logName, args)
}

// kill ends a program with SIGKILL: no goodbye to its peers.
func (l *lab) kill(logName string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.procs[logName]; p != nil {
		_ = p.Process.Kill()
		_ = p.Wait()
		delete(l.procs, logName)
	}
}

// stop ends a program with SIGTERM, as systemd stops a unit, and waits
// for it.
func (l *lab) stop(logName string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.procs[logName]; p != nil {
		_ = p.Process.Signal(syscall.SIGTERM)
		_ = p.Wait()
		delete(l.procs, logName)
	}
}

// restart starts a killed program again, logging to a new file.
func (l *lab) restart(logName string) {
	l.mu.Lock()
	args := l.args[logName]
	l.mu.Unlock()
	l.spawn(logName, logName+".2", args)
}

// spawn runs args, logging to logFile, and keeps it under logName.
func (l *lab) spawn(logName, logFile string, args []string) {
	f, err := os.Create(filepath.Join(l.dir, logFile))
	if err != nil {
		l.say("cannot log %s: %v", logFile, err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		l.say("cannot start %s: %v", args, err)
		return
	}
	l.procs[logName], l.args[logName] = cmd, args
}

// stopAll stops every program (SIGTERM, then SIGKILL after 3 s), and
// starts none after.
func (l *lab) stopAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	for _, p := range l.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range l.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = p.Process.Kill()
		}
	}
}

// routeLine is the first line of a route in birdc's "show route all".
var routeLine = regexp.MustCompile(`^([0-9a-f.:]+/\d+)`)

// birdRoutes returns the WAN router's best routes: prefix -> BGP next
// hop. (BIRD lists a prefix's best path first.)
func (l *lab) birdRoutes() map[string]string {
	if l.wan == "frr" {
		return l.frrRoutes()
	}
	out, _ := exec.Command("birdc", "-s", filepath.Join(l.dir, "bird.ctl"), "show", "route", "all").Output()
	routes := map[string]string{}
	cur := ""
	for _, line := range strings.Split(string(out), "\n") {
		if m := routeLine.FindStringSubmatch(line); m != nil {
			cur = m[1]
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "BGP.next_hop:"); ok && cur != "" {
			if _, seen := routes[cur]; !seen {
				routes[cur] = strings.TrimSpace(v)
			}
		}
	}
	return routes
}

func site(nextHop string) string {
	switch nextHop {
	case raWAN, ra2WAN:
		return "A"
	case rbWAN, rb2WAN:
		return "B"
	}
	return nextHop
}

// gatewayMAC reads web-1's real neighbor cache for its gateway.
func gatewayMAC() string { return neighborMAC(gateway) }

// neighborMAC reads web-1's real neighbor cache for addr.
func neighborMAC(addr string) string {
	out, _ := exec.Command("ip", "-n", prefix+"vm1", "-j", "neigh", "show", addr, "dev", "eth0").Output()
	var es []struct {
		LLAddr string `json:"lladdr"`
	}
	if json.Unmarshal(out, &es) == nil && len(es) == 1 {
		return es[0].LLAddr
	}
	return ""
}

// path is how the client reaches web-1: the median round trip, and the
// sites whose routers forwarded the echo request (in) and the reply (out),
// from the addresses IPv4's record-route option collected.
type path struct {
	rtt     time.Duration
	in, out string
}

func (p path) String() string {
	return fmt.Sprintf("in %s ms, in via site %s, out via site %s", strconv.FormatFloat(float64(p.rtt.Microseconds())/1000, 'f', 1, 64), p.in, p.out)
}

// probe pings web-1 from the client with `ping -R`. The WAN router
// records its interface towards the site the request takes, and the
// site's router its WAN address as the reply leaves.
func probe() (path, error) {
	out, err := exec.Command("ip", "netns", "exec", prefix+"client", "ping", "-R", "-c", "5", "-i", "0.2", "-W", "1", web1).CombinedOutput()
	if err != nil {
		return path{}, fmt.Errorf("the client does not reach web-1: %v: %s", err, out)
	}
	var rtts []time.Duration
	for _, m := range regexp.MustCompile(`time=([\d.]+) ms`).FindAllStringSubmatch(string(out), -1) {
		ms, _ := strconv.ParseFloat(m[1], 64)
		rtts = append(rtts, time.Duration(ms*float64(time.Millisecond)))
	}
	rr := regexp.MustCompile(`RR:((?:\s+\d+\.\d+\.\d+\.\d+)+)`).FindStringSubmatch(string(out))
	if len(rtts) == 0 || rr == nil {
		return path{}, fmt.Errorf("ping -R: no round trip or recorded route in:\n%s", out)
	}
	slices.Sort(rtts)
	p := path{rtt: rtts[len(rtts)/2], in: "?", out: "?"}
	for _, a := range strings.Fields(rr[1]) {
		switch a {
		case wanA, wanA2:
			p.in = "A"
		case wanB, wanB2:
			p.in = "B"
		case raWAN, ra2WAN:
			p.out = "A"
		case rbWAN, rb2WAN:
			p.out = "B"
		}
	}
	return p, nil
}

func (l *lab) waitFor(what string, d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start), true
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.say("%s: not within %s", what, d)
	return d, false
}

// relocate moves a VM to a host (and a resource pool of its cluster), as
// vMotion does, and returns when vCenter's task completed.
func (l *lab) relocate(ctx context.Context, vmName, host, pool string) error {
	return vcsim.Relocate(ctx, l.model, l.c, "/DC0/vm/"+vmName, host, pool)
}

// routerGet reads a routeragent's status over its API, as an operator.
func (l *lab) routerGet(mgmt, path string) (*http.Response, error) {
	return l.op.Get("https://" + mgmt + ":8443" + path)
}

// routerJSON decodes a routeragent's answer at path into v.
func (l *lab) routerJSON(mgmt, path string, v any) error {
	resp, err := l.routerGet(mgmt, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func (l *lab) moves(mgmt string) string {
	var ms []struct {
		Name      string
		LandedAt  time.Time `json:"landed_at"`
		Received  time.Time
		Planned   time.Time
		BGP       time.Time
		Announced []time.Time
	}
	if l.routerJSON(mgmt, "/v1/moves", &ms) != nil || len(ms) == 0 {
		return ""
	}
	m := ms[len(ms)-1]
	since := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return "+" + t.Sub(m.LandedAt).Round(time.Millisecond).String()
	}
	first := time.Time{}
	if len(m.Announced) > 0 {
		first = m.Announced[0]
	}
	return fmt.Sprintf("%s: report received %s, planned %s, BGP updated %s, first gratuitous ARP %s (after vCenter's landing time)",
		m.Name, since(m.Received), since(m.Planned), since(m.BGP), since(first))
}

// web1At checks what every scenario ends with, for web-1 at site at:
// BIRD's best route to web-1 (its /32, or else the summary) points at the
// site, web-1's neighbor cache holds the site's router as its gateway, and
// the client's echo goes in and out through the site (ping -R).
func (l *lab) web1At(scn, at string) error {
	mac := map[string]string{"A": macA, "B": macB}[at]
	best := func() string {
		r := l.birdRoutes()
		if nh, ok := r[web1+"/32"]; ok {
			return site(nh)
		}
		return site(r[subnet])
	}
	if _, ok := l.waitFor(scn+": web-1 via site "+at, 5*time.Second, func() bool { return best() == at && gatewayMAC() == mac }); !ok {
		return fmt.Errorf("%s: BIRD routes web-1 via site %q and its gateway entry is %q; want site %s and %s", scn, best(), gatewayMAC(), at, mac)
	}
	p, err := pathVia(scn, at)
	if err != nil {
		return err
	}
	l.say("BIRD routes web-1 via site %s, its gateway entry is site %s's router, the client reaches it %s", at, at, p)
	return nil
}

// pathVia probes the client's path to web-1 and fails unless it goes in
// and out through the site at.
func pathVia(scn, at string) (path, error) {
	p, err := probe()
	if err != nil {
		return p, fmt.Errorf("%s: %w", scn, err)
	}
	if p.in != at || p.out != at {
		return p, fmt.Errorf("%s: the client reaches web-1 %s, want in and out via site %s", scn, p, at)
	}
	return p, nil
}

// moveWeb1 moves web-1 between the sites: its namespace's port to the
// bridge of the other site (and the RARP ESXi sends), and the VM in
// vCenter.
func (l *lab) moveWeb1(bridge, host, pool string) error {
	if err := sh("ip", "-n", prefix+"l2", "link", "set", "v1", "master", bridge); err != nil {
		return err
	}
	_ = in("vm1", "arping", "-q", "-c", "1", "-U", "-I", "eth0", web1)
	return l.relocate(context.Background(), "DC0_C0_RP0_VM0", host, pool)
}

// status returns a routeragent's /v1/status as text.
func (l *lab) status(mgmt string) string {
	resp, err := l.routerGet(mgmt, "/v1/status")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// placed returns the site a routeragent's location table gives a VM.
func (l *lab) placed(mgmt, name string) string {
	var vms []struct{ Name, Site string }
	if l.routerJSON(mgmt, "/v1/vms", &vms) != nil {
		return ""
	}
	for _, v := range vms {
		if v.Name == name {
			return v.Site
		}
	}
	return ""
}

// birdStat reads a received count from "show protocols all".
func (l *lab) birdStat(proto, row string) int {
	out, _ := exec.Command("birdc", "-s", filepath.Join(l.dir, "bird.ctl"), "show", "protocols", "all", proto).Output()
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), row+":"); ok {
			var n int
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
	}
	return -1
}
