package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The scenarios of a site's two routers (-routers 2; DESIGN.md rule 6),
// each in a lab of its own, on the stretched layout: each site has a
// pair, A1 (ra) and A2 (ra2), B1 (rb) and B2 (rb2), each router running
// the routeragent with its own session to the WAN router, and keepalived
// for the gateway (A1 and B1 its masters). The scenarios are of site A's. A client pings web-1 every
// 10 ms through the WAN router; the longest gap is the measure.
var pairScenarios = map[string]string{
	"a": "A1's routeragent is killed; its kernel still forwards",
	"b": "A1 dies: its processes killed and its links down",
	"c": "A1 dies silently: every packet it sends is dropped, no TCP FIN",
	"d": "A1 dies, then A2: site A is lost",
	"e": "the pair is upgraded one router at a time: each routeragent restarted in turn",
	"f": "A1 returns after it died",
}

// siblingLossAfter is the routeragents' default liveness.sibling_loss_after.
const siblingLossAfter = time.Second

// pairLiveness is the [liveness] tables of router ns of a lab whose site
// A has two routers: the sibling for A1 and A2 (its API on the WAN
// address, a routed path apart from the segment), both routers of site
// A for site B.
func pairLiveness(ns string) string {
	router := func(api, v4, v6 string) string {
		return fmt.Sprintf("api = \"https://%s:8443\"\nprobe = [%q, %q]\n", api, v4, v6)
	}
	sites := map[string]string{
		"A": "[[liveness.sites]]\nname = \"A\"\n[[liveness.sites.routers]]\n" + router(raWAN, raLAN, "2001:db8:50::2") +
			"[[liveness.sites.routers]]\n" + router(ra2WAN, ra2LAN, "2001:db8:50::4"),
		"B": "[[liveness.sites]]\nname = \"B\"\n[[liveness.sites.routers]]\n" + router(rbWAN, rbLAN, "2001:db8:50::3") +
			"[[liveness.sites.routers]]\n" + router(rb2WAN, rb2LAN, "2001:db8:50::5"),
	}
	switch ns {
	case "ra":
		return "[[liveness.siblings]]\n" + router(ra2WAN, ra2LAN, "2001:db8:50::4") + sites["B"]
	case "ra2":
		return "[[liveness.siblings]]\n" + router(raWAN, raLAN, "2001:db8:50::2") + sites["B"]
	case "rb":
		return "[[liveness.siblings]]\n" + router(rb2WAN, rb2LAN, "2001:db8:50::5") + sites["A"]
	}
	return "[[liveness.siblings]]\n" + router(rbWAN, rbLAN, "2001:db8:50::3") + sites["A"]
}

// ipv6Config is what a router's config holds of IPv6: the subnet, the
// next hop of its IPv6 routes, and its session's families.
type ipv6Config struct{ subnet, nextHop, families string }

// pairIPv6 is router ns's IPv6 config in a lab whose site A has two
// routers: the segment's IPv6 subnet, and IPv6 routes over each IPv4
// session, with the router's WAN address as their next hop.
func pairIPv6(ns string) ipv6Config {
	wan := map[string]string{"ra": "2001:db8:60:1::1", "rb": "2001:db8:60:2::1", "ra2": "2001:db8:60:3::1", "rb2": "2001:db8:60:4::1"}[ns]
	return ipv6Config{
		subnet: fmt.Sprintf("[[subnets]]\nprefix = %q\nhome = \"A\"\ninterface = \"lan0\"\ngateways = [%q]\nreserved = [\"2001:db8:50::2\", \"2001:db8:50::3\", \"2001:db8:50::4\", \"2001:db8:50::5\"]\n",
			subnet6, gateway6),
		nextHop:  fmt.Sprintf("next_hop_ipv6 = %q\n", wan),
		families: `"ipv4", "ipv6"`,
	}
}

// routeragentURLs is the hostagents' list of routeragents: every router's,
// on its management link.
func routeragentURLs() string {
	urls := []string{raMgmt, rbMgmt}
	if routers == 2 {
		urls = append(urls, ra2Mgmt, rb2Mgmt)
	}
	for i, u := range urls {
		urls[i] = fmt.Sprintf("%q", "https://"+u+":8443")
	}
	return strings.Join(urls, ", ")
}

