#!/usr/bin/env bash
# Host packages the VM lab needs: QEMU and qemu-img, debootstrap and mkfs.ext4 for the image,
# apt-ftparchive for the package mirror, dnsmasq for the lab's DNS servers, ping for the VRRP gaps,
# and the ssh client. Installs only what is missing (apt-get as root, or sudo).
set -euo pipefail
pkgs=(qemu-system-x86 qemu-utils debootstrap e2fsprogs apt-utils dnsmasq-base iputils-ping iproute2 openssh-client)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
echo "[vmlab setup] apt-get install ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
