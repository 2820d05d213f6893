package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// perSiteScenarios are the cluster-per-site layout's scenarios: 1, one VM
// moves A to B; 2, the rest of the subnet follows; 4, a routeragent is
// killed and restarted; 5, a hostagent is killed and restarted; 6, a VM
// with an address in no subnet lands; 3, web-1 returns; 7, site A is
// lost and its VMs are restarted at B.
func (l *lab) perSiteScenarios(ctx context.Context) error {
	if err := l.up(); err != nil {
		return err
	}

	l.say("--- Scenario 1: web-1 moves to site B (vMotion across the interconnect)")
	if err := l.firstMove(ctx, "/DC0/host/DC0_C1/DC0_C1_H0", "/DC0/host/DC0_C1/Resources"); err != nil {
		return err
	}

	l.say("--- Scenario 2: web-2, the last VM of the subnet at site A, moves too")
	if err := l.relocate(ctx, "DC0_C0_RP0_VM1", "/DC0/host/DC0_C1/DC0_C1_H1", "/DC0/host/DC0_C1/Resources"); err != nil {
		return err
	}
	if _, ok := l.waitFor("the summary at site B", 5*time.Second, func() bool {
		r := l.birdRoutes()
		_, host := r[web1+"/32"]
		return site(r[subnet]) == "B" && !host
	}); !ok {
		return fmt.Errorf("scenario 2: BIRD holds %v, want only %s via site B", l.birdRoutes(), subnet)
	}
	l.say("the WAN router now reaches %s via site B, and holds no host route: the whole subnet moved", subnet)
	if err := l.web1At("scenario 2", "B"); err != nil {
		return err
	}

	l.say("--- Scenario 4: site B's routeragent is killed (SIGKILL) and restarted")
	withdraws := l.birdStat("site_b", "Import withdraws")
	lost := make(chan bool, 1)
	watching, stopWatch := context.WithCancel(ctx)
	go func() {
		gone := false
		for watching.Err() == nil {
			if site(l.birdRoutes()[subnet]) != "B" {
				gone = true
			}
			time.Sleep(10 * time.Millisecond)
		}
		lost <- gone
	}()
	if err := l.killRestart("rb", "site_b"); err != nil {
		stopWatch()
		return fmt.Errorf("scenario 4: %w", err)
	}
	stopWatch()
	if <-lost {
		return fmt.Errorf("scenario 4: BIRD lost %s during the restart", subnet)
	}
	if n := l.birdStat("site_b", "Import withdraws") - withdraws; n != 0 {
		return fmt.Errorf("scenario 4: BIRD received %d withdraws during the restart", n)
	}
	l.say("restarted from its state directory: BIRD kept %s via site B throughout, no withdraw", subnet)
	if err := l.web1At("scenario 4", "B"); err != nil {
		return err
	}

	l.say("--- Scenario 5: site B's hostagent is killed, and restarted")
	l.kill("hostagent-b.log")
	time.Sleep(time.Second)
	if at := site(l.birdRoutes()[subnet]); at != "B" {
		return fmt.Errorf("scenario 5: with the hostagent gone the summary is at %q, want B still", at)
	}
	l.say("a second later the routes have not moved: losing a hostagent changes nothing by itself")
	l.restart("hostagent-b.log")
	if _, ok := l.waitFor("the hostagent back in sync", 15*time.Second, func() bool {
		resp, err := http.Get("http://127.0.0.1:9181/v1/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st struct {
			VCenter      struct{ Connected bool }
			Routeragents []struct {
				InSync bool `json:"in_sync"`
			}
		}
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.VCenter.Connected &&
			len(st.Routeragents) == 2 && st.Routeragents[0].InSync && st.Routeragents[1].InSync
	}); !ok {
		return fmt.Errorf("scenario 5: the restarted hostagent did not resync")
	}
	if at := site(l.birdRoutes()[subnet]); at != "B" {
		return fmt.Errorf("scenario 5: after the resync the summary is at %q, want B", at)
	}
	l.say("restarted, it sent both routeragents a full report; nothing changed, as nothing moved")
	if err := l.web1At("scenario 5", "B"); err != nil {
		return err
	}

	l.say("--- Scenario 6: a VM whose address is in no configured subnet (%s) lands at site A", outside)
	if err := l.relocate(ctx, "DC0_C1_RP0_VM1", "/DC0/host/DC0_C0/DC0_C0_H0", "/DC0/host/DC0_C0/Resources"); err != nil {
		return err
	}
	if _, ok := l.waitFor("site A's routeragent to place the VM at A", 5*time.Second, func() bool {
		return l.placed(raMgmt, "DC0_C1_RP0_VM1") == "A"
	}); !ok {
		return fmt.Errorf("scenario 6: site A's routeragent does not place the VM at A")
	}
	if !strings.Contains(l.status(raMgmt), outside) {
		return fmt.Errorf("scenario 6: site A's status does not list %s as outside every subnet", outside)
	}
	time.Sleep(200 * time.Millisecond) // a route for it would have reached BIRD by now
	for p := range l.birdRoutes() {
		if strings.HasPrefix(p, "203.0.113") {
			return fmt.Errorf("scenario 6: BIRD holds %s", p)
		}
	}
	if out, _ := exec.Command("birdc", "-s", filepath.Join(l.dir, "bird.ctl"), "show", "route", "for", outside).Output(); strings.Contains(string(out), "unicast") {
		return fmt.Errorf("scenario 6: BIRD routes %s: %s", outside, out)
	}
	l.say("site A places the VM at A, lists %s outside every subnet, and announces nothing for it", outside)
	if err := l.web1At("scenario 6", "B"); err != nil {
		return err
	}

	l.say("--- Scenario 3: web-1 returns to site A")
	if err := l.moveWeb1("br-a", "/DC0/host/DC0_C0/DC0_C0_H0", "/DC0/host/DC0_C0/Resources"); err != nil {
		return err
	}
	if _, ok := l.waitFor("the summary home at A and web-2's /32 at B", 5*time.Second, func() bool {
		r := l.birdRoutes()
		return site(r[subnet]) == "A" && site(r[web2+"/32"]) == "B" && r[web1+"/32"] == ""
	}); !ok {
		return fmt.Errorf("scenario 3: BIRD holds %v", l.birdRoutes())
	}
	if _, ok := l.waitFor("web-1's gateway at site A", 5*time.Second, func() bool { return gatewayMAC() == macA }); !ok {
		return fmt.Errorf("scenario 3: web-1's gateway entry is %s, want site A's %s", gatewayMAC(), macA)
	}
	l.say("the subnet is spread again: its summary goes home to A, web-2 at B gets a /32 from B, web-1's gateway is A's router")
	if err := l.web1At("scenario 3", "A"); err != nil {
		return err
	}
	if err := l.relocate(ctx, "DC0_C0_RP0_VM1", "/DC0/host/DC0_C0/DC0_C0_H1", "/DC0/host/DC0_C0/Resources"); err != nil {
		return err
	}
	if _, ok := l.waitFor("the subnet whole at A", 5*time.Second, func() bool {
		r := l.birdRoutes()
		return site(r[subnet]) == "A" && r[web2+"/32"] == ""
	}); !ok {
		return fmt.Errorf("scenario 3: BIRD holds %v", l.birdRoutes())
	}
	l.say("web-2 returns too: %s via site A, no host route", subnet)

	l.say("--- Scenario 7: site A is lost; its VMs are restarted at site B (by SRM or by hand: HA does not restart across clusters)")
	l.kill("routeragent-ra.log")
	l.kill("hostagent-a.log")
	if err := cutA(); err != nil {
		return err
	}
	l.say("site A's routeragent and hostagent are gone, its router off the segment; BIRD keeps A's routes as stale")
	if err := l.moveWeb1("br-b", "/DC0/host/DC0_C1/DC0_C1_H0", "/DC0/host/DC0_C1/Resources"); err != nil {
		return err
	}
	if err := l.relocate(ctx, "DC0_C0_RP0_VM1", "/DC0/host/DC0_C1/DC0_C1_H1", "/DC0/host/DC0_C1/Resources"); err != nil {
		return err
	}
	lossAt := time.Now()
	if _, ok := l.waitFor("site B finds site A lost and owns the subnet", 20*time.Second, func() bool {
		return l.siteState(rbMgmt, "A") == "lost" && site(l.birdRoutes()["10.50.0.0/25"]) == "B"
	}); !ok {
		return fmt.Errorf("scenario 7: BIRD holds %v; site B sees A %s", l.birdRoutes(), l.siteState(rbMgmt, "A"))
	}
	l.say("%s later site B finds A lost and announces %s and its halves: the WAN router reaches it via site B alone", time.Since(lossAt).Round(100*time.Millisecond), subnet)
	if err := l.web1At("scenario 7", "B"); err != nil {
		return err
	}
	l.say("done; tearing the lab down")
	return nil
}

