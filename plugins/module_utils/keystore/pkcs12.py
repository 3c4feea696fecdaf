# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PKCS#12 (RFC 7292) the way Java's `sun.security.pkcs12.PKCS12KeyStore` reads and writes it.

What we write, as JDK 17's keytool does:
    PFX { version 3, authSafe data { AuthenticatedSafe }, MacData (HMAC-SHA256, PKCS#12 KDF ID 3) }
    AuthenticatedSafe:
      encryptedData (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC, store password) holding the certBags
      data holding the secretBags and pkcs8ShroudedKeyBags (each key encrypted under its own password)
    secretBag   { secretTypeId pkcs8ShroudedKeyBag, [0] OCTET STRING EncryptedPrivateKeyInfo }
                  whose plaintext is PKCS#8 { 0, AlgorithmIdentifier (AES OID), OCTET STRING key }
    certBag     { x509Certificate, [0] OCTET STRING cert } with friendlyName and, for a trusted
                  certificate, Oracle's trusted-key-usage attribute (anyExtendedKeyUsage): Java lists
                  a certificate bag as a trusted certificate entry only when that attribute is there.
    Every bag carries friendlyName (the alias); key bags carry localKeyId "Time <ms>", from which
    Java takes the creation date.

What we read besides: legacy PKCS#12 PBE schemes (3DES, RC2) and SHA-1 MACs, BER encodings.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from ansible_collections.redundant.kube.plugins.module_utils.keystore import der, pbe
from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import (
    KeyPasswordError,
    KeystoreFormatError,
    KeystoreInputError,
    StorePasswordError,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import (
    KeystoreEntry,
    PrivateKeyEntry,
    SecretKeyEntry,
    TrustedCertEntry,
    from_millis,
    now_utc,
    to_millis,
)

OID_DATA = "1.2.840.113549.1.7.1"
OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
OID_KEY_BAG = "1.2.840.113549.1.12.10.1.1"
OID_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"
OID_SECRET_BAG = "1.2.840.113549.1.12.10.1.5"
OID_X509_CERT = "1.2.840.113549.1.9.22.1"
OID_FRIENDLY_NAME = "1.2.840.113549.1.9.20"
OID_LOCAL_KEY_ID = "1.2.840.113549.1.9.21"
OID_ORACLE_TRUSTED_KEY_USAGE = "2.16.840.1.113894.746875.1.1"
OID_ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"

SECRET_KEY_OIDS = {
    "2.16.840.1.101.3.4.1": "AES",
    "1.2.840.113549.3.7": "DESede",
    "1.2.840.113549.2.7": "HmacSHA1",
    "1.2.840.113549.2.9": "HmacSHA256",
    "1.2.840.113549.2.10": "HmacSHA384",
    "1.2.840.113549.2.11": "HmacSHA512",
}
SECRET_KEY_ALGORITHMS = {name: oid for oid, name in SECRET_KEY_OIDS.items()}

# JDK 17 defaults (keystore.pkcs12.*IterationCount).
DEFAULT_ITERATIONS = 10_000


# --- small pieces ----------------------------------------------------------------------------------


def _attributes(alias: str, key_id: bytes | None, trusted: bool) -> bytes:
    attrs = [der.sequence(der.oid(OID_FRIENDLY_NAME), der.set_of(der.bmp_string(alias)))]
    if key_id is not None:
        attrs.append(der.sequence(der.oid(OID_LOCAL_KEY_ID), der.set_of(der.octet_string(key_id))))
    if trusted:
        attrs.append(
            der.sequence(
                der.oid(OID_ORACLE_TRUSTED_KEY_USAGE), der.set_of(der.oid(OID_ANY_EXTENDED_KEY_USAGE))
            )
        )
    return der.set_of(*attrs)


def _safe_bag(bag_id: str, value: bytes, attributes: bytes) -> bytes:
    return der.sequence(der.oid(bag_id), der.explicit(0, value), attributes)


def _cert_bag(cert: bytes, attributes: bytes = b"") -> bytes:
    """A certBag; a chain certificate other than the leaf goes without attributes, as Java writes it."""
    value = der.sequence(der.oid(OID_X509_CERT), der.explicit(0, der.octet_string(cert)))
    return _safe_bag(OID_CERT_BAG, value, attributes)


def _time_key_id(entry: KeystoreEntry) -> bytes:
    return f"Time {to_millis(entry.created or now_utc())}".encode()


def _encrypt_key(plain: bytes, password: str, iterations: int, random: Callable[[int], bytes]) -> bytes:
    algorithm, ciphertext = pbe.pbes2_encrypt(plain, password, iterations, random)
    return der.sequence(algorithm, der.octet_string(ciphertext))


def _decrypt_key(alias: str, epki: bytes, password: str) -> bytes:
    try:
        algorithm, ciphertext = der.decode(epki).expect(der.SEQUENCE, "EncryptedPrivateKeyInfo").children()
        return pbe.decrypt(algorithm, password, ciphertext.as_octets())
    except pbe.BadDecrypt as exc:
        raise KeyPasswordError(f"cannot unlock secret key {alias!r}: wrong key password") from exc
    except ValueError as exc:
        raise KeystoreFormatError(f"alias {alias!r}: malformed encrypted key") from exc


def _secret_key_info(algorithm: str, key: bytes) -> bytes:
    oid = SECRET_KEY_ALGORITHMS.get(algorithm)
    if oid is None:
        raise KeystoreInputError(f"unsupported secret key algorithm {algorithm!r}")
    # Java's AlgorithmId writes an explicit NULL for these OIDs.
    return der.sequence(der.integer(0), der.algorithm_identifier(oid, der.null()), der.octet_string(key))


def _parse_secret_key_info(alias: str, plain: bytes) -> tuple[str, bytes]:
    try:
        version, algorithm, key = der.decode(plain).expect(der.SEQUENCE).children()[:3]
        if version.as_int() != 0:
            raise KeystoreFormatError(f"alias {alias!r}: unexpected key info version")
        oid, _unused = der.parse_algorithm_identifier(algorithm)
        return SECRET_KEY_OIDS.get(oid, oid), key.as_octets()
    except (KeystoreFormatError, ValueError) as exc:
        # Garbage after a "successful" decryption (the padding matched by chance): a wrong password.
        raise KeyPasswordError(f"cannot unlock secret key {alias!r}: wrong key password") from exc


def unlock(entry: SecretKeyEntry, password: str) -> None:
    """Fill in `algorithm` and `key` of a locked entry read from a PKCS#12 file."""
    if entry.protected is None or entry.origin != "pkcs12":
        raise KeystoreInputError(f"secret key {entry.alias!r} has no PKCS#12 protected form")
    entry.algorithm, entry.key = _parse_secret_key_info(
        entry.alias, _decrypt_key(entry.alias, entry.protected, password)
    )


# --- reading ---------------------------------------------------------------------------------------


def _check_mac(pfx: list[der.Node], auth_safe_octets: bytes, store_password: str) -> None:
    if len(pfx) < 3:
        return  # no MAC: the password is checked when the certificates are decrypted
    mac_data = pfx[2].expect(der.SEQUENCE, "MacData").children()
    digest_info = mac_data[0].children()
    digest_oid, _unused = der.parse_algorithm_identifier(digest_info[0])
    expected = digest_info[1].as_octets()
    salt = mac_data[1].as_octets()
    iterations = mac_data[2].as_int() if len(mac_data) > 2 else 1
    hash_name = pbe.DIGEST_OIDS.get(digest_oid)
    if hash_name is None:
        raise KeystoreFormatError(f"unsupported PKCS#12 MAC digest {digest_oid}")
    pbe.check_iterations(iterations, "PKCS#12 MAC")
    actual = pbe.pkcs12_mac(hash_name, store_password, salt, iterations, auth_safe_octets)
    if not hmac.compare_digest(actual, expected):
        raise StorePasswordError(
            "the keystore's integrity check failed: wrong store password (or the file was altered)"
        )


def _safe_contents(content_info: der.Node, store_password: str) -> list[der.Node]:
    parts = content_info.expect(der.SEQUENCE, "ContentInfo").children()
    kind = parts[0].as_oid()
    if kind == OID_DATA:
        octets = parts[1].children()[0].as_octets()
    elif kind == OID_ENCRYPTED_DATA:
        encrypted_data = parts[1].children()[0].children()
        eci = encrypted_data[1].children()
        if len(eci) < 3:
            return []
        ciphertext = eci[2].content  # [0] IMPLICIT OCTET STRING (primitive or constructed)
        if eci[2].constructed:
            ciphertext = b"".join(n.as_octets() for n in eci[2].children())
        try:
            octets = pbe.decrypt(eci[1], store_password, ciphertext)
        except pbe.BadDecrypt as exc:
            raise StorePasswordError(
                "cannot decrypt the keystore's certificates: wrong store password"
            ) from exc
    else:
        raise KeystoreFormatError(
            f"unsupported PKCS#12 content type {kind} (only password-based files are supported)"
        )
    return der.decode(octets).expect(der.SEQUENCE, "SafeContents").children()


def _bag_attributes(bag: list[der.Node]) -> tuple[str | None, bytes | None, bool]:
    name: str | None = None
    key_id: bytes | None = None
    trusted = False
    if len(bag) > 2:
        for attribute in bag[2].children():
            attr_oid_node, values = attribute.children()[:2]
            attr_oid = attr_oid_node.as_oid()
            members = values.children()
            if not members:
                continue
            if attr_oid == OID_FRIENDLY_NAME:
                name = members[0].as_text()
            elif attr_oid == OID_LOCAL_KEY_ID:
                key_id = members[0].as_octets()
            elif attr_oid == OID_ORACLE_TRUSTED_KEY_USAGE:
                trusted = True
    return name, key_id, trusted


def _created(key_id: bytes | None) -> datetime | None:
    if key_id and key_id.startswith(b"Time "):
        try:
            return from_millis(int(key_id[5:].decode("ascii")))
        except (ValueError, KeystoreFormatError):
            return None  # as Java: an unreadable date is no date
    return None


def load(
    data: bytes, store_password: str, key_passwords: Mapping[str, str] | None = None
) -> list[KeystoreEntry]:
    key_passwords = {k.lower(): v for k, v in (key_passwords or {}).items()}
    try:
        pfx = der.decode(data).expect(der.SEQUENCE, "PFX").children()
        if pfx[0].as_int() != 3:
            raise KeystoreFormatError("unsupported PKCS#12 version")
        auth_safe = pfx[1].children()
        if auth_safe[0].as_oid() != OID_DATA:
            raise KeystoreFormatError("only password-integrity PKCS#12 files are supported")
        auth_safe_octets = auth_safe[1].children()[0].as_octets()
        _check_mac(pfx, auth_safe_octets, store_password)
        bags: list[der.Node] = []
        for content_info in der.decode(auth_safe_octets).expect(der.SEQUENCE, "AuthenticatedSafe").children():
            bags.extend(_safe_contents(content_info, store_password))
    except (IndexError, ValueError) as exc:
        raise KeystoreFormatError("malformed PKCS#12 keystore") from exc

    entries: list[KeystoreEntry] = []
    chain_certs: list[tuple[bytes | None, bytes]] = []
    for number, bag_node in enumerate(bags, start=1):
        try:
            _read_bag(bag_node, number, key_passwords, entries, chain_certs)
        except (IndexError, ValueError) as exc:
            raise KeystoreFormatError(f"malformed PKCS#12 bag {number}") from exc
    _attach_chains(entries, chain_certs)
    return entries


def _read_bag(
    bag_node: der.Node,
    number: int,
    key_passwords: Mapping[str, str],
    entries: list[KeystoreEntry],
    chain_certs: list[tuple[bytes | None, bytes]],
) -> None:
    bag = bag_node.expect(der.SEQUENCE, "SafeBag").children()
    bag_id = bag[0].as_oid()
    value = bag[1].children()[0]
    name, key_id, trusted = _bag_attributes(bag)
    name = name if name is not None else f"unnamed-{number}"
    created = _created(key_id)
    if bag_id == OID_CERT_BAG:
        cert_parts = value.children()
        if cert_parts[0].as_oid() != OID_X509_CERT:
            raise KeystoreFormatError(f"alias {name!r}: only X.509 certificates are supported")
        cert = cert_parts[1].children()[0].as_octets()
        if trusted:
            entries.append(TrustedCertEntry(name, created, certificate=cert))
        else:
            chain_certs.append((key_id, cert))
    elif bag_id == OID_SECRET_BAG:
        secret_parts = value.children()
        if secret_parts[0].as_oid() != OID_SHROUDED_KEY_BAG:
            raise KeystoreFormatError(
                f"alias {name!r}: unsupported secret bag type {secret_parts[0].as_oid()}"
            )
        epki = secret_parts[1].children()[0].as_octets()
        entry = SecretKeyEntry(name, created, protected=epki, origin="pkcs12")
        password = key_passwords.get(entry.alias)
        if password is not None:
            unlock(entry, password)
        entries.append(entry)
    elif bag_id == OID_SHROUDED_KEY_BAG:
        entries.append(PrivateKeyEntry(name, created, protected=value.raw, key_id=key_id, origin="pkcs12"))
    else:
        raise KeystoreFormatError(
            f"alias {name!r}: unsupported PKCS#12 bag type {bag_id}; refusing to rewrite it"
        )


def _attach_chains(entries: list[KeystoreEntry], certs: list[tuple[bytes | None, bytes]]) -> None:
    """Give each key pair its certificate chain: the leaf shares its localKeyId, then issuers by name."""
    from cryptography import x509

    parsed = []
    for key_id, cert in certs:
        try:
            parsed.append((key_id, cert, x509.load_der_x509_certificate(cert)))
        except ValueError:
            continue
    for entry in entries:
        if not isinstance(entry, PrivateKeyEntry) or entry.key_id is None:
            continue
        leaf = next((p for p in parsed if p[0] == entry.key_id), None)
        while leaf is not None and len(entry.chain) < 10:
            entry.chain.append(leaf[1])
            cert = leaf[2]
            if cert.issuer == cert.subject:
                break
            leaf = next((p for p in parsed if p[2].subject == cert.issuer and p[1] not in entry.chain), None)


# --- writing ---------------------------------------------------------------------------------------


def dump(
    entries: Iterable[KeystoreEntry],
    store_password: str,
    key_passwords: Mapping[str, str] | None = None,
    *,
    iterations: int = DEFAULT_ITERATIONS,
    random: Callable[[int], bytes],
) -> bytes:
    if not store_password:
        raise KeystoreInputError("a PKCS#12 keystore needs a non-empty store password")
    if not 1 <= iterations <= pbe.MAX_ITERATIONS:
        raise KeystoreInputError(f"PKCS#12 iteration count must be between 1 and {pbe.MAX_ITERATIONS}")
    key_passwords = {k.lower(): v for k, v in (key_passwords or {}).items()}
    key_bags: list[bytes] = []
    cert_bags: list[bytes] = []
    for entry in entries:
        if isinstance(entry, TrustedCertEntry):
            cert_bags.append(_cert_bag(entry.certificate, _attributes(entry.alias, None, trusted=True)))
        elif isinstance(entry, SecretKeyEntry):
            epki = entry.protected_for("pkcs12")
            if epki is None:
                password = entry.sealing_password(key_passwords)
                epki = _encrypt_key(
                    _secret_key_info(entry.algorithm, entry.key), password, iterations, random
                )
            secret_bag = der.sequence(der.oid(OID_SHROUDED_KEY_BAG), der.explicit(0, der.octet_string(epki)))
            key_bags.append(
                _safe_bag(OID_SECRET_BAG, secret_bag, _attributes(entry.alias, _time_key_id(entry), False))
            )
        elif isinstance(entry, PrivateKeyEntry):
            if entry.origin != "pkcs12":
                raise KeystoreInputError(
                    f"key pair {entry.alias!r} comes from a {entry.origin} keystore; PKCS#12 cannot hold it"
                )
            key_id = entry.key_id or _time_key_id(entry)
            key_bags.append(
                _safe_bag(OID_SHROUDED_KEY_BAG, entry.protected, _attributes(entry.alias, key_id, False))
            )
            for position, cert in enumerate(entry.chain):
                cert_bags.append(
                    _cert_bag(cert, _attributes(entry.alias, key_id, False) if position == 0 else b"")
                )
        else:
            raise KeystoreInputError(f"PKCS#12 cannot hold entry {entry.alias!r} of type {entry.kind}")

    safes: list[bytes] = []
    if cert_bags:
        algorithm, ciphertext = pbe.pbes2_encrypt(
            der.sequence(*cert_bags), store_password, iterations, random
        )
        encrypted_content_info = der.sequence(der.oid(OID_DATA), algorithm, der.tlv(0x80, ciphertext))
        encrypted_data = der.sequence(der.integer(0), encrypted_content_info)
        safes.append(der.sequence(der.oid(OID_ENCRYPTED_DATA), der.explicit(0, encrypted_data)))
    if key_bags:
        safes.append(
            der.sequence(der.oid(OID_DATA), der.explicit(0, der.octet_string(der.sequence(*key_bags))))
        )
    auth_safe = der.sequence(*safes)

    salt = random(20)
    mac = pbe.pkcs12_mac("sha256", store_password, salt, iterations, auth_safe)
    mac_data = der.sequence(
        der.sequence(der.algorithm_identifier(OID_SHA256, der.null()), der.octet_string(mac)),
        der.octet_string(salt),
        der.integer(iterations),
    )
    return der.sequence(
        der.integer(3),
        der.sequence(der.oid(OID_DATA), der.explicit(0, der.octet_string(auth_safe))),
        mac_data,
    )
