"""`make demo DEMO_KUBECONFIG=...` deploys into the user's cluster: it must not build the local control plane
(Go, about 6 minutes); without it, the demo needs that control plane. Read from make's dry run."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def planned(*variables: str) -> str:
    proc = subprocess.run(
        ["make", "--dry-run", "--always-make", "demo", *variables],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return proc.stdout


def test_demo_with_a_kubeconfig_builds_no_control_plane():
    assert "build-binaries.sh" not in planned("DEMO_KUBECONFIG=/home/user/.kube/config")


def test_demo_without_a_kubeconfig_builds_the_control_plane():
    assert "build-binaries.sh" in planned()
