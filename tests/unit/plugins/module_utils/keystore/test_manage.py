"""The module's decisions, as pure functions: request validation and reconciliation with an existing
keystore (kept / added / replaced / regenerated / removed)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from support.keystore_helpers import der, pem

from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import (
    KeyPasswordError,
    KeystoreInputError,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.manage import (
    WantedCertificates,
    WantedSecretKey,
    certificates_from,
    key_passwords,
    reconcile,
    wanted_entries,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import (
    SecretKeyEntry,
    TrustedCertEntry,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import Keystore


def no_files(path: str) -> bytes:
    raise FileNotFoundError(2, "No such file or directory", path)


def keys():
    """A key generator that makes every generated key different and recognisable."""
    counter = itertools.count(1)
    return lambda n: bytes([next(counter)]) * n


def wanted(*items, store_type="jceks", password="store-pass", read_file=no_files):
    return wanted_entries(items, store_type, password, read_file)


# --- validation ------------------------------------------------------------------------------------


def test_secret_key_defaults():
    [key] = wanted({"alias": "Default"})
    assert key == WantedSecretKey("default", "AES", 256, "store-pass")
    [key] = wanted({"alias": "default", "size": 128, "key_password": "midpoint"})
    assert (key.size, key.password) == (128, "midpoint")
    assert key_passwords([key]) == {"default": "midpoint"}
    assert "midpoint" not in repr(key)


def test_several_certificates_in_one_pem(ca_certs):
    [group] = wanted({"alias": "chain", "certificate": pem(ca_certs[0]) + "\n" + pem(ca_certs[1])})
    assert group.aliases() == ["chain", "chain-2"]
    assert group.certificates == (der(ca_certs[0]), der(ca_certs[1]))


def test_certificate_from_a_file_pem_or_der(ca_certs, tmp_path):
    (tmp_path / "ca.pem").write_text(pem(ca_certs[2]))
    (tmp_path / "ca.der").write_bytes(der(ca_certs[2]))
    for name in ("ca.pem", "ca.der"):
        [group] = wanted(
            {"alias": "ca", "certificate_path": str(tmp_path / name)},
            read_file=lambda p: Path(p).read_bytes(),
        )
        assert group.certificates == (der(ca_certs[2]),)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"alias": "k", "size": 512}], "entry 'k': unsupported AES key size 512 (use 128, 192 or 256)"),
        ([{"alias": "k", "algorithm": "DES"}], "unsupported algorithm 'DES'"),
        ([{"alias": "k", "key_password": "pässwörd"}], "a JCEKS key password must be printable ASCII"),
        ([{"alias": "k", "key_password": "tab\there"}], "printable ASCII"),
        ([{"alias": "Key"}, {"alias": "KEY"}], "entries 'Key' and 'KEY' are the same alias 'key'"),
        ([{"alias": "k"}, {"alias": "k"}], "alias 'k' appears twice"),
        (
            [
                {
                    "alias": "ca",
                    "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                }
            ],
            "certificate 1 of the PEM is malformed",
        ),
        ([{"alias": "ca", "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n"}], "malformed PEM"),
        ([{"alias": "ca", "certificate": "just text"}], "no certificate found"),
        ([{"alias": "ca", "certificate_path": "/nonexistent/ca.pem"}], "cannot read the file"),
        ([{"alias": "ca", "type": "trusted_certificate"}], "needs certificate or certificate_path"),
        ([{"alias": "k", "type": "secret_key", "certificate": "x"}], "a secret key takes no certificate"),
        ([{"alias": ""}], "every entry needs an alias"),
    ],
)
def test_bad_input_is_one_clear_line(items, message):
    with pytest.raises(KeystoreInputError) as err:
        wanted(*items)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_pkcs12_key_passwords_may_be_any_text():
    [key] = wanted({"alias": "k", "key_password": "pässwörd"}, store_type="pkcs12")
    assert key.password == "pässwörd"


def test_private_key_pem_is_refused(ca_certs):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    with pytest.raises(KeystoreInputError, match=r"holds a private key \(PRIVATE KEY\), not a certificate"):
        certificates_from((pem(ca_certs[0]) + key_pem).encode(), "entry 'ca'")
    with pytest.raises(KeystoreInputError) as err:
        certificates_from(key_pem.encode(), "x")
    assert "MII" not in str(err.value)  # the key itself is never echoed


def test_generated_group_aliases_collide_with_explicit_ones(ca_certs):
    with pytest.raises(KeystoreInputError, match="'chain-2'"):
        wanted({"alias": "chain", "certificate": pem(ca_certs[0]) + pem(ca_certs[1])}, {"alias": "Chain-2"})


# --- reconciliation --------------------------------------------------------------------------------


def test_new_keystore(ca_certs):
    request = wanted({"alias": "default", "size": 128}, {"alias": "ca", "certificate": pem(ca_certs[0])})
    outcome = reconcile(None, "jceks", request, generate_key=keys())
    assert outcome.actions == {"default": "added", "ca": "added"}
    assert outcome.changed and not outcome.destructive
    assert outcome.keystore.get("default").key == b"\x01" * 16


def _existing(store_type, *entries):
    store = Keystore(store_type, entries)
    data = store.dump("store-pass", {"default": "key-pass"}, iterations=10)
    return Keystore.load(data, "store-pass")


@pytest.mark.parametrize("store_type", ["jceks", "pkcs12"])
def test_rerun_keeps_everything(store_type, ca_certs):
    original = b"\x42" * 16
    existing = _existing(
        store_type,
        SecretKeyEntry("default", algorithm="AES", key=original),
        TrustedCertEntry("ca", certificate=der(ca_certs[0])),
    )
    request = wanted(
        {"alias": "default", "size": 128, "key_password": "key-pass"},
        {"alias": "ca", "certificate": pem(ca_certs[0])},
        store_type=store_type,
    )
    outcome = reconcile(existing, store_type, request, generate_key=keys())
    assert outcome.actions == {"default": "kept", "ca": "kept"}
    assert not outcome.changed
    assert outcome.keystore.get("default").key == original


def test_adding_a_ca_keeps_the_key_and_unlisted_entries(ca_certs):
    original = b"\x42" * 16
    existing = _existing(
        "jceks",
        SecretKeyEntry("default", algorithm="AES", key=original),
        TrustedCertEntry("old", certificate=der(ca_certs[2])),
    )
    request = wanted(
        {"alias": "default", "size": 128, "key_password": "key-pass"},
        {"alias": "ca", "certificate": pem(ca_certs[0])},
    )
    outcome = reconcile(existing, "jceks", request, generate_key=keys())
    assert outcome.actions == {"default": "kept", "old": "kept", "ca": "added"}
    assert outcome.changed and not outcome.destructive
    assert outcome.keystore.get("default").key == original
    assert {r["alias"]: r["action"] for r in outcome.report()} == outcome.actions


def test_changed_certificate_replaces_its_alias(ca_certs):
    existing = _existing("jceks", TrustedCertEntry("ca", certificate=der(ca_certs[0])))
    outcome = reconcile(existing, "jceks", wanted({"alias": "ca", "certificate": pem(ca_certs[2])}))
    assert outcome.actions == {"ca": "replaced"}
    assert outcome.destructive
    assert outcome.keystore.get("ca").certificate == der(ca_certs[2])


def test_shrinking_pem_removes_the_members_past_its_end(ca_certs):
    existing = _existing(
        "jceks",
        TrustedCertEntry("chain", certificate=der(ca_certs[0])),
        TrustedCertEntry("chain-2", certificate=der(ca_certs[1])),
        TrustedCertEntry("chain-3", certificate=der(ca_certs[2])),
    )
    outcome = reconcile(existing, "jceks", wanted({"alias": "chain", "certificate": pem(ca_certs[0])}))
    assert outcome.actions == {"chain": "kept", "chain-2": "removed", "chain-3": "removed"}
    assert outcome.keystore.aliases == ["chain"]
    assert [r["action"] for r in outcome.report()] == ["kept", "removed", "removed"]


def test_secret_key_is_never_regenerated_without_force():
    existing = _existing("jceks", SecretKeyEntry("default", algorithm="AES", key=b"\x42" * 16))
    with pytest.raises(
        KeystoreInputError, match="holds a 128-bit AES key, but a 256-bit AES key was asked"
    ) as err:
        reconcile(existing, "jceks", wanted({"alias": "default", "size": 256, "key_password": "key-pass"}))
    assert "force_regenerate" in str(err.value)
    with pytest.raises(KeyPasswordError, match="cannot unlock the existing secret key 'default'"):
        reconcile(existing, "jceks", wanted({"alias": "default", "size": 128, "key_password": "other-pass"}))


def test_force_regenerate_replaces_the_key():
    existing = _existing("jceks", SecretKeyEntry("default", algorithm="AES", key=b"\x42" * 16))
    outcome = reconcile(
        existing,
        "jceks",
        wanted({"alias": "default", "size": 256, "key_password": "new-pass"}),
        force_regenerate=True,
        generate_key=keys(),
    )
    assert outcome.actions == {"default": "regenerated"}
    assert outcome.destructive
    entry = outcome.keystore.get("default")
    assert entry.key == b"\x01" * 32 and entry.protected is None


def test_a_certificate_never_overwrites_a_key(ca_certs):
    existing = _existing("pkcs12", SecretKeyEntry("default", algorithm="AES", key=b"\x42" * 16))
    with pytest.raises(KeystoreInputError, match="alias 'default' holds a secret_key, not a certificate"):
        reconcile(
            existing,
            "pkcs12",
            wanted({"alias": "default", "certificate": pem(ca_certs[0])}, store_type="pkcs12"),
        )
    with pytest.raises(KeystoreInputError, match="alias 'ca' holds a trusted_certificate, not a secret key"):
        reconcile(
            _existing("pkcs12", TrustedCertEntry("ca", certificate=der(ca_certs[0]))),
            "pkcs12",
            wanted({"alias": "ca"}, store_type="pkcs12"),
        )


def test_wanted_certificates_type():
    group = WantedCertificates("ca", (b"1", b"2", b"3"))
    assert group.aliases() == ["ca", "ca-2", "ca-3"]
