#!/usr/bin/env bash
# Builds the hostagent appliance's OVA: Debian 13 (trixie), minimal and
# patched (its updates and security suites), with the hostagent's .deb,
# open-vm-tools and the appliance's own steps (vmroute-appliance:
# configure from the OVF properties at every boot, the clock's source,
# the console on tty1), on one disk that boots with GRUB, as a
# streamOptimized VMDK inside the OVA with its OVF descriptor and SHA256
# manifest.
#
#   build.sh HOSTAGENT.deb VMROUTECTL.deb VMROUTE-APPLIANCE-BINARY VERSION OUT.ova
#
# Needs root (chroot). The root with its Debian packages is cached in
# /var/cache/vmroute-build, keyed by the steps that make it and by the
# day: a build on a later day takes the fixes Debian published since.
set -euo pipefail
[ $# -eq 5 ] || { sed -n 2,14p "$0" | sed 's/^# \{0,1\}//'; exit 2; }
deb=$(realpath "$1") ctl=$(realpath "$2") bin=$(realpath "$3") version=$4 out=$(realpath -m "$5")
[ "$(id -u)" -eq 0 ] || { echo "FAIL: building the appliance needs root (chroot)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
cache=/var/cache/vmroute-build
work=$(mktemp -d)
root=$work/root
cleanup() { umount "$root/proc" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir "$root"
in_root() { chroot "$root" env PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }

# The disk controllers ESXi offers a VM: PVSCSI, LSI Logic parallel and
# SAS, SATA (AHCI) and NVMe. The initramfs must carry each, or the
# appliance cannot find its root on the one the admin picks.
controllers="vmw_pvscsi mptspi mptsas ahci nvme"

# build_root makes the appliance's Debian root in $root.
build_root() {
	tar -C "$root" -xf "$("$here/../../tests/minbase.sh" trixie)"
	mount -t proc proc "$root/proc"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	rm -f "$root/etc/apt/sources.list"
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<-SOURCES
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: trixie trixie-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: http://deb.debian.org/debian-security
		Suites: trixie-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	SOURCES
	in_root apt-get update -qq
	{ in_root apt-get -y -qq full-upgrade &&
		in_root apt-get install -y -qq --no-install-recommends \
			linux-image-amd64 systemd-sysv udev kmod iproute2 open-vm-tools grub-pc-bin \
			systemd-timesyncd systemd-resolved openssh-server passwd; } >"$work/apt.log" 2>&1 ||
		{ tail "$work/apt.log"; echo "FAIL: apt-get in the appliance root"; exit 1; }
	pending=$(in_root apt-get -s full-upgrade | grep -c '^Inst ' || true)
	[ "$pending" -eq 0 ] || { echo "FAIL: $pending package upgrades still pending in the appliance root"; exit 1; }
	# Drivers no VM of this kind needs: graphics, sound, radios, media,
	# InfiniBand, staging. Then the initramfs again, without them.
	kdir=$(ls -d "$root"/lib/modules/* | head -1)
	rm -rf "$kdir"/kernel/drivers/{gpu,media,infiniband,staging,bluetooth,isdn,net/wireless} "$kdir"/kernel/{sound,net/wireless,net/bluetooth}
	in_root depmod "$(basename "$kdir")"
	in_root update-initramfs -u -k all >/dev/null 2>&1
	in_root apt-get clean
	rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/cache/debconf/*-old
	umount "$root/proc"
}

stamp=$( (declare -f build_root; echo "$controllers") | sha256sum | cut -c1-16)-$(date -u +%Y%m%d)
cached=$cache/appliance-root-$stamp.tar
mkdir -p "$cache"
exec 9>"$cache/appliance-root.lock"
flock 9
if [ ! -f "$cached" ]; then
	echo "== the appliance's Debian root (once a day, and when its steps change)"
	build_root
	rm -f "$cache"/appliance-root-*.tar
	tar -C "$root" -cf "$cached.tmp" . && mv "$cached.tmp" "$cached"
	rm -rf "$root" && mkdir "$root"
fi
tar -C "$root" -xf "$cached"

echo "== the hostagent $version into the appliance"
cp "$deb" "$root/tmp/hostagent.deb"
cp "$ctl" "$root/tmp/vmroutectl.deb"
in_root dpkg -i /tmp/vmroutectl.deb /tmp/hostagent.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; echo "FAIL: dpkg -i in the appliance"; exit 1; }
rm "$root/tmp/hostagent.deb" "$root/tmp/vmroutectl.deb"
install -m 0755 "$bin" "$root/usr/bin/vmroute-appliance"
install -m 0644 "$here"/vmroute-appliance-configure.service "$here"/vmroute-appliance-console.service "$here"/vmroute-appliance-time.service "$root/etc/systemd/system/"
mkdir -p "$root/etc/systemd/system/vmroute-hostagent.service.d"
install -m 0644 "$here/hostagent-appliance.conf" "$root/etc/systemd/system/vmroute-hostagent.service.d/appliance.conf"
echo vmroute-hostagent >"$root/etc/hostname"
printf 'LABEL=vmroute-root / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
ln -sf /run/systemd/resolve/resolv.conf "$root/etc/resolv.conf"
echo "vmroute hostagent appliance $version" >"$root/etc/vmroute/appliance-version"
# Every appliance makes its own SSH host keys (at SSH's first start),
# root has no password until a property gives one, SSH is off.
rm -f "$root"/etc/ssh/ssh_host_*
in_root passwd --lock root >/dev/null
in_root systemctl disable ssh.service >/dev/null 2>&1 || true
in_root systemctl enable systemd-networkd.service systemd-networkd-wait-online.service systemd-resolved.service systemd-timesyncd.service \
	vmroute-hostagent.service vmroute-appliance-configure.service vmroute-appliance-console.service vmroute-appliance-time.service >/dev/null 2>&1
# tty1 is the status screen; a login prompt is one Alt+F2 away.
in_root systemctl mask getty@tty1.service serial-getty@ttyS0.service >/dev/null 2>&1
rm -f "$root/etc/machine-id" && touch "$root/etc/machine-id"

echo "== the disk: MBR, one ext4 partition, GRUB"
# GRUB boots Debian's symlinks to the newest kernel and its initramfs,
# which every kernel package updates, and the one before as a fallback:
# a kernel update boots, and removing the old kernel leaves it bootable.
for l in vmlinuz initrd.img; do
	[ -L "$root/$l" ] && [ -e "$root/$l" ] || { echo "FAIL: the appliance root has no /$l symlink to a kernel (linux-base's do_symlinks)"; exit 1; }
done
initramfs=$(in_root lsinitramfs /initrd.img)
for m in $controllers; do
	grep -q "/$m\.ko" <<<"$initramfs" || { echo "FAIL: the initramfs lacks $m, a disk controller ESXi offers"; exit 1; }
done
mkdir -p "$root/boot/grub"
cp -r "$root/usr/lib/grub/i386-pc" "$root/boot/grub/"
cat >"$root/boot/grub/grub.cfg" <<GRUB
set timeout=1
set default=0
menuentry "vmroute hostagent appliance $version" {
	linux /vmlinuz root=LABEL=vmroute-root ro quiet console=ttyS0,115200n8 console=tty1
	initrd /initrd.img
}
menuentry "vmroute hostagent appliance $version, the kernel before" {
	linux /vmlinuz.old root=LABEL=vmroute-root ro quiet console=ttyS0,115200n8 console=tty1
	initrd /initrd.img.old
}
GRUB
in_root grub-mkimage -O i386-pc -o /tmp/core.img -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2 normal linux configfile echo test search
mv "$root/tmp/core.img" "$work/core.img"
cp "$root/usr/lib/grub/i386-pc/boot.img" "$work/boot.img"
capacity=$((4 * 1024 * 1024 * 1024))
mkfs.ext4 -q -L vmroute-root -d "$root" "$work/root.fs" $(((capacity - 1048576) / 1024))k
truncate -s "$capacity" "$work/disk.img"
echo 'start=2048, type=83, bootable' | sfdisk -q "$work/disk.img"
dd if="$work/root.fs" of="$work/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
# GRUB's boot sector (not the partition table after byte 440) and its
# core image in the gap before the partition.
dd if="$work/boot.img" of="$work/disk.img" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$work/disk.img" bs=512 seek=1 conv=notrunc status=none
rm "$work/root.fs"
populated=$(du -B1 "$work/disk.img" | cut -f1)
qemu-img convert -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic "$work/disk.img" "$work/disk.vmdk"
rm "$work/disk.img"
mkdir -p "$(dirname "$out")"
"$bin" ova -vmdk "$work/disk.vmdk" -capacity "$capacity" -populated "$populated" -version "$version" -o "$out"
echo "== $out: $(du -m "$out" | cut -f1) MB"
