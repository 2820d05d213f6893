#!/usr/bin/env bash
# Checks the packages `make packages` built in dist/: their files, their
# conffiles, the .rpm signatures against the public key given as the only
# argument, lintian and rpmlint, and the systemd units (verify, and the
# exposure level of `systemd-analyze security`).
set -uo pipefail
cd "$(dirname "$0")/.."
failed=0
fail() { echo "FAIL: $*"; failed=1; }
need() { command -v "$1" >/dev/null || { echo "FAIL: $1 is not installed: run tests/install-deps.sh as root"; exit 1; }; }
need dpkg-deb; need rpm; need lintian; need rpmlint; need systemd-analyze
pubkey=${1:?usage: tests/packages.sh SIGNING-KEY.pub}
# An rpm database of our own that trusts the signing key, for rpm -K and
# for rpmlint (which reads it through $HOME/.rpmmacros): the machine's own
# keyring stays untouched.
keys=$(mktemp -d)
trap 'rm -rf "$keys"' EXIT
rpm --dbpath "$keys/rpmdb" --initdb && rpm --dbpath "$keys/rpmdb" --import "$pubkey" || fail "cannot import $pubkey"
echo "%_dbpath $keys/rpmdb" >"$keys/.rpmmacros"

# pkgfiles PKG: its amd64 .deb and .rpm in dist/, in $deb and $rpmf.
pkgfiles() {
	deb=$(ls dist/${1}_*_amd64.deb 2>/dev/null | head -1)
	rpmf=$(ls dist/${1}-[0-9]*.x86_64.rpm 2>/dev/null | head -1)
	[ -n "$deb" ] && [ -n "$rpmf" ] || { fail "$1: no .deb or .rpm in dist/ (make packages)"; return 1; }
	ls dist/${1}_*_arm64.deb dist/${1}-[0-9]*.aarch64.rpm >/dev/null 2>&1 || fail "$1: no arm64 packages"
}

# has PKG DEB-FILES RPM-FILES: every file is in the .deb, or the .rpm.
has() {
	local f debfiles rpmfiles
	debfiles=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
	rpmfiles=$(rpm -qlp "$rpmf" 2>/dev/null)
	for f in $2; do grep -qx "$f" <<<"$debfiles" || fail "$deb lacks $f"; done
	for f in $3; do grep -qx "$f" <<<"$rpmfiles" || fail "$rpmf lacks $f"; done
}

# lints BIN PAGE: every flag BIN's --help lists has its entry in the man
# page; then lintian, the .rpm signatures and rpmlint.
lints() {
	local bin=bin/linux-amd64/$1 page=$2 flag f out errors
	for flag in $("$bin" --help 2>&1 | sed -n 's/^  -\([a-z-]*\).*/\1/p'); do
		F='\-'"${flag//-/'\-'}" awk '/^\.B/ && index($0 " ", ENVIRON["F"] " ") { found = 1 } END { exit !found }' "$page" ||
			fail "$page lacks the flag -$flag that $bin --help lists"
	done
	echo "== lintian $deb"
	lintian --fail-on error "$deb" || fail "lintian reports errors on $deb"
	for f in $(ls dist/${pkg}-[0-9]*.rpm); do
		rpm --dbpath "$keys/rpmdb" -K "$f" | grep -q ': digests signatures OK$' || fail "$f: signature not verified with $pubkey"
	done
	echo "== rpmlint $rpmf"
	# One finding is reported but not fatal: "no-binary", a known false
	# positive of nfpm's rpmpack (no build metadata rpmlint trusts).
	out=$(HOME=$keys rpmlint "$rpmf" 2>&1)
	echo "$out"
	errors=$(grep -E ': E: ' <<<"$out" | grep -v -e ': E: no-binary' || true)
	[ -z "$errors" ] || fail "rpmlint reports errors on $rpmf"
}

