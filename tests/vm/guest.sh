#!/bin/bash
# The routeragent's checks inside the test VM, run by vmtest.service as
# root under the VM's systemd. The host shares /payload: the .deb, the
# TLS files, the announce package's test binary, and this script. Each
# check appends "CHECK name: PASS" or "CHECK name: FAIL why" to
# /payload/results.txt; every check reads systemctl, journalctl or the
# state of the kernel and BIRD. The host writes "moved" once web-1 moved
# in vcsim, after the guest wrote "ready".
set -u
unit=vmroute-routeragent
. /payload/checks.sh

# The WAN side: BIRD in namespace "edge" (10.9.0.2), which vmroute dials,
# and BIRD in "edge2" (10.9.1.2), which dials vmroute's port 179; both
# with TCP MD5.
for n in 0 1; do
	ns=edge; [ $n = 1 ] && ns=edge2
	ip netns add $ns
	ip link add wan$n type veth peer name e0 netns $ns
	ip addr add 10.9.$n.1/24 dev wan$n && ip link set wan$n up
	ip -n $ns addr add 10.9.$n.2/24 dev e0 && ip -n $ns link set e0 up && ip -n $ns link set lo up
done
# The stretched segment: a bridge in namespace "seg", which stands for
# the other sites' routers too (the liveness checks resolve 10.20.0.3
# with ARP as site B and 2001:db8:20::3 with ND as site C, through the
# routeragent's raw sockets), and web-1 in namespace "web" with its MAC
# in vcsim. web-1's gateway entries point at another router's MAC, as
# after a vMotion from there: the landing's gratuitous ARP and NA must
# turn them to lan0's.
ip netns add seg
ip netns add web
ip link add lan0 type veth peer name vm0 netns seg
ip addr add 10.20.0.1/24 dev lan0 && ip addr add 2001:db8:20::1/64 dev lan0 nodad && ip link set lan0 up
ip -n seg link add br0 type bridge && ip -n seg link set vm0 master br0 && ip -n seg link set vm0 up
ip -n seg link add w0 type veth peer name eth0 netns web && ip -n seg link set w0 master br0 && ip -n seg link set w0 up
ip -n seg addr add 10.20.0.3/24 dev br0 && ip -n seg addr add 2001:db8:20::3/64 dev br0 nodad && ip -n seg link set br0 up
ip -n web link set eth0 address "$(cat /payload/web1.mac)"
ip -n web addr add 10.20.0.10/24 dev eth0 && ip -n web addr add 2001:db8:20::10/64 dev eth0 nodad && ip -n web link set eth0 up
ip -n web neigh replace 10.20.0.1 lladdr 02:00:5e:00:0b:0b dev eth0 nud stale
ip -n web neigh replace 2001:db8:20::1 lladdr 02:00:5e:00:0b:0b dev eth0 nud stale
lan0mac=$(cat /sys/class/net/lan0/address)
# qemu's user network, where the host's hostagent reaches the API.
nic=$(ls /sys/class/net | grep -v -e '^lo$' -e '^lan0$' -e '^wan' | head -1)
ip addr add 10.0.2.15/24 dev "$nic" && ip link set "$nic" up
for n in 0 1; do
	ns=edge; passive="passive on;"
	[ $n = 1 ] && ns=edge2 passive=""
	cat >/run/$ns.conf <<BIRD
router id 10.9.$n.2;
protocol device {}
log "/run/$ns.log" all;
protocol bgp vmroute { local 10.9.$n.2 as 65000; neighbor 10.9.$n.1 as 65001; $passive password "s3cret-md5"; graceful restart on; long lived graceful restart on; debug { states, events, routes }; ipv4 { import all; export none; }; }
BIRD
	ip netns exec $ns bird -c /run/$ns.conf -s /run/$ns.ctl
done
birdc() { command birdc -s /run/edge.ctl "$@"; }
birdc2() { command birdc -s /run/edge2.ctl "$@"; }

