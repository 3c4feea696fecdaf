"""Keep the host's kernel parameters as the tests found them.

`save FILE` records every writable parameter under /proc/sys.

`restore FILE [PARAM...]` (the molecule runner after its last scenario; the realnodes cluster's `stop`,
naming the parameters its nodes change) writes back the parameters that the test
hosts are known to change (KERNEL_DEFAULTS, FORWARDING) and reports any other difference without touching it;
without PARAM it also removes podman's default bridge (PODMAN_BRIDGES) if it appeared since the save. Privileged
containers share the global parameters with the host: systemd-sysctl in the test hosts, the
core_pattern role, the kubelet of the kubeadm scenario; and podman's bridge networks turn on
forwarding in the host's own network namespace.

`check FILE` (scripts/run-tests.sh, after the last tier) compares every parameter with the saved value
and fails naming each one that changed. Parameters of network interfaces that came or went during the
run are not compared (their keys name the interface); interfaces present at both ends are.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys

ROOT = "/proc/sys"
# What the molecule tier changes on the host, as path patterns under /proc/sys:
# - systemd-sysctl in the test hosts applies the sysctl.d files of the image and of the packages the
#   scenarios install (99-protect-links.conf, 50-pid-max.conf, 50-coredump.conf);
# - systemd, as PID 1 of each test host, raises fs.file-max and fs.nr_open to their maximum;
# - the core_pattern role sets kernel.core_pattern;
# - the kubelet of kubeadm_cluster sets what it calls kernel defaults at every start (vm.overcommit_memory,
#   vm.panic_on_oom, kernel.panic, kernel.panic_on_oops, kernel.keys.root_max*);
# - the CNI bridge plugin behind podman's networks turns on IPv4 forwarding in the host's namespace,
#   which sets every interface's forwarding flag with it and turns off accept_redirects of "all".
KERNEL_DEFAULTS = (
    "kernel/core_pattern",
    "kernel/core_pipe_limit",
    "kernel/core_uses_pid",
    "fs/suid_dumpable",
    "fs/protected_hardlinks",
    "fs/protected_symlinks",
    "fs/protected_regular",
    "fs/protected_fifos",
    "kernel/pid_max",
    "fs/file-max",
    "fs/nr_open",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
# Forwarding is what podman's bridge networks need while any container runs on them: put back only when none does.
FORWARDING = (
    "net/ipv4/ip_forward",
    "net/ipv4/conf/*/forwarding",
    "net/ipv6/conf/*/forwarding",
    "net/ipv4/conf/all/accept_redirects",
)
# Counters and per-read values that change by themselves; never compared.
VOLATILE = {"kernel/ns_last_pid", "kernel/random/uuid", "kernel/random/boot_id", "fs/binfmt_misc"}
# Directories with one subdirectory per network interface.
PER_INTERFACE = ("net/ipv4/conf/", "net/ipv6/conf/", "net/ipv4/neigh/", "net/ipv6/neigh/")
# podman's default network is the CNI bridge cni-podman0: made when a container first joins it (the molecule
# scenarios without a network of their own) and kept by podman until the machine reboots.
PODMAN_BRIDGES = ("cni-podman*",)


def writable_parameters(root: str = ROOT) -> dict[str, str]:
    values: dict[str, str] = {}
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel_dir, d)) not in VOLATILE]
        for name in files:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            if rel in VOLATILE or not os.stat(path).st_mode & 0o200:
                continue
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    values[rel] = handle.read()
            except OSError:
                continue  # write-only or refused to this reader
    return values


def sysctl_name(rel: str) -> str:
    return rel.replace("/", ".")


def matches(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(rel, pattern) for pattern in patterns)


def is_restored(rel: str) -> bool:
    return matches(rel, KERNEL_DEFAULTS + FORWARDING)


def restore_order(rel: str) -> tuple[int, str]:
    # Writing ip_forward sets every interface's forwarding flag: write it first, the flags after it.
    return (0 if rel == "net/ipv4/ip_forward" else 1, rel)


def changed_parameters(saved: dict[str, str], current: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Parameters present at both ends whose value differs: {rel: (saved, current)}."""
    return {
        rel: (value, current[rel]) for rel, value in saved.items() if rel in current and current[rel] != value
    }


def interfaces(values: dict[str, str]) -> set[str]:
    found = set()
    for rel in values:
        for prefix in PER_INTERFACE:
            if rel.startswith(prefix):
                found.add(rel[len(prefix) :].split("/", 1)[0])
    return found - {"all", "default"}


