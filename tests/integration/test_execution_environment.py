"""execution-environment.yml: `ansible-builder create` makes the build context of the AWX execution environment.

The image itself is not built: no container registry is reachable here to pull the base image from. What is
checked is everything up to that point - the definition is valid for ansible-builder 3, the collection
tarball and helm land in the context, and the collection's own dependency metadata
(meta/execution-environment.yml) yields the Python and system packages the image will install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*cmd: str, cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def builder() -> str:
    path = BIN / "ansible-builder"
    assert path.exists(), "ansible-builder is missing: pip install -r requirements-dev.txt"
    return str(path)


@pytest.fixture(scope="module")
def ee_dir(tmp_path_factory) -> Path:
    """execution-environment.yml with build/ee/ filled as its header comment says."""
    work = tmp_path_factory.mktemp("ee")
    shutil.copy(REPO / "execution-environment.yml", work)
    (work / "build" / "ee").mkdir(parents=True)
    run(
        str(BIN / "ansible-galaxy"),
        "collection",
        "build",
        "--output-path",
        str(work / "build" / "ee"),
        str(REPO),
        cwd=work,
    )
    helm_dir = run(str(REPO / "tests" / "cluster" / "build-binaries.sh"), cwd=REPO).strip().splitlines()[-1]
    shutil.copy(Path(helm_dir) / "helm", work / "build" / "ee" / "helm")
    return work


def test_ansible_builder_create_makes_the_build_context(builder, ee_dir):
    run(builder, "create", "-f", "execution-environment.yml", "-c", "context", cwd=ee_dir)
    context = ee_dir / "context"
    containerfile = (context / "Containerfile").read_text()
    assert 'ANSIBLE_INSTALL_REFS="ansible-core==2.19.14 ansible-runner==2.4.1"' in containerfile
    assert "COPY _build/bin/helm /usr/local/bin/helm" in containerfile
    tarballs = [p.name for p in (context / "_build" / "collections").iterdir()]
    assert len(tarballs) == 1 and tarballs[0].startswith("redundant-kube-")
    assert "/build/collections/redundant-kube.tar.gz" in (context / "_build" / "requirements.yml").read_text()
    helm = context / "_build" / "bin" / "helm"
    assert "v3." in run(str(helm), "version", "--short", cwd=ee_dir)


def test_the_collection_declares_its_python_and_system_dependencies(builder, ee_dir, tmp_path):
    """What the image's introspection step will find in the installed collection."""
    (tarball,) = (ee_dir / "build" / "ee").glob("redundant-kube-*.tar.gz")
    run(
        str(BIN / "ansible-galaxy"),
        "collection",
        "install",
        "--offline",
        "--no-deps",
        "--force",
        "-p",
        str(tmp_path),
        str(tarball),
        cwd=tmp_path,
    )
    found = run(builder, "introspect", "--sanitize", str(tmp_path), cwd=tmp_path)
    runtime = [line.strip() for line in (REPO / "requirements.txt").read_text().splitlines() if ">=" in line]
    assert runtime, "requirements.txt names no package with a lower bound"
    # PyYAML is in every execution environment already (ansible-core needs it): ansible-builder leaves it out.
    for requirement in (r for r in runtime if not r.lower().startswith("pyyaml")):
        assert requirement in found, found
    assert "openssh-clients [platform:rpm]" in found
