"""redundant.kube.controller_checksums: the pure check, and the action plugin through real ansible."""

from __future__ import annotations

import hashlib

from ansible_run import run_module

from ansible_collections.redundant.kube.plugins.action.controller_checksums import problems


def test_matching_missing_wrong_and_malformed(tmp_path):
    good = tmp_path / "k3s"
    good.write_bytes(b"not k3s\n")
    digest = "sha256:" + hashlib.sha256(b"not k3s\n").hexdigest()
    found, digests = problems(
        [
            {"path": str(good), "checksum": digest, "variable": "k3s_binary_checksum"},
            {"path": str(tmp_path / "gone.tar"), "checksum": digest, "variable": "k3s_airgap_images"},
            {"path": str(good), "checksum": "sha256:" + "0" * 64, "variable": "kubeadm_binaries"},
            {"path": str(good), "checksum": "md5:abc", "variable": "k3s_binary_checksum"},
        ]
    )
    assert digests == {str(good): digest}
    assert found == [
        f"k3s_airgap_images: {tmp_path}/gone.tar cannot be read on the controller (No such file or directory)",
        f"kubeadm_binaries: {good} has {digest}, not sha256:{'0' * 64} - wrong file or wrong version",
        f"k3s_binary_checksum: 'md5:abc' for {good} is not \"sha256:<64 hex digits>\"",
    ]


def test_action_plugin_fails_naming_the_variable(tmp_path):
    binary = tmp_path / "k3s"
    binary.write_bytes(b"stand-in\n")
    right = "sha256:" + hashlib.sha256(b"stand-in\n").hexdigest()
    ok = run_module(
        "controller_checksums", {"files": [{"path": str(binary), "checksum": right, "variable": "v"}]}
    )
    assert not ok.failed, ok.result
    assert ok.result["digests"] == {str(binary): right} and ok.result["changed"] is False
    bad = run_module(
        "controller_checksums",
        {
            "files": [
                {"path": str(binary), "checksum": "sha256:" + "1" * 64, "variable": "k3s_binary_checksum"}
            ]
        },
    )
    assert bad.failed
    assert bad.result["msg"].startswith(f"k3s_binary_checksum: {binary} has {right}, not sha256:")
