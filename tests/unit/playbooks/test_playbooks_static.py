"""The playbooks spell out every module option they pass on, and the inventory_check role lists every option an
inventory may give: both must follow the modules' argument specs, or a new option would be silently dropped."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.redundant.kube.plugins.module_utils.app.argspec import APP_ARGUMENT_SPEC
from ansible_collections.redundant.kube.plugins.module_utils.drill.steps import STEPS
from ansible_collections.redundant.kube.plugins.modules.drill import ARGUMENT_SPEC as DRILL_ARGUMENT_SPEC
from ansible_collections.redundant.kube.plugins.modules.keystore import (
    ARGUMENT_SPEC as KEYSTORE_ARGUMENT_SPEC,
)

REPO = Path(__file__).resolve().parents[3]
PLAYBOOKS = REPO / "playbooks"
CHECKS = yaml.safe_load((REPO / "roles/inventory_check/meta/argument_specs.yml").read_text())[
    "argument_specs"
]


def task_options(path: Path, module: str) -> set[str]:
    """Options passed to `module` by the tasks of a playbook or task file (plays' tasks included)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if isinstance(node.get(module), dict):
                found.update(node[module])
            for value in node.values():
                walk(value)

    walk(yaml.safe_load(path.read_text()))
    return found


def test_the_app_task_passes_every_option_of_the_app_module():
    passed = task_options(PLAYBOOKS / "tasks/apps.yml", "redundant.kube.app")
    assert passed == set(APP_ARGUMENT_SPEC) - {"delete_volumes"}


def test_inventory_check_knows_every_app_option_an_inventory_may_give():
    listed = set(CHECKS["app"]["options"]["rk_apps"]["options"])
    assert listed == set(APP_ARGUMENT_SPEC) - {"state", "dest", "delete_volumes"}


def test_the_keystore_play_and_its_check_follow_the_keystore_module():
    passed = task_options(PLAYBOOKS / "keystore.yml", "redundant.kube.keystore")
    assert passed == set(KEYSTORE_ARGUMENT_SPEC)
    assert set(CHECKS["keystore"]["options"]["rk_keystores"]["options"]) == set(KEYSTORE_ARGUMENT_SPEC)


def test_the_drill_step_passes_every_drill_option_and_knows_every_step():
    assert task_options(PLAYBOOKS / "tasks/drill_step.yml", "redundant.kube.drill") == set(
        DRILL_ARGUMENT_SPEC
    )
    assert CHECKS["drill"]["options"]["rk_drill_steps"]["choices"] == list(STEPS)


def test_vendored_volume_snapshot_crds_are_the_ones_the_readme_names():
    crds = PLAYBOOKS / "files/volume-snapshot-crds"
    table = dict(re.findall(r"^\| (\S+\.yaml) \| ([0-9a-f]{64}) \|$", (crds / "README.md").read_text(), re.M))
    actual = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in crds.glob("*.yaml")}
    assert table == actual and len(actual) == 3
    kinds = sorted(yaml.safe_load(p.read_text())["spec"]["names"]["kind"] for p in crds.glob("*.yaml"))
    assert kinds == ["VolumeSnapshot", "VolumeSnapshotClass", "VolumeSnapshotContent"]


@pytest.mark.parametrize(
    "path",
    sorted(p.relative_to(REPO) for p in [*PLAYBOOKS.rglob("*.yml"), *(REPO / "inventories").rglob("*.yml")]),
    ids=str,
)
def test_playbooks_and_inventories_are_single_yaml_documents(path):
    assert len(list(yaml.safe_load_all((REPO / path).read_text()))) == 1
