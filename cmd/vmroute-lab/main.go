// Command vmroute-lab runs vmroute end to end on one machine, as root: a
// simulated vCenter (govmomi's vcsim) with one stretched cluster whose
// hosts sit in both sites (or, with -layout per-site, a cluster per
// site), a router
// per site running the routeragent, a WAN router running BIRD, a client,
// and a VM on a stretched L2 segment whose interconnect adds 20 ms each
// way, all in network namespaces it makes and deletes again (also on
// Ctrl-C). `vmroute-lab demo` moves VMs between the sites (vMotion, DRS,
// maintenance mode, HA), kills and restarts agents, loses a site, and
// narrates what vmroute does;
// `vmroute-lab bench` times 50 moves, a site evacuation and a
// maintenance-mode evacuation of a stretched cluster's site, and writes
// bench-results/.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const prefix = "vmlab-"

// interconnectDelay is what the stretched segment's interconnect adds to
// every frame, each way.
const interconnectDelay = 20 * time.Millisecond

// interconnect is -interconnect: auto, netem or relay.
var interconnect = "auto"

// vcenterKind is -vcenter: vcsim as it is, or harsh (tests/vcsim.Harsh:
// answers paged 5 objects at a time with VMs before their hosts, and the
// hostagent's session expiring every 3 s).
var vcenterKind = "vcsim"

var namespaces = []string{"mgmt", "wan", "client", "ra", "rb", "l2", "vm1"}

// routers is -routers: how many routers site A has. With 2, A1 (ra) and
// A2 (ra2) are a VRRP pair (keepalived) for the gateway, each with its
// own address on the segment and its own session to the WAN router.
var routers = 1

