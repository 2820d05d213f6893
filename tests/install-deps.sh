#!/usr/bin/env bash
# Installs the Debian packages vmroute's tests need, when they are missing.
# As a normal user it installs nothing and says which tests will skip.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip || need+=(iproute2)
have bird || need+=(bird2)
have gobgpd || need+=(gobgpd)
have keepalived || need+=(keepalived)
have tcpdump || need+=(tcpdump)
have ping || need+=(iputils-ping)
have arping || need+=(arping)
have lintian || need+=(lintian)
have rpm || need+=(rpm)
have rpmlint || need+=(rpmlint)
have debootstrap || need+=(debootstrap)
[ -x /usr/lib/frr/bgpd ] || need+=(frr)
have qemu-system-x86_64 || need+=(qemu-system-x86)
have qemu-img || need+=(qemu-utils)
have genisoimage || need+=(genisoimage)
have sfdisk || need+=(fdisk)
have ssh || need+=(openssh-client)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "WARNING: not root: cannot install ${need[*]}; the tests that need them will skip." >&2
	exit 0
fi
echo "== installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
