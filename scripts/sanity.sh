#!/usr/bin/env bash
# ansible-test sanity on a copy of the checkout placed at .../ansible_collections/redundant/kube, as
# ansible-test requires; only tests that run offline with the current Python (no containers).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# ansible-test fetches get-pip.py from a host that is unreachable here: give it our stand-in instead.
pip_version=$(python3 - <<'PY'
import re, ansible_test, pathlib
src = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
mkdir -p ~/.ansible/test/cache
cp tests/sanity/get_pip_standin.py ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
# Outside the git work tree: inside it, ansible-test would take the copy for ignored files and skip them.
top=$(mktemp -d "${TMPDIR:-/tmp}/redundant-kube-sanity.XXXXXX")
trap 'rm -rf "$top"' EXIT
tree="$top/ansible_collections/redundant/kube"
mkdir -p "$tree"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$tree"
cd "$tree"
tests=(validate-modules compile yamllint shebang line-endings no-smart-quotes empty-init no-assert
       no-get-exception replace-urlopen use-compat-six action-plugin-docs ansible-doc symlinks pep8
       runtime-metadata ignores import no-illegal-filenames use-argspec-type-path)
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
ANSIBLE_COLLECTIONS_PATH="$top:$repo/.collections" \
  ansible-test sanity --python "$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" \
  --local --requirements --color no "${args[@]}" "$@"
