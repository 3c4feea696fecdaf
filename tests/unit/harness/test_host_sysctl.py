"""tests/host_sysctl.py on a directory laid out like /proc/sys."""

from __future__ import annotations

import os

import host_sysctl
import pytest


def write(root, rel, value, mode=0o644):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(value)
    os.chmod(path, mode)


def fake_proc_sys(root):
    write(root, "kernel/panic", "1\n")
    write(root, "vm/overcommit_memory", "0\n")
    write(root, "net/ipv4/ip_forward", "0\n")
    write(root, "net/ipv4/conf/eth0/forwarding", "0\n")
    write(root, "kernel/shmmax", "100\n")
    write(root, "kernel/ns_last_pid", "5\n")
    write(root, "fs/file-nr", "1 0 9\n", mode=0o444)


@pytest.fixture
def proc_sys(tmp_path):
    """A directory laid out like /proc/sys, and its parameters as saved at the start of a run."""
    root = str(tmp_path)
    fake_proc_sys(root)
    return root, host_sysctl.writable_parameters(root)


def test_check_passes_when_nothing_changed(proc_sys, capsys):
    root, saved = proc_sys
    write(root, "kernel/ns_last_pid", "999\n")  # volatile

    assert host_sysctl.check(saved, root) == 0
    assert "as at the start of the run" in capsys.readouterr().out


def test_check_fails_naming_each_changed_parameter(proc_sys, capsys):
    root, saved = proc_sys
    write(root, "kernel/panic", "10\n")
    write(root, "net/ipv4/conf/eth0/forwarding", "1\n")

    assert host_sysctl.check(saved, root) == 1
    out = capsys.readouterr().out
    assert "host sysctl kernel.panic changed by the tests: '1' -> '10'" in out
    assert "net.ipv4.conf.eth0.forwarding" in out
    assert "kernel.shmmax" not in out


def test_check_names_interfaces_left_behind_without_comparing_them(proc_sys, capsys):
    root, saved = proc_sys
    write(root, "net/ipv4/conf/cni-podman0/forwarding", "1\n")

    assert host_sysctl.check(saved, root) == 0
    assert "interfaces the tests left on the host (not compared): cni-podman0" in capsys.readouterr().out


def test_read_only_parameters_are_not_recorded(tmp_path):
    fake_proc_sys(str(tmp_path))

    saved = host_sysctl.writable_parameters(str(tmp_path))

    assert "fs/file-nr" not in saved
    assert "kernel/ns_last_pid" not in saved
    assert saved["kernel/panic"] == "1\n"


def test_restore_writes_back_known_parameters_and_leaves_others(proc_sys, capsys):
    root, saved = proc_sys
    write(root, "kernel/panic", "10\n")
    write(root, "vm/overcommit_memory", "1\n")
    write(root, "net/ipv4/conf/eth0/forwarding", "1\n")
    write(root, "kernel/shmmax", "200\n")

    assert host_sysctl.restore(saved, root, containers=[]) == 0

    after = host_sysctl.writable_parameters(root)
    assert after["kernel/panic"] == "1\n"
    assert after["vm/overcommit_memory"] == "0\n"
    assert after["net/ipv4/conf/eth0/forwarding"] == "0\n"
    assert after["kernel/shmmax"] == "200\n"
    assert "kernel.shmmax changed during the tests ('100' -> '200'), left alone" in capsys.readouterr().out


def test_restore_leaves_forwarding_on_while_containers_run(proc_sys, capsys):
    root, saved = proc_sys
    write(root, "kernel/panic", "10\n")
    write(root, "net/ipv4/ip_forward", "1\n")

    assert host_sysctl.restore(saved, root, containers=["other-job"]) == 0

    after = host_sysctl.writable_parameters(root)
    assert after["kernel/panic"] == "1\n"
    assert after["net/ipv4/ip_forward"] == "1\n"
    assert "net.ipv4.ip_forward left at '1': containers still run (other-job)" in capsys.readouterr().out


def test_ip_forward_is_restored_before_the_interface_flags():
    order = sorted(
        ["net/ipv4/conf/all/forwarding", "net/ipv4/ip_forward", "kernel/panic"], key=host_sysctl.restore_order
    )

    assert order[0] == "net/ipv4/ip_forward"


def test_restore_only_the_named_parameters_and_patterns(proc_sys):
    root, saved = proc_sys
    write(root, "kernel/panic", "10\n")
    write(root, "vm/overcommit_memory", "1\n")
    write(root, "net/ipv4/conf/eth0/forwarding", "1\n")

    only = ("kernel/panic", "net/ipv4/conf/*/forwarding")
    assert host_sysctl.restore(saved, root, containers=[], only=only) == 0

    after = host_sysctl.writable_parameters(root)
    assert after["kernel/panic"] == "1\n"
    assert after["net/ipv4/conf/eth0/forwarding"] == "0\n"
    assert after["vm/overcommit_memory"] == "1\n"  # not named: another run's to put back


class FakeDelete:
    """Records the interfaces restore() would remove with `ip link delete`."""

    def __init__(self, succeeds=True):
        self.deleted = []
        self.succeeds = succeeds

    def __call__(self, name):
        self.deleted.append(name)
        return self.succeeds


def test_restore_removes_podman_bridge_made_since_the_save_and_no_other_interface(proc_sys, capsys):
    root, saved = proc_sys
    write(root, "net/ipv4/conf/cni-podman0/forwarding", "1\n")
    write(root, "net/ipv4/conf/veth1234/forwarding", "1\n")
    delete = FakeDelete()

    assert host_sysctl.restore(saved, root, containers=[], delete=delete) == 0

    assert delete.deleted == ["cni-podman0"]
    assert "host network interface cni-podman0 removed" in capsys.readouterr().out


def test_restore_keeps_podman_bridges_while_containers_run(proc_sys, capsys):
    root, saved = proc_sys
    write(root, "net/ipv4/conf/cni-podman0/forwarding", "0\n")
    write(root, "net/ipv4/conf/cni-podman1/forwarding", "0\n")
    delete = FakeDelete()

    assert host_sysctl.restore(saved, root, containers=["other-job"], delete=delete) == 0

    assert delete.deleted == []
    assert "cni-podman0, cni-podman1 left: containers still run (other-job)" in capsys.readouterr().out


def test_restore_keeps_a_bridge_that_was_there_and_leaves_bridges_alone_when_narrowed(proc_sys):
    root, saved_before_bridge = proc_sys
    write(root, "net/ipv4/conf/cni-podman0/forwarding", "0\n")
    saved_with_bridge = host_sysctl.writable_parameters(root)
    delete = FakeDelete()

    assert host_sysctl.restore(saved_with_bridge, root, containers=[], delete=delete) == 0
    assert host_sysctl.restore(saved_before_bridge, root, [], ("kernel/panic",), delete) == 0

    assert delete.deleted == []


def test_restore_fails_when_a_bridge_cannot_be_removed(proc_sys):
    root, saved = proc_sys
    write(root, "net/ipv4/conf/cni-podman0/forwarding", "1\n")

    assert host_sysctl.restore(saved, root, containers=[], delete=FakeDelete(succeeds=False)) == 1
