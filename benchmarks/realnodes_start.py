#!/usr/bin/env python
"""Time the realnodes cluster's start, twice in a row, and show that the second start rebuilds no image.

    benchmarks/realnodes_start.py [--rounds 2] [--name rk-realnodes-bench]

Each round runs `tests/realnodes/realnodes.py start` on a cluster that is not running, then `stop`.
Prints one line per round: the start's wall-clock time and every build step it logged (a Go build, the
debootstrap of the userland, writing the image archive). A round after the first that builds anything is
reported as such and makes the exit status 1: the images are content-addressed by pinned version, so an
unchanged checkout must reuse all of them. The time itself is a figure, never a pass/fail criterion.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

CLI = Path(__file__).resolve().parents[1] / "tests" / "realnodes" / "realnodes.py"
# Log lines of tests/realnodes/images.py and node-artifacts.sh that mean something was built.
BUILD_MARKERS = (
    "building ",
    "debootstrap ",
    "writing images-",
    "packing ",
    "image registry.k8s.io/",
    "(apt-get, once)",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--name", default="rk-realnodes-bench")
    args = parser.parse_args()
    rebuilt_later = False
    for round_number in range(1, args.rounds + 1):
        began = time.monotonic()
        start = subprocess.run(
            [sys.executable, str(CLI), "--name", args.name, "start"],
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.monotonic() - began
        subprocess.run(
            [sys.executable, str(CLI), "--name", args.name, "stop"], capture_output=True, check=False
        )
        if start.returncode != 0:
            print(f"round {round_number}: start failed after {took:.0f} s:\n{start.stderr[-3000:]}")
            return 1
        built = [
            line for line in start.stderr.splitlines() if any(marker in line for marker in BUILD_MARKERS)
        ]
        print(
            f"round {round_number}: start {took:.0f} s; built: {'; '.join(built) if built else 'nothing (every image reused)'}"
        )
        rebuilt_later |= round_number > 1 and bool(built)
    return 1 if rebuilt_later else 0


if __name__ == "__main__":
    sys.exit(main())
