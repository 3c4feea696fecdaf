"""`make demo DEMO_KUBECONFIG=...` (scripts/demo.sh) against a cluster the user already has: it builds
nothing (no Go on PATH, an empty build cache) and a clean run of site.yml prints no warning."""

from __future__ import annotations

import os
import subprocess

from ansible_run import REPO


def test_demo_on_a_given_cluster_builds_nothing_and_warns_nothing(make_cluster, tmp_path):
    cluster = make_cluster(nodes=3)
    go_dirs = {
        os.path.dirname(p)
        for p in (
            subprocess.run(["which", "-a", "go"], capture_output=True, text=True, check=False).stdout.split()
        )
    }
    path = ":".join(d for d in os.environ["PATH"].split(":") if d not in go_dirs)
    environ = dict(
        os.environ, DEMO_KUBECONFIG=cluster.kubeconfig, PATH=path, RK_CACHE=str(tmp_path / "empty-cache")
    )
    proc = subprocess.run(
        [str(REPO / "scripts/demo.sh")],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO,
        timeout=900,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "[WARNING]" not in output, [line for line in output.splitlines() if "WARNING" in line]
    assert not (tmp_path / "empty-cache").exists(), "the demo built or cached something"
    pods = [line for line in output.splitlines() if line.startswith("scada ")]
    assert pods and all(" node-" in line for line in pods), output[-2000:]