// firstMove is scenario 1 of both layouts: web-1 moves from site A to a
// host of site B (its port first, then vCenter's migration), web-2 stays
// at A. Before vCenter reports it, the client's path trombones through A;
// after, web-1's gateway entry and its /32 follow within the bounds, the
// summary stays at A, and the round trip loses the interconnect's two
// crossings.
func (l *lab) firstMove(ctx context.Context, host, pool string) error {
	if err := sh("ip", "-n", prefix+"l2", "link", "set", "v1", "master", "br-b"); err != nil {
		return err
	}
	// ESXi announces a VM's MAC from its new host after vMotion (RARP), so
	// that the switches learn where it is; a gratuitous ARP from web-1
	// does the same here (arping exits 1: nobody answers it).
	_ = in("vm1", "arping", "-q", "-c", "1", "-U", "-I", "eth0", web1)
	trombone, err := pathVia("scenario 1, before vCenter reports the move", "A")
	if err != nil {
		return err
	}
	l.say("web-1 now runs at site B, but its traffic still trombones: the client reaches it %s", trombone)
	if err := l.relocate(ctx, "DC0_C0_RP0_VM0", host, pool); err != nil {
		return err
	}
	done := time.Now()
	l.say("migration done in vCenter")
	var garp, bgp time.Duration
	l.waitFor("web-1's gateway at site B and its /32 at the WAN router", 5*time.Second, func() bool {
		if garp == 0 && gatewayMAC() == macB {
			garp = time.Since(done)
		}
		if bgp == 0 && site(l.birdRoutes()[web1+"/32"]) == "B" {
			bgp = time.Since(done)
		}
		return garp > 0 && bgp > 0
	})
	if garp == 0 || bgp == 0 {
		return fmt.Errorf("scenario 1: gateway moved after %s, /32 at B after %s (0: never); logs in %s", garp, bgp, l.dir)
	}
	l.say("web-1's gateway entry holds site B's router MAC (%s), %s after the migration", macB, garp.Round(time.Millisecond))
	l.say("the WAN router holds %s/32 via site B, %s after the migration", web1, bgp.Round(time.Millisecond))
	if m := l.moves(rbMgmt); m != "" {
		l.say("site B's move log: %s", m)
	}
	if at := site(l.birdRoutes()[subnet]); at != "A" {
		return fmt.Errorf("scenario 1: the summary is at site %q, want A (web-2 is still there)", at)
	}
	l.say("the summary stays with site A, where web-2 still is")
	after, err := pathVia("scenario 1", "B")
	if err != nil {
		return err
	}
	l.say("the client reaches web-1 %s", after)
	if saved := trombone.rtt - after.rtt; saved < 2*interconnectDelay*9/10 {
		return fmt.Errorf("scenario 1: the round trip fell by %s, want the interconnect's two crossings (%s)", saved, 2*interconnectDelay)
	}
	l.say("the round trip fell by %s: the interconnect's two crossings (%s each) are gone", (trombone.rtt - after.rtt).Round(100*time.Microsecond), interconnectDelay)
	return nil
}

