# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JCEKS, the format of `com.sun.crypto.provider.JceKeyStore`.

    int   magic 0xCECECECE, int version (2), int count
    entries, each: int tag, writeUTF alias, long creation date (ms since the epoch), then
      tag 1 (private key):     int length + EncryptedPrivateKeyInfo, int n, n x (writeUTF type, int length + cert)
      tag 2 (trusted cert):    writeUTF type ("X.509"; absent in version 1), int length + cert
      tag 3 (secret key):      a Java serialization stream of a SealedObjectForKeyProtector
    SHA-1 over (store password as UTF-16BE + "Mighty Aphrodite" + everything above)

A secret key is a `javax.crypto.spec.SecretKeySpec` serialized, encrypted with Sun's
PBEWithMD5AndTripleDES under the key password, and wrapped in a `SealedObject` that is serialized in
turn. Java looks aliases up in lower case, so they are written in lower case.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable, Iterable, Mapping

from ansible_collections.redundant.kube.plugins.module_utils.keystore import der, javaser, pbe
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

MAGIC = 0xCECECECE
VERSION = 2
TAG_PRIVATE_KEY, TAG_TRUSTED_CERT, TAG_SECRET_KEY = 1, 2, 3
INTEGRITY_SALT = b"Mighty Aphrodite"
SEAL_ALGORITHM = "PBEWithMD5AndTripleDES"
# JDK 17's KeyProtector default (jdk.jceks.iterationCount); Java refuses more than 5,000,000.
DEFAULT_ITERATIONS = 200_000

SEALED_OBJECT = javaser.ClassSpec(
    "javax.crypto.SealedObject",
    4482838265551344752,
    (
        ("[", "encodedParams", "[B"),
        ("[", "encryptedContent", "[B"),
        ("L", "paramsAlg", "Ljava/lang/String;"),
        ("L", "sealAlg", "Ljava/lang/String;"),
    ),
)
SEALED_OBJECT_FOR_KEY_PROTECTOR = javaser.ClassSpec(
    "com.sun.crypto.provider.SealedObjectForKeyProtector", -3650226485480866989, (), SEALED_OBJECT
)
SECRET_KEY_SPEC = javaser.ClassSpec(
    "javax.crypto.spec.SecretKeySpec",
    6577238317307289933,
    (("L", "algorithm", "Ljava/lang/String;"), ("[", "key", "[B")),
)


def _integrity(password: str, body: bytes) -> bytes:
    return hashlib.sha1(password.encode("utf-16-be") + INTEGRITY_SALT + body).digest()


# --- sealing --------------------------------------------------------------------------------------


def seal_key(
    algorithm: str, key: bytes, password: str, iterations: int, random: Callable[[int], bytes]
) -> bytes:
    """The serialized SealedObjectForKeyProtector holding `key`, as JceKeyStore writes it."""
    if not 1 <= iterations <= pbe.MAX_ITERATIONS:
        raise KeystoreInputError(f"JCEKS iteration count must be between 1 and {pbe.MAX_ITERATIONS}")
    plain = javaser.write_object(javaser.ObjectSpec(SECRET_KEY_SPEC, {"algorithm": algorithm, "key": key}))
    salt = random(8)
    encrypted = pbe.sun_pbe_encrypt(plain, password, salt, iterations)
    params = der.sequence(der.octet_string(salt), der.integer(iterations))
    return javaser.write_object(
        javaser.ObjectSpec(
            SEALED_OBJECT_FOR_KEY_PROTECTOR,
            {
                "encodedParams": params,
                "encryptedContent": encrypted,
                "paramsAlg": SEAL_ALGORITHM,
                "sealAlg": SEAL_ALGORITHM,
            },
        )
    )


def unseal_key(alias: str, sealed: javaser.JavaObject, password: str) -> tuple[str, bytes]:
    """Open a sealed secret key; return (algorithm, key bytes)."""
    fields = sealed.fields
    if fields.get("sealAlg") != SEAL_ALGORITHM:
        raise KeystoreFormatError(f"alias {alias!r}: unsupported sealing algorithm {fields.get('sealAlg')!r}")
    params, content = fields.get("encodedParams"), fields.get("encryptedContent")
    if not isinstance(params, bytes) or not isinstance(content, bytes):
        raise KeystoreFormatError(f"alias {alias!r}: sealed key without parameters or content")
    salt_node, count_node = der.decode(params).expect(der.SEQUENCE, "PBE parameters").children()
    try:
        plain = pbe.sun_pbe_decrypt(content, password, salt_node.as_octets(), count_node.as_int())
        obj, _unused = javaser.read_object(plain)
    except (pbe.BadDecrypt, KeystoreFormatError) as exc:
        if isinstance(exc, KeystoreFormatError) and "iteration count" in str(exc):
            raise KeystoreFormatError(f"alias {alias!r}: {exc}") from exc
        raise KeyPasswordError(f"cannot unlock secret key {alias!r}: wrong key password") from exc
    if not isinstance(obj, javaser.JavaObject):
        raise KeystoreFormatError(f"alias {alias!r}: the sealed object is not a key")
    if obj.cls.is_a("javax.crypto.spec.SecretKeySpec"):
        algorithm, key = obj.fields.get("algorithm"), obj.fields.get("key")
    elif obj.cls.is_a("java.security.KeyRep"):
        if obj.fields.get("format") != "RAW":
            raise KeystoreFormatError(
                f"alias {alias!r}: key in format {obj.fields.get('format')!r}, expected RAW"
            )
        algorithm, key = obj.fields.get("algorithm"), obj.fields.get("encoded")
    else:
        raise KeystoreFormatError(f"alias {alias!r}: unexpected sealed class {obj.cls.name}")
    if not isinstance(algorithm, str) or not isinstance(key, bytes):
        raise KeystoreFormatError(f"alias {alias!r}: malformed secret key")
    return algorithm, key


