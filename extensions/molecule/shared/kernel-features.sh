#!/bin/sh
# Prints, as JSON, whether the running kernel offers what iSCSI and NFS need, with the evidence. The
# scenarios skip exactly the checks that need a missing feature and print this evidence as the reason.
# Independent of redundant.kube.preflight on purpose: verify compares the two.
release=$(uname -r)
feature() { # name module filesystem
  name=$1 module=$2 fs=$3
  if [ -n "$fs" ] && grep -qw "$fs" /proc/filesystems; then
    present=true evidence="file system $fs is in /proc/filesystems"
  elif [ -d "/sys/module/$module" ]; then
    present=true evidence="/sys/module/$module exists"
  elif command -v modprobe >/dev/null && out=$(modprobe --dry-run "$module" 2>&1); then
    present=true evidence="modprobe --dry-run $module succeeds"
  else
    present=false
    evidence="kernel $release has no $module:${fs:+ $fs not in /proc/filesystems,} no /sys/module/$module"
    if [ ! -d "/lib/modules/$release" ]; then
      evidence="$evidence, no /lib/modules/$release to load it from"
    elif command -v modprobe >/dev/null; then
      evidence="$evidence, modprobe --dry-run: $(echo "$out" | tr -d '"\\' | head -n 1)"
    fi
  fi
  printf '"%s": {"present": %s, "evidence": "%s"}' "$name" "$present" "$evidence"
}
printf '{%s, %s, %s, %s}\n' "$(feature iscsi_tcp iscsi_tcp '')" "$(feature dm_crypt dm_crypt '')" \
  "$(feature nfs nfs nfs)" "$(feature rpc_pipefs sunrpc rpc_pipefs)"
