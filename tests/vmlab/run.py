"""The real-kernel test tier: the collection's roles on QEMU VMs, checked with real commands.

    tests/vmlab/run.sh [SCENARIO ...]     (no argument: every scenario, in the order below)

Two VMs share one lab for the whole run (booting is the dearest step under TCG): `vm1` plays the
server side (iSCSI target, NFS server), `vm2` the client side (the Kubernetes node). Each role is
applied once: what a run writes and a second run's "no change" are proven in the molecule scenarios
(node_prep, kubeadm_cluster), on the same files, at a fraction of the cost; this tier proves what only
a kernel of the node's own shows. A scenario's work on vm1 alone (its server prep: its role applied
there, the test's own target) runs on that otherwise idle VM while node_prep works on vm2, and roles
node_prep applied on vm2 are not applied there again. Prints one line per scenario with its result and
time, then `vmlab: N passed, N failed, N skipped`; a scenario whose role does not exist yet is skipped
with that reason. Figures (boot, reboot, server preps) go to the run directory's results.json.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from lab import (
    CLUSTER_DNS_IP,
    CLUSTER_DNS_SERVICE_IP,
    CLUSTER_DOMAIN,
    HOST_IP,
    MIRROR_PORT,
    PREFIX,
    SERVICE_IP,
    SITE_DOMAIN,
    SUBNET,
    Lab,
    LabError,
    sweep_dead_runs,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PLAYBOOKS = HERE / "playbooks"
# ansible and ansible-playbook of the Python running this file (the project's .venv).
BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("RK_CACHE", Path.home() / ".cache/redundant-kube")) / "vmlab"
PLAYBOOK_TIMEOUT = 20 * 60
# node_prep sets the first pattern on vm2 (preflight expects it); the core_pattern role alone sets the
# second on vm1, where the crash is then checked.
CORE_PATTERN = "/var/lib/vmlab-cores/core.%e.%p"
CRASH_CORE_PATTERN = "/var/crash/vmlab/%e.%p.core"
# dns_resolver writes the upstream servers here for the kubelet (resolvConf) or K3S (--resolv-conf).
KUBELET_RESOLV_CONF = "/etc/redundant-kube/resolv.conf"
NFS_EXPORT = "/srv/vmlab-nfs"
NFS_MOUNT = "/mnt/vmlab-nfs"
ISCSI_TARGET = "iqn.2024-01.example.vmlab:lun0"
ISCSI_LUN_MIB = 64
# What a node prepared by node_prep (with core_pattern and the activated DNS phase) must pass.
PREFLIGHT_ARGS = {
    "packages": ["open-iscsi", "nfs-common", "systemd-resolved", "conntrack", "socat"],
    "services": ["iscsid.service", "systemd-resolved.service"],
    "kernel_modules": ["iscsi_tcp", "dm_crypt", "br_netfilter", "overlay"],
    "filesystems": ["nfs4"],
    "dns_names": [f"kubernetes.default.svc.{CLUSTER_DOMAIN}"],
    "core_pattern": CORE_PATTERN,
    "free_disk": [{"path": "/var/lib", "min_free": "100M"}],
    "fail_on_error": False,
}


class ScenarioFailed(AssertionError):
    pass


def failure_excerpt(log: str, limit: int = 30) -> str:
    """What failed in an ansible-playbook log: each failing task's header and error, then the recap.

    The log ends with the per-task timings, so its tail alone would not say what went wrong."""
    lines = log.splitlines()
    out: list[str] = []
    task = ""
    for i, line in enumerate(lines):
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line.rstrip(" *")
        elif re.match(r"^(fatal|failed): \[", line):
            out.append(task)
            block = [line]
            for follow in lines[i + 1 :]:
                if not follow.strip() or follow.startswith(
                    ("TASK [", "RUNNING HANDLER [", "PLAY ", "...ignoring")
                ):
                    break
                block.append(follow)
            out += block[:limit]
            if len(block) > limit:
                out.append(f"    ... {len(block) - limit} more lines in the log")
    out += [line for line in lines if re.match(r"^\S+\s+:\s+ok=", line)]
    return "\n".join(out) if out else "\n".join(lines[-limit:])


class Interrupted(BaseException):
    """SIGTERM (CI's time limit, a user's kill): stop the scenarios, tear down, still print the summary."""


class NotRunnable(Exception):
    """The scenario cannot run yet, for the reason given (reported as a named skip, never as a pass)."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)


@dataclass
class Outcome:
    name: str
    status: str  # passed, FAILED, skipped
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class PlaybookResult:
    log: Path
    recap: dict[str, dict[str, int]]  # per host: ok, changed, failed, ...

    @property
    def changed(self) -> dict[str, int]:
        return {host: counts["changed"] for host, counts in self.recap.items() if counts.get("changed")}


