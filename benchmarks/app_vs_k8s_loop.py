#!/usr/bin/env python
"""Benchmark: one redundant.kube.app task versus a loop of kubernetes.core.k8s tasks applying the same objects.

Both sides apply the D2000-like pair of tests/unit/plugins/module_utils/app/cases/d2000_pair.yml (the same manifests, as
the app module renders them, with server-side apply) to the local control plane, without waiting for
rollout. Two figures per side, as whole `ansible-playbook` processes:
  first run      every object created, in a fresh namespace per run
  no-change run  the same playbook again on the namespace of the last first run (changed=false)
Runs alternate app / loop so that drift of the machine's speed hits both alike; medians are printed.

    .venv/bin/python benchmarks/app_vs_k8s_loop.py [--runs 5] [--keep-cluster]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / ".collections"), str(REPO / "tests"), str(REPO / "tests" / "cluster")]

from ansible_run import ansible_environment  # noqa: E402
from local_cluster import LocalCluster, binaries  # noqa: E402

from ansible_collections.redundant.kube.plugins.module_utils.app.render import render_app  # noqa: E402
from ansible_collections.redundant.kube.plugins.module_utils.app.runtime import external_digests  # noqa: E402
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import (  # noqa: E402
    spec_from_user_params,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import (  # noqa: E402
    ConnectionSettings,
    api_client_from_settings,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources  # noqa: E402

CASE = REPO / "tests" / "unit" / "plugins" / "module_utils" / "app" / "cases" / "d2000_pair.yml"


def prerequisites(resources: Resources, namespace: str) -> None:
    """Namespace, license ConfigMap and DB Secret: made by other modules before the app in real life."""
    resources.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    resources.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "d2000-license", "namespace": namespace},
            "data": {"LicenceRun.code": "LICENCE"},
        }
    )
    resources.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "d2000-db", "namespace": namespace},
            "data": {"PGPASSWORD": "c2VjcmV0"},
        }
    )


def app_params(namespace: str) -> dict:
    params = yaml.safe_load(CASE.read_text())
    params.update(namespace=namespace, wait=False)
    return params


def playbooks(workdir: Path, kubeconfig: str, namespace: str, resources: Resources) -> tuple[Path, Path]:
    """(app playbook, k8s-loop playbook) for one namespace; the loop applies exactly what the app renders."""
    params = app_params(namespace)
    spec = spec_from_user_params(params)
    digests, _missing = external_digests(resources, spec)  # nothing is missing outside check mode
    manifests = render_app(spec, digests)
    app = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "D2000-like pair in one task",
                    "redundant.kube.app": {**params, "kubeconfig": kubeconfig},
                }
            ],
        }
    ]
    loop = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "the same objects, one kubernetes.core.k8s task per object",
                    "kubernetes.core.k8s": {
                        "kubeconfig": kubeconfig,
                        "definition": "{{ item }}",
                        "apply": True,
                        "server_side_apply": {"field_manager": "redundant.kube", "force_conflicts": True},
                    },
                    "loop": manifests,
                    "loop_control": {"label": "{{ item.kind }}/{{ item.metadata.name }}"},
                }
            ],
        }
    ]
    paths = workdir / f"app-{namespace}.yml", workdir / f"loop-{namespace}.yml"
    for path, play in zip(paths, (app, loop), strict=True):
        path.write_text(yaml.safe_dump(play, sort_keys=False))
    return paths


def run_playbook(path: Path) -> tuple[float, bool]:
    """Wall-clock seconds of one ansible-playbook process and whether anything changed."""
    env = ansible_environment()
    start = time.perf_counter()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{path.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    stats = json.loads(proc.stdout)["stats"]["localhost"]
    return seconds, stats["changed"] > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep-cluster", action="store_true")
    args = parser.parse_args()

    cluster = LocalCluster(f"rk-bench-{os.getpid()}", binaries()).start(3)
    resources = Resources(api_client_from_settings(ConnectionSettings(kubeconfig=cluster.kubeconfig)))
    times: dict[str, list[float]] = {
        "app first": [],
        "loop first": [],
        "app no-change": [],
        "loop no-change": [],
    }
    objects = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            warm = None
            for i in range(args.runs + 1):  # run 0 is a warm-up, not counted
                pair = []
                for side in ("app", "loop"):
                    namespace = f"bench-{side}-{i}"
                    prerequisites(resources, namespace)
                    pair.append(playbooks(workdir, cluster.kubeconfig, namespace, resources))
                app_first, _unused = run_playbook(pair[0][0])
                loop_first, _unused = run_playbook(pair[1][1])
                if i:
                    times["app first"].append(app_first)
                    times["loop first"].append(loop_first)
                warm = pair
            objects = len(yaml.safe_load(warm[1][1].read_text())[0]["tasks"][0]["loop"])
            for _iteration in range(args.runs):
                app_again, app_changed = run_playbook(warm[0][0])
                loop_again, loop_changed = run_playbook(warm[1][1])
                if app_changed:
                    raise SystemExit("the app's no-change run reported changed: idempotence is broken")
                times["app no-change"].append(app_again)
                times["loop no-change"].append(loop_again)
                # The loop reports changed on SSA re-applies of unchanged objects; its timing counts all the same.
                del loop_changed
    finally:
        if not args.keep_cluster:
            cluster.stop()

    print(
        f"D2000-like pair: {objects} objects; {args.runs} counted runs each after one warm-up; "
        f"whole ansible-playbook processes, wall seconds"
    )
    print(f"{'run':<16}{'median':>8}{'min':>8}{'max':>8}")
    for name, values in times.items():
        print(f"{name:<16}{statistics.median(values):>8.2f}{min(values):>8.2f}{max(values):>8.2f}")
    for what in ("first", "no-change"):
        ratio = statistics.median(times[f"loop {what}"]) / statistics.median(times[f"app {what}"])
        print(f"loop/app {what:<10}{ratio:>6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