def unlock(entry: SecretKeyEntry, password: str) -> None:
    """Fill in `algorithm` and `key` of a locked entry read from a JCEKS file."""
    if entry.protected is None or entry.origin != "jceks":
        raise KeystoreInputError(f"secret key {entry.alias!r} has no JCEKS sealed form")
    sealed, _unused = javaser.read_object(entry.protected)
    if not isinstance(sealed, javaser.JavaObject):
        raise KeystoreFormatError(f"alias {entry.alias!r}: secret key entry is not a SealedObject")
    entry.algorithm, entry.key = unseal_key(entry.alias, sealed, password)


# --- reading ---------------------------------------------------------------------------------------


class _Cursor:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise KeystoreFormatError("truncated JCEKS keystore")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def long(self) -> int:
        return struct.unpack(">q", self.take(8))[0]

    def utf(self) -> str:
        return javaser.mutf8_decode(self.take(struct.unpack(">H", self.take(2))[0]))

    def blob(self) -> bytes:
        return self.take(self.int())


def load(
    data: bytes, store_password: str, key_passwords: Mapping[str, str] | None = None
) -> list[KeystoreEntry]:
    if len(data) < 12 + 20:
        raise KeystoreFormatError("too short to be a JCEKS keystore")
    body, digest = data[:-20], data[-20:]
    cur = _Cursor(body)
    if cur.int() & 0xFFFFFFFF != MAGIC:
        raise KeystoreFormatError("not a JCEKS keystore (bad magic number)")
    version = cur.int()
    if version not in (1, 2):
        raise KeystoreFormatError(f"unsupported JCEKS version {version}")
    if not hmac.compare_digest(_integrity(store_password, body), digest):
        raise StorePasswordError(
            "the keystore's integrity check failed: wrong store password (or the file was altered)"
        )
    key_passwords = {k.lower(): v for k, v in (key_passwords or {}).items()}
    count = cur.int()
    if count < 0:
        raise KeystoreFormatError("negative JCEKS entry count")
    entries: list[KeystoreEntry] = []
    for _iteration in range(count):
        tag = cur.int()
        alias = cur.utf()
        created = from_millis(cur.long())
        if tag == TAG_TRUSTED_CERT:
            if version == 2 and cur.utf() != "X.509":
                raise KeystoreFormatError(f"alias {alias!r}: only X.509 certificates are supported")
            entries.append(TrustedCertEntry(alias, created, certificate=cur.blob()))
        elif tag == TAG_PRIVATE_KEY:
            protected = cur.blob()
            chain = []
            for _iteration in range(cur.int()):
                if version == 2:
                    cur.utf()
                chain.append(cur.blob())
            entries.append(PrivateKeyEntry(alias, created, protected=protected, chain=chain, origin="jceks"))
        elif tag == TAG_SECRET_KEY:
            start = cur.pos
            sealed, cur.pos = javaser.read_object(body, start)
            if not isinstance(sealed, javaser.JavaObject) or not sealed.cls.is_a("javax.crypto.SealedObject"):
                raise KeystoreFormatError(f"alias {alias!r}: secret key entry is not a SealedObject")
            entry = SecretKeyEntry(alias, created, protected=body[start : cur.pos], origin="jceks")
            password = key_passwords.get(entry.alias)
            if password is not None:
                entry.algorithm, entry.key = unseal_key(entry.alias, sealed, password)
            entries.append(entry)
        else:
            raise KeystoreFormatError(f"unknown JCEKS entry tag {tag}")
    if cur.pos != len(body):
        raise KeystoreFormatError("trailing bytes in JCEKS keystore")
    return entries


# --- writing ---------------------------------------------------------------------------------------


def dump(
    entries: Iterable[KeystoreEntry],
    store_password: str,
    key_passwords: Mapping[str, str] | None = None,
    *,
    iterations: int = DEFAULT_ITERATIONS,
    random: Callable[[int], bytes],
) -> bytes:
    key_passwords = {k.lower(): v for k, v in (key_passwords or {}).items()}
    items = list(entries)
    out = bytearray(struct.pack(">Iii", MAGIC, VERSION, len(items)))
    for entry in items:
        created = entry.created or now_utc()
        head = javaser.write_utf(entry.alias) + struct.pack(">q", to_millis(created))
        if isinstance(entry, TrustedCertEntry):
            out += struct.pack(">i", TAG_TRUSTED_CERT) + head
            out += javaser.write_utf("X.509") + struct.pack(">i", len(entry.certificate)) + entry.certificate
        elif isinstance(entry, PrivateKeyEntry):
            if entry.origin != "jceks":
                raise KeystoreInputError(
                    f"key pair {entry.alias!r} comes from a {entry.origin} keystore; JCEKS cannot hold it"
                )
            out += struct.pack(">i", TAG_PRIVATE_KEY) + head
            out += struct.pack(">i", len(entry.protected)) + entry.protected
            out += struct.pack(">i", len(entry.chain))
            for cert in entry.chain:
                out += javaser.write_utf("X.509") + struct.pack(">i", len(cert)) + cert
        elif isinstance(entry, SecretKeyEntry):
            out += struct.pack(">i", TAG_SECRET_KEY) + head
            sealed = entry.protected_for("jceks")
            if sealed is None:
                password = entry.sealing_password(key_passwords)
                sealed = seal_key(entry.algorithm, entry.key, password, iterations, random)
            out += sealed
        else:
            raise KeystoreInputError(f"JCEKS cannot hold entry {entry.alias!r} of type {entry.kind}")
    out += _integrity(store_password, bytes(out))
    return bytes(out)
