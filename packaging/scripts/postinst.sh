#!/bin/sh
# Makes systemd see the unit; the operator enables it once configured.
set -e
# The routeragent's unit loads /etc/vmroute/bgp-password as the BGP
# password's credential, so it must exist: empty (no TCP MD5) until the
# operator writes a password into it. Upgrades leave it alone.
if [ "@NAME@" = vmroute-routeragent ] && [ ! -e /etc/vmroute/bgp-password ]; then
	(umask 077 && : >/etc/vmroute/bgp-password)
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
