#!/usr/bin/env bash
# System packages the tests and the demo need, installed once (apt-get as root, or sudo).
set -euo pipefail
pkgs=(python3-venv openjdk-17-jdk-headless git make)
# Molecule tier: podman with runc (crun fails on this cgroup layout, see tests/molecule/containers.conf)
# and debootstrap for the test image; conmon and the CNI plugins (with iptables) come as podman's
# dependencies. slirp4netns, uidmap and fuse-overlayfs serve rootless podman only.
[ "${RK_WITH_MOLECULE:-1}" = 1 ] && pkgs+=(podman debootstrap runc slirp4netns uidmap fuse-overlayfs)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
echo "[setup] apt-get install ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
