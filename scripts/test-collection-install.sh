#!/usr/bin/env bash
# Builds the collection tarball and installs it exactly as docs/install.md tells users to on a machine
# without Galaxy access, then runs a module from the installed copy.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/redundant-kube-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --force --output-path "$work" >/dev/null
tarball=$(ls "$work"/redundant-kube-*.tar.gz)
dest="$work/collections"
# The dependencies come from the `ansible` wheel (scripts/setup-python.sh put them in .collections).
mkdir -p "$dest/ansible_collections"
for dep in ansible/posix kubernetes/core; do
  mkdir -p "$dest/ansible_collections/${dep%/*}"
  cp -a ".collections/ansible_collections/$dep" "$dest/ansible_collections/$dep"
done
# --- the documented command ---
ANSIBLE_COLLECTIONS_PATH="$dest" ansible-galaxy collection install --offline -p "$dest" "$tarball"
# ------------------------------
installed="$dest/ansible_collections/redundant/kube"
[ -f "$installed/MANIFEST.json" ] || { echo "install produced no MANIFEST.json"; exit 1; }
for m in "$installed"/plugins/modules/*.py; do
  ANSIBLE_COLLECTIONS_PATH="$dest" ansible-doc "redundant.kube.$(basename "$m" .py)" >/dev/null
done
out=$(cd "$work" && ANSIBLE_COLLECTIONS_PATH="$dest" ANSIBLE_LOCALHOST_WARNING=0 HOME="$work" KUBECONFIG= \
  ansible localhost -m redundant.kube.cluster_info 2>&1 || true)
grep -q "no Kubernetes connection" <<<"$out" || { echo "module from the installed tarball did not run as expected:"; echo "$out"; exit 1; }
echo "collection tarball $(basename "$tarball") installs offline and its modules run"