// killRestart kills a site's routeragent (SIGKILL: no NOTIFICATION),
// starts it again half a second later, and waits for BIRD's protocol
// with it to end the graceful restart.
func (l *lab) killRestart(ns, proto string) error {
	l.kill("routeragent-" + ns + ".log")
	l.say("killed; BIRD keeps the routes as stale (graceful restart)")
	time.Sleep(500 * time.Millisecond)
	l.restart("routeragent-" + ns + ".log")
	if _, ok := l.waitFor("BIRD's graceful restart done", 60*time.Second, func() bool {
		return strings.Contains(l.read("bird.log"), proto+": Neighbor graceful restart done")
	}); !ok {
		return fmt.Errorf("no graceful restart at BIRD")
	}
	return nil
}

// up waits for the lab to come up: BGP sessions established and the first
// reports planned, the subnet via site A, and the client reaching web-1.
func (l *lab) up() error {
	if _, ok := l.waitFor("BGP sessions and the first reports", 30*time.Second, func() bool {
		return site(l.birdRoutes()[subnet]) == "A"
	}); !ok {
		return fmt.Errorf("the lab did not come up; logs in %s", l.dir)
	}
	l.say("BGP up. The WAN router reaches %s via site %s", subnet, site(l.birdRoutes()[subnet]))
	// The WAN router's kernel may take a moment more than its BGP table.
	var before path
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if before, err = probe(); err == nil {
			break
		} else if time.Now().After(deadline) {
			return err
		}
	}
	l.say("web-1 (%s) runs at site A; the client reaches it %s", web1, before)
	return nil
}
