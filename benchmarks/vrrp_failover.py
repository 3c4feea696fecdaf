#!/usr/bin/env python
"""Measure how long a virtual IP takes to move, for real: inject a failure on the node that holds
it, probe the VIP continuously, and time until another node answers (and, optionally, until the first
node answers again after the failure is repaired: failback).

    vrrp_failover.py --url http://10.0.0.100:6443/livez --holder n1 --takeover n2 \\
        --inject 'ssh n1 systemctl stop keepalived' --restore 'ssh n1 systemctl start keepalived' \\
        [--failback] [--rounds 3] [--label "keepalived stopped"] [--json results.json]

A probe is an HTTP GET of --url whose body names the answering node ("ok <name>"), or any --probe
command that prints that name (exit status 0) when the service behind the VIP works. Prints one line
per round and a summary; writes the figures as JSON with --json. Exits 1 when the VIP did not move
within --timeout (a functional failure), never because of how long it took.

takeover_s runs from the start of --inject (probing continues while it runs) to the first answer from
--takeover; gap_s from the holder's last answer to that first answer (what clients see); failback_s
and failback_gap_s the same for the return after --restore.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request


def http_probe(url: str, timeout: float):
    def probe() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as answer:
                return answer.read().decode().split()[-1]
        except (OSError, ValueError, IndexError):
            return None

    return probe


def command_probe(command: str, timeout: float):
    def probe() -> str | None:
        try:
            out = subprocess.run(
                command, shell=True, capture_output=True, text=True, timeout=timeout + 5, check=False
            )
        except subprocess.TimeoutExpired:
            return None
        return out.stdout.split()[-1] if out.returncode == 0 and out.stdout.split() else None

    return probe


def wait_for(probe, name: str, deadline: float, interval: float) -> tuple[float | None, float | None]:
    """Probe until `name` answers; return (time of that answer, time of the last answer from anyone else)."""
    last_other = None
    while time.monotonic() < deadline:
        who = probe()
        now = time.monotonic()
        if who == name:
            return now, last_other
        if who is not None:
            last_other = now
        time.sleep(interval)
    return None, last_other


def run(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, capture_output=True, timeout=120)


def start(cmd: str) -> subprocess.Popen:
    """Start the failure without waiting for it: probing goes on while it takes effect."""
    return subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, cmd: str) -> None:
    _unused, err = process.communicate(timeout=120)
    if process.returncode != 0:
        raise SystemExit(f"{cmd!r} failed ({process.returncode}): {err.strip()}")


def one_round(args, probe) -> dict:
    ready, _unused = wait_for(probe, args.holder, time.monotonic() + args.timeout, args.interval)
    if ready is None:
        raise SystemExit(f"the VIP is not served by {args.holder} before the failure; nothing to measure")
    began = time.monotonic()
    failure = start(args.inject)
    moved, last_holder = wait_for(probe, args.takeover, began + args.timeout, args.interval)
    finish(failure, args.inject)
    result = {"takeover_s": None if moved is None else round(moved - began, 3)}
    if last_holder is not None and moved is not None:
        result["gap_s"] = round(
            moved - last_holder, 3
        )  # no answer from anyone during this time (clients' outage)
    run(args.restore)
    if args.failback and moved is not None:
        restored = time.monotonic()
        back, last_takeover = wait_for(probe, args.holder, restored + args.timeout, args.interval)
        result["failback_s"] = None if back is None else round(back - restored, 3)
        if back is not None and last_takeover is not None:
            result["failback_gap_s"] = round(back - last_takeover, 3)
    return result


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return f"min {min(values):.2f} s, median {statistics.median(values):.2f} s, max {max(values):.2f} s"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="HTTP URL on the VIP whose body ends with the answering node's name")
    target.add_argument("--probe", help="command printing the answering node's name (exit 0) through the VIP")
    parser.add_argument("--holder", required=True, help="node that holds the VIP before the failure")
    parser.add_argument("--takeover", required=True, help="node expected to take the VIP over")
    parser.add_argument("--inject", required=True, help="command that makes the holder fail")
    parser.add_argument("--restore", required=True, help="command that repairs it")
    parser.add_argument("--failback", action="store_true", help="also time the VIP's return to the holder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between probes")
    parser.add_argument("--probe-timeout", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=60, help="give up on a move after this many seconds")
    parser.add_argument("--label", default="failover")
    parser.add_argument("--json", help="append the figures to this JSON file (a list)")
    args = parser.parse_args(argv)
    probe = (
        http_probe(args.url, args.probe_timeout)
        if args.url
        else command_probe(args.probe, args.probe_timeout)
    )

    rounds = []
    for number in range(1, args.rounds + 1):
        result = one_round(args, probe)
        rounds.append(result)
        print(f"{args.label} round {number}: " + ", ".join(f"{k} {v}" for k, v in result.items()), flush=True)
    figures = {
        key: [r[key] for r in rounds if r.get(key) is not None]
        for key in ("takeover_s", "gap_s", "failback_s", "failback_gap_s")
    }
    for key, values in figures.items():
        if values:
            print(f"{args.label}: {key} {summary(values)}")
    if args.json:
        try:
            with open(args.json) as handle:
                recorded = json.load(handle)
        except (OSError, ValueError):
            recorded = []
        recorded.append({"label": args.label, "rounds": rounds})
        with open(args.json, "w") as handle:
            json.dump(recorded, handle, indent=2)
    failed = [n for n, r in enumerate(rounds, 1) if r["takeover_s"] is None]
    if failed:
        print(
            f"{args.label}: the VIP did not move to {args.takeover} within {args.timeout} s in round(s) {failed}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
