"""Round trips with Java's own tools (JDK 17), in both directions, for JCEKS and PKCS12 and AES
128/192/256:

- what we write: `keytool -list -v` shows our entries with the right types and fingerprints, and Java's
  KeyStore API (tests/unit/plugins/module_utils/keystore/java/KeystoreCheck.java) loads each secret key with its key password,
  with the same bytes (SHA-256 compared);
- what keytool writes (`-genseckey`, `-importcert`, `-genkeypair`, legacy PKCS12 algorithms) is read by
  our codec with the same key bytes and certificates, and what we write back is still read by Java.

These tests fail, never skip, when Java is missing (see conftest.java_tools).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from support.keystore_helpers import der, pem

from ansible_collections.redundant.kube.plugins.module_utils.keystore import pbe
from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import (
    SecretKeyEntry,
    TrustedCertEntry,
    fingerprint,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import Keystore

pytestmark = pytest.mark.keytool

TYPES = ["jceks", "pkcs12"]
SIZES = [128, 192, 256]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("store_type", TYPES)
@pytest.mark.parametrize("size", SIZES)
def test_java_reads_what_we_write(java_tools, tmp_path: Path, ca_certs, store_type, size):
    key = os.urandom(size // 8)
    store = Keystore(
        store_type,
        [
            SecretKeyEntry("Default", algorithm="AES", key=key),
            TrustedCertEntry("root", certificate=der(ca_certs[0])),
            TrustedCertEntry("intermediate", certificate=der(ca_certs[1])),
        ],
    )
    path = tmp_path / f"ours.{store_type}"
    # Default iteration counts on purpose: JDK 17 must accept exactly what the module writes.
    path.write_bytes(store.dump("changeit", {"default": "midpoint"}))

    listing = java_tools.listing(path, store_type, "changeit")
    assert set(listing) == {"default", "root", "intermediate"}
    assert listing["default"]["entry_type"] == "SecretKeyEntry"
    for alias, cert in (("root", ca_certs[0]), ("intermediate", ca_certs[1])):
        assert listing[alias]["entry_type"] == "trustedCertEntry"
        assert listing[alias]["sha256"] == fingerprint(der(cert))

    seen = java_tools.entries(path, store_type, "changeit", default="midpoint")
    assert seen["default"] == {
        "type": "secret_key",
        "algorithm": "AES",
        "bits": str(size),
        "sha256": sha256(key),
    }
    assert seen["root"]["sha256"] == sha256(der(ca_certs[0]))


@pytest.mark.parametrize("store_type", TYPES)
@pytest.mark.parametrize("size", SIZES)
def test_we_read_what_keytool_writes(java_tools, tmp_path: Path, ca_certs, store_type, size):
    path = tmp_path / f"keytool.{store_type}"
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(pem(ca_certs[2]))
    common = ["-keystore", str(path), "-storetype", store_type, "-storepass", "changeit"]
    # PKCS12 keytool ignores -keypass (it uses the store password), so only JCEKS gets its own.
    key_password = "midpoint" if store_type == "jceks" else "changeit"
    java_tools.keytool_run(
        "-genseckey",
        "-alias",
        "Default",
        "-keyalg",
        "AES",
        "-keysize",
        str(size),
        "-keypass",
        key_password,
        *common,
    )
    java_tools.keytool_run("-importcert", "-noprompt", "-alias", "corp-ca", "-file", str(ca_file), *common)

    java_view = java_tools.entries(path, store_type, "changeit", default=key_password)
    store = Keystore.load(path.read_bytes(), "changeit", {"default": key_password}, store_type=store_type)
    assert sorted(store.aliases) == ["corp-ca", "default"]
    secret = store.get("default")
    assert (secret.algorithm, secret.size) == ("AES", size)
    assert sha256(secret.key) == java_view["default"]["sha256"]
    assert store.get("corp-ca").certificate == der(ca_certs[2])


@pytest.mark.parametrize("store_type", TYPES)
def test_java_reads_our_rewrite_of_a_keytool_keystore(java_tools, tmp_path: Path, ca_certs, store_type):
    """keytool makes a key pair and a secret key; we add a certificate without knowing the key
    passwords; Java still opens every entry, and the keys are unchanged."""
    path = tmp_path / f"mixed.{store_type}"
    common = [
        "-keystore",
        str(path),
        "-storetype",
        store_type,
        "-storepass",
        "changeit",
        "-keypass",
        "changeit",
    ]
    java_tools.keytool_run(
        "-genkeypair",
        "-alias",
        "pair",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-dname",
        "CN=pair",
        *common,
    )
    java_tools.keytool_run("-genseckey", "-alias", "aes", "-keyalg", "AES", "-keysize", "128", *common)
    before = java_tools.entries(path, store_type, "changeit", aes="changeit", pair="changeit")

    store = Keystore.load(path.read_bytes(), "changeit")  # no key passwords: both keys stay locked
    store.add(TrustedCertEntry("added", certificate=der(ca_certs[0])))
    path.write_bytes(store.dump("changeit"))

    after = java_tools.entries(path, store_type, "changeit", aes="changeit", pair="changeit")
    assert after["aes"] == before["aes"]
    assert after["pair"] == before["pair"]
    assert after["pair"]["algorithm"] == "EC"  # the private key itself still decrypts
    assert after["added"]["sha256"] == sha256(der(ca_certs[0]))


@pytest.mark.parametrize("store_type", TYPES)
def test_java_adds_to_our_keystore_and_we_read_it_back(java_tools, tmp_path: Path, store_type):
    ours, javas = os.urandom(16), os.urandom(32)
    path = tmp_path / f"shared.{store_type}"
    path.write_bytes(
        Keystore(store_type, [SecretKeyEntry("ours", algorithm="AES", key=ours)]).dump(
            "changeit", {"ours": "ourpass"}
        )
    )
    java_tools.check("add-secret", str(path), store_type, "changeit", "javas", "javapass", javas.hex())
    store = Keystore.load(path.read_bytes(), "changeit", {"ours": "ourpass", "javas": "javapass"})
    assert store.get("ours").key == ours
    assert store.get("javas").key == javas


def test_legacy_pkcs12_algorithms(java_tools, tmp_path: Path, ca_certs):
    """Keystores from older JDKs: RC2-40 certificates, 3DES keys, SHA-1 MAC."""
    path = tmp_path / "legacy.p12"
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(pem(ca_certs[0]))
    legacy = [
        "-J-Dkeystore.pkcs12.certProtectionAlgorithm=PBEWithSHA1AndRC2_40",
        "-J-Dkeystore.pkcs12.keyProtectionAlgorithm=PBEWithSHA1AndDESede",
        "-J-Dkeystore.pkcs12.macAlgorithm=HmacPBESHA1",
    ]
    common = ["-keystore", str(path), "-storetype", "pkcs12", "-storepass", "changeit"]
    java_tools.keytool_run(*legacy, "-genseckey", "-alias", "k", "-keyalg", "AES", "-keysize", "192", *common)
    java_tools.keytool_run(
        *legacy, "-importcert", "-noprompt", "-alias", "ca", "-file", str(ca_file), *common
    )
    java_view = java_tools.entries(path, "pkcs12", "changeit", k="changeit")
    store = Keystore.load(path.read_bytes(), "changeit", {"k": "changeit"})
    assert sha256(store.get("k").key) == java_view["k"]["sha256"]
    assert store.get("ca").certificate == der(ca_certs[0])


@pytest.mark.parametrize("salt", ["a1b2c3d4e5f60718", "0102030401020304", "ffffffffffffffff"])
def test_sun_pbe_equals_sunjce(java_tools, salt):
    plain = bytes.fromhex("00112233445566778899")
    out = java_tools.check("pbe", "midpoint", salt, "7", plain.hex()).stdout.strip()
    assert pbe.sun_pbe_encrypt(plain, "midpoint", bytes.fromhex(salt), 7).hex() == out


def test_midpoint_guides_keytool_command_and_our_equivalent_agree(java_tools, tmp_path: Path):
    """midPoint's guide's `keytool -genseckey -alias default ... -keysize 128 -storepass changeit -keypass midpoint`
    and our keystore are interchangeable: same alias, type, algorithm and size as Java sees them."""
    keytools = tmp_path / "keytool.jceks"
    java_tools.keytool_run(
        "-genseckey",
        "-alias",
        "default",
        "-keystore",
        str(keytools),
        "-storetype",
        "jceks",
        "-keyalg",
        "AES",
        "-keysize",
        "128",
        "-storepass",
        "changeit",
        "-keypass",
        "midpoint",
    )
    ours = tmp_path / "ours.jceks"
    ours.write_bytes(
        Keystore("jceks", [SecretKeyEntry("default", algorithm="AES", key=os.urandom(16))]).dump(
            "changeit", {"default": "midpoint"}
        )
    )
    view = {
        name: java_tools.entries(p, "jceks", "changeit", default="midpoint")["default"]
        for name, p in (("keytool", keytools), ("ours", ours))
    }
    assert {k: v for k, v in view["keytool"].items() if k != "sha256"} == {
        k: v for k, v in view["ours"].items() if k != "sha256"
    }
