#!/bin/bash
# The hostagent's checks inside the test VM, run by vmtest.service as root
# under the VM's systemd. The host shares /payload: the .deb, the
# configuration, the TLS files and the vCenter password, and this script;
# on qemu's user network, the host's loopback (vcsim and a routeragent)
# is 10.0.2.2. Each check appends "CHECK name: PASS" or "CHECK name: FAIL
# why" to /payload/results.txt; every check reads systemctl, journalctl or
# the hostagent's status.
set -u
unit=vmroute-hostagent
. /payload/checks.sh
status() { # the hostagent's /v1/status, over plain HTTP on loopback
	exec 3<>/dev/tcp/127.0.0.1/9180 && printf 'GET /v1/status HTTP/1.0\r\n\r\n' >&3 && cat <&3
}

nic=$(ls /sys/class/net | grep -v '^lo$' | head -1)
ip link set lo up
ip addr add 10.0.2.15/24 dev "$nic" && ip link set "$nic" up

# 1. The package, installed as an admin does, and its configuration: the
# vCenter password readable by root alone, as the unit's credential.
if apt-get install -y -qq /payload/vmroutectl_*_amd64.deb /payload/vmroute-hostagent_*_amd64.deb >/tmp/apt.log 2>&1; then pass install; else fail install "$(tail -3 /tmp/apt.log)"; fi
mkdir -p /etc/vmroute/tls
install -m 0640 -g vmroute-hostagent /payload/tls/* /etc/vmroute/tls/
install -m 0600 /payload/vcenter-password /etc/vmroute/vcenter-password
install -m 0644 /payload/hostagent.toml /etc/vmroute/hostagent.toml
shorten_watchdog

# 2. Started by its unit: active (running) only once it said READY.
check_started

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

# 5. An upgrade restarts the hostagent into the new release, which logs
# in again and reports.
check_upgrade
if waitfor 60 bash -c "$(declare -f status); status | grep -q '\"connected\": true' && status | grep -q '\"in_sync\": true'"; then
	pass upgrade-reports
else
	fail upgrade-reports "$(status | grep -A3 -e '"vcenter"' -e routeragents; journal | tail -5)"
fi

# 6. The watchdog: a stopped process is restarted by systemd.
check_watchdog

# 7. Reload: a changed config applies; a broken one leaves the old one
# running, with the reason in the journal.
check_reload /etc/vmroute/hostagent.toml 's/^debounce = .*/debounce = "30ms"/'

# 8. Stopped within the stop timeout.
check_stop
echo "CHECKS DONE" | tee -a "$R"
