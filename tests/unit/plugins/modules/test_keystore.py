"""`redundant.kube.keystore` run through real `ansible` with `dest` (no cluster): changed/idempotence,
check mode, diff, backups, no_log, and bad input leaving the file untouched. Java checks what we wrote."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from ansible_run import run_module
from support.keystore_helpers import der, pem

from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import SecretKeyEntry
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import Keystore


def key_of(
    path: Path, store_password: str = "changeit", alias: str = "default", key_password: str = "midpoint"
) -> bytes:
    return Keystore.load(path.read_bytes(), store_password, {alias: key_password}).get(alias).key


def midpoint_args(path: Path, **extra) -> dict:
    args = {
        "dest": str(path),
        "type": "jceks",
        "store_password": "changeit",
        "entries": [{"alias": "default", "size": 128, "key_password": "midpoint"}],
    }
    args.update(extra)
    return args


def test_create_rerun_add_ca(tmp_path: Path, ca_certs, java_tools):
    path = tmp_path / "keystore.jceks"
    first = run_module("keystore", midpoint_args(path))
    assert not first.failed, first.result
    assert first.result["changed"] is True
    assert first.result["keystore_path"] == str(path)
    assert [(e["alias"], e["type"], e["size"], e["action"]) for e in first.result["entries"]] == [
        ("default", "secret_key", 128, "added")
    ]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    key = key_of(path)

    again = run_module("keystore", midpoint_args(path))
    assert not again.failed, again.result
    assert again.result["changed"] is False
    assert [e["action"] for e in again.result["entries"]] == ["kept"]
    assert key_of(path) == key

    ca_entry = {"alias": "corp-ca", "certificate": pem(ca_certs[0]) + pem(ca_certs[1])}
    args = midpoint_args(path)
    args["entries"].append(ca_entry)
    added = run_module("keystore", args)
    assert added.result["changed"] is True
    actions = {e["alias"]: e["action"] for e in added.result["entries"]}
    assert actions == {"default": "kept", "corp-ca": "added", "corp-ca-2": "added"}
    assert "backup" not in added.result  # additions replace nothing
    assert key_of(path) == key
    seen = java_tools.entries(path, "jceks", "changeit", default="midpoint")
    assert seen["default"]["sha256"] == hashlib.sha256(key).hexdigest()
    assert seen["corp-ca-2"]["sha256"] == hashlib.sha256(der(ca_certs[1])).hexdigest()

    assert run_module("keystore", args).result["changed"] is False


def test_replacing_a_certificate_keeps_a_backup(tmp_path: Path, ca_certs):
    path = tmp_path / "trust.p12"
    args = {
        "dest": str(path),
        "type": "pkcs12",
        "store_password": "changeit",
        "entries": [{"alias": "ca", "certificate": pem(ca_certs[0])}],
    }
    assert run_module("keystore", args).result["changed"] is True
    previous = path.read_bytes()
    args["entries"][0]["certificate"] = pem(ca_certs[2])
    run = run_module("keystore", args)
    assert run.result["changed"] is True
    assert [e["action"] for e in run.result["entries"]] == ["replaced"]
    backup = Path(run.result["backup"])
    assert backup.read_bytes() == previous
    assert Keystore.load(path.read_bytes(), "changeit").get("ca").certificate == der(ca_certs[2])


def test_check_mode_and_diff_write_nothing_and_show_nothing_secret(tmp_path: Path, ca_certs):
    path = tmp_path / "keystore.jceks"
    run = run_module("keystore", midpoint_args(path), check=True, diff=True)
    assert not run.failed, run.result
    assert run.result["changed"] is True
    assert not path.exists()
    run_module("keystore", midpoint_args(path))
    key = key_of(path)
    args = midpoint_args(path)
    args["entries"].append({"alias": "ca", "certificate": pem(ca_certs[0])})
    run = run_module("keystore", args, check=True, diff=True)
    assert run.result["changed"] is True
    diff = run.result["diff"]
    assert set(diff["before"]["entries"]) == {"default"}
    assert set(diff["after"]["entries"]) == {"default", "ca"}
    assert key_of(path) == key and Keystore.load(path.read_bytes(), "changeit").aliases == ["default"]
    everything = run.stdout + run.stderr
    for secret in ("midpoint", key.hex(), hashlib.sha256(key).hexdigest()):
        assert secret not in everything


def test_passwords_are_not_logged(tmp_path: Path):
    run = run_module(
        "keystore",
        midpoint_args(
            tmp_path / "k.jceks",
            store_password="S3cr3t-store",
            entries=[{"alias": "k", "key_password": "S3cr3t-key"}],
        ),
    )
    assert not run.failed, run.result
    # The JSON callback prints the invocation's module_args: the passwords must be masked there too.
    assert run.result["invocation"]["module_args"]["store_password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "S3cr3t-store" not in run.stdout + run.stderr
    assert "S3cr3t-key" not in run.stdout + run.stderr


def test_force_regenerate_replaces_the_key_and_backs_up(tmp_path: Path):
    path = tmp_path / "keystore.jceks"
    run_module("keystore", midpoint_args(path))
    key = key_of(path)
    run = run_module("keystore", midpoint_args(path, force_regenerate=True))
    assert run.result["changed"] is True
    assert [e["action"] for e in run.result["entries"]] == ["regenerated"]
    assert key_of(path) != key
    assert key_of(Path(run.result["backup"])) == key


def test_state_absent(tmp_path: Path):
    path = tmp_path / "keystore.jceks"
    run_module("keystore", midpoint_args(path))
    run = run_module("keystore", midpoint_args(path, state="absent", backup=False))
    assert run.result["changed"] is True and not path.exists()
    assert run_module("keystore", midpoint_args(path, state="absent")).result["changed"] is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"store_password": "not-the-store-password"}, "integrity check failed: wrong store password"),
        (
            {"entries": [{"alias": "default", "size": 128, "key_password": "other-pass"}]},
            "cannot unlock the existing secret key 'default'",
        ),
        (
            {"entries": [{"alias": "default", "size": 256, "key_password": "midpoint"}]},
            "holds a 128-bit AES key, but a 256-bit AES key was asked",
        ),
        (
            {"entries": [{"alias": "new", "key_password": "pässwörd"}]},
            "a JCEKS key password must be printable ASCII",
        ),
        ({"entries": [{"alias": "new", "size": 512}]}, "unsupported AES key size 512"),
        (
            {
                "entries": [
                    {
                        "alias": "ca",
                        "certificate": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----",
                    }
                ]
            },
            "certificate 1 of the PEM is malformed",
        ),
        ({"entries": [{"alias": "ca", "certificate": "PRIVATE_KEY_PEM"}]}, "holds a private key"),
        (
            {"entries": [{"alias": "CA", "certificate": "CA_PEM"}, {"alias": "ca", "certificate": "CA_PEM"}]},
            "are the same alias 'ca'",
        ),
        ({"type": "pkcs12"}, "the keystore is JCEKS, not PKCS12"),
    ],
    ids=[
        "store-password",
        "key-password",
        "key-size-change",
        "non-ascii",
        "size",
        "malformed-pem",
        "private-key",
        "case-duplicate",
        "type",
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(tmp_path: Path, ca_certs, change, message):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "keystore.jceks"
    key = SecretKeyEntry("default", algorithm="AES", key=os.urandom(16))
    path.write_bytes(Keystore("jceks", [key]).dump("changeit", {"default": "midpoint"}))
    before = path.read_bytes()
    mtime = os.stat(path).st_mtime_ns
    private_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    for entry in change.get("entries", []):
        if entry.get("certificate") == "PRIVATE_KEY_PEM":
            entry["certificate"] = private_pem
        elif entry.get("certificate") == "CA_PEM":
            entry["certificate"] = pem(ca_certs[0])
    run = run_module("keystore", midpoint_args(path, **change))
    assert run.failed
    msg = run.result["msg"]
    assert message in msg
    assert msg.startswith(f"keystore file {path}: ") and msg.endswith("; nothing was changed")
    assert "\n" not in msg and "Traceback" not in run.stdout + run.stderr
    assert "PRIVATE KEY-----" not in msg
    assert path.read_bytes() == before and os.stat(path).st_mtime_ns == mtime


def test_parameter_errors(tmp_path: Path):
    run = run_module("keystore", {"store_password": "changeit"})
    assert run.failed and "one of the following is required: name, dest" in run.result["msg"]
    run = run_module("keystore", {"name": "ks", "store_password": "changeit"})
    assert run.failed and "namespace" in run.result["msg"]
    run = run_module("keystore", {"dest": str(tmp_path / "k.jceks")})
    assert run.failed and run.result["msg"].endswith("store_password is required; nothing was changed")


def test_ansible_doc_renders():
    import subprocess
    import sys

    from ansible_run import REPO

    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "redundant.kube.keystore"],
        capture_output=True,
        text=True,
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_NOCOLOR="1"),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[WARNING]" not in proc.stderr and "ERROR" not in proc.stderr
    for option in (
        "store_password_key",
        "force_regenerate",
        "certificate_path",
        "key_password",
        "kubeconfig",
    ):
        assert option in proc.stdout
