"""keystore/runtime.py without Ansible: a file target on a real file system, reconciled twice, and a
wrong password that names the file and leaves it untouched."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ansible_collections.redundant.kube.plugins.module_utils.keystore.runtime import (
    FileTarget,
    KeystoreFailed,
    reconcile_keystore,
)

PARAMS = {
    "type": "jceks",
    "state": "present",
    "store_password": "changeit",
    "entries": [
        {
            "alias": "default",
            "type": None,
            "algorithm": "AES",
            "size": 128,
            "key_password": "midpoint",
            "certificate": None,
            "certificate_path": None,
        }
    ],
    "force_regenerate": False,
    "backup": True,
}


def file_target(path: Path, check_mode: bool = False) -> FileTarget:
    def backup_local(name: str) -> str:
        shutil.copy(name, name + ".bak")
        return name + ".bak"

    return FileTarget(str(path), check_mode, os.replace, backup_local)


def test_file_is_created_private_then_left_alone(tmp_path: Path):
    path = tmp_path / "keystore.jceks"
    first = reconcile_keystore(PARAMS, file_target(path), diff=True)
    assert first["changed"] and first["keystore_path"] == str(path)
    assert first["diff"]["before"] == {} and list(first["diff"]["after"]["entries"]) == ["default"]
    assert path.stat().st_mode & 0o777 == 0o600
    written = path.read_bytes()
    again = reconcile_keystore(PARAMS, file_target(path), diff=False)
    assert not again["changed"] and path.read_bytes() == written


def test_check_mode_writes_nothing(tmp_path: Path):
    path = tmp_path / "keystore.jceks"
    assert reconcile_keystore(PARAMS, file_target(path, check_mode=True), diff=False)["changed"]
    assert not path.exists()


def test_wrong_store_password_names_the_file_and_changes_nothing(tmp_path: Path):
    path = tmp_path / "keystore.jceks"
    reconcile_keystore(PARAMS, file_target(path), diff=False)
    written = path.read_bytes()
    with pytest.raises(KeystoreFailed) as failed:
        reconcile_keystore({**PARAMS, "store_password": "wrong-password"}, file_target(path), diff=False)
    assert str(failed.value).startswith(f"keystore file {path}: ")
    assert str(failed.value).endswith("; nothing was changed")
    assert path.read_bytes() == written


def test_missing_directory_is_one_line(tmp_path: Path):
    path = tmp_path / "missing" / "keystore.jceks"
    with pytest.raises(KeystoreFailed, match=f"keystore file {path}: directory .* does not exist"):
        reconcile_keystore(PARAMS, file_target(path), diff=False)
