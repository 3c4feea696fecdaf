# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keystore entries, independent of the file format.

Aliases are kept in lower case, as Java's JCEKS and PKCS12 keystores look them up; two aliases that
differ only in case are the same alias.

An entry read from a file keeps its protected form (`protected`): written back unchanged it is copied
byte for byte, so a key is never re-encrypted, let alone regenerated, just because a certificate was
added next to it. Secret keys whose password was not given stay locked (`key is None`) and are still
carried over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import (
    KeystoreFormatError,
    KeystoreInputError,
)

SECRET_KEY = "secret_key"
TRUSTED_CERT = "trusted_certificate"
PRIVATE_KEY = "private_key"

AES_SIZES = (128, 192, 256)


def normalize_alias(alias: str) -> str:
    if not isinstance(alias, str) or not alias.strip():
        raise KeystoreInputError("an alias must be a non-empty string")
    if alias != alias.strip():
        raise KeystoreInputError(f"alias {alias!r} has leading or trailing blanks")
    # Java: alias.toLowerCase(Locale.ENGLISH)
    return alias.lower()


def now_utc() -> datetime:
    # Java stores milliseconds; keep no finer precision so a round trip compares equal.
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_millis(millis: int) -> datetime:
    try:
        return datetime.fromtimestamp(millis / 1000, timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise KeystoreFormatError(f"entry date {millis} ms is out of range") from None


@dataclass
class KeystoreEntry:
    alias: str
    created: datetime | None = None

    kind = ""

    def __post_init__(self) -> None:
        self.alias = normalize_alias(self.alias)

    def describe(self) -> dict[str, Any]:
        """Non-secret facts about the entry, fit for logs and module results."""
        info: dict[str, Any] = {"alias": self.alias, "type": self.kind}
        if self.created is not None:
            info["created"] = self.created.isoformat().replace("+00:00", "Z")
        return info


@dataclass
class SecretKeyEntry(KeystoreEntry):
    """A symmetric key. `key` is None while the entry is locked (read without its password)."""

    algorithm: str | None = None
    key: bytes | None = field(default=None, repr=False)
    protected: bytes | None = field(default=None, repr=False)
    origin: str | None = None  # the format `protected` belongs to: "jceks" or "pkcs12"

    kind = SECRET_KEY

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.key is None and self.protected is None:
            raise KeystoreInputError(f"secret key {self.alias!r} has neither key bytes nor a protected form")
        if self.key is not None and self.algorithm == "AES" and len(self.key) * 8 not in AES_SIZES:
            raise KeystoreInputError(f"secret key {self.alias!r}: AES keys are 128, 192 or 256 bits")

    @property
    def locked(self) -> bool:
        return self.key is None

    def protected_for(self, store_type: str) -> bytes | None:
        """The protected form to copy into a `store_type` file, or None when it must be sealed anew."""
        return self.protected if self.origin == store_type else None

    def sealing_password(self, key_passwords: Mapping[str, str]) -> str:
        """The password to seal this key with, when it has to be (new, or from another format)."""
        if self.key is None or not self.algorithm:
            raise KeystoreInputError(f"secret key {self.alias!r} is locked; give its key password")
        password = key_passwords.get(self.alias)
        if password is None:
            raise KeystoreInputError(f"no key password for secret key {self.alias!r}")
        return password

    @property
    def size(self) -> int | None:
        return None if self.key is None else len(self.key) * 8

    def describe(self) -> dict[str, Any]:
        # Nothing derived from the key bytes: only what the key is, not what it is worth.
        info = super().describe()
        info["algorithm"] = self.algorithm
        info["size"] = self.size
        return info


@dataclass
class TrustedCertEntry(KeystoreEntry):
    """A trusted X.509 certificate, held as DER."""

    certificate: bytes = b""

    kind = TRUSTED_CERT

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.certificate:
            raise KeystoreInputError(f"certificate entry {self.alias!r} is empty")

    @property
    def sha256_fingerprint(self) -> str:
        return fingerprint(self.certificate)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(certificate_facts(self.certificate))
        return info


@dataclass
class PrivateKeyEntry(KeystoreEntry):
    """A key pair someone else put into the keystore. We never decrypt it; we carry it over as is:
    `protected` is its EncryptedPrivateKeyInfo (JCEKS) or its encrypted PKCS#8 bag (PKCS#12), `chain`
    its certificates (DER), leaf first, and `key_id` the PKCS#12 localKeyId linking them."""

    protected: bytes = field(default=b"", repr=False)
    chain: list[bytes] = field(default_factory=list)
    key_id: bytes | None = None
    origin: str | None = None

    kind = PRIVATE_KEY

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["chain_length"] = len(self.chain)
        if self.chain:
            info.update(certificate_facts(self.chain[0]))
        return info


def fingerprint(der_bytes: bytes) -> str:
    """SHA-256 fingerprint in keytool's notation (upper-case hex pairs joined by colons)."""
    digest = hashlib.sha256(der_bytes).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def certificate_facts(der_bytes: bytes) -> dict[str, Any]:
    facts: dict[str, Any] = {"sha256_fingerprint": fingerprint(der_bytes)}
    try:
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der_bytes)
    except Exception:  # an unparsable certificate in someone else's keystore: still list it
        return facts
    facts["subject"] = cert.subject.rfc4514_string()
    facts["issuer"] = cert.issuer.rfc4514_string()
    facts["serial_number"] = format(cert.serial_number, "x")
    facts["not_after"] = cert.not_valid_after_utc.isoformat().replace("+00:00", "Z")
    return facts