// startKeepalived runs keepalived (VRRP v3, 100 ms adverts) on each
// site's pair for the gateway, a group of its own per site (the
// interconnect isolates VRRP): A1 and B1 become the masters; no
// preemption, so that a router that comes back takes nothing back.
func (l *lab) startKeepalived() error {
	for _, r := range []struct {
		ns       string
		priority int
		vrid     int
	}{{"ra", 150, 50}, {"ra2", 100, 50}, {"rb", 150, 60}, {"rb2", 100, 60}} {
		conf := fmt.Sprintf(`global_defs {
	router_id %[1]s
}
vrrp_sync_group gateways {
	group {
		gateway
		gateway6
	}
}
vrrp_instance gateway {
	state BACKUP
	nopreempt
	interface lan0
	virtual_router_id %[5]d
	priority %[2]d
	version 3
	advert_int 0.1
	virtual_ipaddress {
		%[3]s/24
	}
}
vrrp_instance gateway6 {
	state BACKUP
	nopreempt
	interface lan0
	virtual_router_id %[6]d
	priority %[2]d
	version 3
	advert_int 0.1
	virtual_ipaddress {
		%[4]s/64
	}
}
`, r.ns, r.priority, gateway, gateway6, r.vrid, r.vrid+1)
		path := filepath.Join(l.dir, "keepalived-"+r.ns+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			return err
		}
		l.run(r.ns, "keepalived-"+r.ns+".log", "keepalived", "--dont-fork", "--log-console", "--vrrp", "--use-file", path,
			"--pid", filepath.Join(l.dir, "keepalived-"+r.ns+".pid"), "--vrrp_pid", filepath.Join(l.dir, "keepalived-vrrp-"+r.ns+".pid"))
		// Without preemption the first to claim the gateway keeps it: A1
		// and B1, before their siblings start.
		if r.ns == "ra" || r.ns == "rb" {
			if _, ok := l.waitFor(r.ns+" the gateway's master", 10*time.Second, func() bool { return hasGateway(r.ns) }); !ok {
				return fmt.Errorf("keepalived did not make %s the gateway's master within 10 s; see keepalived-%s.log in %s", r.ns, r.ns, l.dir)
			}
		}
	}
	return nil
}

// master is the router of site A that holds the gateway now: "ra",
// "ra2", or "" (none, or both).
func master() string {
	var at []string
	for _, ns := range []string{"ra", "ra2"} {
		if out, err := output("ip", "-n", prefix+ns, "-4", "addr", "show", "dev", "lan0"); err == nil && strings.Contains(out, " "+gateway+"/") {
			at = append(at, ns)
		}
	}
	if len(at) != 1 {
		return ""
	}
	return at[0]
}

// siblingState is how a routeragent sees its sibling: alive,
// partitioned, lost or returning.
func (l *lab) siblingState(mgmt string) string {
	m := regexp.MustCompile(`"siblings":\s*\[\s*\{\s*"site":\s*"[^"]*",\s*"state":\s*"(\w+)"`).FindStringSubmatch(l.status(mgmt))
	if m == nil {
		return ""
	}
	return m[1]
}

// winning says a routeragent's routes win over a lost sibling's.
func (l *lab) winning(mgmt string) bool {
	return regexp.MustCompile(`"winning":\s*true`).MatchString(l.status(mgmt))
}

// siteA6 says an IPv6 next hop, as the WAN router shows it, is one of
// site A's routers.
func siteA6(nextHop string) bool {
	return strings.HasPrefix(nextHop, "2001:db8:60:1::1") || strings.HasPrefix(nextHop, "2001:db8:60:3::1")
}

// pairUp waits for the pair: both routers' sessions at the WAN, A1 the
// gateway's master, each router seeing its sibling alive and site B
// seeing site A alive.
func (l *lab) pairUp() error {
	if err := l.up(); err != nil {
		return err
	}
	if _, ok := l.waitFor("the pair up", 20*time.Second, func() bool {
		return master() == "ra" && hasGateway("rb") && !hasGateway("rb2") && l.siblingState(raMgmt) == "alive" && l.siblingState(ra2Mgmt) == "alive" &&
			l.siblingState(rbMgmt) == "alive" && l.siblingState(rb2Mgmt) == "alive" && l.siteState(rbMgmt, "A") == "alive" && siteA6(l.birdRoutes()[subnet6])
	}); !ok {
		return fmt.Errorf("pair: not up: master %q, A1 sees its sibling %q, A2 %q, B sees A %q, %s via %q", master(), l.siblingState(raMgmt),
			l.siblingState(ra2Mgmt), l.siteState(rbMgmt, "A"), subnet6, l.birdRoutes()[subnet6])
	}
	l.say("each site's pair is up: A1 (%s) and B1 the gateway's VRRP masters, A2 (%s) and B2 their backups; each router sees its sibling alive, site B sees site A alive, and the WAN router reaches %s via site A",
		raLAN, ra2LAN, subnet6)
	return nil
}

