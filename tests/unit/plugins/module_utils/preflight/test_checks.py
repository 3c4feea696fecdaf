"""Preflight verdicts and fix texts, on fake kernel trees and captured command output."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.redundant.kube.plugins.module_utils.preflight import checks as pf

RELEASE = "6.1.0-18-amd64"


def make_root(
    tmp_path: Path,
    *,
    proc_modules: str = "",
    filesystems: str = "nodev\tsysfs\nnodev\tproc\n",
    sys_module: tuple[str, ...] = (),
    builtin: str | None = None,
    dep: str | None = None,
    extra_paths: tuple[str, ...] = (),
) -> Path:
    (tmp_path / "proc").mkdir(parents=True)
    (tmp_path / "proc/modules").write_text(proc_modules)
    (tmp_path / "proc/filesystems").write_text(filesystems)
    for name in sys_module:
        (tmp_path / "sys/module" / name).mkdir(parents=True)
    if builtin is not None or dep is not None:
        (tmp_path / "lib/modules" / RELEASE).mkdir(parents=True)
    if builtin is not None:
        (tmp_path / "lib/modules" / RELEASE / "modules.builtin").write_text(builtin)
    if dep is not None:
        (tmp_path / "lib/modules" / RELEASE / "modules.dep").write_text(dep)
    for path in extra_paths:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("0\n")
    return tmp_path


def facts(root: Path) -> pf.KernelFacts:
    return pf.read_kernel_facts(str(root), RELEASE)


def test_module_name_normalisation() -> None:
    assert pf.normalize_module("kernel/drivers/md/dm-crypt.ko.xz") == "dm_crypt"
    assert pf.normalize_module("kernel/net/bridge/br_netfilter.ko") == "br_netfilter"
    assert pf.normalize_module("dm-crypt") == "dm_crypt"
    assert pf.parse_module_list("kernel/fs/nfs/nfs.ko.zst: kernel/net/sunrpc/sunrpc.ko.zst\n") == {"nfs"}


def test_loaded_module_from_proc_modules(tmp_path: Path) -> None:
    root = make_root(
        tmp_path, proc_modules="iscsi_tcp 24576 0 - Live 0x0\nlibiscsi 77824 1 iscsi_tcp, Live 0x0\n"
    )
    assert pf.kernel_module_state("iscsi_tcp", facts(root)) == ("loaded", "loaded (listed in /proc/modules)")


def test_builtin_from_modules_builtin_with_dash_name(tmp_path: Path) -> None:
    root = make_root(tmp_path, builtin="kernel/drivers/md/dm-crypt.ko\n", dep="")
    state, detail = pf.kernel_module_state("dm_crypt", facts(root))
    assert state == "builtin"
    assert "modules.builtin" in detail


def test_loadable_from_modules_dep(tmp_path: Path) -> None:
    root = make_root(
        tmp_path, builtin="", dep="kernel/drivers/scsi/iscsi_tcp.ko.xz: kernel/drivers/scsi/libiscsi.ko.xz\n"
    )
    assert pf.kernel_module_state("iscsi_tcp", facts(root))[0] == "loadable"


def test_builtin_without_sys_module_entry_is_proven_by_its_sysctl(tmp_path: Path) -> None:
    # A container sees the host kernel but not its /lib/modules; br_netfilter has no /sys/module entry.
    root = make_root(tmp_path, extra_paths=("proc/sys/net/bridge/bridge-nf-call-iptables",))
    state, detail = pf.kernel_module_state("br_netfilter", facts(root))
    assert state == "builtin"
    assert "/proc/sys/net/bridge/bridge-nf-call-iptables" in detail


def test_builtin_filesystem_module_is_proven_by_proc_filesystems(tmp_path: Path) -> None:
    root = make_root(tmp_path, filesystems="nodev\toverlay\n\text4\n")
    assert pf.kernel_module_state("overlay", facts(root))[0] == "builtin"
    assert pf.check_filesystem("overlay", facts(root)).ok


def test_builtin_from_sys_module(tmp_path: Path) -> None:
    root = make_root(tmp_path, sys_module=("dm_crypt",))
    assert pf.kernel_module_state("dm_crypt", facts(root))[0] == "builtin"


def test_missing_module_without_modules_dir_names_the_reason_and_fix(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    result = pf.check_kernel_module("iscsi_tcp", facts(root))
    assert not result.ok
    assert f"/lib/modules/{RELEASE}/modules.dep does not exist" in result.detail
    assert "CONFIG_ISCSI_TCP" in result.fix
    assert result.line().startswith("kernel_module iscsi_tcp: not loaded, not built into kernel")


def test_missing_module_with_modules_dir(tmp_path: Path) -> None:
    root = make_root(tmp_path, builtin="", dep="kernel/fs/overlayfs/overlay.ko\n")
    state, detail = pf.kernel_module_state("iscsi_tcp", facts(root))
    assert state == "missing"
    assert f"not in /lib/modules/{RELEASE}/modules.dep" in detail


def test_nfs_filesystem_missing_vs_loadable(tmp_path: Path) -> None:
    missing = make_root(tmp_path / "a")
    result = pf.check_filesystem("nfs4", facts(missing))
    assert not result.ok
    assert "module nfsv4" in result.detail
    loadable = make_root(tmp_path / "b", builtin="", dep="kernel/fs/nfs/nfsv4.ko: kernel/fs/nfs/nfs.ko\n")
    assert pf.check_filesystem("nfs4", facts(loadable)).ok
    registered = make_root(tmp_path / "c", filesystems="nodev\tnfs\nnodev\tnfs4\n")
    assert pf.check_filesystem("nfs", facts(registered)).detail == "registered in /proc/filesystems"


def test_read_kernel_facts_of_an_empty_root(tmp_path: Path) -> None:
    empty = pf.read_kernel_facts(str(tmp_path), RELEASE)
    assert empty.loaded == frozenset() and empty.builtin is None and empty.loadable is None


def test_dpkg_query_parsing() -> None:
    out = "nfs-common\tii \nopen-iscsi\trc \nlibc6:amd64\tii \n"
    assert pf.parse_dpkg_query(out) == {"nfs-common": True, "open-iscsi": False, "libc6": True}
    results = pf.check_packages(["nfs-common", "open-iscsi", "absent"], pf.parse_dpkg_query(out), "dpkg")
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].fix == "apt-get install -y open-iscsi"


def test_rpm_query_parsing() -> None:
    out = "nfs-utils\npackage iscsi-initiator-utils is not installed\n"
    installed = pf.parse_rpm_query(out, ["nfs-utils", "iscsi-initiator-utils"])
    assert installed == {"nfs-utils": True, "iscsi-initiator-utils": False}
    assert (
        pf.check_packages(["iscsi-initiator-utils"], installed, "rpm")[0].fix
        == "dnf install -y iscsi-initiator-utils"
    )


@pytest.mark.parametrize(
    ("active", "enabled", "ok", "fix_part"),
    [
        ("active", "enabled", True, ""),
        ("active", "static", True, ""),
        ("failed", "enabled", False, "journalctl -u iscsid"),
        ("inactive", "disabled", False, "systemctl enable --now iscsid"),
        ("inactive", "not-found", False, "install the package that ships iscsid"),
    ],
)
def test_service_verdicts(active: str, enabled: str, ok: bool, fix_part: str) -> None:
    result = pf.check_service("iscsid", active, enabled)
    assert result.ok is ok
    assert fix_part in result.fix


def test_dns_verdicts() -> None:
    assert (
        pf.check_dns("kubernetes.default.svc.cluster.local", ["10.43.0.1", "10.43.0.1"]).detail
        == "resolves to 10.43.0.1"
    )
    failed = pf.check_dns("kubernetes.default.svc.cluster.local", [], "[Errno -2] Name or service not known")
    assert not failed.ok
    assert "Name or service not known" in failed.detail
    assert "dns_resolver_phase=activate" in failed.fix


def test_core_pattern_verdicts() -> None:
    exists = {"/usr/lib/systemd/systemd-coredump"}.__contains__
    assert pf.check_core_pattern("/data/ddb/core/core.%p", "/data/ddb/core/core.%p", exists).ok
    wrong = pf.check_core_pattern("/data/ddb/core/core.%p", "core", exists)
    assert not wrong.ok and "'core'" in wrong.detail and "core_pattern_value" in wrong.fix
    pipe = "|/usr/lib/systemd/systemd-coredump %P %u"
    assert pf.check_core_pattern(pipe, pipe, exists).ok
    broken = pf.check_core_pattern("|/usr/bin/absent %p", "|/usr/bin/absent %p", exists)
    assert not broken.ok and "/usr/bin/absent" in broken.detail


def test_pipe_program() -> None:
    assert pf.pipe_program("|/usr/bin/x %p") == "/usr/bin/x"
    assert pf.pipe_program("| ") == ""
    assert pf.pipe_program("core.%p") is None


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10G", 10 * 1024**3),
        ("512M", 512 * 1024**2),
        ("1.5K", 1536),
        ("100", 100),
        ("2GiB", 2 * 1024**3),
        (7, 7),
    ],
)
def test_parse_size(text: str | int, size: int) -> None:
    assert pf.parse_size(text) == size


def test_parse_size_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a size: 'lots'"):
        pf.parse_size("lots")


def test_free_disk_verdicts() -> None:
    assert pf.check_free_disk("/var/lib", 20 * 1024**3, 10 * 1024**3).ok
    short = pf.check_free_disk("/var/lib", 1024**3, 10 * 1024**3)
    assert not short.ok and short.detail == "1.0G free, need 10.0G" and "9.0G" in short.fix
    assert pf.check_free_disk("/nowhere", None, 1).detail == "path does not exist"


def test_summary_has_one_line_per_failure() -> None:
    results = [
        pf.CheckResult("package", "a", True, "installed"),
        pf.CheckResult("service", "b", False, "inactive", "start it"),
    ]
    assert pf.summary(results) == "preflight: 1 of 2 checks failed\nservice b: inactive; fix: start it"
    assert pf.summary(results[:1]) == "preflight: all 1 checks passed"