def bridges_made(saved: dict[str, str], current: dict[str, str]) -> list[str]:
    """podman's bridges that appeared since the save."""
    return sorted(
        name
        for name in interfaces(current) - interfaces(saved)
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in PODMAN_BRIDGES)
    )


def delete_link(name: str) -> bool:
    deleted = subprocess.run(["ip", "link", "delete", name], capture_output=True, text=True, check=False)
    if deleted.returncode != 0:
        print(
            f"host network interface {name} could not be removed: {deleted.stderr.strip()}", file=sys.stderr
        )
    return deleted.returncode == 0


def remove_bridges(names: list[str], containers: list[str], delete=delete_link) -> int:
    """Remove the bridges the tests made, unless a container still runs (it may be on one of them)."""
    if containers:
        print(
            f"host network interfaces {', '.join(names)} left: containers still run ({', '.join(containers)})"
        )
        return 0
    failures = 0
    for name in names:
        if delete(name):
            print(f"host network interface {name} removed (podman makes it again when a container needs it)")
        else:
            failures += 1
    return failures


def running_containers() -> list[str]:
    """Names of the podman containers running on this machine (none when podman is not installed)."""
    if not shutil.which("podman"):
        return []
    listed = subprocess.run(
        ["podman", "ps", "--format", "{{.Names}}"], capture_output=True, text=True, check=False
    )
    return listed.stdout.split()


def restore(
    saved: dict[str, str],
    root: str = ROOT,
    containers: list[str] | None = None,
    only: tuple[str, ...] | None = None,
    delete=delete_link,
) -> int:
    """Write back what the tests are known to change, and remove podman's default bridge if the tests made it;
    `only` (paths under /proc/sys, or patterns of them such as net/ipv4/conf/*/forwarding) narrows that to the
    parameters a caller knows it changed, leaving alone what concurrent test runs set meanwhile."""
    current = writable_parameters(root)
    changed = changed_parameters(saved, current)
    if only is not None:
        changed = {rel: values for rel, values in changed.items() if matches(rel, only)}
    made = bridges_made(saved, current) if only is None else []
    if containers is None and (made or any(matches(rel, FORWARDING) for rel in changed)):
        containers = running_containers()
    failures = 0
    for rel in sorted(changed, key=restore_order):
        value, now = changed[rel]
        key = sysctl_name(rel)
        if not is_restored(rel):
            print(
                f"host sysctl {key} changed during the tests ({value.strip()!r} -> {now.strip()!r}), left alone"
            )
            continue
        if containers and matches(rel, FORWARDING):
            # Another job's containers still use a bridge network: turning forwarding off would cut them off.
            print(
                f"host sysctl {key} left at {now.strip()!r}: containers still run ({', '.join(containers)})"
            )
            continue
        try:
            with open(os.path.join(root, rel), "w", encoding="utf-8") as handle:
                handle.write(value)
            print(f"host sysctl restored {key}: {now.strip()!r} -> {value.strip()!r}")
        except OSError as exc:
            failures += 1
            print(f"host sysctl could not restore {key} to {value.strip()!r}: {exc}", file=sys.stderr)
    if made:
        failures += remove_bridges(made, containers or [], delete)
    return 1 if failures else 0


def check(saved: dict[str, str], root: str = ROOT) -> int:
    current = writable_parameters(root)
    changed = changed_parameters(saved, current)
    for rel, (value, now) in sorted(changed.items()):
        print(f"host sysctl {sysctl_name(rel)} changed by the tests: {value.strip()!r} -> {now.strip()!r}")
    left = sorted(interfaces(current) - interfaces(saved))
    if left:
        print(f"network interfaces the tests left on the host (not compared): {', '.join(left)}")
    if changed:
        print(
            f"FAILED: {len(changed)} host kernel parameters differ from the start of the run", file=sys.stderr
        )
        return 1
    print(f"host sysctl: all {len(saved)} writable kernel parameters as at the start of the run")
    return 0


def main() -> int:
    if (
        len(sys.argv) < 3
        or sys.argv[1] not in ("save", "restore", "check")
        or (sys.argv[1] != "restore" and len(sys.argv) > 3)
    ):
        print("usage: host_sysctl.py save|check FILE | restore FILE [PARAM or PATTERN...]", file=sys.stderr)
        return 2
    action, state_file = sys.argv[1:3]
    only = tuple(p.replace(".", "/") for p in sys.argv[3:]) or None
    if action == "save":
        with open(state_file, "w", encoding="utf-8") as handle:
            json.dump(writable_parameters(), handle)
        return 0
    with open(state_file, encoding="utf-8") as handle:
        saved = json.load(handle)
    return restore(saved, only=only) if action == "restore" else check(saved)


if __name__ == "__main__":
    sys.exit(main())
