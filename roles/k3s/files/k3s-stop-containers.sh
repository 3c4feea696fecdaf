#!/bin/sh
# Usage: k3s-stop-containers.sh DATA_DIR
# Kills, by PID, every process whose executable lies under DATA_DIR/data (the containerd shims and
# runtimes K3S unpacks there), then their children die with their pod. Prints the PIDs it killed.
set -eu
data=$1/data
[ -d "$data" ] || exit 0
for exe in /proc/[0-9]*/exe; do
  pid=${exe#/proc/}
  pid=${pid%/exe}
  target=$(readlink "$exe" 2>/dev/null) || continue
  case $target in
    "$data"/*) kill -9 "$pid" 2>/dev/null && echo "$pid" ;;
  esac
done
