#!/usr/bin/env bash
# Builds the VM lab's base image once: Debian bookworm by debootstrap with Debian's kernel, systemd,
# openssh-server and python3, as a qcow2 disk plus the kernel and a trimmed initramfs to boot it with
# QEMU's -kernel/-initrd. The result is cached under $RK_CACHE/vmlab/image-<hash of this script>, so
# editing this script rebuilds it and nothing else does. Prints the image directory on stdout;
# progress goes to stderr.
#
# The image holds what a freshly installed Debian server has and nothing the roles install themselves
# (open-iscsi, nfs-common, keepalived, systemd-resolved, ... come from the lab's package mirror), so
# every scenario proves the install. kmod is there because the kernel package depends on it. Two
# packages only the test uses are in it too, so the guests never spend emulated CPU installing them:
# tgt (the iSCSI target the test makes on vm1, started only then) and nftables (vm2's stand-in for
# kube-proxy's rules, tests/vmlab/playbooks/site.yml).
set -euo pipefail
cache=${RK_CACHE:-$HOME/.cache/redundant-kube}/vmlab
mirror=${RK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
key=$(sha256sum "$0" | cut -c1-12)
out=$cache/image-$key

if [ -s "$out/rootfs.qcow2" ]; then
  echo "$out"
  exit 0
fi

for tool in debootstrap mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is missing (tests/vmlab/setup.sh installs it)" >&2; exit 1; }
done
mkdir -p "$cache/debootstrap-debs"
# One build at a time (two runs starting together build once); the lock also makes any build.* left
# here a dead build's (killed with SIGKILL, so its cleanup never ran): unmount and remove it.
exec 9>"$cache/.build-image.lock"
flock 9
if [ -s "$out/rootfs.qcow2" ]; then
  echo "$out"
  exit 0
fi
for stale in "$cache"/build.*; do
  [ -d "$stale" ] || continue
  for fs in dev/pts dev sys proc; do mountpoint -q "$stale/root/$fs" && umount -l "$stale/root/$fs"; done
  rm -rf "$stale"
done
work=$(mktemp -d "$cache/build.XXXXXX")
root=$work/root
cleanup() {
  for fs in proc sys dev/pts dev; do mountpoint -q "$root/$fs" && umount -l "$root/$fs"; done
  rm -rf "$work"
}
trap cleanup EXIT
log=$cache/build-image.log
: >"$log"
step() { echo "[vmlab build-image] $*" >&2; }
run_logged() {
  if ! "$@" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "build-image: '$*' failed, full log in $log" >&2
    exit 1
  fi
}

step "debootstrap $suite from $mirror"
run_logged debootstrap --variant=minbase --cache-dir="$cache/debootstrap-debs" \
  --include=systemd,systemd-sysv,udev,dbus,openssh-server,python3,python3-apt,iproute2,procps,initramfs-tools,zstd,tgt,nftables \
  "$suite" "$root" "$mirror"

# A trimmed initramfs: only what mounts an ext4 root on virtio. Written before the kernel is installed
# so the kernel's postinst builds the small one directly.
mkdir -p "$root/etc/initramfs-tools/conf.d"
echo "MODULES=list" >"$root/etc/initramfs-tools/conf.d/redundant-kube-vmlab.conf"
printf '%s\n' virtio_pci virtio_blk ext4 >>"$root/etc/initramfs-tools/modules"

step "install linux-image-amd64"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
run_logged chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends linux-image-amd64
for fs in dev/pts dev sys proc; do umount "$root/$fs"; done

step "configure boot, network and ssh"
echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" >"$root/etc/fstab"
# Each VM gets its hostname and address from the kernel command line (systemd.hostname=, ip=):
# systemd-network-generator turns ip= into a .network file and systemd-networkd applies it when the
# NIC appears, so nothing races the virtio-net probe.
ln -sfn /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
mkdir -p "$root/etc/systemd/system/sysinit.target.wants" "$root/etc/systemd/system/sockets.target.wants"
ln -sfn /lib/systemd/system/systemd-network-generator.service "$root/etc/systemd/system/sysinit.target.wants/systemd-network-generator.service"
ln -sfn /lib/systemd/system/systemd-networkd.socket "$root/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
# Units that only wait or burn CPU on a TCG guest: the udev settle wait, and the daily timers that
# would start apt and man-db in the middle of a measurement.
for unit in systemd-udev-settle.service systemd-networkd-wait-online.service apt-daily.timer \
  apt-daily-upgrade.timer man-db.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
  ln -sfn /dev/null "$root/etc/systemd/system/$unit"
done
# tgt's package enables its daemon; only the iscsi scenario starts it, on the target VM.
rm -f "$root/etc/systemd/system/multi-user.target.wants/tgt.service"
# The per-run ssh key arrives through QEMU's fw_cfg, so the cached image holds no credential.
cat >"$root/usr/local/sbin/vmlab-authorized-keys" <<'EOF'
#!/bin/sh
# Copies the lab run's public key from QEMU fw_cfg to root's authorized_keys.
set -eu
modprobe qemu_fw_cfg
src=/sys/firmware/qemu_fw_cfg/by_name/opt/redundant-kube/authorized_keys/raw
install -d -m 0700 /root/.ssh
install -m 0600 "$src" /root/.ssh/authorized_keys
EOF
chmod 0755 "$root/usr/local/sbin/vmlab-authorized-keys"
cat >"$root/etc/systemd/system/vmlab-authorized-keys.service" <<'EOF'
[Unit]
Description=Install the VM lab run's ssh key from QEMU fw_cfg
Before=ssh.service
DefaultDependencies=no
After=local-fs.target
Wants=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vmlab-authorized-keys
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
EOF
ln -sfn /etc/systemd/system/vmlab-authorized-keys.service "$root/etc/systemd/system/multi-user.target.wants/vmlab-authorized-keys.service"
# No reverse DNS on the lab subnet: sshd must not wait for it.
echo "UseDNS no" >"$root/etc/ssh/sshd_config.d/vmlab.conf"
echo "redundant-kube-vm" >"$root/etc/hostname"
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# debootstrap copied this machine's resolver configuration; the lab has its own DNS servers.
rm -f "$root/etc/resolv.conf"
# The VMs boot the kernel and initramfs copied out below, never /boot: regenerating the initramfs
# whenever a package ships a hook (open-iscsi does) only burns minutes of emulated CPU.
sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$root/etc/initramfs-tools/update-initramfs.conf"
# Packages come without Recommends, as on a minimal server: a role must name what it needs (a
# missing one fails here instead of arriving by luck), and ca-certificates, shared-mime-info and
# the like cost minutes of emulated CPU in their postinst for nothing the roles use.
echo 'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/90vmlab-no-recommends"
# Nobody reads documentation on a test VM; unpacking it is emulated I/O for nothing.
printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
  'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' 'path-exclude=/usr/share/locale/*' \
  'path-include=/usr/share/locale/locale.alias' >"$root/etc/dpkg/dpkg.cfg.d/vmlab-nodoc"
# Packages come from the lab's mirror, configured per run, and the roles refresh the lists themselves.
: >"$root/etc/apt/sources.list"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb

mkdir -p "$work/out"
cp "$root/boot/vmlinuz-"* "$work/out/vmlinuz"
cp "$root/boot/initrd.img-"* "$work/out/initrd.img"
# The package mirror is computed against exactly what the image already has installed.
cp "$root/var/lib/dpkg/status" "$work/out/dpkg-status"

step "make the ext4 disk"
run_logged mkfs.ext4 -q -L vmlab-root -d "$root" "$work/rootfs.raw" 3G
run_logged qemu-img convert -f raw -O qcow2 "$work/rootfs.raw" "$work/out/rootfs.qcow2"
rm -rf "$out"
mv "$work/out" "$out"
# Images of earlier versions of this script are never used again.
find "$cache" -maxdepth 1 -name 'image-*' ! -name "image-$key" -exec rm -rf {} +
step "image ready in $out"
echo "$out"
