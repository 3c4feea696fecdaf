#!/usr/bin/env bash
# ansible-test sanity on a copy of the checkout placed at .../ansible_collections/redundant/kube, as
# ansible-test requires; only tests that run offline (no containers):
#   - every offline test, pylint included, on the current Python (the one the project's venv runs);
#   - compile and import on Python 3.10, the oldest controller Python the collection supports
#     (ansible-core 2.16 and 2.17 run there), in ansible-test's own virtualenvs.
# ansible-test keeps its virtualenvs and downloads under ~/.ansible/test: HOME points into .venv/ so that
# nothing of the caller's ~/.ansible is used or changed (a shared one broke the run before).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
. scripts/find-python.sh
# Python 3.10 is looked up with the caller's HOME (pyenv's versions are under it).
py310=$(find_python 3.10)
export HOME="$repo/.venv/ansible-test-home"
# ansible-test fetches get-pip.py from a host that is unreachable here: give it our stand-in instead.
pip_version=$(python3 - <<'PY'
import re, ansible_test, pathlib
src = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
mkdir -p "$HOME/.ansible/test/cache"
cp tests/sanity/get_pip_standin.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
# Outside the git work tree: inside it, ansible-test would take the copy for ignored files and skip them.
top=$(mktemp -d "${TMPDIR:-/tmp}/redundant-kube-sanity.XXXXXX")
trap 'rm -rf "$top"' EXIT
tree="$top/ansible_collections/redundant/kube"
mkdir -p "$tree"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$tree"
cd "$tree"
export ANSIBLE_COLLECTIONS_PATH="$top:$repo/.collections"
tests=(validate-modules compile yamllint shebang line-endings no-smart-quotes empty-init no-assert
       no-get-exception replace-urlopen use-compat-six action-plugin-docs ansible-doc symlinks pep8
       runtime-metadata ignores import no-illegal-filenames use-argspec-type-path pylint)
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
ansible-test sanity --python "$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" \
  --local --requirements --color no "${args[@]}" "$@"

if [ -z "$py310" ]; then
  echo "SKIPPED ansible-test sanity on Python 3.10: no python3.10 interpreter here (install one, e.g. pyenv install 3.10)"
  exit 0
fi
# Only python3.10 is put first on PATH, so that the rest keeps the project's interpreters.
bin310="$top/python3.10-bin"
mkdir -p "$bin310"
ln -s "$py310" "$bin310/python3.10"
PATH="$bin310:$PATH" ansible-test sanity --venv --python 3.10 --requirements --color no --test compile --test import "$@"
