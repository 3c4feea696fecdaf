"""The layering rules of plugins/module_utils (docs/development.md), read from the import lines:
rules never import a runtime, runtimes never import each other, only kube/ uses the Kubernetes client
library, only kube/ansible_module.py touches AnsibleModule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
PREFIX = "ansible_collections.redundant.kube.plugins.module_utils."
# Files that read or write through kube/: each capability's runtime, and app/report.py, the live state
# of an app that the app, license and drill runtimes share.
RUNTIMES = {
    "app/runtime.py",
    "app/report.py",
    "license/runtime.py",
    "drill/runtime.py",
    "keystore/runtime.py",
}
SOURCES = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if p.stat().st_size)


def imported_modules(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def local(path: str) -> set[str]:
    """The collection's own module_utils a file imports, as paths like 'app/report.py'."""
    return {
        m[len(PREFIX) :].replace(".", "/") + ".py" for m in imported_modules(path) if m.startswith(PREFIX)
    }


def test_every_source_is_checked():
    assert "kube/objects.py" in SOURCES and set(RUNTIMES) <= set(SOURCES)


@pytest.mark.parametrize("path", [p for p in SOURCES if p not in RUNTIMES and not p.startswith("kube/")])
def test_rules_import_no_runtime_and_no_api_access(path):
    io = {"kube/resources.py", "kube/client.py", "kube/apply_set.py", "kube/ansible_module.py"}
    assert not local(path) & (RUNTIMES | io), (
        f"{path} is pure but imports {sorted(local(path) & (RUNTIMES | io))}"
    )


@pytest.mark.parametrize("path", sorted(RUNTIMES))
def test_runtimes_do_not_import_each_other(path):
    # app/report.py is the one reader the app capability lends to the others.
    others = RUNTIMES - {path, "app/report.py"}
    assert not local(path) & others, f"{path} imports {sorted(local(path) & others)}"


@pytest.mark.parametrize("path", SOURCES)
def test_only_kube_uses_the_client_library_and_ansible_module(path):
    modules = imported_modules(path)
    if not path.startswith("kube/"):
        assert not {m for m in modules if m == "kubernetes" or m.startswith("kubernetes.")}, path
    if path != "kube/ansible_module.py":
        assert "ansible.module_utils.basic" not in modules, path
