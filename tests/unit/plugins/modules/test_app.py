"""The app module without a cluster: documentation matches the argument_spec, state=rendered, bad input."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_run import REPO, run_module
from support.app_cases import load_case

from ansible_collections.redundant.kube.plugins.module_utils.app.argspec import APP_ARGUMENT_SPEC
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import connection_argument_spec

MODULE = REPO / "plugins" / "modules" / "app.py"


def module_doc(name: str) -> dict:
    tree = ast.parse(MODULE.read_text())
    text = next(n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == name)
    return yaml.safe_load(text)


def compare(spec: dict, doc: dict, where: str) -> list[str]:
    """Differences between argument_spec options and their documentation, recursively."""
    problems = []
    if set(spec) != set(doc):
        problems.append(
            f"{where}: spec has {sorted(set(spec) - set(doc))}, doc has {sorted(set(doc) - set(spec))}"
        )
    for name in set(spec) & set(doc):
        s, d = spec[name], doc[name]
        for field in ("type", "elements", "choices", "default", "required"):
            want = s.get(field, False if field == "required" else None)
            have = d.get(field, False if field == "required" else None)
            if field == "type" and want is None:
                want = "str"
            if want != have:
                problems.append(f"{where}.{name}.{field}: spec {want!r}, doc {have!r}")
        if "options" in s or "suboptions" in d:
            problems += compare(s.get("options") or {}, d.get("suboptions") or {}, f"{where}.{name}")
    return problems


def test_documentation_matches_argument_spec():
    options = module_doc("DOCUMENTATION")["options"]
    connection = set(connection_argument_spec())
    assert compare(APP_ARGUMENT_SPEC, {k: v for k, v in options.items() if k not in connection}, "app") == []


@pytest.mark.parametrize(
    ("module", "phrase"), [("app", "server-side apply"), ("app_info", "whether the redundancy holds")]
)
def test_ansible_doc_renders_without_warnings(module, phrase):
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), f"redundant.kube.{module}"],
        capture_output=True,
        text=True,
        env={"ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    assert phrase in " ".join(proc.stdout.split())


def test_examples_and_return_are_yaml():
    assert len(module_doc("EXAMPLES")) == 5
    assert "objects" in module_doc("RETURN")


def test_rendered_writes_files_idempotently_and_prunes(tmp_path):
    dest = tmp_path / "out"
    args = {**load_case("d2000_pair"), "state": "rendered", "dest": str(dest)}
    first = run_module("app", args)
    assert not first.failed, first.result
    assert first.result["changed"] is True
    files = sorted(p.name for p in dest.iterdir())
    assert files == first.result["files"]
    assert files[0] == "000-namespace-scada.yaml"
    assert yaml.safe_load((dest / files[0]).read_text()) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "scada"},
    }
    second = run_module("app", args)
    assert second.result["changed"] is False and second.result["written"] == []
    (dest / "notes.txt").write_text("kept: not a rendered file")
    fewer = {**args, "companions": args["companions"][:1]}
    third = run_module("app", fewer)
    assert third.result["changed"] is True
    assert any("deployment-d2000-evh-a" in name for name in third.result["removed"])
    assert (dest / "notes.txt").exists()
    assert sorted(p.name for p in dest.iterdir() if p.name != "notes.txt") == third.result["files"]


def test_rendered_check_mode_writes_nothing(tmp_path):
    dest = tmp_path / "out"
    run = run_module("app", {**load_case("iris_single"), "state": "rendered", "dest": str(dest)}, check=True)
    assert run.result["changed"] is True
    assert not dest.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"topology": "triple"}, "value of topology must be one of: pair, single, cluster"),
        ({"server": {"image": "foo"}}, "server.image 'foo' has no tag: write foo:<tag>"),
        (
            {"replicas": 0, "topology": "cluster", "companions": [], "per_side": [], "services": []},
            "replicas must be at least 1, got 0",
        ),
        ({"wait_timeout": -5}, "wait_timeout must be more than 0 seconds, got -5"),
        ({"state": "absent", "wait_timeout": 0}, "wait_timeout must be more than 0 seconds, got 0"),
        ({"server": {"image": "x/y:bad tag!"}}, "server.image 'x/y:bad tag!': tag 'bad tag!' is not a tag"),
        (
            {"config_files": [{"path": "/config/", "content": "x"}]},
            "config_files[0].path '/config/' ends in '/'",
        ),
    ],
    ids=["topology", "image-tag", "replicas", "wait-timeout", "wait-timeout-absent", "image-grammar", "path"],
)
def test_bad_input_fails_with_one_line_before_any_cluster(tmp_path, change, message):
    # No kubeconfig anywhere: a failure here proves validation happens before any connection.
    args = {**load_case("d2000_pair"), **change, "kubeconfig": str(tmp_path / "missing")}
    run = run_module("app", args, env={"HOME": str(tmp_path), "KUBECONFIG": ""})
    assert run.failed
    assert message in run.result["msg"]
    assert "\n" not in run.result["msg"]
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("drill", {"name": "d2000", "step": "delete_pod", "wait_timeout": 0}),
        (
            "license",
            {
                "name": "lic",
                "key": "dolphindb.lic",
                "content": "LICENSE-1",
                "wait_timeout": -1,
                "restart": "none",
            },
        ),
        ("app_info", {"name": "Bad_Name"}),
    ],
)
def test_other_modules_refuse_bad_input_before_any_cluster(tmp_path, module, args):
    run = run_module(
        module,
        {**args, "kubeconfig": str(tmp_path / "missing")},
        env={"HOME": str(tmp_path), "KUBECONFIG": ""},
    )
    assert run.failed
    option = "name" if module == "app_info" else "wait_timeout"
    assert run.result["msg"].startswith(f"{option} ") and "\n" not in run.result["msg"], run.result
    assert "Traceback" not in run.stdout + run.stderr
