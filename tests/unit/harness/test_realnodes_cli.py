"""The realnodes entry point's answers to bad input: one line naming the problem, exit 1, no traceback,
and nothing started (no podman container of that name appears)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "realnodes" / "realnodes.py"
NAME = "rk-realnodes-unit-absent"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["lose-node", "no-such-node"],
            f"realnodes: unknown node 'no-such-node': the nodes of {NAME} are {NAME}-1, {NAME}-2, {NAME}-3",
        ),
        (
            ["restore-node", f"{NAME}-2"],
            f"realnodes: the cluster {NAME} is not running (start it with: tests/realnodes/realnodes.py start)",
        ),
        (
            ["kubeconfig"],
            f"realnodes: the cluster {NAME} is not running (start it with: tests/realnodes/realnodes.py start)",
        ),
    ],
)
def test_bad_input_is_one_line_without_traceback(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, str(CLI), "--name", NAME, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [message]
    assert done.stdout == ""