# 1. The package, installed as an admin does.
if apt-get install -y -qq /payload/vmroutectl_*_amd64.deb /payload/vmroute-routeragent_*_amd64.deb >/tmp/apt.log 2>&1; then pass install; else fail install "$(tail -3 /tmp/apt.log)"; fi
install -m 0640 -g vmroute-routeragent /payload/tls/* /etc/vmroute/tls/ 2>/dev/null || { mkdir -p /etc/vmroute/tls && install -m 0640 -g vmroute-routeragent /payload/tls/* /etc/vmroute/tls/; }
printf 's3cret-md5' >/etc/vmroute/bgp-password
cp /payload/routeragent.toml /etc/vmroute/routeragent.toml
# The watchdog, shortened for the test.
shorten_watchdog

# 2. Started by its unit: active (running) only once it said READY.
check_started

# 3. The BGP password from LoadCredential, both sessions up with MD5,
# one of them dialed to port 179.
if waitfor 60 sh -c 'birdc -s /run/edge.ctl show protocols vmroute | grep -q Established && birdc -s /run/edge2.ctl show protocols vmroute | grep -q Established'; then
	pass bgp-md5-both-ways
else
	fail bgp-md5-both-ways "$(birdc show protocols 2>&1 | tail -3; birdc2 show protocols all 2>&1 | tail -8; journalctl -u $unit --no-pager | tail -10)"
fi
if ss -ltnp | grep -q ':179 .*vmroute-routera'; then pass port-179; else fail port-179 "$(ss -ltnp)"; fi
# ARP and ND through raw sockets, with CAP_NET_RAW alone: the probes of
# sites B (ARP) and C (ND) answer. (Their APIs do not: they are this
# routeragent, which answers as site A.)
metrics() { # the status listener's /metrics, over plain HTTP on loopback
	exec 3<>/dev/tcp/127.0.0.1/9181 && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3
}
probes_ok() { metrics | grep -q "^vmroute_site_path_up{path=\"probe\",site=\"$1\"} 1"; }
if waitfor 20 bash -c "$(declare -f metrics probes_ok); probes_ok B && probes_ok C"; then
	pass raw-arp-nd
else
	fail raw-arp-nd "$(metrics | grep vmroute_site_path_up; journalctl -u $unit --no-pager | grep -i 'site ' | tail -4)"
fi
if ! journalctl -u $unit --no-pager | grep -q 'address discovery off'; then
	pass address-discovery
else
	fail address-discovery "$(journalctl -u $unit --no-pager | grep 'address discovery off')"
fi

# A landing: once the hostagent on the host has reported the cluster, the
# host moves web-1 to site A in vcsim; the routeragent sends web-1 the
# gateway's MAC (gratuitous ARP and NA), which its entries now hold.
gateway_at() { [ "$(ip -n web neigh show "$1" dev eth0 | awk '{print $3}')" = "$lan0mac" ]; }
if waitfor 90 sh -c "vmroutectl status | grep -q stretched" && touch /payload/ready && waitfor 200 test -e /payload/moved &&
	waitfor 30 sh -c "$(declare -f gateway_at); lan0mac=$lan0mac; gateway_at 10.20.0.1 && gateway_at 2001:db8:20::1"; then
	pass garp-na-on-landing
else
	fail garp-na-on-landing "$(ip -n web neigh; vmroutectl status 2>&1 | head -12; vmroutectl moves 2>&1 | tail -3; journalctl -u $unit --no-pager | tail -6)"
fi
if vmroutectl moves | grep -q DC0_C0_RP0_VM0; then pass move-log; else fail move-log "$(vmroutectl moves 2>&1 | tail -5)"; fi
# web-1, the subnet's one member, is at site A now: A announces it.
if waitfor 10 sh -c 'birdc -s /run/edge.ctl show route for 10.20.0.0/24 | grep -q 10.20.0.0/24'; then pass route-at-bird; else fail route-at-bird "$(birdc show route 2>&1)"; fi

# 4. An upgrade restarts the routeragent into the new release; at BIRD a
# graceful restart: the session comes back, the route stays, and BIRD
# counts no withdraw from it.
withdraws() { birdc show protocols all vmroute | awk '/Import withdraws:/ {print $3}'; }
before=$(withdraws)
check_upgrade
if waitfor 60 sh -c 'birdc -s /run/edge.ctl show protocols vmroute | grep -q Established' &&
	birdc show route for 10.20.0.0/24 | grep -q 10.20.0.0/24 && sleep 5 && [ "$(withdraws)" = "$before" ]; then
	pass upgrade-graceful
else
	fail upgrade-graceful "BIRD's import withdraws $before -> $(withdraws); $(birdc show protocols all vmroute 2>&1 | tail -12); BIRD: $(grep -v 'Started\|Reconfigur' /run/edge.log | tail -25); routeragent: $(journal | grep -v 'TLS handshake' | tail -30)"
fi

# 5. The watchdog: a stopped process is restarted by systemd.
check_watchdog

# 6. Reload: a changed config applies; a broken one leaves the old one
# running, with the reason in the journal.
check_reload /etc/vmroute/routeragent.toml 's/^batch_window = .*/batch_window = "70ms"/'

# 7. Stopped within the stop timeout.
check_stop

# 8. 802.1Q: the announce package's VLAN subtest, on this kernel.
if out=$(cd /payload && ./announce.test -test.run 'TestIntegrationAnnounce/through_an_802.1Q' -test.v 2>&1) &&
	grep -q -- '--- PASS: TestIntegrationAnnounce/through_an_802.1Q' <<<"$out"; then
	pass vlan-8021q
else
	fail vlan-8021q "$(tail -20 <<<"$out")"
fi
echo "CHECKS DONE" | tee -a "$R"
