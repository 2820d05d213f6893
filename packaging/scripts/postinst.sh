#!/bin/sh
# Makes systemd see the unit; the operator enables it once configured.
# An upgrade restarts the agent if it runs, so that the new version runs:
# the routeragent's restart is a graceful restart at its BGP peers (they
# keep its routes, and it announces them again from its state at once),
# the hostagent's a resync with vCenter, which changes no route. A
# stopped agent stays stopped.
set -e
upgrade=false
case "$1" in
configure) [ -n "${2:-}" ] && upgrade=true ;; # dpkg: the version upgraded from
[2-9]) upgrade=true ;;                          # rpm: the instances installed now
esac
# The routeragent's unit loads /etc/vmroute/bgp-password as the BGP
# password's credential, so it must exist: empty (no TCP MD5) until the
# operator writes a password into it. Upgrades leave it alone.
if [ "@NAME@" = vmroute-routeragent ] && [ ! -e /etc/vmroute/bgp-password ]; then
	(umask 077 && : >/etc/vmroute/bgp-password)
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if $upgrade; then
		systemctl try-restart @NAME@.service >/dev/null 2>&1 ||
			echo "@NAME@: the restart after the upgrade failed: see systemctl status @NAME@" >&2
	fi
fi
exit 0