func main() {
	bin := flag.String("bin", "bin", "directory with vmroute-routeragent and vmroute-hostagent")
	keep := flag.Bool("keep", false, "keep the lab's directory (configs, logs, state) afterwards, and print where it is")
	lay := flag.String("layout", string(stretched), "how vCenter's hosts make the sites: stretched (one cluster over both sites, a DRS host group per site) or per-site (a cluster per site); bench runs both unless set")
	wan := flag.String("wan", "bird", "siteloss: the WAN router, bird or frr")
	idHigh := flag.Bool("a-id-high", false, "siteloss: site A's BGP router ID above site B's (the WAN router's tie-break the other way)")
	flag.StringVar(&vcenterKind, "vcenter", vcenterKind, "the simulated vCenter: vcsim, or harsh (paged answers with VMs before their hosts, the hostagent's session expiring every 3 s)")
	flag.StringVar(&interconnect, "interconnect", interconnect, "how the interconnect delays frames: netem (tc netem, where the kernel has sch_netem), relay (a program forwarding frames), or auto (netem where it works, else the relay)")
	flag.IntVar(&routers, "routers", routers, "site A's routers: 1, or 2 (a VRRP pair, keepalived for the gateway); pair scenarios always have 2")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: vmroute-lab [-bin DIR] [-keep] [-layout stretched|per-site] [-interconnect auto|netem|relay] [-vcenter vcsim|harsh] demo|bench")
		fmt.Fprintln(os.Stderr, "       vmroute-lab [-bin DIR] [-keep] [-wan bird|frr] [-a-id-high] siteloss a|b|c|d|e|f|g...")
		fmt.Fprintln(os.Stderr, "       vmroute-lab [-bin DIR] [-keep] [-wan bird|frr] pair a|b|c|d|e|f...   (site A's two routers)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if l := layout(*lay); l != stretched && l != perSite || interconnect != "auto" && interconnect != "netem" && interconnect != "relay" ||
		vcenterKind != "vcsim" && vcenterKind != "harsh" || routers != 1 && routers != 2 {
		flag.Usage()
		os.Exit(2)
	}
	if flag.Arg(0) == "pair" {
		routers = 2
	}
	if routers == 2 {
		namespaces = append(namespaces, "ra2", "rb2")
		// Only the relay isolates each site's VRRP pair (relay.go).
		interconnect = "relay"
	}
	var err error
	switch flag.Arg(0) {
	case "demo":
		err = demo(*bin, flag.Arg(0), layout(*lay), *keep)
	case "bench":
		// Both layouts' benchmarks, or the one -layout names.
		layouts := []layout{perSite, stretched}
		flag.Visit(func(f *flag.Flag) {
			if f.Name == "layout" {
				layouts = []layout{layout(*lay)}
			}
		})
		for _, l := range layouts {
			if err = demo(*bin, flag.Arg(0), l, *keep); err != nil {
				break
			}
		}
	case "siteloss", "pair":
		// Each scenario in a lab of its own.
		scenarios := map[string]map[string]string{"siteloss": lossScenarios, "pair": pairScenarios}[flag.Arg(0)]
		if flag.NArg() < 2 || (*wan != "bird" && *wan != "frr") {
			flag.Usage()
			os.Exit(2)
		}
		for _, scn := range flag.Args()[1:] {
			if scenarios[scn] == "" {
				flag.Usage()
				os.Exit(2)
			}
			if flag.Arg(0) == "siteloss" && *wan == "frr" && !strings.Contains("abg", scn) {
				fmt.Fprintf(os.Stderr, "vmroute-lab: scenario %s reads BIRD's counters; with FRR, a, b and g run\n", scn)
				os.Exit(2)
			}
			if err = demo(*bin, fmt.Sprintf("%s:%s:%s:%t", flag.Arg(0), scn, *wan, *idHigh), stretched, *keep); err != nil {
				break
			}
		}
	case "inner":
		err = inner(*bin, flag.Arg(1), flag.Arg(2), layout(flag.Arg(3)))
	case "relay":
		err = relay(flag.Arg(1), flag.Arg(2), interconnectDelay)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmroute-lab:", err)
		os.Exit(1)
	}
}

// demo builds the topology, runs the scenarios inside the management
// namespace (where vcsim and the hostagents live), and tears everything
// down, whatever happens.
func demo(bin, mode string, lay layout, keep bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root for network namespaces")
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	// One lab at a time: its namespaces have fixed names.
	lock, err := os.OpenFile("/run/vmroute-lab.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("another vmroute-lab runs on this machine (/run/vmroute-lab.lock)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	teardown()
	defer teardown()
	dir, err := os.MkdirTemp("", "vmroute-lab-")
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Println("the lab's directory is kept:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if err := topology(); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	stopIC, err := startInterconnect(interconnect, self)
	if err != nil {
		return fmt.Errorf("interconnect: %w", err)
	}
	defer stopIC()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", prefix+"mgmt", self, "-bin", bin, "-vcenter", vcenterKind, "-routers", strconv.Itoa(routers),
		"inner", dir, mode, string(lay))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	return cmd.Run()
}

// teardown kills what runs in the lab's namespaces and deletes them.
func teardown() {
	for _, n := range namespaces {
		name := prefix + n
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", name).Run()
	}
}

// sh runs one command, failing with its output.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// in runs a command inside a lab namespace.
func in(ns string, args ...string) error {
	return sh(append([]string{"ip", "netns", "exec", prefix + ns}, args...)...)
}

// Addresses and MACs of the lab. 10.x is used only inside its own
// namespaces.
const (
	gateway = "10.50.0.1"
	subnet  = "10.50.0.0/24"
	web1    = "10.50.0.10"
	web2    = "10.50.0.11"
	raLAN   = "10.50.0.2" // site A's router on the stretched segment
	rbLAN   = "10.50.0.3"
	macA    = "02:aa:00:00:00:01"
	macB    = "02:bb:00:00:00:01"
	// IPv6, with -routers 2.
	gateway6 = "2001:db8:50::1"
	subnet6  = "2001:db8:50::/64"
	web16    = "2001:db8:50::10"
	client6  = "2001:db8:70::10"
	ra2LAN   = "10.50.0.4" // site A's second router, with -routers 2
	macA2    = "02:aa:00:00:00:02"
	ra2Mgmt  = "10.80.3.1"
	ra2WAN   = "10.60.3.1"
	wanA2    = "10.60.3.2"
	rb2LAN   = "10.50.0.5" // site B's second router, with -routers 2
	macB2    = "02:bb:00:00:00:02"
	rb2Mgmt  = "10.80.4.1"
	rb2WAN   = "10.60.4.1"
	wanB2    = "10.60.4.2"
	raMgmt   = "10.80.1.1"
	rbMgmt   = "10.80.2.1"
	raWAN    = "10.60.1.1"
	rbWAN    = "10.60.2.1"
	wanA     = "10.60.1.2"
	wanB     = "10.60.2.2"
	clientIP = "10.70.0.10"
	outside  = "203.0.113.77" // in no configured subnet
)

// topology makes the namespaces and their links:
//
//	client -- wan (BIRD) -- ra (site A) --\              /-- rb (site B) -- wan
//	                          br-a == relay, 20 ms == br-b   (in l2)
//	                          vm1 (web-1)
//	mgmt (vcsim, hostagents) -- ra, rb management links
func topology() error {
	steps := [][]string{}
	add := func(args ...string) { steps = append(steps, args) }
	for _, n := range namespaces {
		add("ip", "netns", "add", prefix+n)
		add("ip", "-n", prefix+n, "link", "set", "lo", "up")
	}
	veth := func(a, aIf, b, bIf string) {
		add("ip", "-n", prefix+a, "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", prefix+b)
		add("ip", "-n", prefix+a, "link", "set", aIf, "up")
		add("ip", "-n", prefix+b, "link", "set", bIf, "up")
	}
	addr := func(ns, ifname, a string) { add("ip", "-n", prefix+ns, "addr", "add", a, "dev", ifname) }
	veth("mgmt", "m-ra", "ra", "mgmt0")
	addr("mgmt", "m-ra", "10.80.1.2/30")
	addr("ra", "mgmt0", raMgmt+"/30")
	veth("mgmt", "m-rb", "rb", "mgmt0")
	addr("mgmt", "m-rb", "10.80.2.2/30")
	addr("rb", "mgmt0", rbMgmt+"/30")
	veth("ra", "wan0", "wan", "ra0")
	addr("ra", "wan0", raWAN+"/30")
	addr("wan", "ra0", wanA+"/30")
	veth("rb", "wan0", "wan", "rb0")
	addr("rb", "wan0", rbWAN+"/30")
	addr("wan", "rb0", wanB+"/30")
	veth("client", "eth0", "wan", "cl0")
	addr("client", "eth0", clientIP+"/24")
	addr("wan", "cl0", "10.70.0.1/24")
	add("ip", "-n", prefix+"client", "route", "add", "default", "via", "10.70.0.1")
	for _, br := range []string{"br-a", "br-b"} {
		add("ip", "-n", prefix+"l2", "link", "add", br, "type", "bridge")
		add("ip", "-n", prefix+"l2", "link", "set", br, "up")
	}
	// The interconnect: a port of each bridge, whose peers the relay joins.
	veth("l2", "ica", "l2", "xa")
	veth("l2", "icb", "l2", "xb")
	add("ip", "-n", prefix+"l2", "link", "set", "ica", "master", "br-a")
	add("ip", "-n", prefix+"l2", "link", "set", "icb", "master", "br-b")
	lanRouters := []struct{ ns, port, br, mac, wan, own string }{{"ra", "pa", "br-a", macA, wanA, raLAN}, {"rb", "pb", "br-b", macB, wanB, rbLAN}}
	if routers == 2 {
		veth("mgmt", "m-ra2", "ra2", "mgmt0")
		addr("mgmt", "m-ra2", "10.80.3.2/30")
		addr("ra2", "mgmt0", ra2Mgmt+"/30")
		veth("ra2", "wan0", "wan", "ra20")
		addr("ra2", "wan0", ra2WAN+"/30")
		addr("wan", "ra20", wanA2+"/30")
		veth("mgmt", "m-rb2", "rb2", "mgmt0")
		addr("mgmt", "m-rb2", "10.80.4.2/30")
		addr("rb2", "mgmt0", rb2Mgmt+"/30")
		veth("rb2", "wan0", "wan", "rb20")
		addr("rb2", "wan0", rb2WAN+"/30")
		addr("wan", "rb20", wanB2+"/30")
		lanRouters = append(lanRouters, struct{ ns, port, br, mac, wan, own string }{"ra2", "pa2", "br-a", macA2, wanA2, ra2LAN},
			struct{ ns, port, br, mac, wan, own string }{"rb2", "pb2", "br-b", macB2, wanB2, rb2LAN})
	}
	for _, r := range lanRouters {
		add("ip", "-n", prefix+r.ns, "link", "add", "lan0", "address", r.mac, "type", "veth", "peer", "name", r.port, "netns", prefix+"l2")
		add("ip", "-n", prefix+r.ns, "link", "set", "lan0", "up")
		add("ip", "-n", prefix+"l2", "link", "set", r.port, "master", r.br, "up")
		// The router's own address first, which its ARP probes come from;
		// then the gateway, the same at both sites, as a VRRP address is.
		// A pair has it from keepalived, on its master.
		addr(r.ns, "lan0", r.own+"/24")
		if routers == 1 {
			addr(r.ns, "lan0", gateway+"/24")
		}
		add("ip", "-n", prefix+r.ns, "route", "add", "default", "via", r.wan)
		add("ip", "netns", "exec", prefix+r.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	}
	add("ip", "netns", "exec", prefix+"wan", "sysctl", "-qw", "net.ipv4.ip_forward=1")
	veth("vm1", "eth0", "l2", "v1")
	add("ip", "-n", prefix+"l2", "link", "set", "v1", "master", "br-a")
	addr("vm1", "eth0", web1+"/24")
	add("ip", "-n", prefix+"vm1", "route", "add", "default", "via", gateway)
	if routers == 2 {
		// IPv6 beside IPv4: the segment 2001:db8:50::/64 (the gateway
		// ::1, the routers' own ::2 to ::4, web-1 ::10), a /64 on each
		// WAN link (the router ::1, the WAN router ::2), and the client's.
		nodad := func(ns, ifname, a string) { add("ip", "-n", prefix+ns, "addr", "add", a, "dev", ifname, "nodad") }
		for _, r := range []struct{ ns, own, wanNet, wanIf string }{{"ra", "2001:db8:50::2", "2001:db8:60:1::", "ra0"},
			{"rb", "2001:db8:50::3", "2001:db8:60:2::", "rb0"}, {"ra2", "2001:db8:50::4", "2001:db8:60:3::", "ra20"},
			{"rb2", "2001:db8:50::5", "2001:db8:60:4::", "rb20"}} {
			nodad(r.ns, "lan0", r.own+"/64")
			nodad(r.ns, "wan0", r.wanNet+"1/64")
			nodad("wan", r.wanIf, r.wanNet+"2/64")
			add("ip", "netns", "exec", prefix+r.ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
			add("ip", "-n", prefix+r.ns, "-6", "route", "add", "default", "via", r.wanNet+"2")
		}
		nodad("client", "eth0", client6+"/64")
		nodad("wan", "cl0", "2001:db8:70::1/64")
		add("ip", "-n", prefix+"client", "-6", "route", "add", "default", "via", "2001:db8:70::1")
		add("ip", "netns", "exec", prefix+"wan", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
		nodad("vm1", "eth0", web16+"/64")
		add("ip", "-n", prefix+"vm1", "-6", "route", "add", "default", "via", gateway6)
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return err
		}
	}
	return nil
}