// pair runs one scenario of site A's two routers.
func (l *lab) pair(scn string) error {
	if err := l.pairUp(); err != nil {
		return err
	}
	l.say("--- Pair (%s), WAN router %s: %s", scn, l.wan, pairScenarios[scn])
	p, err := startPings(l.dir)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	bound := siblingLossAfter + time.Second
	switch scn {
	case "a":
		bound = 100 * time.Millisecond
		err = l.killRouteragentA1()
	case "b", "c", "f":
		err = l.a1Dies(scn == "c")
		if err == nil && scn == "f" {
			if err = l.settleWithin(p, scn, bound); err != nil {
				return err
			}
			if p, err = startPings(l.dir); err != nil {
				return err
			}
			time.Sleep(time.Second)
			bound = 100 * time.Millisecond
			err = l.a1Returns()
		}
	case "d":
		bound = siteLossAfter + 2*time.Second
		err = l.bothDie()
	case "e":
		bound = time.Second
		err = l.rollingUpgrade()
	}
	if err != nil {
		return fmt.Errorf("pair (%s): %w", scn, err)
	}
	return l.settleWithin(p, scn, bound)
}

// pings are the client pinging web-1's IPv4 and IPv6 addresses.
type pings [2]*pinger

func startPings(dir string) (pings, error) {
	var p pings
	for i, a := range []string{web1, web16} {
		var err error
		if p[i], err = startPingTo(dir, a); err != nil {
			return p, err
		}
	}
	return p, nil
}

// settleWithin waits for the client to reach web-1 again on both
// families and fails when its longest gap on either was over bound.
func (l *lab) settleWithin(p pings, scn string, bound time.Duration) error {
	if _, ok := l.waitFor("the client reaches web-1 again", 60*time.Second, func() bool {
		return p[0].since() < 50*time.Millisecond && p[1].since() < 50*time.Millisecond
	}); !ok {
		return fmt.Errorf("pair (%s): the client does not reach web-1 again (IPv4 %s ago, IPv6 %s ago)", scn, p[0].since(), p[1].since())
	}
	time.Sleep(2 * time.Second)
	var gaps [2]time.Duration
	var lost [2]int
	for i := range p {
		var err error
		if gaps[i], lost[i], err = p[i].stop(); err != nil {
			return err
		}
	}
	l.say("longest client gap %s over IPv4, %s over IPv6 (bound %s), %d and %d echo replies lost",
		gaps[0].Round(time.Millisecond), gaps[1].Round(time.Millisecond), bound, lost[0], lost[1])
	if g := max(gaps[0], gaps[1]); g > bound {
		return fmt.Errorf("pair (%s): the client's longest gap is %s, more than %s", scn, g, bound)
	}
	return nil
}

// killRouteragentA1 is scenario a: A1's routeragent dies, its kernel
// and keepalived go on. A2 sees A1 partitioned (its API fails, its probe
// answers) and changes nothing; the WAN keeps A1's routes (graceful
// restart), which still deliver.
func (l *lab) killRouteragentA1() error {
	l.kill("routeragent-ra.log")
	l.say("killed A1's routeragent (SIGKILL); A1's kernel forwards, and keepalived keeps the gateway there")
	if _, ok := l.waitFor("A2 sees A1 partitioned", 10*time.Second, func() bool { return l.siblingState(ra2Mgmt) == "partitioned" }); !ok {
		return fmt.Errorf("A2 sees its sibling %q, want partitioned", l.siblingState(ra2Mgmt))
	}
	time.Sleep(siblingLossAfter + time.Second)
	if s := l.siblingState(ra2Mgmt); s != "partitioned" || l.winning(ra2Mgmt) || master() != "ra" || l.siteState(rbMgmt, "A") != "alive" {
		return fmt.Errorf("A2 sees A1 %q, winning %v; master %q; B sees A %q: want partitioned, not winning, A1 master, A alive",
			s, l.winning(ra2Mgmt), master(), l.siteState(rbMgmt, "A"))
	}
	l.say("A2 sees A1 partitioned (API failing, probe answering) %s on, and changes nothing; site B sees site A alive", siblingLossAfter+time.Second)
	l.restart("routeragent-ra.log")
	if _, ok := l.waitFor("A1's routeragent back", 30*time.Second, func() bool { return l.siblingState(ra2Mgmt) == "alive" }); !ok {
		return fmt.Errorf("A1's routeragent is not back: A2 sees it %q", l.siblingState(ra2Mgmt))
	}
	l.say("A1's routeragent restarted: A2 sees it alive again")
	return nil
}

