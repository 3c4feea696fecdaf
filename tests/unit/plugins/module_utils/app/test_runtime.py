"""app/runtime.py's state=rendered: one file per object, rewritten only when its bytes change, stale
files removed, nothing written in check mode. No cluster involved."""

from __future__ import annotations

from pathlib import Path

from support.app_cases import load_case

from ansible_collections.redundant.kube.plugins.module_utils.app.runtime import write_rendered
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import spec_from_user_params


def test_rendered_files_are_written_once_and_stale_ones_removed(tmp_path: Path):
    spec = spec_from_user_params(load_case("iris_single"))
    dest = tmp_path / "manifests"
    first = write_rendered(spec, str(dest), check_mode=False)
    assert first["changed"] and first["written"] == first["files"]
    assert sorted(p.name for p in dest.iterdir()) == first["files"]
    (dest / "999-configmap-gone.yaml").write_text("stale\n")
    (dest / "notes.txt").write_text("the user's own file\n")
    second = write_rendered(spec, str(dest), check_mode=False)
    assert second["changed"] and second["written"] == [] and second["removed"] == ["999-configmap-gone.yaml"]
    assert (dest / "notes.txt").exists()  # only files named like rendered objects are ever removed
    assert not write_rendered(spec, str(dest), check_mode=False)["changed"]


def test_check_mode_writes_nothing(tmp_path: Path):
    spec = spec_from_user_params(load_case("iris_single"))
    result = write_rendered(spec, str(tmp_path / "manifests"), check_mode=True)
    assert result["changed"] and result["written"]
    assert not (tmp_path / "manifests").exists()
