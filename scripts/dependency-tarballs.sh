#!/usr/bin/env bash
# Usage: scripts/dependency-tarballs.sh OUTPUT_DIR
# Builds an installable tarball of every collection galaxy.yml depends on, from the copies that the
# `ansible` package on PyPI bundles (downloaded once into ~/.cache/redundant-kube/), for
# `ansible-galaxy collection install --offline` on machines without Galaxy access (docs/install.md).
# Needs pip, PyYAML and ansible-galaxy (requirements.txt and ansible-core). The wheel keeps each
# collection's MANIFEST.json but drops some files its FILES.json lists, so each collection is rebuilt with
# a galaxy.yml made from that MANIFEST.json rather than re-packed as it is.
set -euo pipefail
out=$(realpath -m "${1:?usage: $0 OUTPUT_DIR}")
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] && export PATH="$PWD/.venv/bin:$PATH"
. scripts/ansible-wheel.env
wheel_dir="${RK_CACHE:-$HOME/.cache/redundant-kube}/ansible-wheel-$ANSIBLE_WHEEL_VERSION"
if ! ls "$wheel_dir"/ansible-*.whl >/dev/null 2>&1; then
  python3 -m pip download -q --disable-pip-version-check --no-deps -d "$wheel_dir" "ansible==$ANSIBLE_WHEEL_VERSION"
fi
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/redundant-kube-deps.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 - "$out" "$work" "$wheel_dir" <<'PY'
import glob, json, pathlib, subprocess, sys, zipfile
import yaml

out, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = zipfile.ZipFile(glob.glob(sys.argv[3] + "/ansible-*.whl")[0])
for fqcn in yaml.safe_load(pathlib.Path("galaxy.yml").read_text()).get("dependencies") or {}:
    namespace, name = fqcn.split(".")
    prefix = f"ansible_collections/{namespace}/{name}/"
    members = [m for m in wheel.namelist() if m.startswith(prefix) and "/__pycache__/" not in m]
    if not members:
        sys.exit(f"{fqcn} is not in {wheel.filename}")
    wheel.extractall(work, members)
    tree = work / prefix
    info = json.loads((tree / "MANIFEST.json").read_text())["collection_info"]
    (tree / "MANIFEST.json").unlink()
    (tree / "FILES.json").unlink()
    # An empty string or list is how MANIFEST.json says "not set"; galaxy.yml wants such keys left out.
    (tree / "galaxy.yml").write_text(yaml.safe_dump({k: v for k, v in info.items() if v not in ("", [], None)}))
    subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(out), str(tree)],
                   check=True, stdout=subprocess.DEVNULL)
    print(out / f"{namespace}-{name}-{info['version']}.tar.gz")
PY
