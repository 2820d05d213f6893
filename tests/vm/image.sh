#!/usr/bin/env bash
# Builds, once, the Debian bookworm image the VM tests boot with qemu: the
# install test's minbase root (made here too when missing) with a kernel,
# systemd, BIRD 2, iproute2 and what the lab runs (ping, arping), and a
# service that runs the test payload shared from the host (9p, tag
# "payload") and powers the VM off. Cached in /var/cache/vmroute-tests/vm/:
# root.img, vmlinuz, initrd.img, and this script's checksum, which a
# changed script no longer matches.
set -euo pipefail
cache=/var/cache/vmroute-tests
out=$cache/vm
stamp=$(sha256sum "$0" | cut -d' ' -f1)
# One build at a time: two test runs may start together.
mkdir -p "$out"
exec 9>"$out.lock"
flock 9
[ -f "$out/root.img" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ] && exit 0
[ "$(id -u)" -eq 0 ] || { echo "FAIL: building the VM image needs root"; exit 1; }
base=$("$(dirname "$0")/../minbase.sh")
root=$(mktemp -d)
cleanup() { umount "$root/proc" 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT
tar -C "$root" -xf "$base"
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
in_root() { chroot "$root" env PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
echo "== the VM image: kernel, systemd and BIRD into the bookworm root (once)"
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends linux-image-amd64 systemd-sysv udev kmod iproute2 bird2 procps iputils-ping arping >/tmp/vm-image.log 2>&1 ||
	{ tail /tmp/vm-image.log; echo "FAIL: apt-get install in the VM root"; exit 1; }
in_root apt-get clean
echo vmtest >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
# BIRD runs only when a test starts it.
in_root systemctl disable bird.service >/dev/null 2>&1 || true
cat >"$root/etc/systemd/system/vmtest.service" <<'UNIT'
[Unit]
Description=vmroute VM test: runs the payload the host shares, then powers off
After=multi-user.target
[Service]
Type=oneshot
StandardOutput=journal+console
StandardError=journal+console
ExecStartPre=/bin/mkdir -p /payload
ExecStartPre=/bin/mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576 payload /payload
ExecStart=/bin/bash /payload/guest.sh
ExecStopPost=/bin/systemctl --no-block poweroff
[Install]
WantedBy=multi-user.target
UNIT
in_root systemctl enable vmtest.service >/dev/null 2>&1
# Quieter boots: no getty on the serial console.
in_root systemctl mask serial-getty@ttyS0.service getty@tty1.service >/dev/null 2>&1 || true
mkdir -p "$out"
cp "$(ls "$root"/boot/vmlinuz-* | head -1)" "$out/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | head -1)" "$out/initrd.img"
umount "$root/proc"
rm -f "$out/stamp"
mkfs.ext4 -q -L vmroot -d "$root" "$out/root.img.tmp" 3G
mv "$out/root.img.tmp" "$out/root.img"
echo "$stamp" >"$out/stamp"
echo "== VM image in $out"
