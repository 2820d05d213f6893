package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The site-loss scenarios (DESIGN.md rule 6), each in a lab of its own,
// on the stretched layout, with the default graceful restart times (30 s,
// long-lived 1 h) and site_loss_after (3 s). A client pings web-1 every
// 10 ms through the WAN router; the longest gap is the measure.
//
//	a  site A lost with its vCenter: no report says that HA restarted
//	   web-1 at site B
//	b  site A lost, vCenter alive: HA restarts A's VMs at B, reported
//	c  only the interconnect is cut: partitioned, nothing moves
//	d  only the routed path between the routeragents is cut: the same
//	e  site A's routeragent is killed and restarted: no withdraw, no gap
//	f  A's routeragent dies, HA restarts A's VMs at B one by one: the
//	   first one's /32, then the summary swap; its client gap is 0
//	g  like a, but A's links go silent instead (no TCP FIN): the WAN
//	   keeps A's session up until its hold timer
var lossScenarios = map[string]string{
	"a": "site A is lost with its vCenter; HA restarts web-1 at site B, and no report says so",
	"b": "site A is lost while vCenter survives; HA restarts A's VMs at site B, and the hostagent reports it",
	"c": "only the interconnect is cut",
	"d": "only the routed path between the routeragents is cut",
	"e": "site A's routeragent is killed (SIGKILL) and restarted while it alone announces the subnet",
	"f": "site A's routeragent dies; HA restarts A's VMs at site B one by one: web-1's /32 first, then the summary moves",
	"g": "site A goes silent: its links drop every packet, no TCP FIN, and the WAN keeps its session until the hold timer",
}

// siteLossAfter is the routeragents' default liveness.site_loss_after.
const siteLossAfter = 3 * time.Second

// routerID is a site's BGP router ID: its WAN address, but site A's is
// above site B's with -a-id-high, so that the WAN router's tie-break
// between equal routes points the other way.
func (l *lab) routerID(site string) string {
	switch {
	case site == "B":
		return rbWAN
	case l.idHigh:
		return "10.60.9.1"
	}
	return raWAN
}

// siteLoss runs one site-loss scenario.
func (l *lab) siteLoss(ctx context.Context, scn string) error {
	if err := l.up(); err != nil {
		return err
	}
	if _, ok := l.waitFor("each routeragent sees the other site alive", 10*time.Second, func() bool {
		return l.siteState(raMgmt, "B") == "alive" && l.siteState(rbMgmt, "A") == "alive"
	}); !ok {
		return fmt.Errorf("site loss (%s): the routeragents do not see each other alive:\n%s\n%s", scn, l.status(raMgmt), l.status(rbMgmt))
	}
	ids := "site A's router ID below site B's"
	if l.idHigh {
		ids = "site A's router ID above site B's"
	}
	l.say("--- Site loss (%s), WAN router %s, %s: %s", scn, l.wan, ids, lossScenarios[scn])
	switch scn {
	case "a", "g":
		return l.lossWithVCenter(ctx, scn)
	case "b":
		return l.lossVCenterAlive(ctx)
	case "c", "d":
		return l.partition(scn)
	case "e":
		return l.restartAlone()
	case "f":
		return l.oneByOne(ctx)
	}
	return fmt.Errorf("no site-loss scenario %q", scn)
}

// siteState is how a routeragent sees another site: alive, partitioned,
// lost or returning.
func (l *lab) siteState(mgmt, site string) string {
	m := regexp.MustCompile(`"site":\s*"` + site + `",\s*"state":\s*"(\w+)"`).FindStringSubmatch(l.status(mgmt))
	if m == nil {
		return ""
	}
	return m[1]
}

// siteEvents returns the site transitions in a routeragent's move log,
// one per line.
func (l *lab) siteEvents(mgmt string) string {
	var ms []struct{ Event string }
	if l.routerJSON(mgmt, "/v1/moves", &ms) != nil {
		return ""
	}
	var out []string
	for _, m := range ms {
		if m.Event != "" {
			out = append(out, m.Event)
		}
	}
	return strings.Join(out, "\n")
}

// cutA takes site A's router off the stretched segment: its probes and
// its gateway go silent there.
func cutA() error { return sh("ip", "-n", prefix+"l2", "link", "set", "pa", "nomaster") }

