#!/bin/bash
# The hostagent's checks inside the test VM, run by vmtest.service as root
# under the VM's systemd. The host shares /payload: the .deb, the
# configuration, the TLS files and the vCenter password, and this script;
# on qemu's user network, the host's loopback (vcsim and a routeragent)
# is 10.0.2.2. Each check appends "CHECK name: PASS" or "CHECK name: FAIL
# why" to /payload/results.txt; every check reads systemctl, journalctl or
# the hostagent's status.
set -u
R=/payload/results.txt
: >"$R"
pass() { echo "CHECK $1: PASS" | tee -a "$R"; }
fail() { echo "CHECK $1: FAIL $(echo "${*:2}" | tr '\n' '|')" | tee -a "$R"; }
unit=vmroute-hostagent
prop() { systemctl show -P "$1" "$unit"; }
journal() { journalctl -u $unit --no-pager; }
waitfor() { # waitfor SECONDS COMMAND...: until the command succeeds
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
status() { # the hostagent's /v1/status, over plain HTTP on loopback
	exec 3<>/dev/tcp/127.0.0.1/9180 && printf 'GET /v1/status HTTP/1.0\r\n\r\n' >&3 && cat <&3
}

nic=$(ls /sys/class/net | grep -v '^lo$' | head -1)
ip link set lo up
ip addr add 10.0.2.15/24 dev "$nic" && ip link set "$nic" up

# 1. The package, installed as an admin does, and its configuration: the
# vCenter password readable by root alone, as the unit's credential.
if apt-get install -y -qq /payload/vmroute-hostagent_*_amd64.deb >/tmp/apt.log 2>&1; then pass install; else fail install "$(tail -3 /tmp/apt.log)"; fi
mkdir -p /etc/vmroute/tls
install -m 0640 -g vmroute-hostagent /payload/tls/* /etc/vmroute/tls/
install -m 0600 /payload/vcenter-password /etc/vmroute/vcenter-password
install -m 0644 /payload/hostagent.toml /etc/vmroute/hostagent.toml
mkdir -p /etc/systemd/system/$unit.service.d
printf '[Service]\nWatchdogSec=3s\n' >/etc/systemd/system/$unit.service.d/test.conf
systemctl daemon-reload

# 2. Started by its unit: active (running) only once it said READY.
if timeout 60 systemctl start $unit && [ "$(prop Type)" = notify ] && [ "$(prop ActiveState)/$(prop SubState)" = active/running ]; then
	pass started
else
	fail started "$(systemctl status $unit --no-pager 2>&1 | tail -15)"
fi

# 3. Logged in to vCenter with the password from LoadCredential, which
# the service's user could not read from /etc, and in sync with the
# routeragent.
if waitfor 60 bash -c "$(declare -f status); status | grep -q '\"connected\": true'" &&
	! runuser -u vmroute-hostagent -- cat /etc/vmroute/vcenter-password >/dev/null 2>&1; then
	pass vcenter-password-credential
else
	fail vcenter-password-credential "$(status | grep -A3 '"vcenter"'; journal | tail -6)"
fi
insync=no
if waitfor 60 bash -c "$(declare -f status); status | grep -q '\"full\": [1-9]' && status | grep -q '\"in_sync\": true'"; then
	pass reports-in-sync
	insync=yes
else
	fail reports-in-sync "$(status | grep -A10 routeragents; journal | tail -6)"
fi
if ss -ltn | awk 'NR > 1 {print $4}' | grep -qv '^127\.0\.0\.1:9180$'; then
	fail listens-on-loopback-only "$(ss -ltn)"
else
	pass listens-on-loopback-only
fi

# 4. The host moves a VM in vcsim and sees its landing at the routeragent;
# the hostagent keeps running until the host is done (when it reports at
# all: the host's own checks fail otherwise).
if [ $insync = yes ]; then
	waitfor 240 test -e /payload/host-done || fail host-done "the host did not finish its checks within 240 s"
fi

# 5. The watchdog: a stopped process is restarted by systemd.
before=$(prop NRestarts)
pid=$(prop MainPID)
[ "$pid" -gt 0 ] && kill -STOP "$pid"
if waitfor 30 sh -c "[ \$(systemctl show -P NRestarts $unit) -gt $before ] && [ \$(systemctl show -P ActiveState $unit) = active ]" &&
	journal | grep -q 'Watchdog timeout'; then
	pass watchdog
else
	fail watchdog "restarts $before -> $(prop NRestarts); $(journal | tail -8)"
fi

# 6. Reload: a changed config applies; a broken one leaves the old one
# running, with the reason in the journal.
waitfor 30 sh -c "[ \$(systemctl show -P ActiveState $unit) = active ]"
sed -i 's/^debounce = .*/debounce = "30ms"/' /etc/vmroute/hostagent.toml
timeout 30 systemctl reload $unit
if waitfor 10 sh -c "journalctl -u $unit --no-pager | grep -q 'configuration reloaded'"; then pass reload; else fail reload "$(journal | tail -8)"; fi
echo 'not = valid = toml' >>/etc/vmroute/hostagent.toml
pid=$(prop MainPID)
timeout 30 systemctl reload $unit
if waitfor 10 sh -c "journalctl -u $unit --no-pager | grep -q 'reload failed: the running configuration stays'" &&
	[ "$(prop MainPID)" = "$pid" ] && [ "$(prop ActiveState)" = active ]; then
	pass reload-broken
else
	fail reload-broken "$(journal | tail -8)"
fi

# 7. Stopped within the stop timeout.
start=$SECONDS
timeout 60 systemctl stop $unit
if [ "$(prop ActiveState)" = inactive ] && [ $((SECONDS - start)) -lt 20 ] && ! journal | grep -q 'State .stop-sigterm. timed out'; then
	pass stop
else
	fail stop "$(prop ActiveState) after $((SECONDS - start)) s"
fi
echo "CHECKS DONE" | tee -a "$R"
