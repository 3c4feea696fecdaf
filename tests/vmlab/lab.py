"""The VM lab: QEMU guests on a bridge inside a network namespace made for one run.

Everything a run starts lives in its run directory (overlays, pidfiles, logs) and in its namespace
`rk-vmlab-<pid>`: a bridge with the lab subnet, no route out, the package mirror and two DNS servers
on the host side of the bridge, and one tap per VM. Teardown kills what the pidfiles name (after
checking the process still is ours) and deletes the namespace; a run that died without its teardown
is swept by the next one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# RFC 2544's benchmarking range: reserved for test networks, routed nowhere. Only these addresses,
# inside the run's own namespace, ever receive traffic.
SUBNET = "198.18.47"
PREFIX = 24
HOST_IP = f"{SUBNET}.1"  # host side of the bridge: package mirror and the site's DNS server
CLUSTER_DNS_IP = f"{SUBNET}.10"  # the cluster DNS server (CoreDNS's pod, as it were)
# K3S's cluster DNS Service IP: the node reaches it only through kube-proxy's translation, which the
# client VM gets from the lab (playbooks/site.yml), never through a route.
CLUSTER_DNS_SERVICE_IP = "10.43.0.10"
SERVICE_IP = f"{SUBNET}.200"  # what both DNS servers answer
VIP = f"{SUBNET}.100"
MIRROR_PORT = 8080
SITE_DOMAIN = "site.example"
CLUSTER_DOMAIN = "cluster.local"

BOOT_TIMEOUT = 300
SSH_OPTIONS = [
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=10",
]  # fmt: skip


@dataclass(frozen=True)
class VM:
    name: str
    index: int

    @property
    def ip(self) -> str:
        return f"{SUBNET}.{10 + self.index}"

    @property
    def mac(self) -> str:
        return f"52:54:00:c6:12:{10 + self.index:02x}"

    @property
    def tap(self) -> str:
        return f"rktap{self.index}"


class LabError(RuntimeError):
    pass


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def _process_mentions(pid: int, marker: str) -> bool:
    """Whether pid is alive and its command line names marker (a pid may have been reused)."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _pidfile_process(pidfile: Path, marker: str) -> int | None:
    """The pid a pid file names, if that process is alive and its command line names marker."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _process_mentions(pid, marker) else None


def _pidfile_alive(pidfile: Path, marker: str) -> bool:
    return _pidfile_process(pidfile, marker) is not None


def _kill_pidfile(pidfile: Path, marker: str, sig: int = signal.SIGTERM, wait: float = 10.0) -> None:
    pid = _pidfile_process(pidfile, marker)
    if pid is None:
        return
    os.kill(pid, sig)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _process_mentions(pid, marker):
        time.sleep(0.2)
    if _process_mentions(pid, marker):
        os.kill(pid, signal.SIGKILL)


def _namespace_exists(name: str) -> bool:
    return Path(f"/run/netns/{name}").exists()


def teardown_run_dir(run_dir: Path) -> None:
    """Stop every process a run's pidfiles name and delete its namespace; keeps the logs."""
    # A lab of its own inside the run (the HA pair's) keeps its files in a subdirectory.
    for sub in run_dir.iterdir() if run_dir.is_dir() else ():
        if (sub / "netns").exists():
            teardown_run_dir(sub)
    marker = str(run_dir)
    for pidfile in sorted(run_dir.glob("*.pid")):
        _kill_pidfile(pidfile, marker)
        pidfile.unlink(missing_ok=True)
    namespace = (run_dir / "netns").read_text().strip() if (run_dir / "netns").exists() else ""
    if namespace and _namespace_exists(namespace):
        # Whatever else still runs in the run's own namespace is the run's too (ssh control masters,
        # a pinger): end it before the namespace goes.
        _kill_namespace(namespace)
    for overlay in run_dir.glob("*.qcow2"):
        overlay.unlink()


def _kill_namespace(namespace: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False)
    for pid in pids.stdout.split():
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "delete", namespace], check=False)