// haToB is vSphere HA restarting web-1 at site B: its port moves to site
// B's bridge, and it announces its own address once, as a booting guest
// does (which teaches the segment's switches where its MAC is). Its
// neighbor cache stays: the gateway entry is vmroute's to correct.
func haToB() error {
	if err := sh("ip", "-n", prefix+"l2", "link", "set", "v1", "master", "br-b"); err != nil {
		return err
	}
	_ = in("vm1", "arping", "-q", "-c", "1", "-U", "-I", "eth0", web1) // exits 1: nobody answers
	return nil
}

// gapBound is the longest client gap a site loss may cause.
const gapBound = siteLossAfter + 2*time.Second

// lossWithVCenter is scenario a (A's processes killed) or g (A's links
// silent): vCenter goes with site A, so nothing is reported; site B
// finds A lost on both paths and takes the subnet, its halves and web-1's
// gateway.
func (l *lab) lossWithVCenter(ctx context.Context, scn string) error {
	p, err := startPing(l.dir)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	// vCenter and the hostagent stand at site A: both go.
	l.kill("hostagent-ab.log")
	l.vcs.CloseClientConnections()
	go l.vcs.Close()
	if scn == "a" {
		l.kill("routeragent-ra.log")
		l.say("killed site A's routeragent and hostagent, stopped vCenter, took A's router off the segment")
	} else {
		// Every packet of A's router is dropped: nothing leaves it, not
		// even a FIN or a RST, and what comes to it goes unanswered.
		for _, dst := range []string{wanA, rbWAN, "10.80.1.2"} {
			if err := in("ra", "ip", "route", "add", "blackhole", dst+"/32"); err != nil {
				return err
			}
		}
		l.say("site A's router drops every packet it would send (its routeragent still runs, isolated); vCenter and the hostagent are gone")
	}
	if err := cutA(); err != nil {
		return err
	}
	lossAt := time.Now()
	if err := haToB(); err != nil {
		return err
	}
	l.say("HA restarts web-1 on a host of site B (its port moves to B's bridge); no report comes")
	if _, ok := l.waitFor("site B finds site A lost", 10*time.Second, func() bool { return l.siteState(rbMgmt, "A") == "lost" }); !ok {
		return fmt.Errorf("site loss (%s): site B does not find A lost:\n%s", scn, l.status(rbMgmt))
	}
	l.say("site B finds site A lost %s after the cut (site_loss_after %s)", time.Since(lossAt).Round(100*time.Millisecond), siteLossAfter)
	if m := l.siteEvents(rbMgmt); !strings.Contains(m, "site A: ") || !strings.Contains(m, "-> lost") {
		return fmt.Errorf("site loss (%s): site B's move log lacks A's loss: %q", scn, m)
	}
	if _, ok := l.waitFor("the subnet's halves via site B", 10*time.Second, func() bool {
		r := l.birdRoutes()
		return site(r["10.50.0.0/25"]) == "B" && site(r["10.50.0.128/25"]) == "B"
	}); !ok {
		return fmt.Errorf("site loss (%s): BIRD holds %v, want the subnet's halves via site B", scn, l.birdRoutes())
	}
	l.say("the WAN router holds %s's halves via site B: they win over A's %s by longest match, whether the WAN still holds it live or stale", subnet, subnet)
	if _, ok := l.waitFor("web-1's gateway at site B", 5*time.Second, func() bool { return gatewayMAC() == macB }); !ok {
		return fmt.Errorf("site loss (%s): web-1's gateway entry is %q, want site B's %s", scn, gatewayMAC(), macB)
	}
	l.say("site B announced its gateway to the VMs last known at site A: web-1's gateway entry is B's router")
	if err := l.settle(p, "site loss ("+scn+")"); err != nil {
		return err
	}
	if err := l.web1Via("site loss ("+scn+")", "B"); err != nil {
		return err
	}
	if scn == "a" {
		return l.comeBack()
	}
	return nil
}

