#!/bin/sh
# On purge, removes the state directory and systemd's memory of the unit;
# the system user stays, as Debian's policy asks.
set -e
case "$1" in
purge)
	rm -rf "/var/lib/@NAME@"
	if [ -x /usr/bin/deb-systemd-helper ]; then
		deb-systemd-helper purge @NAME@.service >/dev/null || true
	fi
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
