"""Run one module of the collection through real `ansible` (adhoc, JSON callback) and return its result.

Shared by unit and integration tests so that module behaviour (argument_spec, check mode, diff, no_log,
failure messages) is tested exactly as a playbook would see it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def ansible_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for `ansible`/`ansible-playbook` runs in tests: this checkout's collections, the
    JSON callback (so results are parsed, not scraped), this interpreter, no warnings or colours."""
    environ = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_HOST_KEY_CHECKING="0",
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    environ.update(extra or {})
    return environ


@dataclass
class ModuleRun:
    rc: int
    result: dict[str, Any]
    stdout: str
    stderr: str

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed")) or self.rc != 0


def run_module(
    module: str,
    args: dict[str, Any],
    check: bool = False,
    diff: bool = False,
    env: dict[str, str] | None = None,
    verbosity: int = 0,
) -> ModuleRun:
    """`ansible localhost -m redundant.kube.<module> -a <json>`; result is the module's returned dict."""
    environ = ansible_environment(env)
    name = module if "." in module else f"redundant.kube.{module}"
    cmd = [str(BIN / "ansible"), "localhost", "-m", name]
    if args:  # an empty JSON object would be taken as raw parameters
        cmd += ["-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=environ, cwd=REPO, check=False)
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        result = {
            "failed": True,
            "msg": f"unparsable ansible output: {proc.stdout[-2000:]} {proc.stderr[-2000:]}",
        }
    return ModuleRun(proc.returncode, result, proc.stdout, proc.stderr)
