#!/usr/bin/env bash
# Installs the packages in dist/ into fresh Debian roots, as a network
# team would: the .deb with dpkg (install, upgrade keeping an edited
# config, purge) on Debian 12 (bookworm) and 13 (trixie), the .rpm with
# rpm --root. Needs root; each Debian root is made once with debootstrap
# from this machine's own apt mirror and kept as a tarball in
# /var/cache/vmroute-tests.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "WARNING: install test SKIPPED: it needs root for chroot and debootstrap" >&2
	exit 0
fi
failed=0
fail() { echo "FAIL: $*"; failed=1; }
bookworm=$(tests/minbase.sh bookworm) || exit 1
trixie=$(tests/minbase.sh trixie) || exit 1
newroot() { local r; r=$(mktemp -d); tar -C "$r" -xf "$1"; echo "$r"; }
in_root() { chroot "$1" env PATH=/usr/sbin:/usr/bin:/sbin:/bin "${@:2}"; }

# An upgrade needs a newer package: the same, one release on.
next=$(mktemp -d)
release=$(ls dist/vmroute-routeragent_*_amd64.deb | sed 's/.*-\([0-9]*\)_amd64.deb/\1/')
(cd packaging && go run ./mkpkg -version "${PKG_VERSION:-0.1.0}" -release $((release + 1)) -arch amd64 -bin ../bin -out "$next" >/dev/null) || fail "building the upgrade packages"

for suite in bookworm trixie; do
for name in routeragent hostagent; do
	pkg=vmroute-$name
	echo "== $pkg on $suite: .deb install, upgrade, purge"
	root=$(newroot "${!suite}")
	cp dist/${pkg}_*_amd64.deb "$next"/${pkg}_*_amd64.deb dist/vmroutectl_*_amd64.deb "$root/tmp/"
	first=$(cd "$root/tmp" && ls ${pkg}_*-${release}_amd64.deb)
	second=$(cd "$root/tmp" && ls ${pkg}_*-$((release + 1))_amd64.deb)
	ctl=$(cd "$root/tmp" && ls vmroutectl_*_amd64.deb)
	# The agent depends on vmroutectl: alone, dpkg refuses to configure it.
	in_root "$root" dpkg -i "/tmp/$first" >/dev/null 2>&1 && fail "$pkg on $suite: installed without vmroutectl, which it depends on"
	in_root "$root" dpkg -i "/tmp/$ctl" "/tmp/$first" >/dev/null || fail "$pkg on $suite: dpkg -i with vmroutectl"
	in_root "$root" getent passwd "$pkg" >/dev/null || fail "$pkg on $suite: no system user"
	for f in /usr/bin/$pkg /usr/bin/vmroutectl /lib/systemd/system/$pkg.service /etc/vmroute/$name.toml; do
		[ -e "$root$f" ] || fail "$pkg on $suite: $f not installed"
	done
	in_root "$root" "$pkg" --check-config --config /etc/vmroute/$name.toml || fail "$pkg on $suite: the example config fails --check-config"
	echo "# edited by the operator" >>"$root/etc/vmroute/$name.toml"
	if [ "$name" = routeragent ]; then
		# The BGP password's credential file: made empty, root only.
		[ "$(stat -c '%a %U %s' "$root/etc/vmroute/bgp-password")" = "600 root 0" ] ||
			fail "$pkg on $suite: /etc/vmroute/bgp-password is $(stat -c '%a %U %s bytes' "$root/etc/vmroute/bgp-password"), want 600 root, empty"
		echo "s3cret" >"$root/etc/vmroute/bgp-password"
	fi
	in_root "$root" dpkg -i "/tmp/$second" >/dev/null || fail "$pkg on $suite: upgrade"
	grep -q "edited by the operator" "$root/etc/vmroute/$name.toml" || fail "$pkg on $suite: the upgrade replaced the edited config"
	if [ "$name" = routeragent ]; then
		grep -qx "s3cret" "$root/etc/vmroute/bgp-password" || fail "$pkg on $suite: the upgrade replaced the BGP password"
	fi
	mkdir -p "$root/var/lib/$pkg" && touch "$root/var/lib/$pkg/state"
	in_root "$root" dpkg --purge "$pkg" >/dev/null || fail "$pkg on $suite: purge"
	for f in /usr/bin/$pkg /etc/vmroute/$name.toml /etc/vmroute/bgp-password /lib/systemd/system/$pkg.service /var/lib/$pkg; do
		[ ! -e "$root$f" ] || fail "$pkg on $suite: $f left after purge"
	done
	[ -x "$root/usr/bin/vmroutectl" ] || fail "$pkg on $suite: its purge took vmroutectl, a package of its own"
	in_root "$root" getent passwd "$pkg" >/dev/null || fail "$pkg on $suite: the system user went with the purge (policy keeps it)"
	rm -rf "$root"
done
	echo "== both agents and vmroutectl on one machine, $suite"
	root=$(newroot "${!suite}")
	cp dist/*_amd64.deb "$root/tmp/"
	in_root "$root" sh -c 'dpkg -i /tmp/*_amd64.deb' >/dev/null || fail "$suite: dpkg -i of both agents and vmroutectl"
	for f in /usr/bin/vmroute-routeragent /usr/bin/vmroute-hostagent /usr/bin/vmroutectl; do
		[ -x "$root$f" ] || fail "$suite: both agents: $f not installed"
	done
	in_root "$root" vmroutectl -h >/dev/null 2>&1 || [ $? -eq 2 ] || fail "$suite: vmroutectl does not run"
	rm -rf "$root"
done

for name in routeragent hostagent; do
	pkg=vmroute-$name
	echo "== $pkg: .rpm install with rpm --root, erase"
	root=$(newroot "$bookworm")
	rpm --root "$root" --initdb
	rpm --root "$root" -i --nodeps dist/${pkg}-*.x86_64.rpm || fail "$pkg: rpm -i"
	in_root "$root" getent passwd "$pkg" >/dev/null || fail "$pkg: no system user from the rpm"
	for f in /usr/bin/$pkg /usr/lib/systemd/system/$pkg.service /etc/vmroute/$name.toml; do
		[ -e "$root$f" ] || fail "$pkg: $f not installed by the rpm"
	done
	in_root "$root" "$pkg" --check-config --config /etc/vmroute/$name.toml || fail "$pkg: --check-config after the rpm"
	if [ "$name" = routeragent ]; then
		[ "$(stat -c '%a %U %s' "$root/etc/vmroute/bgp-password" 2>&1)" = "600 root 0" ] || fail "$pkg: the rpm made no empty, root-only /etc/vmroute/bgp-password"
	fi
	rpm --root "$root" -e "$pkg" || fail "$pkg: rpm -e"
	[ ! -e "$root/usr/bin/$pkg" ] || fail "$pkg: rpm -e left the binary"
	[ ! -e "$root/etc/vmroute/bgp-password" ] || fail "$pkg: rpm -e left the empty /etc/vmroute/bgp-password"
	rm -rf "$root"
done

rm -rf "$next"
[ $failed -eq 0 ] && echo "install: all checks passed"
exit $failed
