# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node preflight checks: what a node has, compared with what Kubernetes and storage need.

Pure functions decide; a few small readers collect the facts from a file system root (``/`` on a
node, a temporary tree in unit tests). The module ``redundant.kube.preflight`` runs the commands
(dpkg-query, rpm, systemctl) and hands their output here, so every verdict and every fix text is
unit-tested without a node.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

CHECK_KINDS = ("package", "service", "kernel_module", "filesystem", "dns", "core_pattern", "disk")

# Kernel build options behind the modules and file systems the node roles use, for the fix text.
KERNEL_CONFIG = {
    "br_netfilter": "CONFIG_BRIDGE_NETFILTER",
    "overlay": "CONFIG_OVERLAY_FS",
    "iscsi_tcp": "CONFIG_ISCSI_TCP",
    "dm_crypt": "CONFIG_DM_CRYPT",
    "nfs": "CONFIG_NFS_FS",
    "nfsv4": "CONFIG_NFS_V4",
    "sunrpc": "CONFIG_SUNRPC",
}

# Proof that a module is compiled into the kernel when neither /proc/modules nor modules.builtin can
# tell (a container sees the host kernel but not its /lib/modules; built-ins without parameters have
# no /sys/module entry). Paths are relative to the file system root.
BUILTIN_EVIDENCE = {
    "br_netfilter": ("proc/sys/net/bridge/bridge-nf-call-iptables",),
    "iscsi_tcp": ("sys/class/iscsi_transport/tcp",),
}
# Modules that register a file system, so /proc/filesystems proves them present.
MODULE_FILESYSTEM = {"overlay": "overlay", "nfs": "nfs", "nfsv4": "nfs4", "sunrpc": "rpc_pipefs"}
FILESYSTEM_MODULE = {fs: mod for mod, fs in MODULE_FILESYSTEM.items()}

_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclass(frozen=True)
class CheckResult:
    """One check: what was checked, whether it passed, what was seen, and how to fix a failure."""

    kind: str
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.kind} {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}; fix: {self.fix}"

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class KernelFacts:
    """What the running kernel offers, as seen from one file system root."""

    release: str
    loaded: frozenset[str]
    sys_module: frozenset[str]
    filesystems: frozenset[str]
    builtin: frozenset[str] | None  # None: modules.builtin is absent for this release
    loadable: frozenset[str] | None  # None: modules.dep is absent for this release
    evidence: frozenset[str] = field(default_factory=frozenset)  # modules proven built in by BUILTIN_EVIDENCE


def normalize_module(name: str) -> str:
    """Module name as the kernel reports it: no directory, no .ko suffix, dashes as underscores."""
    base = name.rsplit("/", 1)[-1]
    base = re.sub(r"\.ko(\.(xz|gz|zst))?$", "", base)
    return base.replace("-", "_")


def parse_module_list(text: str) -> frozenset[str]:
    """Module names from modules.builtin or modules.dep (``path.ko[: deps]`` per line)."""
    return frozenset(
        normalize_module(line.split(":", 1)[0].strip()) for line in text.splitlines() if line.strip()
    )


def parse_proc_modules(text: str) -> frozenset[str]:
    return frozenset(line.split()[0] for line in text.splitlines() if line.strip())


def parse_proc_filesystems(text: str) -> frozenset[str]:
    return frozenset(line.split()[-1] for line in text.splitlines() if line.strip())


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def read_kernel_facts(root: str = "/", release: str | None = None) -> KernelFacts:
    """Collect kernel module and file system facts below ``root`` for the running (or given) release."""
    release = release or os.uname().release
    modules_dir = os.path.join(root, "lib/modules", release)
    builtin_text = _read(os.path.join(modules_dir, "modules.builtin"))
    dep_text = _read(os.path.join(modules_dir, "modules.dep"))
    try:
        sys_module = frozenset(os.listdir(os.path.join(root, "sys/module")))
    except OSError:
        sys_module = frozenset()
    evidence = frozenset(
        mod
        for mod, paths in BUILTIN_EVIDENCE.items()
        if any(os.path.exists(os.path.join(root, p)) for p in paths)
    )
    return KernelFacts(
        release=release,
        loaded=parse_proc_modules(_read(os.path.join(root, "proc/modules")) or ""),
        sys_module=sys_module,
        filesystems=parse_proc_filesystems(_read(os.path.join(root, "proc/filesystems")) or ""),
        builtin=None if builtin_text is None else parse_module_list(builtin_text),
        loadable=None if dep_text is None else parse_module_list(dep_text),
        evidence=evidence,
    )


