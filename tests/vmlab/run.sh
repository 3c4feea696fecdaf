#!/usr/bin/env bash
# The real-kernel test tier (see docs/testing-vm.md): builds or reuses the cached VM image and package
# mirror, boots two QEMU VMs in a network namespace of its own, runs the role scenarios, and tears
# everything down, also after a failure.   tests/vmlab/run.sh [SCENARIO ...]
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" -ne 0 ]; then
  echo "vmlab: needs root (network namespaces, tap devices, debootstrap's chroot)" >&2
  exit 1
fi
./setup.sh
venv=$(cd ../.. && pwd)/.venv
[ -x "$venv/bin/python3" ] || { echo "vmlab: no .venv yet; run make python first" >&2; exit 1; }
exec "$venv/bin/python3" run.py "$@"
