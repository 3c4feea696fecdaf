"""The changelog and reference docs build as docs/releasing.md says, without warnings.

No cluster needed; these run tools (antsibull-changelog, ansible-doc) the way a release does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool_env(collections: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        ANSIBLE_COLLECTIONS_PATH=f"{collections}{os.pathsep}{REPO / '.collections'}",
    )


def test_changelog_fragments_lint_clean():
    proc = subprocess.run(
        [str(BIN / "antsibull-changelog"), "lint"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_a_release_writes_the_changelog_from_the_fragments(tmp_path):
    """`antsibull-changelog release` in a copy of the collection (it consumes the fragments)."""
    root = tmp_path / "ansible_collections" / "redundant" / "kube"
    root.mkdir(parents=True)
    for name in ("galaxy.yml", "changelogs", "plugins", "roles", "meta"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    version = next(
        line.split(":", 1)[1].strip()
        for line in (REPO / "galaxy.yml").read_text().splitlines()
        if line.startswith("version:")
    )
    proc = subprocess.run(
        [str(BIN / "antsibull-changelog"), "release", "--version", version, "--date", "2026-11-22"],
        cwd=root,
        capture_output=True,
        text=True,
        env=tool_env(tmp_path),
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    changelog = (root / "CHANGELOG.md").read_text()
    assert f"v{version}".replace(".", "\\.") in changelog
    assert "redundant\\.kube\\.drill" in changelog  # new modules are listed from their version_added
    assert list((root / "changelogs" / "fragments").iterdir()) == []


def test_reference_docs_are_up_to_date_and_build_without_warnings():
    proc = subprocess.run(
        [sys.executable, str(REPO / "docs" / "build_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_relative_link_in_the_docs_resolves():
    """The hand-written pages link each other, the reference and the repository's files."""
    broken = []
    for page in [REPO / "README.md", *(REPO / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert broken == []
