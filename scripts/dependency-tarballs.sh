#!/usr/bin/env bash
# Usage: scripts/dependency-tarballs.sh OUTPUT_DIR
# Builds an installable tarball of every collection galaxy.yml depends on, from the copies that the
# `ansible` wheel on PyPI bundles (scripts/setup-python.sh extracts them into .collections/), for
# `ansible-galaxy collection install --offline` on machines without Galaxy access (docs/install.md).
# The wheel keeps each collection's MANIFEST.json but drops some files its FILES.json lists, so the
# collection is rebuilt with a galaxy.yml made from that MANIFEST.json instead of re-packed as it is.
set -euo pipefail
out=$(realpath -m "${1:?usage: $0 OUTPUT_DIR}")
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/redundant-kube-deps.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 - "$out" "$work" <<'PY'
import json, pathlib, shutil, subprocess, sys, yaml

out, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
source = pathlib.Path(".collections/ansible_collections")
for fqcn in yaml.safe_load(pathlib.Path("galaxy.yml").read_text()).get("dependencies") or {}:
    namespace, name = fqcn.split(".")
    bundled = source / namespace / name
    if not (bundled / "MANIFEST.json").is_file():
        sys.exit(f"{fqcn} is not in {source}: run scripts/setup-python.sh (make setup) first")
    info = json.loads((bundled / "MANIFEST.json").read_text())["collection_info"]
    tree = work / f"{namespace}.{name}"
    shutil.copytree(bundled, tree, ignore=shutil.ignore_patterns("MANIFEST.json", "FILES.json", "__pycache__"))
    # An empty string or list is how MANIFEST.json says "not set"; galaxy.yml wants such keys left out.
    (tree / "galaxy.yml").write_text(yaml.safe_dump({k: v for k, v in info.items() if v not in ("", [], None)}))
    subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(out), str(tree)],
                   check=True, stdout=subprocess.DEVNULL)
    print(out / f"{namespace}-{name}-{info['version']}.tar.gz")
PY
