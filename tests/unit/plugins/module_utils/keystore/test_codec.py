"""The keystore codec without Java: encodings, crypto primitives against independent implementations,
round trips, and every refusal (wrong passwords, tampering, hostile parameters)."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import itertools
import os
import struct

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import RC2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.serialization import pkcs12 as crypto_pkcs12
from support.keystore_helpers import der

from ansible_collections.redundant.kube.plugins.module_utils.keystore import der as asn1
from ansible_collections.redundant.kube.plugins.module_utils.keystore import javaser, jceks, pbe, pkcs12
from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import (
    KeyPasswordError,
    KeystoreFormatError,
    KeystoreInputError,
    StorePasswordError,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import (
    PrivateKeyEntry,
    SecretKeyEntry,
    TrustedCertEntry,
    fingerprint,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import Keystore, detect_type

KEY128 = bytes(range(16))
KEY256 = bytes(range(100, 132))


def counter_random():
    """A deterministic stand-in for os.urandom, so dumps can be compared byte for byte."""
    counter = itertools.count()

    def random(n: int) -> bytes:
        return bytes((next(counter) * 7) & 0xFF for _iteration in range(n))

    return random


# --- encodings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dotted", ["1.2.840.113549.1.12.10.1.5", "2.16.840.1.113894.746875.1.1", "2.5.29.37.0"]
)
def test_oid_round_trip(dotted):
    assert asn1.decode(asn1.oid(dotted)).as_oid() == dotted


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 256, 10_000, 200_000, -1])
def test_integer_round_trip(value):
    assert asn1.decode(asn1.integer(value)).as_int() == value


def test_long_lengths_and_ber_forms():
    blob = os.urandom(70_000)
    assert asn1.decode(asn1.octet_string(blob)).as_octets() == blob
    # BER: an indefinite-length SEQUENCE holding a constructed OCTET STRING in two segments.
    ber = (
        b"\x30\x80"
        + b"\x24\x80"
        + asn1.octet_string(b"ab")
        + asn1.octet_string(b"cd")
        + b"\x00\x00"
        + b"\x00\x00"
    )
    [inner] = asn1.decode(ber).children()
    assert inner.as_octets() == b"abcd"


def test_truncated_der_is_a_format_error():
    with pytest.raises(KeystoreFormatError):
        asn1.decode(asn1.octet_string(b"abcdef")[:-2])


@pytest.mark.parametrize("text", ["default", "Grüße", "a\x00b", "emoji \U0001f511", "x" * 300])
def test_modified_utf8_round_trip(text):
    encoded = javaser.mutf8_encode(text)
    assert b"\x00" not in encoded  # NUL is C0 80 in modified UTF-8
    assert javaser.mutf8_decode(encoded) == text


def test_java_serialization_round_trip():
    blob = jceks.seal_key("AES", KEY128, "midpoint", 3, os.urandom)
    sealed, end = javaser.read_object(blob)
    assert end == len(blob)
    assert sealed.cls.name == "com.sun.crypto.provider.SealedObjectForKeyProtector"
    assert sealed.cls.is_a("javax.crypto.SealedObject")
    assert sealed.fields["sealAlg"] == sealed.fields["paramsAlg"] == "PBEWithMD5AndTripleDES"
    assert jceks.unseal_key("x", sealed, "midpoint") == ("AES", KEY128)


def test_java_serialization_rejects_garbage():
    with pytest.raises(KeystoreFormatError):
        javaser.read_object(b"\xac\xed\x00\x05\x73\x72\x00")
    with pytest.raises(KeystoreFormatError):
        javaser.read_object(b"not java")


# --- crypto primitives against independent implementations -----------------------------------------


# SunJCE's PBEWithMD5AndTripleDES, computed by JDK 17 (tests/unit/plugins/module_utils/keystore/java/KeystoreCheck.java
# `pbe midpoint <salt> 7 00112233445566778899`); test_keystore_java.py recomputes them with Java.
SUN_PBE_VECTORS = {
    "a1b2c3d4e5f60718": "4e90d1f66c3661fbfa4edf1f0b8b5674",
    "0102030401020304": "e168bbde1449127117303dd945b403a6",  # equal salt halves: Java reverses the first
}


@pytest.mark.parametrize(("salt", "expected"), SUN_PBE_VECTORS.items())
def test_sun_pbe_matches_java(salt, expected):
    plain = bytes.fromhex("00112233445566778899")
    cipher = pbe.sun_pbe_encrypt(plain, "midpoint", bytes.fromhex(salt), 7)
    assert cipher.hex() == expected
    assert pbe.sun_pbe_decrypt(cipher, "midpoint", bytes.fromhex(salt), 7) == plain


def test_sun_pbe_refuses_non_ascii_and_huge_iteration_counts():
    with pytest.raises(KeystoreInputError, match="printable ASCII"):
        pbe.sun_pbe_encrypt(b"x", "pässword", b"12345678", 1)
    with pytest.raises(KeystoreFormatError, match="above Java's limit"):
        pbe.sun_pbe_decrypt(b"\x00" * 8, "password", b"12345678", 5_000_001)


def test_rc2_matches_openssl_rc2():
    key, iv = os.urandom(16), os.urandom(8)
    plain = os.urandom(37)
    padded = plain + bytes([3]) * 3
    encrypted = Cipher(RC2(key), modes.CBC(iv)).encryptor().update(padded)
    assert pbe.rc2_cbc_decrypt(key, 128, iv, encrypted) == plain


def test_pkcs12_kdf_and_legacy_pbe_read_what_openssl_writes(ca_certs):
    """cryptography (OpenSSL) writes a Java truststore with SHA-1 MAC and 3DES PBE: our KDF must open it."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2048)
        .key_cert_algorithm(crypto_pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(b"changeit")
    )
    certs = [
        crypto_pkcs12.PKCS12Certificate(c, name.encode())
        for c, name in zip(ca_certs, ("root", "Mid", "other"), strict=True)
    ]
    blob = crypto_pkcs12.serialize_java_truststore(certs, encryption)
    store = Keystore.load(blob, "changeit")
    assert sorted(store.aliases) == ["mid", "other", "root"]
    assert store.get("mid").certificate == der(ca_certs[1])
    with pytest.raises(StorePasswordError):
        Keystore.load(blob, "not-it")


