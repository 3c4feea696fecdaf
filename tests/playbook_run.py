"""Run playbooks through real `ansible-playbook` (JSON callback) and read their results.

Used by the tests of the collection's playbooks and example inventories (names under `playbooks/` and
`inventories/`) and by role tests that write a playbook and an inventory of their own (paths).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible_run import BIN, REPO, ansible_environment

INVENTORIES = REPO / "inventories"
# The local control plane's facts (kubeconfig, drill commands, helm), layered over another example inventory.
LOCAL_FACTS = INVENTORIES / "local" / "group_vars" / "all" / "local_cluster.yml"


@dataclass
class PlaybookRun:
    command: list[str]
    rc: int
    output: dict[str, Any]
    stdout: str
    stderr: str
    seconds: float

    @property
    def stats(self) -> dict[str, int]:
        return self.output.get("stats", {}).get("localhost", {})

    def results(self, task: str) -> list[dict[str, Any]]:
        """localhost's result of every task with this name, loop items expanded."""
        found = []
        for play in self.output.get("plays", []):
            for entry in play.get("tasks", []):
                if entry["task"]["name"] != task:
                    continue
                result = entry["hosts"].get("localhost")
                if result is None:
                    continue
                found += result.get("results", [result]) if "results" in result else [result]
        return found

    def failed_messages(self) -> dict[str, str]:
        """Per host, the message of its failed task (or of the first failed item of a failed loop)."""
        found = {}
        for play in self.output.get("plays", []):
            for entry in play.get("tasks", []):
                for host, result in entry["hosts"].items():
                    if result.get("failed"):
                        items = [r.get("msg", "") for r in result.get("results", []) if r.get("failed")]
                        found[host] = items[0] if items else result.get("msg", "")
        return found

    def failures(self) -> Iterator[str]:
        for play in self.output.get("plays", []):
            for entry in play.get("tasks", []):
                for host, result in entry["hosts"].items():
                    if not (result.get("failed") or result.get("unreachable")):
                        continue
                    items = [r for r in result.get("results", []) if r.get("failed")] or [result]
                    for item in items:
                        yield f"{host} {entry['task']['name']}: {item.get('msg')}"

    def explain(self) -> str:
        """What to show when an assertion on this run fails."""
        failures = "\n".join(self.failures()) or self.stdout[-3000:]
        return f"{' '.join(self.command)} -> rc {self.rc} in {self.seconds:.0f}s\n{failures}\n{self.stderr[-2000:]}"


def run_playbook(
    playbook: str | Path | list[str | Path],
    inventory: str,
    kubeconfig: str | None = None,
    extra_vars: dict[str, Any] | None = None,
    check: bool = False,
    diff: bool = False,
    limit: str | None = None,
    tags: str | None = None,
    skip_tags: str | None = None,
    local_facts: bool = True,
    env: dict[str, str] | None = None,
) -> PlaybookRun:
    """`ansible-playbook -i <inventory> <playbook>...` (several playbooks run one after the other in one
    process). A playbook given as a name is one of `playbooks/`, an inventory given as a name is one of
    `inventories/`; example inventories other than `local` get the local control plane's facts layered on
    top (as docs/getting-started.md shows)."""
    environ = ansible_environment(
        {
            "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
            "ANSIBLE_TIMEOUT": "5",
            "RK_KUBECONFIG": kubeconfig or "",
            **(env or {}),
        }
    )
    example = "/" not in inventory and (INVENTORIES / inventory).is_dir()
    playbooks = playbook if isinstance(playbook, list) else [playbook]
    cmd = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(INVENTORIES / inventory) if example else inventory,
        *(str(p) if isinstance(p, Path) else str(REPO / "playbooks" / p) for p in playbooks),
    ]
    if example and local_facts and inventory != "local":
        cmd += ["-e", f"@{LOCAL_FACTS}"]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    for flag, value in (("--limit", limit), ("--tags", tags), ("--skip-tags", skip_tags)):
        if value:
            cmd += [flag, value]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=environ, cwd=REPO, check=False)
    seconds = time.monotonic() - start
    return PlaybookRun(cmd, proc.returncode, json_reports(proc.stdout), proc.stdout, proc.stderr, seconds)


def json_reports(stdout: str) -> dict[str, Any]:
    """The json callback prints a document at the end of each playbook, each holding every play so far: the
    last one is the whole run."""
    decoder = json.JSONDecoder()
    report: dict[str, Any] = {}
    position = stdout.find("{")
    while position >= 0:
        try:
            report, end = decoder.raw_decode(stdout, position)
        except ValueError:  # a brace in a warning before the report
            position = stdout.find("{", position + 1)
            continue
        position = stdout.find("{", end)
    return report