// comeBack ends scenario a: site A's router returns and its routeragent
// starts from its state directory, whose reports still put the VMs at A,
// while vCenter stays down. A must announce nothing of the subnet site B
// now announces (no flap back), and B must keep it.
func (l *lab) comeBack() error {
	if err := sh("ip", "-n", prefix+"l2", "link", "set", "pa", "master", "br-a"); err != nil {
		return err
	}
	l.restart("routeragent-ra.log")
	if _, ok := l.waitFor("site B sees site A returning", 15*time.Second, func() bool { return l.siteState(rbMgmt, "A") == "returning" }); !ok {
		return fmt.Errorf("site loss (a): site B sees A %q after its return, want returning", l.siteState(rbMgmt, "A"))
	}
	// Its BGP session back, A has sent what it announces now (End-of-RIB).
	if _, ok := l.waitFor("site A's routeragent back in BGP", 30*time.Second, func() bool {
		return l.wan == "frr" || strings.Contains(l.read("bird.log"), "site_a: Neighbor graceful restart done")
	}); !ok {
		return fmt.Errorf("site loss (a): site A's routeragent did not come back in BGP")
	}
	time.Sleep(2 * time.Second)
	r := l.birdRoutes()
	if site(r[subnet]) != "B" {
		return fmt.Errorf("site loss (a): after site A came back, BIRD's best %s is %q, want site B's", subnet, r[subnet])
	}
	if strings.Contains(l.advertised(raMgmt), subnet) {
		return fmt.Errorf("site loss (a): site A, back without current reports, announces %s", subnet)
	}
	l.say("site A came back without vCenter: B sees it returning; A announces nothing of %s, which stays with B", subnet)
	return l.web1Via("site loss (a), A back", "B")
}

// advertised returns what a routeragent's BGP speaker advertises.
func (l *lab) advertised(mgmt string) string {
	var r struct{ Advertised []struct{ Prefix string } }
	if l.routerJSON(mgmt, "/v1/routes", &r) != nil {
		return ""
	}
	var out []string
	for _, a := range r.Advertised {
		out = append(out, a.Prefix)
	}
	return strings.Join(out, " ")
}

// lossVCenterAlive is scenario b: vCenter survives, HA restarts A's VMs
// on site B's hosts of the stretched cluster and the hostagent reports
// the landings.
func (l *lab) lossVCenterAlive(ctx context.Context) error {
	p, err := startPing(l.dir)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	l.kill("routeragent-ra.log")
	if err := cutA(); err != nil {
		return err
	}
	l.say("site A's routeragent is gone and its router off the segment; BIRD keeps A's routes as stale")
	if err := haToB(); err != nil {
		return err
	}
	for _, r := range []struct{ vm, host, ip string }{{"DC0_C0_RP0_VM0", "2", web1}, {"DC0_C0_RP0_VM1", "3", web2}, {"DC0_C0_RP0_VM2", "3", web3}} {
		if err := l.haRestart(ctx, r.vm, r.host, r.ip); err != nil {
			return fmt.Errorf("site loss (b): %w", err)
		}
	}
	l.say("vSphere HA restarted web-1, web-2 and web-3 on site B's hosts of the same cluster")
	if err := l.settle(p, "site loss (b)"); err != nil {
		return err
	}
	return l.web1Via("site loss (b)", "B")
}

// partition is scenario c (the interconnect cut) or d (the routed path
// between the routeragents cut): each routeragent shows the other site
// partitioned, and the WAN router's table does not change.
func (l *lab) partition(scn string) error {
	// The baseline once BIRD's counters have been still for 2 s: the
	// lab's start (the first reports, End-of-RIB) is not the partition's.
	count := func() int { return l.birdStat("site_a", "Import withdraws") + l.birdStat("site_b", "Import withdraws") }
	withdraws, still := count(), time.Now()
	l.waitFor("BIRD's counters still", 20*time.Second, func() bool {
		if n := count(); n != withdraws {
			withdraws, still = n, time.Now()
		}
		return time.Since(still) >= 2*time.Second
	})
	before := l.birdRoutes()
	path := "probe"
	if scn == "c" {
		for _, port := range []string{"ica", "icb"} {
			if err := sh("ip", "-n", prefix+"l2", "link", "set", port, "nomaster"); err != nil {
				return err
			}
		}
		l.say("the interconnect is cut: the sites' bridges no longer meet")
	} else {
		path = "api"
		if err := in("ra", "ip", "route", "add", "prohibit", rbWAN+"/32"); err != nil {
			return err
		}
		if err := in("rb", "ip", "route", "add", "prohibit", raWAN+"/32"); err != nil {
			return err
		}
		l.say("the routed path between the routeragents is cut; BGP to the WAN router and the interconnect stay")
	}
	if _, ok := l.waitFor("both routeragents show the other site partitioned", 10*time.Second, func() bool {
		return l.siteState(raMgmt, "B") == "partitioned" && l.siteState(rbMgmt, "A") == "partitioned"
	}); !ok {
		return fmt.Errorf("site loss (%s): want both sites partitioned:\n%s\n%s", scn, l.status(raMgmt), l.status(rbMgmt))
	}
	if !regexp.MustCompile(`"` + path + `_failing":\s*true`).MatchString(l.status(rbMgmt)) {
		return fmt.Errorf("site loss (%s): status does not say the %s path fails:\n%s", scn, path, l.status(rbMgmt))
	}
	// Twice site_loss_after more: a partition must never become a loss.
	time.Sleep(2 * siteLossAfter)
	if a, b := l.siteState(raMgmt, "B"), l.siteState(rbMgmt, "A"); a != "partitioned" || b != "partitioned" {
		return fmt.Errorf("site loss (%s): A sees B %s, B sees A %s; want partitioned", scn, a, b)
	}
	after := l.birdRoutes()
	if !mapsEqual(before, after) {
		return fmt.Errorf("site loss (%s): BIRD's routes changed from %v to %v", scn, before, after)
	}
	if n := count() - withdraws; n != 0 {
		return fmt.Errorf("site loss (%s): BIRD received %d withdraws; it holds %v", scn, n, l.birdRoutes())
	}
	l.say("both routeragents show the other site partitioned (the %s path fails) for %s: nothing moved at the WAN router, no withdraw", path, 3*siteLossAfter)
	return nil
}