def kernel_module_state(name: str, facts: KernelFacts) -> tuple[str, str]:
    """State of one module: ``loaded``, ``builtin``, ``loadable`` or ``missing``, with the reason."""
    mod = normalize_module(name)
    if mod in facts.loaded:
        return "loaded", "loaded (listed in /proc/modules)"
    if facts.builtin is not None and mod in facts.builtin:
        return "builtin", f"built into kernel {facts.release} (modules.builtin)"
    if mod in facts.evidence:
        return (
            "builtin",
            f"built into kernel {facts.release} ({', '.join('/' + p for p in BUILTIN_EVIDENCE[mod])} exists)",
        )
    if mod in facts.sys_module:
        return (
            "builtin",
            f"built into kernel {facts.release} (/sys/module/{mod} exists, not in /proc/modules)",
        )
    fs = MODULE_FILESYSTEM.get(mod)
    if fs and fs in facts.filesystems:
        return "builtin", f"built into kernel {facts.release} (file system {fs} in /proc/filesystems)"
    if facts.loadable is not None and mod in facts.loadable:
        return "loadable", f"loadable from /lib/modules/{facts.release}"
    if facts.loadable is None:
        where = f"/lib/modules/{facts.release}/modules.dep does not exist"
    else:
        where = f"not in /lib/modules/{facts.release}/modules.dep"
    return "missing", f"not loaded, not built into kernel {facts.release}, and {where}"


def _kernel_fix(mod: str) -> str:
    config = KERNEL_CONFIG.get(mod)
    option = f" (built with {config})" if config else ""
    return (
        f"install the module package of the running kernel or boot a kernel that has {mod}{option}; "
        "in a container the host kernel must provide it"
    )


def check_kernel_module(name: str, facts: KernelFacts) -> CheckResult:
    state, reason = kernel_module_state(name, facts)
    mod = normalize_module(name)
    return CheckResult(
        "kernel_module", mod, state != "missing", reason, "" if state != "missing" else _kernel_fix(mod)
    )


def check_filesystem(name: str, facts: KernelFacts) -> CheckResult:
    """A file system is usable when registered (/proc/filesystems) or its module can be loaded on mount."""
    if name in facts.filesystems:
        return CheckResult("filesystem", name, True, "registered in /proc/filesystems")
    mod = FILESYSTEM_MODULE.get(name, name)
    state, reason = kernel_module_state(mod, facts)
    if state == "loadable":
        return CheckResult("filesystem", name, True, f"not registered yet; module {mod} is {reason}")
    return CheckResult(
        "filesystem", name, False, f"not in /proc/filesystems; module {mod}: {reason}", _kernel_fix(mod)
    )


def parse_dpkg_query(output: str) -> dict[str, bool]:
    """``dpkg-query -W -f='${Package}\\t${db:Status-Abbrev}\\n'`` output -> package -> installed."""
    result: dict[str, bool] = {}
    for line in output.splitlines():
        if "\t" not in line:
            continue
        name, status = line.split("\t", 1)
        # First letter: desired action; second: current state, "i" = installed.
        result[name.split(":", 1)[0]] = len(status) >= 2 and status[1] == "i"
    return result