@dataclass
class Tier:
    lab: Lab
    figures: dict = field(default_factory=dict)
    # Playbooks run from two threads (server preps beside node_prep): next() on a count is atomic.
    log_numbers: itertools.count = field(default_factory=lambda: itertools.count(1))
    # Roles node_prep has applied on vm2 in this run, with the variables the single-role playbooks give
    # them: those scenarios need not apply them there again.
    node_prep_roles: frozenset[str] = frozenset()
    # The inventory's groups besides `lab` (every VM), and variables added to the lab's own.
    groups: dict[str, list[str]] = field(default_factory=lambda: {"server": ["vm1"], "client": ["vm2"]})
    inventory_vars: dict = field(default_factory=dict)

    # --- Ansible ---------------------------------------------------------------------------------
    def write_ansible_files(self) -> None:
        """The run's inventory: every VM in `lab`, and the groups and variables of this tier's lab."""
        run_dir = self.lab.run_dir
        hosts = {name: {"ansible_host": vm.ip} for name, vm in self.lab.vms.items()}
        inventory = {
            "all": {
                "vars": {
                    "ansible_user": "root",
                    "ansible_ssh_private_key_file": str(self.lab.key),
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "lab_host_ip": HOST_IP,
                    "lab_mirror_port": MIRROR_PORT,
                    "lab_cluster_dns_ip": CLUSTER_DNS_SERVICE_IP,
                    "lab_cluster_dns_server": CLUSTER_DNS_IP,
                    "lab_cluster_domain": CLUSTER_DOMAIN,
                    "lab_core_pattern": CORE_PATTERN,
                    "lab_crash_core_pattern": CRASH_CORE_PATTERN,
                    "lab_kubelet_resolv_conf": KUBELET_RESOLV_CONF,
                    "lab_subnet": f"{SUBNET}.0/{PREFIX}",
                    "lab_nfs_export": NFS_EXPORT,
                    **self.inventory_vars,
                },
                "children": {
                    "lab": {"hosts": hosts},
                    **{
                        group: {"hosts": {key: {} for key in members}}
                        for group, members in self.groups.items()
                    },
                },
            }
        }
        (run_dir / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
        (run_dir / "ansible.cfg").write_text(
            "\n".join(
                [
                    "[defaults]",
                    f"inventory = {run_dir / 'inventory.yml'}",
                    "host_key_checking = False",
                    "forks = 5",
                    # TCG guests answer slowly, more so while the other VM works.
                    "timeout = 60",
                    "callback_result_format = yaml",
                    "deprecation_warnings = False",
                    "[ssh_connection]",
                    "pipelining = True",
                    # A guest under load sometimes drops a fresh connection; that is the network, not the role.
                    "retries = 3",
                    "ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null"
                    " -o StrictHostKeyChecking=no -o ServerAliveInterval=15",
                    f"control_path_dir = {run_dir / 'cp'}",
                    "",
                ]
            )
        )

    def ansible_env(self, **overrides: str) -> dict[str, str]:
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(self.lab.run_dir / "ansible.cfg"),
            ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"),
            ANSIBLE_ROLES_PATH=str(REPO / "roles"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
        )
        env.update(overrides)
        return env

    def playbook(
        self,
        name: str,
        extra_vars: dict | None = None,
        limit: str | None = None,
        verbose: bool = False,
        expect_failure: bool = False,
    ) -> PlaybookResult:
        """Run one playbook from playbooks/ inside the namespace, on the hosts matching limit if given.

        With expect_failure, a run that fails is the expected result (its log is returned) and one that
        passes is the scenario's failure."""
        log = self.lab.log_dir / f"{next(self.log_numbers):02d}-{name}{'-' + limit if limit else ''}.log"
        cmd = self.lab.netns(str(BIN / "ansible-playbook"), str(PLAYBOOKS / f"{name}.yml"))
        if verbose:
            cmd.append("-vvv")
        if extra_vars:
            cmd += ["--extra-vars", json.dumps(extra_vars)]
        if limit:
            cmd += ["--limit", limit]
        with log.open("w") as out:
            proc = subprocess.run(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Per-task times in every log: under TCG that is where the minutes go.
                env=self.ansible_env(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks"),
                timeout=PLAYBOOK_TIMEOUT,
                check=False,
            )
        text = log.read_text()
        recap = {
            m["host"]: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m["counts"])}
            for m in re.finditer(r"^(?P<host>\S+)\s+:\s+(?P<counts>ok=.*)$", text, re.MULTILINE)
        }
        if expect_failure:
            check(
                proc.returncode != 0,
                f"ansible-playbook {name}.yml passed, a failure was expected (log {log})",
            )
        elif proc.returncode != 0:
            raise ScenarioFailed(
                f"ansible-playbook {name}.yml exited {proc.returncode} (log {log}):\n{failure_excerpt(text)}"
            )
        check(bool(recap), f"{name}.yml: no PLAY RECAP in {log}")
        return PlaybookResult(log, recap)

    def converge(
        self,
        name: str,
        extra_vars: dict | None = None,
        limit: str | None = None,
        verbose_second: bool = False,
    ) -> int:
        """Converge until a run changes nothing on any host, which must be the second run at the latest:
        for roles no molecule scenario converges (ha_pair needs DRBD, so only a VM can run it twice).

        A first run that changed nothing is already that proof (the roles ran before with the same
        variables), and a third run would only repeat it. Returns the number of runs."""
        runs = self.figures.setdefault("converge_runs", {})
        key = f"{name} --limit {limit}" if limit else name
        first = self.playbook(name, extra_vars, limit)
        runs[key] = 1
        if not first.changed:
            return 1
        second = self.playbook(name, extra_vars, limit, verbose=verbose_second)
        runs[key] = 2
        check(
            not second.changed,
            f"{name}.yml is not idempotent: the second converge changed {second.changed} (see {second.log})",
        )
        return 2

    def module(self, pattern: str, module: str, args: dict) -> dict[str, dict]:
        """Run one module ad hoc on the hosts matching pattern; returns each host's result."""
        cmd = self.lab.netns(str(BIN / "ansible"), pattern, "-m", module, "-a", json.dumps(args))
        env = self.ansible_env(ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
        try:
            return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]
        except (ValueError, KeyError, IndexError) as exc:
            raise ScenarioFailed(
                f"{module} on {pattern}: unparsable output {proc.stdout[-1500:]} {proc.stderr[-1500:]}"
            ) from exc

    # --- helpers on the VMs ---------------------------------------------------------------------
    def sh(self, vm: str, command: str, timeout: float = 180) -> str:
        return self.lab.ssh(vm, command, timeout=timeout).stdout

    def boot_id(self, vm: str) -> str:
        return self.sh(vm, "cat /proc/sys/kernel/random/boot_id").strip()

    def reboot(self, vm: str) -> float:
        """Reboot through systemd and wait for the new boot (a new boot_id) to answer ssh."""
        before = self.boot_id(vm)
        start = time.monotonic()
        self.lab.ssh(vm, "systemctl reboot", check=False, timeout=30)
        deadline = start + 300
        while time.monotonic() < deadline:
            time.sleep(5)
            try:
                proc = self.lab.ssh(vm, "cat /proc/sys/kernel/random/boot_id", check=False, timeout=30)
            except subprocess.TimeoutExpired:
                continue
            if proc.returncode == 0 and proc.stdout.strip() != before:
                self.lab.wait_ssh([vm])
                return time.monotonic() - start
        raise ScenarioFailed(f"{vm}: not back from reboot after 300s (console log in {self.lab.log_dir})")


