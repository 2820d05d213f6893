package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
)

// startFRR runs FRR 8 (zebra and bgpd, Debian's package) as the WAN
// router instead of BIRD, with its defaults (ECMP among equal paths
// included) and what vmroute needs of it: graceful restart and long-lived
// graceful restart towards both sites, and no eBGP policy requirement
// (FRR accepts nothing over eBGP without a policy otherwise).
func (l *lab) startFRR() error {
	// FRR runs as its own user (root is not in its vty group): its
	// directory is the frr user's, inside the lab's, which it may cross.
	u, err := user.Lookup("frr")
	if err != nil {
		return fmt.Errorf("FRR's user: %w (apt-get install frr)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := filepath.Join(l.dir, "frr")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return err
	}
	if err := os.Chmod(l.dir, 0o711); err != nil {
		return err
	}
	conf := fmt.Sprintf(`hostname wan
log file %s/frr.log debugging
router bgp 65000
 bgp router-id %s
 no bgp ebgp-requires-policy
 bgp graceful-restart
 bgp long-lived-graceful-restart stale-time 3600
 neighbor %s remote-as 65001
 neighbor %s remote-as 65001
`, dir, wanA, raWAN, rbWAN)
	if routers == 2 {
		conf += fmt.Sprintf(" neighbor %s remote-as 65001\n neighbor %s remote-as 65001\n address-family ipv6 unicast\n", ra2WAN, rb2WAN)
		for _, n := range []string{raWAN, rbWAN, ra2WAN, rb2WAN} {
			conf += fmt.Sprintf("  neighbor %s activate\n", n)
		}
		conf += " exit-address-family\n"
	}
	for _, d := range []struct{ name, conf string }{{"zebra", fmt.Sprintf("hostname wan\nlog file %s/zebra.log\n", dir)}, {"bgpd", conf}} {
		path := filepath.Join(dir, d.name+".conf")
		if err := os.WriteFile(path, []byte(d.conf), 0o644); err != nil {
			return err
		}
		l.run("wan", d.name+".log", "/usr/lib/frr/"+d.name, "-f", path, "-i", filepath.Join(dir, d.name+".pid"),
			"-z", filepath.Join(dir, "zserv.api"), "--vty_socket", dir, "-A", "127.0.0.1", "-P", "0")
	}
	return nil
}

// frrRoutes returns FRR's best routes of both families: prefix -> next
// hop.
func (l *lab) frrRoutes() map[string]string {
	routes := l.frrFamily("ipv4")
	for p, nh := range l.frrFamily("ipv6") {
		routes[p] = nh
	}
	return routes
}

// frrFamily returns FRR's best routes of one family.
func (l *lab) frrFamily(fam string) map[string]string {
	out, _ := exec.Command("ip", "netns", "exec", prefix+"wan", "vtysh", "--vty_socket", filepath.Join(l.dir, "frr"),
		"-c", "show bgp "+fam+" unicast json").Output()
	var t struct {
		Routes map[string][]struct {
			Bestpath bool `json:"bestpath"`
			Nexthops []struct {
				IP string `json:"ip"`
			} `json:"nexthops"`
		} `json:"routes"`
	}
	routes := map[string]string{}
	if json.Unmarshal(out, &t) != nil {
		return routes
	}
	for p, paths := range t.Routes {
		for _, path := range paths {
			if path.Bestpath && len(path.Nexthops) > 0 {
				routes[p] = path.Nexthops[0].IP
			}
		}
	}
	return routes
}