def parse_rpm_query(output: str, wanted: Iterable[str]) -> dict[str, bool]:
    """``rpm -q --qf '%{NAME}\\n' pkgs...`` output -> package -> installed (rpm prints "not installed")."""
    present = {line.strip() for line in output.splitlines() if line.strip() and " " not in line.strip()}
    return {name: name in present for name in wanted}


def check_packages(wanted: Iterable[str], installed: Mapping[str, bool], manager: str) -> list[CheckResult]:
    install = {"dpkg": "apt-get install -y", "rpm": "dnf install -y"}[manager]
    results = []
    for name in wanted:
        if installed.get(name, False):
            results.append(CheckResult("package", name, True, "installed"))
        else:
            results.append(CheckResult("package", name, False, "not installed", f"{install} {name}"))
    return results


def check_service(name: str, active: str, enabled: str) -> CheckResult:
    """``systemctl is-active`` / ``is-enabled`` answers -> running and enabled at boot."""
    detail = f"{active or 'unknown'}, {enabled or 'unknown'} at boot"
    if active == "active" and enabled in ("enabled", "static", "alias", "indirect", "generated"):
        return CheckResult("service", name, True, detail)
    if enabled in ("", "not-found") or active == "not-found":
        return CheckResult("service", name, False, "unit not found", f"install the package that ships {name}")
    fix = f"systemctl enable --now {name}; if it stops again, see journalctl -u {name}"
    return CheckResult("service", name, False, detail, fix)


def check_dns(name: str, addresses: list[str], error: str = "") -> CheckResult:
    if addresses:
        return CheckResult("dns", name, True, "resolves to " + ", ".join(sorted(set(addresses))))
    fix = (
        "point systemd-resolved at the cluster DNS (role redundant.kube.dns_resolver with "
        f"dns_resolver_phase=activate) and check `resolvectl query {name}`"
    )
    return CheckResult("dns", name, False, f"does not resolve ({error or 'no address'})", fix)


def pipe_program(pattern: str) -> str | None:
    """The program of a ``|program args`` core_pattern, or None for a file pattern."""
    if not pattern.startswith("|"):
        return None
    parts = pattern[1:].split()
    return parts[0] if parts else ""


def check_core_pattern(expected: str, actual: str, program_exists: Callable[[str], bool]) -> CheckResult:
    fix = f"apply role redundant.kube.core_pattern with core_pattern_value={expected!r}"
    if actual != expected:
        return CheckResult(
            "core_pattern", "kernel.core_pattern", False, f"is {actual!r}, expected {expected!r}", fix
        )
    program = pipe_program(actual)
    if program is not None and not program_exists(program):
        return CheckResult(
            "core_pattern",
            "kernel.core_pattern",
            False,
            f"pipes to {program!r}, which does not exist or is not executable",
            f"install {program} or choose another core_pattern_value",
        )
    return CheckResult("core_pattern", "kernel.core_pattern", True, f"is {actual!r}")


def parse_size(text: str | int) -> int:
    """``"10G"``, ``"512M"``, ``"100K"``, ``"1T"`` or a plain byte count -> bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (use a number with an optional K, M, G or T suffix)")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])


def format_size(size: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if size >= _SIZE_UNITS[unit]:
            return f"{size / _SIZE_UNITS[unit]:.1f}{unit}"
    return f"{size}B"


def check_free_disk(path: str, free: int | None, minimum: int) -> CheckResult:
    if free is None:
        return CheckResult(
            "disk", path, False, "path does not exist", f"create {path} or mount its file system"
        )
    detail = f"{format_size(free)} free, need {format_size(minimum)}"
    if free >= minimum:
        return CheckResult("disk", path, True, detail)
    return CheckResult(
        "disk", path, False, detail, f"free or add at least {format_size(minimum - free)} on {path}"
    )


def summary(results: list[CheckResult]) -> str:
    failed = [r for r in results if not r.ok]
    if not failed:
        return f"preflight: all {len(results)} checks passed"
    lines = [f"preflight: {len(failed)} of {len(results)} checks failed"]
    lines += [r.line() for r in failed]
    return "\n".join(lines)