// a1Dies is scenarios b and c: A1's routeragent and keepalived are
// killed and its links go down (b), or every packet it sends is dropped
// and its segment port hears nothing, with its programs running (c).
// keepalived makes A2 the gateway's master; A2 finds A1 lost within
// sibling_loss_after and makes its routes win at the WAN; site B takes
// nothing over.
func (l *lab) a1Dies(silent bool) error {
	lost := time.Now()
	if silent {
		// Nothing A1 sends leaves it, not even a FIN, and the segment
		// neither hears it nor reaches it.
		for _, dst := range []string{wanA, rbWAN, ra2WAN, "10.80.1.2"} {
			if err := in("ra", "ip", "route", "add", "blackhole", dst+"/32"); err != nil {
				return err
			}
		}
		if err := sh("ip", "-n", prefix+"l2", "link", "set", "pa", "nomaster"); err != nil {
			return err
		}
		l.say("A1 went silent: every packet it sends is dropped (its programs still run), and it is off the segment")
	} else {
		l.kill("routeragent-ra.log")
		l.kill("keepalived-ra.log")
		for _, dev := range []string{"lan0", "wan0", "mgmt0"} {
			if err := in("ra", "ip", "link", "set", dev, "down"); err != nil {
				return err
			}
		}
		l.say("A1 died: its routeragent and keepalived killed, its links down")
	}
	if _, ok := l.waitFor("A2 the gateway's master", 5*time.Second, func() bool { return master() == "ra2" || silent && hasGateway("ra2") }); !ok {
		return fmt.Errorf("A2 is not the gateway's master")
	}
	l.say("keepalived made A2 the gateway's master %s after", time.Since(lost).Round(10*time.Millisecond))
	if _, ok := l.waitFor("A2 finds A1 lost", 10*time.Second, func() bool { return l.siblingState(ra2Mgmt) == "lost" && l.winning(ra2Mgmt) }); !ok {
		return fmt.Errorf("A2 sees A1 %q, winning %v", l.siblingState(ra2Mgmt), l.winning(ra2Mgmt))
	}
	l.say("A2 finds A1 lost %s after (sibling_loss_after %s): its routes win at the WAN (MED 0)", time.Since(lost).Round(10*time.Millisecond), siblingLossAfter)
	viaA2 := func() bool {
		r := l.birdRoutes()
		return r[subnet] == ra2WAN && strings.HasPrefix(r[subnet6], "2001:db8:60:3::1")
	}
	if _, ok := l.waitFor("the WAN router forwards via A2", 10*time.Second, viaA2); !ok {
		return fmt.Errorf("the WAN router's best paths for %s and %s are via %q and %q, want A2's", subnet, subnet6, l.birdRoutes()[subnet], l.birdRoutes()[subnet6])
	}
	l.say("the WAN router reaches %s and %s via A2, whatever it still holds of A1", subnet, subnet6)
	if _, ok := l.waitFor("web-1's gateways at A2", 5*time.Second, func() bool { return gatewayMAC() == macA2 && neighborMAC(gateway6) == macA2 }); !ok {
		return fmt.Errorf("web-1's gateway entries are %q and %q, want A2's %s", gatewayMAC(), neighborMAC(gateway6), macA2)
	}
	l.say("web-1's gateway entries, IPv4 and IPv6, hold A2's MAC")
	if s := l.siteState(rbMgmt, "A"); s != "alive" || strings.Contains(l.advertised(rbMgmt), subnet) {
		return fmt.Errorf("site B sees site A %q and announces %q: want A alive, and nothing of %s taken over", s, l.advertised(rbMgmt), subnet)
	}
	l.say("site B sees site A alive (A2 answers) and takes nothing over")
	return nil
}

// hasGateway says the gateway is on router ns's segment interface.
func hasGateway(ns string) bool {
	out, err := output("ip", "-n", prefix+ns, "-4", "addr", "show", "dev", "lan0")
	return err == nil && strings.Contains(out, " "+gateway+"/")
}