// restartAlone is scenario e: A's routeragent, the only one announcing
// the subnet, is killed and restarted: BIRD withdraws nothing and the
// client sees no gap.
func (l *lab) restartAlone() error {
	p, err := startPing(l.dir)
	if err != nil {
		return err
	}
	withdraws := l.birdStat("site_a", "Import withdraws")
	time.Sleep(time.Second)
	if err := l.killRestart("ra", "site_a"); err != nil {
		return fmt.Errorf("site loss (e): %w", err)
	}
	time.Sleep(time.Second)
	gap, lost, err := p.stop()
	if err != nil {
		return err
	}
	if n := l.birdStat("site_a", "Import withdraws") - withdraws; n != 0 || lost > 0 {
		return fmt.Errorf("site loss (e): BIRD received %d withdraws and the client lost %d echo replies (longest gap %s)", n, lost, gap)
	}
	l.say("longest client gap %s, %d echo replies lost, 0 withdraws at BIRD", gap.Round(time.Millisecond), lost)
	return l.web1Via("site loss (e)", "A")
}

// oneByOne is scenario f: A's routeragent dies with its router still on
// the segment (partitioned, not lost); HA restarts web-1 at B (its /32
// from B), then web-2 and web-3 (the summary moves to B). web-1's client
// sees no gap from its /32 on, through the swap and until site B's
// takeover ends.
func (l *lab) oneByOne(ctx context.Context) error {
	l.kill("routeragent-ra.log")
	if err := haToB(); err != nil {
		return err
	}
	if err := l.haRestart(ctx, "DC0_C0_RP0_VM0", "2", web1); err != nil {
		return err
	}
	if _, ok := l.waitFor("web-1's /32 via site B", 10*time.Second, func() bool {
		return site(l.birdRoutes()[web1+"/32"]) == "B" && gatewayMAC() == macB
	}); !ok {
		return fmt.Errorf("site loss (f): BIRD holds %v, web-1's gateway %s", l.birdRoutes(), gatewayMAC())
	}
	l.say("site A's routeragent died; HA restarted web-1 at site B: its /32 via B")
	p, err := startPing(l.dir)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	for _, r := range []struct{ vm, host, ip string }{{"DC0_C0_RP0_VM1", "3", web2}, {"DC0_C0_RP0_VM2", "3", web3}} {
		if err := l.haRestart(ctx, r.vm, r.host, r.ip); err != nil {
			return fmt.Errorf("site loss (f): %w", err)
		}
	}
	swap := time.Now()
	if _, ok := l.waitFor("site B's /32s for web-2 and web-3", 10*time.Second, func() bool {
		r := l.birdRoutes()
		return site(r[web2+"/32"]) == "B" && site(r[web3+"/32"]) == "B"
	}); !ok {
		return fmt.Errorf("site loss (f): BIRD holds %v, want every VM's /32 via site B", l.birdRoutes())
	}
	l.say("web-2 and web-3 followed: site B owns %s now and announces it, keeping the /32s of the VMs it holds", subnet)
	// A's stale summary may still be BIRD's best (a tie it breaks by
	// router ID) until A's graceful restart time ends: then it is
	// LLGR_STALE, the least preferred.
	if _, ok := l.waitFor("the summary via site B", 45*time.Second, func() bool { return site(l.birdRoutes()[subnet]) == "B" }); !ok {
		return fmt.Errorf("site loss (f): BIRD holds %v, want %s via site B", l.birdRoutes(), subnet)
	}
	l.say("%s after the swap BIRD's best %s is site B's: site A's turned LLGR_STALE", time.Since(swap).Round(100*time.Millisecond), subnet)
	if _, ok := l.waitFor("site B's takeover over, its /32s withdrawn", 3*time.Minute, func() bool {
		return l.birdRoutes()[web1+"/32"] == ""
	}); !ok {
		return fmt.Errorf("site loss (f): BIRD still holds web-1's /32: %v", l.birdRoutes())
	}
	time.Sleep(time.Second)
	gap, lost, err := p.stop()
	if err != nil {
		return err
	}
	l.say("site B withdrew its /32s %s after the swap; web-1's client: longest gap %s, %d echo replies lost",
		time.Since(swap).Round(time.Second), gap.Round(time.Millisecond), lost)
	if lost > 0 {
		return fmt.Errorf("site loss (f): web-1's client lost %d echo replies through the summary swap", lost)
	}
	return l.web1Via("site loss (f)", "B")
}