def sweep_orphan_namespaces() -> None:
    """Delete lab namespaces (rk-vmlab-<pid>) whose runner is gone, also when its run directory went
    first (a run killed between making the namespace and writing its run files, or logs deleted by hand)."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    for match in re.finditer(r"^rk-vmlab-(\d+)\b", listing, re.MULTILINE):
        if not _process_mentions(int(match[1]), "run.py"):
            _kill_namespace(match[0])


def sweep_dead_runs(runs_root: Path, keep_logs: int = 5) -> None:
    """Tear down runs whose runner died without its teardown, and drop all but the newest logs."""
    if not runs_root.is_dir():
        return
    for run_dir in runs_root.iterdir():
        owner = run_dir / "owner"
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid and _process_mentions(pid, "run.py"):
            continue
        teardown_run_dir(run_dir)
        owner.unlink(missing_ok=True)
    sweep_orphan_namespaces()
    finished = sorted(
        (d for d in runs_root.iterdir() if not (d / "owner").exists()), key=lambda d: d.stat().st_mtime
    )
    for old in finished[:-keep_logs] if keep_logs else finished:
        shutil.rmtree(old, ignore_errors=True)


class Lab:
    def __init__(
        self,
        run_dir: Path,
        image_dir: Path,
        mirror_dir: Path,
        vm_names: list[str],
        namespace: str = "",
        data_disk_mib: Mapping[str, int] | None = None,
        memory_mib: Mapping[str, int] | None = None,
    ):
        self.run_dir = run_dir
        self.image_dir = image_dir
        self.mirror_dir = mirror_dir
        self.namespace = namespace or f"rk-vmlab-{os.getpid()}"
        self.vms = {name: VM(name, i + 1) for i, name in enumerate(vm_names)}
        self.key = run_dir / "id_ed25519"
        self.log_dir = run_dir / "logs"
        # A second, empty virtio disk (/dev/vdb in the guest) per named VM: a dedicated block device.
        self.data_disk_mib = dict(data_disk_mib or {})
        # Guest memory per named VM, 512 MiB for the others.
        self.memory_mib = dict(memory_mib or {})

    # --- network namespace and host-side services -------------------------------------------------
    def netns(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *cmd]

    def up(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        (self.run_dir / "owner").write_text(f"{os.getpid()}\n")
        (self.run_dir / "netns").write_text(f"{self.namespace}\n")
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmlab-run", "-f", str(self.key)])
        _run(["ip", "netns", "add", self.namespace])
        ns = ["ip", "-n", self.namespace]
        _run([*ns, "link", "set", "lo", "up"])
        _run([*ns, "link", "add", "rkbr0", "type", "bridge"])
        for address in (HOST_IP, CLUSTER_DNS_IP):
            _run([*ns, "addr", "add", f"{address}/{PREFIX}", "dev", "rkbr0"])
        _run([*ns, "link", "set", "rkbr0", "up"])
        for vm in self.vms.values():
            _run([*ns, "tuntap", "add", "dev", vm.tap, "mode", "tap"])
            _run([*ns, "link", "set", vm.tap, "master", "rkbr0", "up"])
        # Served through a link in the run directory, so the server's command line marks it as this run's.
        served = self.run_dir / "mirror"
        served.symlink_to(self.mirror_dir)
        self._start_service(
            "mirror",
            ["python3", "-m", "http.server", str(MIRROR_PORT), "--bind", HOST_IP, "--directory", str(served)],
        )
        self._start_dns("site-dns", HOST_IP, SITE_DOMAIN)
        self._start_dns("cluster-dns", CLUSTER_DNS_IP, CLUSTER_DOMAIN)

    def _start_service(self, name: str, cmd: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 - handed to the child process
        proc = subprocess.Popen(
            self.netns(*cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (self.run_dir / f"{name}.pid").write_text(f"{proc.pid}\n")

    def stop_service(self, name: str) -> None:
        _kill_pidfile(self.run_dir / f"{name}.pid", name)

    def service_running(self, name: str) -> bool:
        """Whether a process _start_service started still runs (an exited child's command line is empty)."""
        return _pidfile_alive(self.run_dir / f"{name}.pid", name)

    def _start_dns(self, name: str, address: str, domain: str) -> None:
        self._start_service(
            name,
            ["dnsmasq", "--conf-file=/dev/null", "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--bind-interfaces", f"--listen-address={address}", "--except-interface=lo",
             "--user=root", "--group=root", f"--address=/{domain}/{SERVICE_IP}", "--log-queries",
             f"--log-facility={self.log_dir / (name + '-queries.log')}", f"--pid-file={self.run_dir / name}.dnsmasq"],
        )  # fmt: skip

    def dns_queries(self, server: str) -> str:
        """The queries the named lab DNS server (site-dns or cluster-dns) has seen so far."""
        path = self.log_dir / f"{server}-queries.log"
        return path.read_text() if path.exists() else ""

    def down(self) -> None:
        teardown_run_dir(self.run_dir)
        (self.run_dir / "owner").unlink(missing_ok=True)

    # --- virtual machines ----------------------------------------------------------------------
    def overlay(self, vm: VM) -> Path:
        return self.run_dir / f"{vm.name}.qcow2"

    def boot(self, name: str) -> None:
        """Start a VM; its overlay is made on first boot and kept, so a restart keeps its disk."""
        vm = self.vms[name]
        overlay = self.overlay(vm)
        if not overlay.exists():
            base = self.image_dir / "rootfs.qcow2"
            _run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(overlay)])
        data_disk = []
        if name in self.data_disk_mib:
            data = self.run_dir / f"{vm.name}-data.qcow2"
            if not data.exists():
                _run(["qemu-img", "create", "-q", "-f", "qcow2", str(data), f"{self.data_disk_mib[name]}M"])
            data_disk = ["-drive", f"file={data},if=virtio,format=qcow2"]
        cmdline = " ".join(
            [
                "root=/dev/vda rw console=ttyS0 net.ifnames=0",
                f"systemd.hostname={vm.name}",
                # systemd-network-generator: static address, no gateway (the lab has no way out).
                f"ip={vm.ip}:::255.255.255.0:{vm.name}:eth0:off nameserver={HOST_IP}",
            ]
        )
        console = self.log_dir / f"{vm.name}.console.log"
        with console.open("a") as handle:
            handle.write(f"\n===== boot {time.strftime('%H:%M:%S')} =====\n")
        _run(
            self.netns(
                "qemu-system-x86_64", "-name", vm.name,
                "-accel", "tcg,tb-size=128", "-cpu", "max", "-smp", "1", "-m", str(self.memory_mib.get(vm.name, 512)),
                "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
                "-kernel", str(self.image_dir / "vmlinuz"), "-initrd", str(self.image_dir / "initrd.img"),
                "-append", cmdline,
                "-drive", f"file={overlay},if=virtio,format=qcow2", *data_disk,
                "-netdev", f"tap,id=net0,ifname={vm.tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=net0,mac={vm.mac}",
                "-device", "virtio-rng-pci",
                "-fw_cfg", f"name=opt/redundant-kube/authorized_keys,file={self.key}.pub",
                "-chardev", f"file,id=console,path={console},append=on", "-serial", "chardev:console",
                "-pidfile", str(self.pidfile(vm)), "-daemonize",
            )
        )  # fmt: skip

    def pidfile(self, vm: VM) -> Path:
        return self.run_dir / f"{vm.name}.pid"

    def running(self, name: str) -> bool:
        return _pidfile_alive(self.pidfile(self.vms[name]), str(self.run_dir))

    def kill(self, name: str) -> None:
        """Pull the plug: SIGKILL the VM's QEMU, as a node that dies without shutting down."""
        vm = self.vms[name]
        _kill_pidfile(self.pidfile(vm), str(self.run_dir), sig=signal.SIGKILL)
        self.pidfile(vm).unlink(missing_ok=True)

    def ssh_command(self, name: str, command: str) -> list[str]:
        vm = self.vms[name]
        return self.netns("ssh", *SSH_OPTIONS, "-i", str(self.key), f"root@{vm.ip}", command)

    def ssh(
        self, name: str, command: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            self.ssh_command(name, command), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise LabError(
                f"{name}: {command!r} exited {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def wait_ssh(self, names: list[str], timeout: float = BOOT_TIMEOUT) -> dict[str, float]:
        """Wait until each VM answers ssh; returns seconds waited per VM. Retries: a booting guest refuses."""
        start = time.monotonic()
        waited: dict[str, float] = {}
        pending = list(names)
        while pending:
            for name in list(pending):
                if not self.running(name):
                    raise LabError(
                        f"{name}: QEMU exited while booting; see {self.log_dir}/{name}.console.log"
                    )
                try:
                    ok = self.ssh(
                        name, "systemctl is-system-running --wait >/dev/null; true", timeout=60, check=False
                    )
                except subprocess.TimeoutExpired:
                    continue
                if ok.returncode == 0:
                    waited[name] = time.monotonic() - start
                    pending.remove(name)
            if pending and time.monotonic() - start > timeout:
                raise LabError(
                    f"{', '.join(pending)}: no ssh after {timeout:.0f}s; see the console logs in {self.log_dir}"
                )
            if pending:
                time.sleep(3)
        return waited

    def describe(self) -> str:
        return " ".join(shlex.quote(part) for part in ["namespace", self.namespace, "run", str(self.run_dir)])