# --- gap measurement ----------------------------------------------------------------------------
class Pinger:
    """ping -D from the namespace every 100 ms, its replies read as they come (a pipe nobody reads fills up in about
    a minute and stops ping)."""

    INTERVAL = 0.1

    def __init__(self, lab: Lab, address: str):
        self.proc = subprocess.Popen(
            lab.netns("ping", "-D", "-n", "-i", str(self.INTERVAL), "-W", "1", address),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.replies: list[float] = []  # each reply's arrival, epoch seconds (ping -D)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if m := re.match(r"^\[(\d+\.\d+)\] \d+ bytes from", line):
                self.replies.append(float(m[1]))

    def wait_for_reply(self, timeout: float = 30) -> None:
        """Until the address has answered once: an outage measured from an event needs an answer before it."""
        deadline = time.monotonic() + timeout
        while not self.replies:
            if time.monotonic() > deadline:
                raise ScenarioFailed(f"no ping reply in {timeout:.0f}s")
            time.sleep(0.05)

    def stop(self) -> tuple[float, int]:
        """Longest interval between consecutive replies (s) and the number of replies."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        gaps = [b - a for a, b in itertools.pairwise(self.replies)]
        return (max(gaps) if gaps else float("inf")), len(self.replies)


# --- scenarios ------------------------------------------------------------------------------------
def require_roles(*roles: str) -> None:
    missing = [r for r in roles if not (REPO / "roles" / r / "tasks" / "main.yml").exists()]
    if missing:
        raise NotRunnable(f"role(s) {', '.join(missing)} not in roles/ yet")


def failed_check_names(result: dict) -> set[tuple[str, str]]:
    return {(c["kind"], c["name"]) for c in result.get("checks", []) if not c["ok"]}


def scenario_preflight_unprepared(tier: Tier) -> str:
    """On fresh VMs preflight fails and names each missing piece (and only those)."""
    results = tier.module("lab", "redundant.kube.preflight", PREFLIGHT_ARGS)
    expected = {
        *(("package", p) for p in PREFLIGHT_ARGS["packages"]),
        *(("service", s) for s in PREFLIGHT_ARGS["services"]),
        ("dns", PREFLIGHT_ARGS["dns_names"][0]),
        ("core_pattern", "kernel.core_pattern"),
    }
    for vm, result in results.items():
        check(
            result.get("passed") is False, f"{vm}: preflight passed on an unprepared VM: {result.get('msg')}"
        )
        got = failed_check_names(result)
        check(got == expected, f"{vm}: failed checks {sorted(got)}, expected {sorted(expected)}")
        for line in result["failed_checks"]:
            check("fix:" in line, f"{vm}: failed check without a fix: {line}")
    return f"{len(expected)} missing pieces named on each VM"


ISCSI_LUN = "/var/lib/vmlab-lun0.img"


def server_prep_iscsi(tier: Tier) -> None:
    """The test's own target on vm1: a file-backed LUN served by tgt. The initiator role is vm2's alone (an
    initiator on the target's VM would prove nothing more, and its install cost vm2's path CPU under TCG)."""
    require_roles("iscsi")
    tier.sh(
        "vm1",
        # tgt is in the image (build-image.sh), its daemon started only here.
        f"truncate -s {ISCSI_LUN_MIB}M {ISCSI_LUN}"
        f" && printf '<target {ISCSI_TARGET}>\\n  backing-store {ISCSI_LUN}\\n  initiator-address {tier.lab.vms['vm2'].ip}\\n</target>\\n'"
        " > /etc/tgt/conf.d/vmlab.conf && systemctl restart tgt && tgt-admin --show | grep -q 'Backing store path: "
        + ISCSI_LUN
        + "'",
        timeout=600,
    )


def scenario_iscsi(tier: Tier) -> str:
    require_roles("iscsi")
    if "iscsi" not in tier.node_prep_roles:
        tier.playbook("iscsi")
    check(tier.sh("vm2", "systemctl is-active iscsid").strip() == "active", "vm2: iscsid is not active")
    portal = tier.lab.vms["vm1"].ip
    device = f"/dev/disk/by-path/ip-{portal}:3260-iscsi-{ISCSI_TARGET}-lun-1"
    found = tier.sh("vm2", f"iscsiadm -m discovery -t sendtargets -p {portal}")
    check(ISCSI_TARGET in found, f"vm2: discovery did not list {ISCSI_TARGET}: {found!r}")
    tier.sh("vm2", f"iscsiadm -m node -T {ISCSI_TARGET} -p {portal} --login")
    size = tier.sh("vm2", f"udevadm settle -t 60; blockdev --getsize64 {device}").strip()
    check(
        size == str(ISCSI_LUN_MIB * 1024 * 1024),
        f"vm2: {device} has {size} bytes, expected {ISCSI_LUN_MIB} MiB",
    )
    # Data written by the initiator is in the target's backing file.
    stamp = f"vmlab-{os.getpid()}-{int(time.time())}"
    tier.sh("vm2", f"printf %s {stamp} | dd of={device} bs=512 seek=8 conv=fsync oflag=direct status=none")
    seen = tier.sh("vm1", f"dd if={ISCSI_LUN} bs=512 skip=8 count=1 status=none | tr -d '\\0'")
    check(seen == stamp, f"vm1: backing file holds {seen!r} at block 8, the initiator wrote {stamp!r}")
    tier.sh("vm2", f"iscsiadm -m node -T {ISCSI_TARGET} -p {portal} --logout && iscsiadm -m node -o delete")
    # The role's modules-load.d file, not the first login, must bring the modules back after a reboot.
    tier.figures["reboot_s"] = round(tier.reboot("vm2"), 1)
    loaded = tier.sh("vm2", "cut -d' ' -f1 /proc/modules")
    journal = tier.sh("vm2", "journalctl -b -o cat -t systemd-modules-load")
    for mod in ("iscsi_tcp", "dm_crypt"):
        check(mod in loaded.split(), f"vm2: {mod} not loaded after reboot")
        check(
            f"Inserted module '{mod}'" in journal,
            f"vm2: systemd-modules-load did not load {mod}: {journal!r}",
        )
    check(
        tier.sh("vm2", "systemctl is-active iscsid").strip() == "active",
        "vm2: iscsid not active after reboot",
    )
    return f"LUN of {ISCSI_LUN_MIB} MiB seen and written by vm2; modules back after a {tier.figures['reboot_s']}s reboot"


def server_prep_nfs(tier: Tier) -> None:
    """nfs_server converged on vm1."""
    require_roles("nfs_server", "nfs_client")
    tier.playbook("nfs", limit="server")


def scenario_nfs(tier: Tier) -> str:
    """nfs_server exports on vm1, vm2 mounts it with NFSv4, and a file written on either side is seen on the other."""
    require_roles("nfs_server", "nfs_client")
    if "nfs_client" not in tier.node_prep_roles:
        tier.playbook("nfs", limit="client")
    server_ip = tier.lab.vms["vm1"].ip
    tier.sh("vm2", f"mkdir -p {NFS_MOUNT} && mount -t nfs4 {server_ip}:{NFS_EXPORT} {NFS_MOUNT}")
    try:
        fstype, options = tier.sh("vm2", f"findmnt -n -o FSTYPE,OPTIONS {NFS_MOUNT}").split()
        version = re.search(r"\bvers=(4[.\d]*)", options)
        check(
            fstype == "nfs4" and version is not None, f"vm2: {NFS_MOUNT} is {fstype} ({options}), not NFSv4"
        )
        stamp = f"{os.getpid()}-{time.time_ns()}"
        tier.sh("vm2", f"echo client-{stamp} > {NFS_MOUNT}/from-client && sync")
        seen = tier.sh("vm1", f"cat {NFS_EXPORT}/from-client").strip()
        check(seen == f"client-{stamp}", f"vm1: {NFS_EXPORT}/from-client holds {seen!r}")
        tier.sh("vm1", f"echo server-{stamp} > {NFS_EXPORT}/from-server && sync")
        seen = tier.sh("vm2", f"cat {NFS_MOUNT}/from-server").strip()
        check(seen == f"server-{stamp}", f"vm2: {NFS_MOUNT}/from-server holds {seen!r}")
    finally:
        tier.lab.ssh("vm2", f"umount {NFS_MOUNT}", check=False)
    return f"{server_ip}:{NFS_EXPORT} mounted with NFS {version[1]}; files seen both ways"


def scenario_node_prep_preflight(tier: Tier) -> str:
    """node_prep on the client VM (the Kubernetes node), then preflight finds nothing missing."""
    require_roles("node_prep")
    tier.playbook("node_prep")
    # playbooks/node_prep.yml gives them what iscsi.yml, nfs.yml and dns_resolver.yml give them.
    tier.node_prep_roles = frozenset({"iscsi", "nfs_client", "dns_resolver"})
    result = tier.module("client", "redundant.kube.preflight", PREFLIGHT_ARGS)["vm2"]
    check(result.get("passed") is True, f"vm2: preflight after node_prep: {result.get('failed_checks')}")
    # What keeps a second run from loading them again (kernel_modules runs modprobe only for a module
    # preflight calls loadable): the only part of node_prep's idempotence a container cannot show.
    states = {name: state["state"] for name, state in result["kernel_module_states"].items()}
    check(set(states.values()) <= {"loaded", "builtin"}, f"vm2: modules not loaded by node_prep: {states}")
    return f"preflight all green on vm2 ({len(result['checks'])} checks); modules {', '.join(sorted(states))} loaded"


def scenario_dns_resolver(tier: Tier) -> str:
    """Only *.cluster.local reaches the cluster DNS (through kube-proxy's translation of its Service IP),
    every other name the site's DNS; the routing comes back after a reboot and a restart of systemd-resolved."""
    require_roles("dns_resolver")
    probe = f"probe-{os.getpid()}"
    notes = []

    def resolves(name: str, how: str) -> None:
        answer = tier.sh("vm2", f"resolvectl query --legend=no {name}")
        check(SERVICE_IP in answer, f"vm2: resolvectl query {name} ({how}) gave {answer!r}")

    # node_prep activated the routing before the iscsi scenario rebooted vm2: nothing has run since.
    if "reboot_s" in tier.figures:
        resolves(f"boot-{probe}.default.svc.{CLUSTER_DOMAIN}", "after the reboot, before any converge")
        notes.append("back after a reboot")
    if "dns_resolver" in tier.node_prep_roles:
        notes.append("converged by node_prep")
    else:
        tier.playbook("dns_resolver")
    cluster_name = f"{probe}.default.svc.{CLUSTER_DOMAIN}"
    site_name = f"{probe}.{SITE_DOMAIN}"
    resolves(cluster_name, "once converged")
    libc = tier.sh("vm2", f"getent hosts libc-{cluster_name}")
    check(SERVICE_IP in libc, f"vm2: getent (through the resolv.conf stub) gave {libc!r}")
    resolves(site_name, "a site name")
    link = tier.sh("vm2", "resolvectl status --no-pager rk-clusterdns")
    check(
        "-DefaultRoute" in link and f"~{CLUSTER_DOMAIN}" in link and CLUSTER_DNS_SERVICE_IP in link,
        f"vm2: the cluster DNS link is not a routing-only scope for ~{CLUSTER_DOMAIN}: {link!r}",
    )
    # systemd-resolved's own full list has the cluster DNS (a CoreDNS given it would forward to itself);
    # the file the role writes for the kubelet has the site's server only.
    kubelet_servers = re.findall(r"(?m)^nameserver\s+(\S+)", tier.sh("vm2", f"cat {KUBELET_RESOLV_CONF}"))
    check(
        kubelet_servers == [HOST_IP],
        f"vm2: {KUBELET_RESOLV_CONF} lists {kubelet_servers}, expected [{HOST_IP}]",
    )
    notes.append(f"{KUBELET_RESOLV_CONF} lists only {HOST_IP}")
    tier.sh("vm2", "systemctl restart systemd-resolved")
    resolves(f"restart-{cluster_name}", "after a restart of systemd-resolved")
    notes.append("back after a restart of systemd-resolved")
    # Were a site name sent to the cluster DNS too, resolved would ask both scopes at once and return the
    # first answer: give the slower server's log a moment before looking for it.
    time.sleep(3)
    cluster_log, site_log = tier.lab.dns_queries("cluster-dns"), tier.lab.dns_queries("site-dns")
    check(cluster_name in cluster_log, "the cluster DNS server never saw the cluster names")
    check(probe not in site_log.replace(site_name, ""), "cluster names leaked to the site DNS server")
    leaked = [line for line in cluster_log.splitlines() if site_name in line]
    check(not leaked, f"a name outside {CLUSTER_DOMAIN} reached the cluster DNS server: {leaked[:1]}")
    return (
        f"*.{CLUSTER_DOMAIN} only to {CLUSTER_DNS_SERVICE_IP} (kube-proxy's translation to {CLUSTER_DNS_IP}),"
        f" {SITE_DOMAIN} only to the site DNS; {', '.join(notes)}"
    )


def server_prep_core_pattern(tier: Tier) -> None:
    """core_pattern converged on vm1 by its own playbook, with a pattern of its own."""
    require_roles("core_pattern")
    tier.playbook("core_pattern")


def scenario_core_pattern(tier: Tier) -> str:
    """A crash on vm1 dumps its core where the core_pattern role (converged there alone) says."""
    require_roles("core_pattern")
    # A real crash: python3 dereferences address 0 through ctypes and dies of SIGSEGV.
    pid, status = tier.sh(
        "vm1",
        "ulimit -c unlimited; python3 -c 'import ctypes, os; print(os.getpid(), flush=True); ctypes.string_at(0)';"
        " echo $?",
    ).split()
    check(status == str(128 + signal.SIGSEGV), f"vm1: the crashing process exited {status}, not by SIGSEGV")
    core = CRASH_CORE_PATTERN.replace("%e", "python3").replace("%p", pid)
    kind = tier.sh(
        "vm1",
        'python3 -c \'import sys; h = open(sys.argv[1], "rb").read(18); '
        'print("core" if h[:4] == b"\\x7fELF" and int.from_bytes(h[16:18], "little") == 4 else h)\' ' + core,
    ).strip()
    check(kind == "core", f"vm1: {core} is not an ELF core file: {kind}")
    return f"core of a SIGSEGV'd process at {core}"


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Tier], str]
    # Work on vm1 alone that needs nothing from the scenarios before this one: it may run on that VM
    # while a scenario that leaves vm1 alone works on vm2 (see ServerPreps).
    server_prep: Callable[[Tier], None] | None = None
    touches_server: bool = True