# vmroutectl, in a package of its own that both agents depend on; it
# takes its file over from the agents' packages of before.
pkg=vmroutectl
if pkgfiles $pkg; then
	has $pkg "/usr/bin/vmroutectl /usr/share/man/man1/vmroutectl.1.gz /usr/share/doc/vmroutectl/copyright /usr/share/lintian/overrides/vmroutectl" \
		"/usr/bin/vmroutectl /usr/share/man/man1/vmroutectl.1.gz"
	for rel in Replaces Breaks; do
		dpkg-deb -f "$deb" $rel | grep -q 'vmroute-routeragent (<< .*vmroute-hostagent (<< ' || fail "$deb: $rel does not name the agents' packages of before"
	done
	[ -z "$(rpm -qp --obsoletes "$rpmf" 2>/dev/null)" ] || fail "$rpmf obsoletes $(rpm -qp --obsoletes "$rpmf"): it would remove the agents"
	lints vmroutectl packaging/man/vmroutectl.1
fi

declare -A max_exposure=([routeragent]=2.5 [hostagent]=2.0)
# Configuration files each package ships: never replaced on upgrade.
declare -A conf=([routeragent]="/etc/vmroute/routeragent.toml" [hostagent]="/etc/vmroute/hostagent.toml")
for name in routeragent hostagent; do
	pkg=vmroute-$name
	pkgfiles $pkg || continue
	has $pkg "/usr/bin/$pkg /lib/systemd/system/$pkg.service /etc/vmroute/$name.toml /usr/share/doc/$pkg/copyright /usr/share/doc/$pkg/changelog.Debian.gz /usr/share/lintian/overrides/$pkg /usr/share/man/man8/$pkg.8.gz" \
		"/usr/bin/$pkg /usr/lib/systemd/system/$pkg.service /etc/vmroute/$name.toml /usr/share/man/man8/$pkg.8.gz"
	dpkg-deb -c "$deb" | grep -q 'usr/bin/vmroutectl' && fail "$deb ships vmroutectl, which has a package of its own"
	dpkg-deb -f "$deb" Depends | grep -q 'vmroutectl (>= ' || fail "$deb does not depend on vmroutectl"
	[ -z "$(dpkg-deb -f "$deb" Conflicts)" ] || fail "$deb conflicts with $(dpkg-deb -f "$deb" Conflicts): one machine may run both agents"
	rpm -qp --requires "$rpmf" 2>/dev/null | grep -q '^vmroutectl >= ' || fail "$rpmf does not require vmroutectl"
	conffiles=$(dpkg-deb -f "$deb" >/dev/null; dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null)
	for f in ${conf[$name]}; do
		grep -qx "$f" <<<"$conffiles" || fail "$deb: $f is not a conffile"
	done
	for f in ${conf[$name]}; do
		rpm -qcp "$rpmf" 2>/dev/null | grep -qx "$f" || fail "$rpmf: $f is not %config"
	done
	lints $pkg packaging/man/$pkg.8

	echo "== systemd units of $pkg"
	root=$(mktemp -d)
	dpkg-deb -x "$deb" "$root"
	unit=$root/lib/systemd/system/$pkg.service
	# verify wants ExecStart's binary: point it into the unpacked package.
	mkdir -p "$root/verify" && sed "s|/usr/bin/|$root/usr/bin/|" "$unit" >"$root/verify/$pkg.service"
	if ! out=$(systemd-analyze verify "$root/verify/$pkg.service" 2>&1) || [ -n "$out" ]; then
		echo "$out"
		fail "systemd-analyze verify: $unit"
	fi
	level=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	echo "$pkg: exposure level $level (at most ${max_exposure[$name]})"
	[ -n "$level" ] && awk -v l="$level" -v m="${max_exposure[$name]}" 'BEGIN { exit !(l <= m) }' || fail "$pkg: exposure $level above ${max_exposure[$name]}"
	rm -rf "$root"
done
[ $failed -eq 0 ] && echo "packages: all checks passed"
exit $failed
