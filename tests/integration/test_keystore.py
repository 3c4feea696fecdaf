"""redundant.kube.keystore against the real API server: the keystore Secret is created once, re-runs change
nothing (same key bytes, same resourceVersion), certificates are added without touching the key, replaced
content is kept in a backup Secret, bad input leaves the Secret untouched, and the midPoint-like `cluster`
app of the app module mounts it with a checksum that follows its content."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import pytest
import yaml
from ansible_run import run_module
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import Keystore
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    checksum_annotation_key,
    content_digest,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources

SECRET = "mp-demo-keystore"
CASES = Path(__file__).resolve().parents[1] / "unit" / "plugins" / "module_utils" / "app" / "cases"


def ca_pem(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def keystore(
    cluster, namespace: str, *extra_entries: dict, check: bool = False, diff: bool = False, **options
):
    """The midPoint cluster's keystore as its guide makes it (`keytool -genseckey -alias default -keysize 128
    -storepass changeit -keypass midpoint` plus `--from-literal=keystore=changeit`) as a module call."""
    args = {
        "kubeconfig": cluster.kubeconfig,
        "name": SECRET,
        "namespace": namespace,
        "type": "jceks",
        "store_password": "changeit",
        "store_password_key": "keystore",
        "entries": [{"alias": "default", "size": 128, "key_password": "midpoint"}, *extra_entries],
    }
    args.update(options)
    return run_module("keystore", {k: v for k, v in args.items() if v is not None}, check=check, diff=diff)


def live(resources: Resources, namespace: str, name: str = SECRET) -> dict | None:
    return resources.get("v1", "Secret", name, namespace)


def opened(secret: dict) -> Keystore:
    data = secret["data"]
    assert base64.b64decode(data["keystore"]) == b"changeit"
    return Keystore.load(base64.b64decode(data["keystore.jceks"]), "changeit", {"default": "midpoint"})


def test_keystore_secret_created_once_then_kept(kube_cluster, resources: Resources, namespace: str):
    first = keystore(kube_cluster, namespace)
    assert not first.failed, first.result
    assert first.result["changed"] is True
    assert first.result["secret"] == {"namespace": namespace, "name": SECRET}
    created = live(resources, namespace)
    assert created["type"] == "Opaque"
    assert created["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "redundant.kube"
    key = opened(created).get("default").key
    assert len(key) == 16

    again = keystore(kube_cluster, namespace)
    assert not again.failed, again.result
    assert again.result["changed"] is False
    after = live(resources, namespace)
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert opened(after).get("default").key == key

    # Check mode: the change is reported (and validated by a server dry run) but not made.
    root = ca_pem("Corp Root CA")
    checked = keystore(
        kube_cluster, namespace, {"alias": "corp-ca", "certificate": root}, check=True, diff=True
    )
    assert checked.result["changed"] is True
    assert set(checked.result["diff"]["after"]["entries"]) == {"default", "corp-ca"}
    assert live(resources, namespace)["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    # Adding a CA later, reading the store password from the Secret: the key stays, no backup is needed.
    added = keystore(kube_cluster, namespace, {"alias": "corp-ca", "certificate": root}, store_password=None)
    assert not added.failed, added.result
    assert {e["alias"]: e["action"] for e in added.result["entries"]} == {
        "default": "kept",
        "corp-ca": "added",
    }
    assert "backup" not in added.result
    with_ca = live(resources, namespace)
    store = opened(with_ca)
    assert store.get("default").key == key
    assert store.get("corp-ca").describe()["subject"] == "CN=Corp Root CA"
    assert (
        keystore(kube_cluster, namespace, {"alias": "corp-ca", "certificate": root}).result["changed"]
        is False
    )

    # Replacing the CA keeps the previous Secret content in a backup Secret.
    replaced = keystore(
        kube_cluster, namespace, {"alias": "corp-ca", "certificate": ca_pem("Corp Root CA 2")}
    )
    assert not replaced.failed, replaced.result
    assert [e["action"] for e in replaced.result["entries"] if e["alias"] == "corp-ca"] == ["replaced"]
    backup = live(resources, namespace, replaced.result["backup"])
    assert backup["data"] == with_ca["data"]
    assert backup["metadata"]["labels"]["redundant.kube/backup-of"] == SECRET
    assert opened(live(resources, namespace)).get("default").key == key


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"store_password": "not-the-password"}, "integrity check failed: wrong store password"),
        (
            {"entries": [{"alias": "default", "size": 128, "key_password": "not-midpoint"}]},
            "cannot unlock the existing secret key 'default'",
        ),
        (
            {"entries": [{"alias": "default", "size": 256, "key_password": "midpoint"}]},
            "holds a 128-bit AES key",
        ),
        ({"type": "pkcs12", "file_name": "keystore.jceks"}, "the keystore is JCEKS, not PKCS12"),
    ],
    ids=["store-password", "key-password", "key-size", "type"],
)
def test_bad_input_leaves_the_secret_untouched(
    kube_cluster, resources: Resources, namespace: str, options, message
):
    assert not keystore(kube_cluster, namespace).failed
    before = live(resources, namespace)
    run = keystore(kube_cluster, namespace, **options)
    assert run.failed
    assert message in run.result["msg"]
    assert run.result["msg"].startswith(f"Secret {namespace}/{SECRET} (keystore.jceks): ")
    assert "\n" not in run.result["msg"] and "Traceback" not in run.stdout + run.stderr
    assert live(resources, namespace)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert (
        resources.list("v1", "Secret", namespace, label_selector=f"redundant.kube/backup-of={SECRET}") == []
    )


def test_absent_keeps_a_backup(kube_cluster, resources: Resources, namespace: str):
    assert not keystore(kube_cluster, namespace).failed
    before = live(resources, namespace)
    gone = keystore(kube_cluster, namespace, state="absent")
    assert gone.result["changed"] is True
    assert live(resources, namespace) is None
    assert live(resources, namespace, gone.result["backup"])["data"] == before["data"]
    assert keystore(kube_cluster, namespace, state="absent").result["changed"] is False


def test_midpoint_cluster_app_mounts_the_keystore_and_follows_its_content(
    kube_cluster, resources: Resources, namespace: str
):
    """The midPoint-like `cluster` app (tests/unit/plugins/module_utils/app/cases/midpoint_cluster.yml) mounts the Secret;
    its pod template carries the Secret's content digest, so adding a CA rolls the members, and an
    unchanged keystore run followed by an unchanged app run changes nothing."""
    assert not keystore(kube_cluster, namespace).failed
    args = yaml.safe_load((CASES / "midpoint_cluster.yml").read_text())
    args.update({"namespace": namespace, "wait_timeout": 90, "kubeconfig": kube_cluster.kubeconfig})
    args["volumes"][0]["nfs"]["server"] = f"mp-demo-nfs.{namespace}.svc.cluster.local"
    deployed = run_module("app", args)
    assert not deployed.failed, deployed.result

    annotation = checksum_annotation_key("Secret", SECRET)

    def template_checksum() -> str:
        [sts] = resources.list("apps/v1", "StatefulSet", namespace)
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        assert any(v.get("secret", {}).get("secretName") == SECRET for v in volumes.values())
        return sts["spec"]["template"]["metadata"]["annotations"][annotation]

    assert template_checksum() == content_digest(live(resources, namespace))
    assert keystore(kube_cluster, namespace).result["changed"] is False
    assert run_module("app", args).result["changed"] is False

    assert (
        keystore(kube_cluster, namespace, {"alias": "ldap-ca", "certificate": ca_pem("LDAP CA")}).result[
            "changed"
        ]
        is True
    )
    rolled = run_module("app", args)
    assert not rolled.failed, rolled.result
    assert rolled.result["changed"] is True
    assert template_checksum() == content_digest(live(resources, namespace))