# Order matters: preflight-unprepared needs untouched VMs; node_prep applies on vm2 the roles the
# single-role scenarios after it then only check there (each package is installed once per VM: dpkg
# under TCG is the dearest thing the tier does), and while it runs vm1 would be idle, so the server
# preps of iscsi, nfs and core_pattern run there then.
SCENARIOS = [
    Scenario("preflight-unprepared", scenario_preflight_unprepared),
    Scenario("node_prep-preflight", scenario_node_prep_preflight, touches_server=False),
    Scenario("iscsi", scenario_iscsi, server_prep_iscsi),
    Scenario("nfs", scenario_nfs, server_prep_nfs),
    Scenario("dns_resolver", scenario_dns_resolver, touches_server=False),
    Scenario("core_pattern", scenario_core_pattern, server_prep_core_pattern),
]


class ServerPreps:
    """Runs the scenarios' server preps one after another in a thread of their own, in scenario order.

    Before a scenario that touches vm1, every prep up to and including its own has been started and
    all started preps have finished (vm1 is then the scenario's alone: no two apt runs on one VM).
    Before a scenario that leaves vm1 alone, every remaining prep is started, to run beside it. A
    prep's failure is its own scenario's failure, raised by ready()."""

    def __init__(self, tier: Tier, selected: Sequence[Scenario]):
        self.tier = tier
        self.selected = list(selected)
        self.futures: dict[str, Future] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="server-prep")

    def _start(self, scenarios: Sequence[Scenario]) -> None:
        for scenario in scenarios:
            if scenario.server_prep and scenario.name not in self.futures:
                self.futures[scenario.name] = self.executor.submit(self._timed, scenario)

    def _timed(self, scenario: Scenario) -> None:
        start = time.monotonic()
        try:
            scenario.server_prep(self.tier)
        finally:
            self.tier.figures.setdefault("server_prep_s", {})[scenario.name] = round(
                time.monotonic() - start, 1
            )

    def ready(self, scenario: Scenario) -> None:
        """Start and wait for what the rules above ask before scenario runs; raise its prep's failure."""
        if scenario.touches_server:
            self._start(self.selected[: self.selected.index(scenario) + 1])
            wait_all(self.futures.values())
        else:
            self._start(self.selected)
        if scenario.name in self.futures:
            self.futures[scenario.name].result()

    def close(self) -> None:
        """After the lab is down: a prep still running fails at once, its VM and namespace being gone."""
        self.executor.shutdown(wait=True, cancel_futures=True)