// a1Returns ends scenario f: A1's links come up, keepalived starts (as
// the backup: no preemption) and so does its routeragent, from its state.
// A2 sees it alive again and sends its routes with the configured MED.
func (l *lab) a1Returns() error {
	for _, dev := range []string{"lan0", "wan0", "mgmt0"} {
		if err := in("ra", "ip", "link", "set", dev, "up"); err != nil {
			return err
		}
	}
	if err := in("ra", "ip", "route", "replace", "default", "via", wanA); err != nil {
		return err
	}
	l.restart("keepalived-ra.log")
	l.restart("routeragent-ra.log")
	l.say("A1 returns: links up, keepalived (the backup now) and its routeragent started")
	// Back on both paths, A1 is returning until its hostagents report to
	// it again (at their next heartbeat at the latest), then alive: either
	// way it forwards, and A2's win ends.
	back := func() bool {
		s := l.siblingState(ra2Mgmt)
		return (s == "alive" || s == "returning") && !l.winning(ra2Mgmt)
	}
	if _, ok := l.waitFor("A2 sees A1 back", 30*time.Second, back); !ok {
		return fmt.Errorf("A2 sees A1 %q, winning %v", l.siblingState(ra2Mgmt), l.winning(ra2Mgmt))
	}
	if master() != "ra2" {
		return fmt.Errorf("the gateway's master is %q, want A2 still (no preemption)", master())
	}
	l.say("A2 sees A1 %s on both paths and sends its routes with MED 100 again; A2 stays the gateway's master", l.siblingState(ra2Mgmt))
	return nil
}

// bothDie is scenario d: A1 dies, then A2: site B finds site A lost
// within site_loss_after and takes its subnet over; web-1, still at site
// A's hosts, is reached through site B's router over the interconnect.
func (l *lab) bothDie() error {
	if err := l.a1Dies(false); err != nil {
		return err
	}
	dead := time.Now()
	l.kill("routeragent-ra2.log")
	l.kill("keepalived-ra2.log")
	for _, dev := range []string{"lan0", "wan0", "mgmt0"} {
		if err := in("ra2", "ip", "link", "set", dev, "down"); err != nil {
			return err
		}
	}
	l.say("A2 died too")
	if _, ok := l.waitFor("site B finds site A lost", 10*time.Second, func() bool { return l.siteState(rbMgmt, "A") == "lost" }); !ok {
		return fmt.Errorf("site B sees site A %q, want lost", l.siteState(rbMgmt, "A"))
	}
	took := time.Since(dead)
	l.say("site B finds site A lost %s after A2's death (site_loss_after %s)", took.Round(10*time.Millisecond), siteLossAfter)
	if took > siteLossAfter+2*time.Second {
		return fmt.Errorf("site A lost %s after A2's death, more than site_loss_after + 2 s", took)
	}
	if _, ok := l.waitFor("web-1's gateways at site B", 5*time.Second, func() bool { return gatewayMAC() == macB && neighborMAC(gateway6) == macB }); !ok {
		return fmt.Errorf("web-1's gateway entries are %q and %q, want site B's %s", gatewayMAC(), neighborMAC(gateway6), macB)
	}
	l.say("site B announced its gateways, IPv4 and IPv6, to web-1, which is still at site A's hosts")
	return nil
}

// rollingUpgrade is scenario e: each router's routeragent is restarted
// in turn, as an upgrade of its package does (SIGTERM, then the new
// version from the state directory): a graceful restart at the WAN
// router each time.
func (l *lab) rollingUpgrade() error {
	done := func() int { return strings.Count(l.read("bird.log"), ": Neighbor graceful restart done") }
	for i, r := range []struct{ ns, name, mgmt, sibling string }{{"ra", "A1", raMgmt, ra2Mgmt}, {"ra2", "A2", ra2Mgmt, raMgmt}} {
		stopped := time.Now()
		l.stop("routeragent-" + r.ns + ".log")
		l.restart("routeragent-" + r.ns + ".log")
		// The new process's session is up, and its sibling sees it alive.
		if _, ok := l.waitFor(r.name+"'s routeragent back", 60*time.Second, func() bool {
			return regexp.MustCompile(`"state":\s*"established"`).MatchString(l.status(r.mgmt)) && l.siblingState(r.sibling) == "alive"
		}); !ok {
			return fmt.Errorf("%s's routeragent did not come back within 60 s", r.name)
		}
		l.say("%s's routeragent restarted, as its package's upgrade does: its session to the WAN router up again %s after, its sibling sees it alive",
			r.name, time.Since(stopped).Round(10*time.Millisecond))
		if l.wan == "bird" {
			if _, ok := l.waitFor("BIRD's graceful restart done", 30*time.Second, func() bool { return done() > i }); !ok {
				return fmt.Errorf("BIRD logged no graceful restart done for %s", r.name)
			}
			l.say("BIRD: graceful restart done for %s", r.name)
		}
	}
	return nil
}

// output runs a command and returns what it printed.
func output(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}
