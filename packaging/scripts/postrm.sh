#!/bin/sh
# On purge, removes the state directory, the BGP password file and
# systemd's memory of the unit; the system user stays, as Debian's policy
# asks. An rpm erase removes the password file only while it is empty.
set -e
case "$1" in
purge)
	rm -rf "/var/lib/@NAME@"
	if [ "@NAME@" = vmroute-routeragent ]; then
		rm -f /etc/vmroute/bgp-password
	fi
	if [ -x /usr/bin/deb-systemd-helper ]; then
		deb-systemd-helper purge @NAME@.service >/dev/null || true
	fi
	;;
0)
	if [ "@NAME@" = vmroute-routeragent ] && [ -e /etc/vmroute/bgp-password ] && [ ! -s /etc/vmroute/bgp-password ]; then
		rm -f /etc/vmroute/bgp-password
	fi
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
