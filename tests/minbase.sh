#!/usr/bin/env bash
# Makes, once, the minimal Debian root of a release (bookworm when none
# is given) that the install test, the VM tests and the appliance start
# from: debootstrap --variant=minbase from this machine's own apt mirror,
# kept as a tarball. Prints its path.
#
#   minbase.sh [bookworm|trixie]
set -euo pipefail
suite=${1:-bookworm}
case $suite in bookworm | trixie) ;; *) echo "FAIL: minbase.sh: $suite is not bookworm or trixie" >&2; exit 2 ;; esac
cache=/var/cache/vmroute-tests/$suite-minbase.tar
mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
if [ ! -f "$cache" ]; then
	command -v debootstrap >/dev/null || { echo "FAIL: debootstrap missing: run tests/install-deps.sh" >&2; exit 1; }
	mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
	tmp=$(mktemp -d)
	echo "== debootstrap $suite from $mirror (once)" >&2
	debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >/tmp/debootstrap.log 2>&1 || { tail /tmp/debootstrap.log >&2; echo "FAIL: debootstrap" >&2; exit 1; }
	tar -C "$tmp" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache" && rm -rf "$tmp"
fi
echo "$cache"
