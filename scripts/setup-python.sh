#!/usr/bin/env bash
# Python side of the set-up, idempotent: a virtualenv in .venv with the pinned requirements, and the
# collections path .collections/ with this checkout linked as redundant.kube plus the third-party
# collections we use, extracted from the `ansible` wheel on PyPI (no Galaxy server is reachable).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${RK_CACHE:-$HOME/.cache/redundant-kube}
. scripts/ansible-wheel.env
THIRD_PARTY=(ansible/posix kubernetes/core community/general containers/podman)
mkdir -p "$cache"
if [ ! -x .venv/bin/python ] || ! cmp -s requirements-dev.txt .venv/.requirements-dev.txt || ! cmp -s requirements.txt .venv/.requirements.txt; then
  echo "[setup] creating .venv with pinned requirements" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  cp requirements-dev.txt .venv/.requirements-dev.txt; cp requirements.txt .venv/.requirements.txt
fi
wheel_dir="$cache/ansible-wheel-$ANSIBLE_WHEEL_VERSION"
if ! ls "$wheel_dir"/ansible-*.whl >/dev/null 2>&1; then
  echo "[setup] downloading the ansible $ANSIBLE_WHEEL_VERSION wheel for its bundled collections" >&2
  .venv/bin/pip download -q --disable-pip-version-check --no-deps -d "$wheel_dir" "ansible==$ANSIBLE_WHEEL_VERSION"
fi
mkdir -p .collections/ansible_collections/redundant
ln -sfn ../../.. .collections/ansible_collections/redundant/kube
for c in "${THIRD_PARTY[@]}"; do
  if [ ! -f ".collections/ansible_collections/$c/MANIFEST.json" ]; then
    echo "[setup] extracting collection ${c/\//.} from the ansible wheel" >&2
    .venv/bin/python - "$wheel_dir" "$c" <<'PY'
import glob, sys, zipfile
wheel, coll = glob.glob(sys.argv[1] + "/ansible-*.whl")[0], sys.argv[2]
prefix = f"ansible_collections/{coll}/"
with zipfile.ZipFile(wheel) as z:
    z.extractall(".collections", [n for n in z.namelist() if n.startswith(prefix)])
PY
  fi
done