# --- image, mirror and the whole run ------------------------------------------------------------------
# The roles the scenarios run, with the roles they include (node_prep and iscsi include kernel_modules,
# node_prep includes nfs_client, iscsi, dns_resolver and core_pattern).
MIRRORED_ROLES = [
    "kernel_modules",
    "iscsi",
    "nfs_client",
    "nfs_server",
    "dns_resolver",
    "core_pattern",
    "node_prep",
    "ha_pair",
]


def role_packages() -> list[str]:
    """Debian packages those roles install: every *_packages list in their Debian vars and defaults."""
    names: set[str] = set()
    for role in MIRRORED_ROLES:
        for path in (
            REPO / "roles" / role / "vars" / "Debian.yml",
            REPO / "roles" / role / "defaults" / "main.yml",
        ):
            data = yaml.safe_load(path.read_text()) if path.exists() else None
            for key, value in (data or {}).items():
                if key.endswith("_packages") and isinstance(value, list):
                    names.update(v for v in value if isinstance(v, str) and "{" not in v)
    return sorted(names)


def build(script: str, *args: str) -> Path:
    """Run a build script in a process group of its own; when interrupted, stop the whole group (debootstrap,
    its chroot) with SIGTERM so the script's own cleanup unmounts and removes its work directory."""
    proc = subprocess.Popen(
        [str(HERE / script), *args], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out = proc.communicate()[0]
    except BaseException:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise
    if proc.returncode != 0:
        raise LabError(f"{script} failed (exit {proc.returncode})")
    return Path(out.strip().splitlines()[-1])


def run_scenarios(tier: Tier, selected: list[Scenario]) -> list[Outcome]:
    """Bring the lab up, run the scenarios in order, and always tear the lab down."""
    lab, figures = tier.lab, tier.figures
    outcomes: list[Outcome] = []
    preps = ServerPreps(tier, selected)
    t0 = time.monotonic()
    try:
        lab.up()
        tier.write_ansible_files()
        t_boot = time.monotonic()
        for vm in lab.vms:
            lab.boot(vm)
        waited = lab.wait_ssh(list(lab.vms))
        figures["boot_to_ssh_s"] = {vm: round(s, 1) for vm, s in waited.items()}
        figures["boot_both_s"] = round(time.monotonic() - t_boot, 1)
        tier.playbook("site")
        print(f"[vmlab] lab up: {lab.describe()}; boot {figures['boot_both_s']}s", flush=True)
        for scenario in selected:
            start = time.monotonic()
            print(f"[vmlab] {scenario.name} ...", flush=True)
            try:
                preps.ready(scenario)
                detail = scenario.run(tier)
                outcome = Outcome(scenario.name, "passed", time.monotonic() - start, detail)
            except NotRunnable as exc:
                outcome = Outcome(scenario.name, "skipped", time.monotonic() - start, f"not runnable: {exc}")
            except (ScenarioFailed, LabError, subprocess.TimeoutExpired) as exc:
                outcome = Outcome(scenario.name, "FAILED", time.monotonic() - start, str(exc))
            except Exception:  # a bug in the tier itself: report it and keep the other scenarios
                outcome = Outcome(scenario.name, "FAILED", time.monotonic() - start, traceback.format_exc())
            outcomes.append(outcome)
            print(
                # The first line here; a failure's whole detail is in the summary at the end.
                f"[vmlab] {outcome.name}: {outcome.status} ({outcome.seconds:.0f}s) "
                + (outcome.detail.splitlines() or [""])[0],
                flush=True,
            )
    except (LabError, ScenarioFailed, subprocess.SubprocessError) as exc:
        outcomes.append(Outcome("lab", "FAILED", time.monotonic() - t0, str(exc)))
    except Interrupted:
        outcomes.append(
            Outcome(
                "interrupted", "FAILED", time.monotonic() - t0, "SIGTERM: the remaining scenarios did not run"
            )
        )
    finally:
        # A second SIGTERM (or Ctrl-C) must not cut the teardown short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        lab.down()
        preps.close()
    return outcomes


# The HA pair needs three fresh VMs of its own (two with a data disk); it runs only when named, after
# the scenarios of the two-VM lab, on a lab brought up after that one is down.
HA_PAIR = "ha_pair"


def run_ha_pair(run_dir: Path, image: Path, mirror: Path, figures: dict) -> list[Outcome]:
    import ha_pair  # imports this module: loaded only once main() runs

    tier = Tier(
        ha_pair.ha_lab(run_dir, image, mirror),
        figures,
        groups=ha_pair.GROUPS,
        inventory_vars=ha_pair.INVENTORY_VARS,
    )
    return run_scenarios(tier, [Scenario(HA_PAIR, ha_pair.scenario_ha_pair)])


def main(argv: list[str]) -> int:
    known = {s.name: s for s in SCENARIOS}
    unknown = [a for a in argv if a not in known and a != HA_PAIR]
    if unknown:
        print(f"unknown scenario(s) {unknown}; known: {', '.join(known)}, {HA_PAIR}", file=sys.stderr)
        return 2
    selected = [s for s in SCENARIOS if not argv or s.name in argv]

    def interrupt(*_: object) -> None:
        raise Interrupted

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    runs_root = CACHE / "runs"
    sweep_dead_runs(runs_root)
    t0 = time.monotonic()
    run_dir = runs_root / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True)
    (run_dir / "owner").write_text(f"{os.getpid()}\n")  # claimed before anything slow: see sweep_dead_runs
    figures: dict = {}
    try:
        image = build("build-image.sh")
        mirror = build("build-mirror.sh", str(image), *role_packages())
    except LabError as exc:
        outcomes = [Outcome("image and mirror", "FAILED", time.monotonic() - t0, str(exc))]
    except Interrupted:
        outcomes = [
            Outcome("interrupted", "FAILED", time.monotonic() - t0, "interrupted while building the image")
        ]
    else:
        figures["image_and_mirror_s"] = round(time.monotonic() - t0, 1)
        outcomes = []
        if selected:
            outcomes += run_scenarios(Tier(Lab(run_dir, image, mirror, ["vm1", "vm2"]), figures), selected)
        if HA_PAIR in argv:
            outcomes += run_ha_pair(run_dir, image, mirror, figures)
    (run_dir / "owner").unlink(missing_ok=True)
    figures["total_s"] = round(time.monotonic() - t0, 1)
    figures["scenarios_s"] = {o.name: round(o.seconds, 1) for o in outcomes}
    (run_dir / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("=== vmlab scenarios ===")
    for o in outcomes:
        print(f"{o.name:22} {o.status:8} {o.seconds:6.0f}s  {o.detail.splitlines()[0] if o.detail else ''}")
        for extra in o.detail.splitlines()[1:] if o.status == "FAILED" else []:
            print(f"    {extra}")
    print(f"total {figures['total_s']:.0f}s; figures in {run_dir / 'results.json'}")
    counts = {status: sum(o.status == status for o in outcomes) for status in ("passed", "FAILED", "skipped")}
    print(f"vmlab: {counts['passed']} passed, {counts['FAILED']} failed, {counts['skipped']} skipped")
    return 1 if counts["FAILED"] else 0


if __name__ == "__main__":
    # ha_pair.py imports this file as `run`: one module, so its ScenarioFailed is the one caught here.
    sys.modules.setdefault("run", sys.modules[__name__])
    sys.exit(main(sys.argv[1:]))