// settle waits until the client reaches web-1 again and keeps reaching it
// for two seconds, then checks the longest gap against the bound.
func (l *lab) settle(p *pinger, scn string) error {
	if _, ok := l.waitFor("the client reaches web-1 again", 60*time.Second, func() bool { return p.since() < 50*time.Millisecond }); !ok {
		return fmt.Errorf("%s: the client does not reach web-1 again", scn)
	}
	time.Sleep(2 * time.Second)
	gap, lost, err := p.stop()
	if err != nil {
		return err
	}
	l.say("longest client gap %s (bound: site_loss_after + 2 s = %s), %d echo replies lost", gap.Round(time.Millisecond), gapBound, lost)
	if gap > gapBound {
		return fmt.Errorf("%s: the client's longest gap is %s, more than %s", scn, gap, gapBound)
	}
	return nil
}

// web1Via checks where the WAN router sends web-1's traffic and that the
// client's echo goes in and out through that site.
func (l *lab) web1Via(scn, at string) error {
	p, err := pathVia(scn, at)
	if err != nil {
		return err
	}
	l.say("the client reaches web-1 %s", p)
	return nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// pinger is the client pinging web-1 every 10 ms, its output in a file.
type pinger struct {
	cmd   *exec.Cmd
	path  string
	start time.Time
}

func startPing(dir string) (*pinger, error) { return startPingTo(dir, web1) }

// startPingTo is the client pinging addr every 10 ms.
func startPingTo(dir, addr string) (*pinger, error) {
	path := filepath.Join(dir, fmt.Sprintf("ping-%d.log", time.Now().UnixNano()))
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command("ip", "netns", "exec", prefix+"client", "ping", "-D", "-n", "-i", "0.01", "-W", "1", addr)
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &pinger{cmd: cmd, path: path, start: time.Now()}, nil
}

// replyLine is an echo reply in ping's -D output; an error that names
// the request ("From 10.70.0.1 icmp_seq=7 Destination Net Unreachable",
// which a router without a route sends, rate-limited) is no reply.
var replyLine = regexp.MustCompile(`^\[(\d+)\.(\d+)\] \d+ bytes from .* icmp_seq=(\d+) `)

// replies reads the reply times so far, and the highest sequence number.
func (p *pinger) replies() (times []time.Time, maxSeq int) {
	f, err := os.Open(p.path)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := replyLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		usec, _ := strconv.ParseInt((m[2] + "000000")[:6], 10, 64)
		seq, _ := strconv.Atoi(m[3])
		times = append(times, time.Unix(sec, usec*1000))
		maxSeq = max(maxSeq, seq)
	}
	return times, maxSeq
}

// since is how long ago the last echo reply came.
func (p *pinger) since() time.Duration {
	times, _ := p.replies()
	if len(times) == 0 {
		return time.Since(p.start)
	}
	return time.Since(slices.MaxFunc(times, func(a, b time.Time) int { return a.Compare(b) }))
}

// stop ends the pings and returns the longest time without a reply,
// and how many echo requests got none.
func (p *pinger) stop() (gap time.Duration, lost int, err error) {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	_ = p.cmd.Wait()
	times, maxSeq := p.replies()
	if len(times) < 10 {
		return 0, 0, fmt.Errorf("the client got %d echo replies from web-1", len(times))
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(times); i++ {
		gap = max(gap, times[i].Sub(times[i-1]))
	}
	return gap, maxSeq - len(times), nil
}
