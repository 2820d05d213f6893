#!/bin/bash
# What the guest scripts share, sourced with the unit's name in $unit:
# results, waiting, and the checks every agent's unit must pass. Each
# check appends "CHECK name: PASS" or "CHECK name: FAIL why" to
# /payload/results.txt.
R=/payload/results.txt
: >"$R"
pass() { echo "CHECK $1: PASS" | tee -a "$R"; }
fail() { echo "CHECK $1: FAIL $(echo "${*:2}" | tr '\n' '|')" | tee -a "$R"; }
prop() { systemctl show -P "$1" "$unit"; }
journal() { journalctl -u "$unit" --no-pager; }
waitfor() { # waitfor SECONDS COMMAND...: until the command succeeds
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

# check_started: active (running) through Type=notify, only once the
# agent said READY.
check_started() {
	if timeout 60 systemctl start "$unit" && [ "$(prop Type)" = notify ] && [ "$(prop ActiveState)/$(prop SubState)" = active/running ]; then
		pass started
	else
		fail started "$(systemctl status "$unit" --no-pager 2>&1 | tail -15)"
	fi
}

# check_upgrade: apt installs the next release (payload/next) over the
# running agent, as an admin upgrades: the package restarts the agent
# into the new version, once, and it is active again.
check_upgrade() {
	local pid release
	pid=$(prop MainPID) release=$(cat /payload/next/release)
	if apt-get install -y -qq /payload/next/vmroutectl_*_amd64.deb /payload/next/${unit}_*_amd64.deb >/tmp/apt-upgrade.log 2>&1 &&
		dpkg-query -W -f '${Version}' "$unit" | grep -q -- "-$release\$" &&
		waitfor 60 sh -c "[ \$(systemctl show -P ActiveState $unit) = active ] && [ \$(systemctl show -P MainPID $unit) != $pid ]"; then
		pass upgrade-restarts
	else
		fail upgrade-restarts "version $(dpkg-query -W -f '${Version}' "$unit"), pid $pid -> $(prop MainPID) $(prop ActiveState); $(tail -3 /tmp/apt-upgrade.log); $(journal | tail -5)"
	fi
}

# check_watchdog: a stopped process is restarted by systemd (WatchdogSec
# shortened by the test's drop-in).
check_watchdog() {
	local before pid
	before=$(prop NRestarts)
	pid=$(prop MainPID)
	[ "$pid" -gt 0 ] && kill -STOP "$pid"
	if waitfor 30 sh -c "[ \$(systemctl show -P NRestarts $unit) -gt $before ] && [ \$(systemctl show -P ActiveState $unit) = active ]" &&
		journal | grep -q 'Watchdog timeout'; then
		pass watchdog
	else
		fail watchdog "restarts $before -> $(prop NRestarts); $(journal | tail -8)"
	fi
}

# check_reload CONFIG SED-EXPRESSION: the changed configuration applies;
# a broken one leaves the old one running, with the reason in the journal.
check_reload() {
	local pid
	waitfor 30 sh -c "[ \$(systemctl show -P ActiveState $unit) = active ]"
	sed -i "$2" "$1"
	timeout 30 systemctl reload "$unit"
	if waitfor 10 sh -c "journalctl -u $unit --no-pager | grep -q 'configuration reloaded'"; then pass reload; else fail reload "$(journal | tail -8)"; fi
	echo 'not = valid = toml' >>"$1"
	pid=$(prop MainPID)
	timeout 30 systemctl reload "$unit"
	if waitfor 10 sh -c "journalctl -u $unit --no-pager | grep -q 'reload failed: the running configuration stays'" &&
		[ "$(prop MainPID)" = "$pid" ] && [ "$(prop ActiveState)" = active ]; then
		pass reload-broken
	else
		fail reload-broken "$(journal | tail -8)"
	fi
}

# check_stop: stopped within the stop timeout, without SIGKILL.
check_stop() {
	local start=$SECONDS
	timeout 60 systemctl stop "$unit"
	if [ "$(prop ActiveState)" = inactive ] && [ $((SECONDS - start)) -lt 20 ] && ! journal | grep -q 'State .stop-sigterm. timed out'; then
		pass stop
	else
		fail stop "$(prop ActiveState) after $((SECONDS - start)) s"
	fi
}

# shorten_watchdog: WatchdogSec=3s in a drop-in, for check_watchdog.
shorten_watchdog() {
	mkdir -p "/etc/systemd/system/$unit.service.d"
	printf '[Service]\nWatchdogSec=3s\n' >"/etc/systemd/system/$unit.service.d/test.conf"
	systemctl daemon-reload
}
