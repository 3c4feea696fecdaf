#!/usr/bin/env bash
# Builds the collection tarball and installs it in a clean HOME exactly as README.md and
# docs/install.md tell users to on a machine without Galaxy access, with nothing of this checkout on the
# collections path and a fresh HOME. Then, from the installed copy only: the tarball holds no
# development files, every module, role action and filter the roles and playbooks name resolves,
# every playbook passes a syntax check by its collection name, and a module runs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$repo/.venv/bin:$PATH"
work=$(mktemp -d "${TMPDIR:-/tmp}/redundant-kube-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
clean_env=(env -i "PATH=$PATH" "HOME=$work" LANG=C.UTF-8 ANSIBLE_LOCALHOST_WARNING=0)

# --- the documented commands (docs/install.md) ---
(cd "$repo" && "${clean_env[@]}" ansible-galaxy collection build --output-path "$work" >/dev/null)
"$repo/scripts/dependency-tarballs.sh" deps >/dev/null
tarball=$(ls redundant-kube-*.tar.gz)
"${clean_env[@]}" ansible-galaxy collection install --offline "$tarball" deps/*.tar.gz >install.log 2>&1 ||
  { cat install.log; exit 1; }
# -------------------------------------------------
if grep -q WARNING install.log; then echo "the documented install warns:"; cat install.log; exit 1; fi
dest=$work/.ansible/collections
installed=$dest/ansible_collections/redundant/kube
[ -f "$installed/MANIFEST.json" ] || { echo "install produced no $installed/MANIFEST.json"; exit 1; }
run_installed=("${clean_env[@]}")

# What ships: a user's content and its docs, nothing of the development machinery.
tar -tzf "$tarball" | python3 -c '
import sys
shipped = {"MANIFEST.json", "FILES.json", "README.md", "COPYING", "requirements.txt", "bindep.txt",
           "execution-environment.yml", "changelogs", "docs", "extensions", "inventories", "meta",
           "playbooks", "plugins", "roles", "tests"}
names = [n.rstrip("/") for n in sys.stdin.read().split()]
extra = sorted({n.split("/")[0] for n in names} - shipped)
extra += sorted(n for n in names if n.startswith("tests/") and n.split("/")[1] not in ("sanity", "config.yml"))
extra += sorted(n for n in names if n == "docs/build_reference.py")
if extra:
    sys.exit("the tarball ships development files (add them to build_ignore in galaxy.yml): " + ", ".join(extra))
missing = sorted(n for n in ("COPYING", "README.md", "requirements.txt", "meta/runtime.yml") if n not in names)
if missing:
    sys.exit("the tarball misses " + ", ".join(missing))
'

# Every collection the installed roles and playbooks name is installed, and each plugin they name exists
# there (a role task runs only when its role is included, so a syntax check alone would not see it).
python3 - "$installed" >"$work/used.txt" <<'PY'
import pathlib, re, sys, yaml
root = pathlib.Path(sys.argv[1])
FQCN = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$")
# Filters and lookups named inside Jinja expressions: `| ns.coll.name` and lookup('ns.coll.name'.
JINJA = re.compile(r"\|\s*([a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+)|(?:lookup|query)\(\s*['\"]([a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+)")
used = set()

def walk(node, in_tasks):
    if isinstance(node, list):
        for item in node:
            walk(item, in_tasks)
    elif isinstance(node, dict):
        for key, value in node.items():
            if in_tasks and isinstance(key, str) and FQCN.match(key):
                used.add(("module", key))
            if key == "module_defaults" and isinstance(value, dict):
                used.update(("group" if k.startswith("group/") else "module", k.removeprefix("group/"))
                            for k in value)
            walk(value, in_tasks or key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"))
    elif isinstance(node, str):
        for match in JINJA.finditer(node):
            if match.group(1):
                used.add(("filter", match.group(1)))
            if match.group(2):
                used.add(("lookup", match.group(2)))

for path in [*root.glob("playbooks/**/*.yml"), *root.glob("roles/*/tasks/*.yml"), *root.glob("roles/*/handlers/*.yml")]:
    data = yaml.safe_load(path.read_text())
    in_tasks = "/tasks/" in str(path) or "/handlers/" in str(path) or path.parent.name == "tasks"
    walk(data, in_tasks)
for kind, name in sorted(used):
    print(kind, name)
PY
python3 - "$dest" "$work/used.txt" <<'PY'
import json, pathlib, sys, yaml
dest, used = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]).read_text().split("\n")
installed = {f"{p.parent.parent.name}.{p.parent.name}" for p in dest.glob("ansible_collections/*/*/MANIFEST.json")}
missing = sorted({line.split()[1].rsplit(".", 1)[0] for line in used if line}
                 - installed - {"ansible.builtin", "ansible.legacy"})
if missing:
    sys.exit("the roles and playbooks use collections the documented install does not install "
             "(declare them in galaxy.yml dependencies or use ansible.builtin): " + ", ".join(missing))
PY
for kind in module filter lookup; do
  names=$(awk -v k="$kind" '$1 == k {print $2}' "$work/used.txt")
  [ -n "$names" ] || continue
  # ansible-doc --json prints {} for a name it cannot find; a group/ entry is checked through its modules.
  # shellcheck disable=SC2086
  "${run_installed[@]}" ansible-doc -t "$kind" --json $names 2>/dev/null | python3 -c '
import json, sys
found, asked = json.load(sys.stdin), sys.argv[2:]
lost = [n for n in asked if n not in found]
if lost:
    sys.exit(f"{sys.argv[1]}s named by the installed roles/playbooks that do not resolve: " + ", ".join(lost))
' "$kind" $names
done

for m in "$installed"/plugins/modules/*.py; do
  "${run_installed[@]}" ansible-doc "redundant.kube.$(basename "$m" .py)" >/dev/null
done
# Every playbook by its collection name, as users run them after installing (redundant.kube.site ...), with
# an example inventory that has none of the cluster-host groups: no warning about unmatched host patterns.
playbooks=()
for p in "$installed"/playbooks/*.yml; do playbooks+=("redundant.kube.$(basename "$p" .yml)"); done
"${run_installed[@]}" ansible-playbook -i "$installed/inventories/local" --syntax-check "${playbooks[@]}" \
  >syntax.log 2>&1 || { cat syntax.log; exit 1; }
if grep -q WARNING syntax.log; then echo "the playbooks' syntax check warns:"; grep WARNING syntax.log; exit 1; fi
out=$("${run_installed[@]}" ansible localhost -m redundant.kube.cluster_info 2>&1 || true)
grep -q "no Kubernetes connection" <<<"$out" || { echo "module from the installed tarball did not run as expected:"; echo "$out"; exit 1; }
echo "collection $tarball installs offline as documented (${#playbooks[@]} playbooks pass a syntax check from the installed copy)"
