#!/usr/bin/env bash
# meta/runtime.yml claims ansible-core 2.16 and newer, and every other tier runs the one requirements-dev.txt pins.
# This runs the collection under each older release line of that claim (the newest patch of each, pinned below),
# in one virtualenv per release with the collection's requirements.txt, kept under $RK_CACHE (built once,
# about a minute each cold; pip's own cache, if it keeps one, goes there too rather than to ~/.cache/pip):
#   - every plugin, module and module_utils file imports;
#   - ansible-doc reads every module, filter and test plugin;
#   - every playbook passes a syntax check by its collection name, without warnings;
#   - tests/supported_versions/check.yml runs: every module through that release's module packaging (keystore,
#     preflight and controller_checksums for real, the Kubernetes modules up to the connection), the filters
#     and the test plugin through its templating, and the app stage's up-front checks of the D2000 pair example;
#   - that release's ansible-test runs the sanity tests that need no virtualenv of their own, with its ignore
#     file tests/sanity/ignore-X.Y.txt (so that the ignore files users' `ansible-test sanity` reads stay true).
# Each release runs on a different Python, so that together with the pinned release (on the project's 3.11)
# the controller Pythons the collection claims, 3.10 to 3.13, are all exercised. A Python that is not here
# is replaced by this machine's python3, and the line SKIPPED says so.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${RK_CACHE:-$HOME/.cache/redundant-kube}
. scripts/find-python.sh
# ansible-core release and the Python it runs on (each release's controller Pythons: 2.16 and 2.17 3.10-3.12,
# 2.18 3.11-3.13).
RELEASES=("2.16.19 3.10" "2.17.14 3.12" "2.18.19 3.13")
requirements_digest=$(sha256sum requirements.txt | cut -c1-12)
work=$(mktemp -d "${TMPDIR:-/tmp}/redundant-kube-versions.XXXXXX")
trap 'rm -rf "$work"' EXIT
modules=() filters=() tests=() playbooks=()
for f in plugins/modules/*.py; do modules+=("redundant.kube.$(basename "$f" .py)"); done
for f in plugins/filter/*.yml; do filters+=("redundant.kube.$(basename "$f" .yml)"); done
for f in plugins/test/*.py; do tests+=("redundant.kube.$(basename "$f" .py)"); done
for f in playbooks/*.yml; do playbooks+=("redundant.kube.$(basename "$f" .yml)"); done
offline_sanity=()
for t in compile shebang line-endings no-smart-quotes empty-init no-assert no-get-exception replace-urlopen \
  use-compat-six action-plugin-docs symlinks ignores no-illegal-filenames use-argspec-type-path; do
  offline_sanity+=(--test "$t")
done

# The venv of a release on a Python, made once: a marker file says it is complete; a lock keeps two checkouts on
# this machine from building the same one at once.
venv_for() {
  local core=$1 python=$2 venv
  venv="$cache/ansible-core-venvs/ansible-core-$core-py$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-$requirements_digest"
  mkdir -p "$cache/ansible-core-venvs"
  (
    flock 9
    if [ ! -f "$venv/.complete" ]; then
      echo "[versions] creating $venv" >&2
      rm -rf "$venv"
      "$python" -m venv "$venv"
      PIP_CACHE_DIR="$cache/pip" "$venv/bin/pip" install -q --disable-pip-version-check \
        "ansible-core==$core" -r requirements.txt >&2
      touch "$venv/.complete"
    fi
  ) 9>"$venv.lock"
  echo "$venv"
}

# ansible-doc --json prints {} for a name it cannot find.
doc_finds_all() {
  local kind=$1
  shift
  "${run[@]}" ansible-doc -t "$kind" --json "$@" | "${run[@]}" python -c '
import json, sys
found = json.load(sys.stdin)
lost = [n for n in sys.argv[2:] if n not in found]
if lost:
    sys.exit(f"ansible-doc does not find the {sys.argv[1]}s " + ", ".join(lost))
' "$kind" "$@"
}

# One release: its venv, then every check, in a clean environment; stops at the first failure.
check_release() {
  local core=$1 wanted=$2 python venv scratch run t0
  python=$(find_python "$wanted")
  if [ -z "$python" ]; then
    python=$(command -v python3)
    echo "SKIPPED Python $wanted for ansible-core $core: no python$wanted here (e.g. pyenv install $wanted); runs on $("$python" -V) instead"
  fi
  venv=$(venv_for "$core" "$python")
  scratch="$work/$core"
  mkdir -p "$scratch/home"
  # Nothing of the caller's environment: an empty HOME (no ~/.ansible, no ~/.kube/config), this checkout and
  # the third-party collections from .collections only.
  run=(env -i "PATH=$venv/bin:/usr/bin:/bin" "HOME=$scratch/home" LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
       "ANSIBLE_COLLECTIONS_PATH=$repo/.collections" ANSIBLE_LOCALHOST_WARNING=0 "RK_VERSION_CHECK_DIR=$scratch")
  t0=$(date +%s)
  "${run[@]}" python - "$repo" <<'PY'
import importlib, pathlib, sys, traceback
repo = pathlib.Path(sys.argv[1])
sys.path.insert(0, str(repo / ".collections"))
failed = []
for path in sorted(repo.glob("plugins/**/*.py")):
    name = ".".join(("ansible_collections", "redundant", "kube", *path.relative_to(repo).with_suffix("").parts))
    try:
        importlib.import_module(name.removesuffix(".__init__"))
    except Exception:
        failed.append(name)
        traceback.print_exc()
if failed:
    sys.exit("do not import: " + ", ".join(failed))
PY
  doc_finds_all module "${modules[@]}"
  doc_finds_all filter "${filters[@]}"
  doc_finds_all test "${tests[@]}"
  "${run[@]}" ansible-playbook -i inventories/local --syntax-check "${playbooks[@]}" >"$scratch/syntax.log" 2>&1 ||
    { cat "$scratch/syntax.log"; return 1; }
  if grep -q WARNING "$scratch/syntax.log"; then grep WARNING "$scratch/syntax.log"; return 1; fi
  "${run[@]}" ansible-playbook -i inventories/d2000_pair tests/supported_versions/check.yml >"$scratch/check.log" 2>&1 ||
    { cat "$scratch/check.log"; return 1; }
  # ansible-test wants the collection at .../ansible_collections/redundant/kube, outside a git work tree.
  local tree="$scratch/sanity/ansible_collections/redundant/kube"
  mkdir -p "$tree"
  git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$tree"
  (cd "$tree" && "${run[@]}" "ANSIBLE_COLLECTIONS_PATH=$scratch/sanity:$repo/.collections" ansible-test sanity --local \
     --python "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no \
     "${offline_sanity[@]}" >"$scratch/sanity.log" 2>&1) || { cat "$scratch/sanity.log"; return 1; }
  echo "ansible-core $core on $("$venv/bin/python" -V): imports, docs, ${#playbooks[@]} playbooks' syntax, modules, filters, offline sanity ok ($(( $(date +%s) - t0 ))s)"
}

# The releases side by side (most of the time is Python starting), each reported in one piece.
pids=()
for release in "${RELEASES[@]}"; do
  read -r core wanted <<<"$release"
  (set -e; check_release "$core" "$wanted") >"$work/$core.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!RELEASES[@]}"; do
  wait "${pids[$i]}" || { failed=1; echo "FAILED ansible-core ${RELEASES[$i]%% *}:"; }
  cat "$work/${RELEASES[$i]%% *}.log"
done
exit $failed
