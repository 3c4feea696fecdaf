#!/usr/bin/env bash
# Builds the systemd test host image for the molecule scenarios: a Debian bookworm root file system
# made by debootstrap, imported into podman with CMD /sbin/init. Cached twice: the image tag and the
# rootfs tarball are keyed by a hash of this script, so editing the package list rebuilds both.
# Prints the image reference on stdout; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${RK_CACHE:-$HOME/.cache/redundant-kube}
mirror=${RK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}

# What a bare node has before our roles run: an init, Python for Ansible (python3-apt is what
# ansible.builtin.apt needs), and the tools every Debian server has. Anything a role installs
# (nfs-common, open-iscsi, systemd-resolved, kmod, ...) stays out, so converge proves the install.
# openssh-server is how Ansible reaches the hosts: ssh with pipelining and one persistent connection per
# host, its transport `podman exec` of sshd in inetd mode (rk-sshd-stdio below; nothing listens on the
# network). About 2.5 times faster per task than the podman connection, which cannot pipeline. sudo: the
# playbooks become root with it, Ansible's default, as on the servers they are written for.
packages=systemd,systemd-sysv,dbus,python3,python3-apt,procps,iproute2,openssh-server,sudo
suite=bookworm

key=$(sha256sum "$0" | cut -c1-12)
image=localhost/redundant-kube/${suite}-systemd:$key
tarball=$cache/rootfs/${suite}-systemd-$key.tar

if podman image exists "$image"; then
  echo "$image"
  exit 0
fi

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "build-image: debootstrap is missing (scripts/setup-system.sh installs it)" >&2; exit 1; }
  mkdir -p "$cache/rootfs" "$cache/debootstrap-debs"
  root=$(mktemp -d "$cache/rootfs/build.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "[build-image] debootstrap $suite ($packages) from $mirror" >&2
  log=$cache/rootfs/debootstrap.log
  if ! debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/debootstrap-debs" \
    "$suite" "$root" "$mirror" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "build-image: debootstrap failed, full log in $log" >&2
    exit 1
  fi
  # A container has no consoles or hardware clock to manage; these units only fail or wait there.
  for unit in getty@tty1.service serial-getty@.service console-getty.service systemd-firstboot.service; do
    ln -sfn /dev/null "$root/etc/systemd/system/$unit"
  done
  # sshd runs only on a connection's stdin and stdout (rk-sshd-stdio, started by `podman exec`): no listener.
  ln -sfn /dev/null "$root/etc/systemd/system/ssh.service"
  ln -sfn /dev/null "$root/etc/systemd/system/ssh.socket"
  cat >"$root/usr/local/sbin/rk-sshd-stdio" <<'SCRIPT'
#!/bin/sh
# The test hosts' ssh transport: one sshd on stdin/stdout, started by `podman exec -i HOST rk-sshd-stdio`
# (the ProxyCommand of extensions/molecule/config.yml and tests/realnodes). Root with an empty password is
# let in only here; whoever can run podman exec is root in the container already.
mkdir -p /run/sshd
exec /usr/sbin/sshd -i -o PermitRootLogin=yes -o PermitEmptyPasswords=yes -o PasswordAuthentication=yes \
  -o UsePAM=no -o LogLevel=ERROR
SCRIPT
  chmod 0755 "$root/usr/local/sbin/rk-sshd-stdio"
  sed -i 's/^root:[^:]*:/root::/' "$root/etc/shadow"
  echo "redundant-kube-test" > "$root/etc/hostname"
  : > "$root/etc/machine-id"
  # debootstrap copied this machine's resolver configuration; podman provides one at run time.
  rm -f "$root/etc/resolv.conf"
  # The roles must refresh the package lists themselves, as on a freshly installed node.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  # ansible.builtin.apt's cache_valid_time falls back to this directory's age: make it stale.
  touch -d @0 "$root/var/lib/apt/lists"
  echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
  tar --numeric-owner -C "$root" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi

echo "[build-image] podman import $tarball as $image" >&2
podman import --quiet --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
  --change 'STOPSIGNAL SIGRTMIN+3' "$tarball" "$image" >/dev/null
echo "$image"
