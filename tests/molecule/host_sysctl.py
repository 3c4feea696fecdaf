"""Save and restore the host's kernel parameters around the molecule scenarios.

A privileged container shares the global kernel parameters with the host (kernel.core_pattern,
fs.protected_*, ...): systemd-sysctl inside the test hosts and the core_pattern role change them.
`save FILE` records every writable parameter; `restore FILE` writes back the ones the test hosts
change (TOUCHED) and only reports other differences, since other programs on this machine (a kubelet
of another test, say) may change parameters while the scenarios run.
"""

from __future__ import annotations

import json
import os
import sys

ROOT = "/proc/sys"
# What systemd-sysctl applies from the sysctl.d files in the test image and the packages the scenarios
# install (99-protect-links.conf, 50-pid-max.conf, 50-coredump.conf), what the core_pattern role sets,
# and kubelet's kernel tunables.
TOUCHED = {
    "kernel/core_pattern",
    "kernel/core_pipe_limit",
    "kernel/core_uses_pid",
    "fs/suid_dumpable",
    "fs/protected_hardlinks",
    "fs/protected_symlinks",
    "fs/protected_regular",
    "fs/protected_fifos",
    "kernel/pid_max",
    # What kubelet sets at start (its kernel tunables), in the kubeadm_cluster scenario and the realnodes tier.
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
}
# Counters and per-call values that change by themselves; never compared.
VOLATILE = {"kernel/ns_last_pid", "kernel/random/uuid", "kernel/random/boot_id", "fs/binfmt_misc"}


def writable_parameters() -> dict[str, str]:
    values: dict[str, str] = {}
    for directory, dirs, files in os.walk(ROOT):
        rel_dir = os.path.relpath(directory, ROOT)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel_dir, d)) not in VOLATILE]
        for name in files:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, ROOT)
            if rel in VOLATILE or not os.stat(path).st_mode & 0o200:
                continue
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    values[rel] = handle.read()
            except OSError:
                continue  # write-only or refused to this reader
    return values


def restore(saved: dict[str, str], touched: set[str] = TOUCHED) -> int:
    current = writable_parameters()
    failures = 0
    for rel, value in sorted(saved.items()):
        if current.get(rel, value) == value:
            continue
        key = rel.replace("/", ".")
        if rel not in touched:
            print(
                f"host sysctl {key} changed during the tests ({value.strip()!r} -> {current[rel].strip()!r}), left alone"
            )
            continue
        try:
            with open(os.path.join(ROOT, rel), "w", encoding="utf-8") as handle:
                handle.write(value)
            print(f"host sysctl restored {key}: {current[rel].strip()!r} -> {value.strip()!r}")
        except OSError as exc:
            failures += 1
            print(f"host sysctl could not restore {key} to {value.strip()!r}: {exc}", file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    # `restore FILE PARAM...` writes back only those parameters (of TOUCHED): a caller that knows which ones
    # it changes leaves alone what concurrent test runs set meanwhile.
    if (
        len(sys.argv) < 3
        or sys.argv[1] not in ("save", "restore")
        or (sys.argv[1] == "save" and len(sys.argv) > 3)
    ):
        print("usage: host_sysctl.py save FILE | restore FILE [PARAM...]", file=sys.stderr)
        return 2
    action, state_file, only = sys.argv[1], sys.argv[2], {p.replace(".", "/") for p in sys.argv[3:]}
    if action == "save":
        with open(state_file, "w", encoding="utf-8") as handle:
            json.dump(writable_parameters(), handle)
        return 0
    with open(state_file, encoding="utf-8") as handle:
        return restore(json.load(handle), TOUCHED & only if only else TOUCHED)


if __name__ == "__main__":
    sys.exit(main())
