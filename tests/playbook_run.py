"""Run a playbook of the collection through real `ansible-playbook` with the JSON callback, for tests that
need more than one module (roles, plays against several hosts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ansible_run import ansible_environment

REPO = Path(__file__).resolve().parents[1]


def run_playbook(
    playbook: Path, inventory: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """Exit code and the JSON callback's document (plays, tasks, per-host results, stats)."""
    environ = ansible_environment(env)
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory, str(playbook)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO,
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError as err:
        raise AssertionError(
            f"ansible-playbook printed no JSON: {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
        ) from err


def failed_messages(output: dict[str, Any]) -> dict[str, str]:
    """Per host, the message of its failed task (or of the first failed item of a failed loop)."""
    found = {}
    for task in (t for p in output["plays"] for t in p["tasks"]):
        for host, result in task["hosts"].items():
            if result.get("failed"):
                items = [r.get("msg", "") for r in result.get("results", []) if r.get("failed")]
                found[host] = items[0] if items else result.get("msg", "")
    return found