def test_openssl_reads_our_pkcs12(ca_certs):
    store = Keystore("pkcs12", [TrustedCertEntry("root", certificate=der(ca_certs[0]))])
    blob = store.dump("changeit", iterations=2048)
    loaded = crypto_pkcs12.load_pkcs12(blob, b"changeit")
    assert [c.certificate for c in loaded.additional_certs] == [ca_certs[0]]
    assert loaded.additional_certs[0].friendly_name == b"root"


# --- round trips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("store_type", ["jceks", "pkcs12"])
@pytest.mark.parametrize("size", [128, 192, 256])
def test_round_trip(store_type, size, ca_certs):
    key = os.urandom(size // 8)
    store = Keystore(
        store_type,
        [
            SecretKeyEntry("Default", algorithm="AES", key=key),
            TrustedCertEntry("root", certificate=der(ca_certs[0])),
        ],
    )
    blob = store.dump("store-pass", {"default": "key-pass"}, iterations=1000)
    assert detect_type(blob) == store_type
    again = Keystore.load(blob, "store-pass", {"default": "key-pass"})
    assert sorted(again.aliases) == ["default", "root"]  # PKCS#12 groups certificates apart from keys
    assert again.get("DEFAULT").key == key
    assert again.get("default").algorithm == "AES"
    assert again.get("root").certificate == der(ca_certs[0])


@pytest.mark.parametrize("store_type", ["jceks", "pkcs12"])
def test_dump_is_deterministic_given_the_random_source(store_type):
    created = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    store = Keystore(store_type, [SecretKeyEntry("k", created, algorithm="AES", key=KEY128)])
    first = store.dump("pw1234", {"k": "pw1234"}, iterations=10, random=counter_random())
    second = store.dump("pw1234", {"k": "pw1234"}, iterations=10, random=counter_random())
    assert first == second


@pytest.mark.parametrize("store_type", ["jceks", "pkcs12"])
def test_existing_key_is_copied_byte_for_byte(store_type, ca_certs):
    blob = Keystore(store_type, [SecretKeyEntry("k", algorithm="AES", key=KEY256)]).dump(
        "pw1234", {"k": "keypass"}, iterations=10
    )
    store = Keystore.load(blob, "pw1234", {"k": "keypass"})
    sealed = store.get("k").protected
    assert sealed and sealed in blob
    store.add(TrustedCertEntry("root", certificate=der(ca_certs[0])))
    rewritten = store.dump("pw1234")  # no key password needed: the key is not re-encrypted
    assert sealed in rewritten
    assert Keystore.load(rewritten, "pw1234", {"k": "keypass"}).get("k").key == KEY256


@pytest.mark.parametrize("store_type", ["jceks", "pkcs12"])
def test_locked_keys_are_kept(store_type):
    blob = Keystore(store_type, [SecretKeyEntry("k", algorithm="AES", key=KEY128)]).dump(
        "pw1234", {"k": "keypass"}, iterations=10
    )
    store = Keystore.load(blob, "pw1234")  # no key password: the entry stays locked
    entry = store.get("k")
    assert entry.locked and entry.size is None
    assert entry.describe() == {
        "alias": "k",
        "type": "secret_key",
        "created": entry.describe()["created"],
        "algorithm": None,
        "size": None,
    }
    again = Keystore.load(store.dump("pw1234"), "pw1234")
    assert again.unlock("k", "keypass").key == KEY128


@pytest.mark.parametrize("store_type", ["jceks", "pkcs12"])
def test_wrong_passwords(store_type):
    blob = Keystore(store_type, [SecretKeyEntry("k", algorithm="AES", key=KEY128)]).dump(
        "pw1234", {"k": "keypass"}, iterations=10
    )
    with pytest.raises(StorePasswordError, match="integrity check failed"):
        Keystore.load(blob, "pw12345")
    with pytest.raises(KeyPasswordError, match="cannot unlock secret key 'k'"):
        Keystore.load(blob, "pw1234", {"k": "keypas"})


@pytest.mark.parametrize("store_type", ["jceks", "pkcs12"])
def test_tampering_is_detected(store_type):
    blob = bytearray(
        Keystore(store_type, [SecretKeyEntry("k", algorithm="AES", key=KEY128)]).dump(
            "pw1234", {"k": "kp1234"}, iterations=10
        )
    )
    blob[len(blob) // 2] ^= 0x01
    with pytest.raises((StorePasswordError, KeystoreFormatError)):
        Keystore.load(bytes(blob), "pw1234")


def test_jceks_layout_and_integrity_digest():
    blob = Keystore("jceks", [SecretKeyEntry("MiXeD", algorithm="AES", key=KEY128)]).dump(
        "changeit", {"mixed": "kp1234"}
    )
    magic, version, count = struct.unpack(">Iii", blob[:12])
    assert (magic, version, count) == (0xCECECECE, 2, 1)
    assert blob[16:23] == b"\x00\x05mixed"  # tag 3 then writeUTF: stored in lower case
    body, digest = blob[:-20], blob[-20:]
    assert digest == hashlib.sha1("changeit".encode("utf-16-be") + b"Mighty Aphrodite" + body).digest()


def test_jceks_default_iterations_are_jdk17s():
    blob = Keystore("jceks", [SecretKeyEntry("k", algorithm="AES", key=KEY128)]).dump(
        "changeit", {"k": "kp1234"}
    )
    sealed, _unused = javaser.read_object(blob, 12 + 4 + 3 + 8)
    salt, count = asn1.decode(sealed.fields["encodedParams"]).children()
    assert len(salt.as_octets()) == 8 and count.as_int() == 200_000


def test_jceks_refuses_iteration_counts_above_javas_limit():
    """A hostile file cannot make us run billions of MD5 rounds."""
    plain = javaser.write_object(
        javaser.ObjectSpec(jceks.SECRET_KEY_SPEC, {"algorithm": "AES", "key": KEY128})
    )
    encrypted = pbe.sun_pbe_encrypt(plain, "kp1234", b"saltsalt", 1)
    params = asn1.sequence(asn1.octet_string(b"saltsalt"), asn1.integer(5_000_001))
    sealed = javaser.write_object(
        javaser.ObjectSpec(
            jceks.SEALED_OBJECT_FOR_KEY_PROTECTOR,
            {
                "encodedParams": params,
                "encryptedContent": encrypted,
                "paramsAlg": "PBEWithMD5AndTripleDES",
                "sealAlg": "PBEWithMD5AndTripleDES",
            },
        )
    )
    store = Keystore("jceks", [SecretKeyEntry("k", protected=sealed, origin="jceks")])
    blob = store.dump("changeit")
    with pytest.raises(KeystoreFormatError, match="above Java's limit"):
        Keystore.load(blob, "changeit", {"k": "kp1234"})
    with pytest.raises(KeystoreInputError):
        Keystore("jceks", [SecretKeyEntry("k", algorithm="AES", key=KEY128)]).dump(
            "changeit", {"k": "kp1234"}, iterations=5_000_001
        )


def test_pkcs12_layout(ca_certs):
    store = Keystore(
        "pkcs12",
        [
            SecretKeyEntry("k", algorithm="AES", key=KEY128),
            TrustedCertEntry("root", certificate=der(ca_certs[0])),
        ],
    )
    blob = store.dump("changeit", {"k": "changeit"})
    pfx = asn1.decode(blob).children()
    mac_data = pfx[2].children()
    assert asn1.parse_algorithm_identifier(mac_data[0].children()[0])[0] == pkcs12.OID_SHA256
    assert mac_data[2].as_int() == 10_000
    safes = asn1.decode(pfx[1].children()[1].children()[0].as_octets()).children()
    assert [s.children()[0].as_oid() for s in safes] == [pkcs12.OID_ENCRYPTED_DATA, pkcs12.OID_DATA]
    [key_bag] = asn1.decode(safes[1].children()[1].children()[0].as_octets()).children()
    bag = key_bag.children()
    assert bag[0].as_oid() == pkcs12.OID_SECRET_BAG
    secret_type, _value = bag[1].children()[0].children()
    assert secret_type.as_oid() == pkcs12.OID_SHROUDED_KEY_BAG
    attributes = {a.children()[0].as_oid(): a.children()[1].children()[0] for a in bag[2].children()}
    assert attributes[pkcs12.OID_FRIENDLY_NAME].as_text() == "k"
    assert attributes[pkcs12.OID_LOCAL_KEY_ID].as_octets().startswith(b"Time ")


def test_type_detection_and_refusals():
    with pytest.raises(KeystoreFormatError, match="JKS keystore"):
        Keystore.load(b"\xfe\xed\xfe\xed" + b"\x00" * 40, "changeit")
    with pytest.raises(KeystoreFormatError, match="not a JCEKS or PKCS12"):
        Keystore.load(b"hello world, not a keystore", "changeit")
    blob = Keystore("jceks").dump("changeit")
    with pytest.raises(KeystoreFormatError, match="the keystore is JCEKS, not PKCS12"):
        Keystore.load(blob, "changeit", store_type="pkcs12")
    with pytest.raises(KeystoreFormatError):
        Keystore.load(blob[:-25], "changeit")


def test_entries_validate_themselves():
    with pytest.raises(KeystoreInputError, match="128, 192 or 256"):
        SecretKeyEntry("k", algorithm="AES", key=b"short")
    with pytest.raises(KeystoreInputError, match="non-empty"):
        TrustedCertEntry("  ", certificate=b"x")
    store = Keystore("jceks", [TrustedCertEntry("A", certificate=b"x")])
    with pytest.raises(KeystoreInputError, match="already in the keystore"):
        store.add(TrustedCertEntry("a", certificate=b"y"))


def test_key_pairs_cannot_cross_formats():
    pair = PrivateKeyEntry("pair", protected=b"\x30\x00", chain=[], origin="jceks")
    with pytest.raises(KeystoreInputError, match="PKCS#12 cannot hold it"):
        Keystore("pkcs12", [pair]).dump("changeit")


def test_new_key_needs_its_password():
    with pytest.raises(KeystoreInputError, match="no key password for secret key 'k'"):
        Keystore("jceks", [SecretKeyEntry("k", algorithm="AES", key=KEY128)]).dump("changeit")


def test_fingerprint_notation(ca_certs):
    digest = hashlib.sha256(der(ca_certs[0])).hexdigest().upper()
    assert fingerprint(der(ca_certs[0])).replace(":", "") == digest
    facts = TrustedCertEntry("root", certificate=der(ca_certs[0])).describe()
    assert facts["subject"] == "CN=Test Root CA"
    assert set(facts) >= {"sha256_fingerprint", "issuer", "serial_number", "not_after"}


def test_describe_never_carries_key_material():
    entry = SecretKeyEntry("k", algorithm="AES", key=KEY256)
    text = repr(entry) + repr(entry.describe())
    assert KEY256.hex() not in text and "key=" not in repr(entry)
    assert hashlib.sha256(KEY256).hexdigest() not in text


def _with_integrity(store_type: str, body: bytes) -> bytes:
    """Seal mutated content with a valid JCEKS digest or PKCS#12 MAC, so that the parser behind the
    integrity check is what gets exercised."""
    if store_type == "jceks":
        return body + hashlib.sha1("pw1234".encode("utf-16-be") + b"Mighty Aphrodite" + body).digest()
    salt = b"\x01" * 20
    mac = pbe.pkcs12_mac("sha256", "pw1234", salt, 1, body)
    return asn1.sequence(
        asn1.integer(3),
        asn1.sequence(asn1.oid(pkcs12.OID_DATA), asn1.explicit(0, asn1.octet_string(body))),
        asn1.sequence(
            asn1.sequence(asn1.algorithm_identifier(pkcs12.OID_SHA256, asn1.null()), asn1.octet_string(mac)),
            asn1.octet_string(salt),
            asn1.integer(1),
        ),
    )


@pytest.mark.parametrize("store_type", ["jceks", "pkcs12"])
def test_mutated_files_only_raise_keystore_errors(store_type, ca_certs):
    """Corrupt bytes, truncations and insertions behind a valid integrity check: a clear KeystoreError
    every time, never another exception."""
    import random

    from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import KeystoreError

    blob = Keystore(
        store_type,
        [
            SecretKeyEntry("k", algorithm="AES", key=KEY128),
            TrustedCertEntry("c", certificate=der(ca_certs[0])),
        ],
    ).dump("pw1234", {"k": "kp1234"}, iterations=3)
    if store_type == "jceks":
        body = blob[:-20]
    else:
        body = asn1.decode(blob).children()[1].children()[1].children()[0].as_octets()
    assert Keystore.load(_with_integrity(store_type, body), "pw1234", {"k": "kp1234"}).get("k").key == KEY128
    rng = random.Random(4)
    for _iteration in range(1500):
        mutated = bytearray(body)
        where = rng.randrange(len(mutated))
        choice = rng.randrange(3)
        if choice == 0:
            mutated[where] = rng.randrange(256)
        elif choice == 1:
            del mutated[where:]
        else:
            mutated[where:where] = bytes(rng.randrange(256) for _iteration in range(rng.randrange(1, 5)))
        with contextlib.suppress(KeystoreError):
            Keystore.load(_with_integrity(store_type, bytes(mutated)), "pw1234", {"k": "kp1234"})
