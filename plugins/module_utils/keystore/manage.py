# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the keystore module decides, without Ansible or Kubernetes: validate the requested entries, then
turn (existing keystore, request) into (new keystore, one action per alias). Pure apart from the key
generator, which tests replace.

Rules: existing entries are kept; missing aliases are added; a certificate whose bytes changed replaces
its alias; a secret key is never replaced unless `force_regenerate` is set, because a new key makes
everything encrypted with the old one unreadable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import (
    KeyPasswordError,
    KeystoreInputError,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import (
    AES_SIZES,
    SECRET_KEY,
    TRUSTED_CERT,
    KeystoreEntry,
    SecretKeyEntry,
    TrustedCertEntry,
    normalize_alias,
    now_utc,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.pbe import sun_password_bytes
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import JCEKS, TYPES, Keystore

KEPT, ADDED, REPLACED, REGENERATED, REMOVED = "kept", "added", "replaced", "regenerated", "removed"
DESTRUCTIVE = (REPLACED, REGENERATED, REMOVED)
ALGORITHMS = ("AES",)
DEFAULT_SIZE = 256

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


@dataclass(frozen=True)
class WantedSecretKey:
    alias: str
    algorithm: str
    size: int
    password: str = field(repr=False)


@dataclass(frozen=True)
class WantedCertificates:
    """One `entries` item with a certificate: the first certificate of the PEM goes to `alias`, the
    next ones to `alias-2`, `alias-3`, ... (keytool can only import one certificate per alias)."""

    alias: str
    certificates: tuple[bytes, ...]

    def aliases(self) -> list[str]:
        return [self.alias] + [f"{self.alias}-{n}" for n in range(2, len(self.certificates) + 1)]


# A string: pylint (ansible-test sanity) judges `|` between two classes by the oldest Python it checks for.
Wanted: TypeAlias = "WantedSecretKey | WantedCertificates"


# --- validation ------------------------------------------------------------------------------------


def certificates_from(data: bytes, where: str) -> list[bytes]:
    """DER certificates from PEM text (one or more CERTIFICATE blocks) or from one DER certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    blocks = _PEM_BLOCK.findall(data)
    if data.count(b"-----BEGIN ") != len(blocks):
        raise KeystoreInputError(
            f"{where}: malformed PEM (a -----BEGIN line without its matching -----END line)"
        )
    if not blocks:
        try:
            return [x509.load_der_x509_certificate(data).public_bytes(Encoding.DER)]
        except ValueError:
            raise KeystoreInputError(
                f"{where}: no certificate found (expected PEM with -----BEGIN CERTIFICATE----- or a DER certificate)"
            ) from None
    found: list[bytes] = []
    for number, (label, body) in enumerate(blocks, start=1):
        kind = label.decode("ascii")
        if "PRIVATE KEY" in kind:
            raise KeystoreInputError(
                f"{where}: the PEM holds a private key ({kind}), not a certificate; only certificates can be "
                "imported as trusted entries"
            )
        if kind != "CERTIFICATE":
            raise KeystoreInputError(f"{where}: PEM block {number} is a {kind}, not a CERTIFICATE")
        pem = b"-----BEGIN CERTIFICATE-----\n" + body + b"\n-----END CERTIFICATE-----\n"
        try:
            found.append(x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER))
        except ValueError:
            raise KeystoreInputError(f"{where}: certificate {number} of the PEM is malformed") from None
    return found


def check_store_password(password: str | None) -> None:
    if not password:
        raise KeystoreInputError("store_password must not be empty")


def check_key_password(store_type: str, alias: str, password: str) -> None:
    if not password:
        raise KeystoreInputError(f"entry {alias!r}: the key password must not be empty")
    if store_type == JCEKS:
        try:
            sun_password_bytes(password)
        except KeystoreInputError:
            raise KeystoreInputError(
                f"entry {alias!r}: a JCEKS key password must be printable ASCII (Java's PBEWithMD5AndTripleDES "
                "cannot use other characters); use another password or type pkcs12"
            ) from None


def wanted_entries(
    raw: Iterable[Mapping[str, Any]],
    store_type: str,
    default_key_password: str | None,
    read_file: Callable[[str], bytes],
) -> list[Wanted]:
    """Validate the module's `entries`; every problem is a one-line KeystoreInputError."""
    if store_type not in TYPES:
        raise KeystoreInputError(f"type must be one of {', '.join(TYPES)}")
    wanted: list[Wanted] = []
    owners: dict[str, str] = {}  # lower-case alias -> the alias as the user wrote it

    def claim(alias: str, written: str) -> None:
        if alias in owners:
            other = owners[alias]
            if other == written:
                raise KeystoreInputError(f"alias {written!r} appears twice in entries")
            raise KeystoreInputError(
                f"entries {other!r} and {written!r} are the same alias {alias!r} (Java aliases are not case-sensitive)"
            )
        owners[alias] = written

    for item in raw:
        written = item.get("alias")
        if not isinstance(written, str) or not written:
            raise KeystoreInputError("every entry needs an alias")
        alias = normalize_alias(written)
        has_cert = bool(item.get("certificate") or item.get("certificate_path"))
        kind = item.get("type") or (TRUSTED_CERT if has_cert else SECRET_KEY)
        if kind == SECRET_KEY:
            if has_cert:
                raise KeystoreInputError(f"entry {written!r}: a secret key takes no certificate")
            algorithm = item.get("algorithm") or "AES"
            if algorithm not in ALGORITHMS:
                raise KeystoreInputError(
                    f"entry {written!r}: unsupported algorithm {algorithm!r} (supported: AES)"
                )
            size = item.get("size") or DEFAULT_SIZE
            if size not in AES_SIZES:
                raise KeystoreInputError(
                    f"entry {written!r}: unsupported AES key size {size} (use 128, 192 or 256)"
                )
            password = item.get("key_password") or default_key_password
            if not password:
                raise KeystoreInputError(
                    f"entry {written!r}: no key_password and no store_password to default to"
                )
            check_key_password(store_type, written, password)
            claim(alias, written)
            wanted.append(WantedSecretKey(alias, algorithm, size, password))
        elif kind == TRUSTED_CERT:
            if item.get("certificate") and item.get("certificate_path"):
                raise KeystoreInputError(f"entry {written!r}: give certificate or certificate_path, not both")
            where = f"entry {written!r}"
            if item.get("certificate"):
                data = str(item["certificate"]).encode("utf-8")
            elif item.get("certificate_path"):
                path = str(item["certificate_path"])
                where = f"entry {written!r} ({path})"
                try:
                    data = read_file(path)
                except OSError as exc:
                    raise KeystoreInputError(
                        f"{where}: cannot read the file: {exc.strerror or exc}"
                    ) from None
            else:
                raise KeystoreInputError(
                    f"entry {written!r}: a certificate entry needs certificate or certificate_path"
                )
            group = WantedCertificates(alias, tuple(certificates_from(data, where)))
            for member in group.aliases():
                claim(member, written if member == alias else member)
            wanted.append(group)
        else:
            raise KeystoreInputError(
                f"entry {written!r}: unknown type {kind!r} (secret_key or trusted_certificate)"
            )
    return wanted


def key_passwords(wanted: Iterable[Wanted]) -> dict[str, str]:
    return {w.alias: w.password for w in wanted if isinstance(w, WantedSecretKey)}


# --- reconciliation --------------------------------------------------------------------------------


@dataclass
class Outcome:
    keystore: Keystore
    actions: dict[str, str]  # alias -> kept/added/replaced/regenerated/removed
    removed: list[KeystoreEntry] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(a != KEPT for a in self.actions.values())

    @property
    def destructive(self) -> bool:
        """Something that was in the keystore is gone or different: the moment to keep a backup."""
        return any(a in DESTRUCTIVE for a in self.actions.values())

    def report(self) -> list[dict[str, Any]]:
        """Non-secret facts per alias (nothing derived from key bytes), with what happened to it."""
        rows = []
        for entry in self.keystore:
            rows.append({**entry.describe(), "action": self.actions.get(entry.alias, KEPT)})
        for entry in self.removed:
            rows.append({**entry.describe(), "action": REMOVED})
        return rows


def _force_hint(alias: str) -> str:
    return (
        f"the keystore is left as it is; replacing secret key {alias!r} would make everything encrypted with it "
        "unreadable (set force_regenerate: true to do it anyway)"
    )


def reconcile(
    existing: Keystore | None,
    store_type: str,
    wanted: Iterable[Wanted],
    force_regenerate: bool = False,
    generate_key: Callable[[int], bytes] = os.urandom,
) -> Outcome:
    """The keystore to write and what happens to each alias. `existing` is modified in place."""
    wanted = list(wanted)
    store = existing if existing is not None else Keystore(store_type)
    actions: dict[str, str] = {alias: KEPT for alias in store.aliases}
    claimed = {a for w in wanted for a in ([w.alias] if isinstance(w, WantedSecretKey) else w.aliases())}

    def new_key(w: WantedSecretKey) -> SecretKeyEntry:
        return SecretKeyEntry(w.alias, now_utc(), algorithm=w.algorithm, key=generate_key(w.size // 8))

    for w in wanted:
        if isinstance(w, WantedSecretKey):
            current = store.get(w.alias)
            if current is None:
                store.add(new_key(w))
                actions[w.alias] = ADDED
                continue
            if force_regenerate:
                store.add(new_key(w), replace=True)
                actions[w.alias] = REGENERATED
                continue
            if not isinstance(current, SecretKeyEntry):
                raise KeystoreInputError(
                    f"alias {w.alias!r} holds a {current.kind}, not a secret key; the keystore is left as it is "
                    "(set force_regenerate: true to replace it)"
                )
            try:
                store.unlock(w.alias, w.password)
            except KeyPasswordError:
                raise KeyPasswordError(
                    f"cannot unlock the existing secret key {w.alias!r} with its key_password (wrong password); "
                    + _force_hint(w.alias)
                ) from None
            if current.algorithm != w.algorithm or current.size != w.size:
                raise KeystoreInputError(
                    f"alias {w.alias!r} holds a {current.size}-bit {current.algorithm} key, but a {w.size}-bit "
                    f"{w.algorithm} key was asked; " + _force_hint(w.alias)
                )
        else:
            for alias, certificate in zip(w.aliases(), w.certificates, strict=True):
                current = store.get(alias)
                if current is None:
                    store.add(TrustedCertEntry(alias, now_utc(), certificate=certificate))
                    actions[alias] = ADDED
                elif isinstance(current, TrustedCertEntry):
                    if current.certificate != certificate:
                        store.add(TrustedCertEntry(alias, now_utc(), certificate=certificate), replace=True)
                        actions[alias] = REPLACED
                elif force_regenerate:
                    store.add(TrustedCertEntry(alias, now_utc(), certificate=certificate), replace=True)
                    actions[alias] = REPLACED
                else:
                    raise KeystoreInputError(
                        f"alias {alias!r} holds a {current.kind}, not a certificate; the keystore is left as it is "
                        "(set force_regenerate: true to replace it)"
                    )
    removed: list[KeystoreEntry] = []
    for w in wanted:
        # A PEM that now holds fewer certificates: drop the trusted certificates it used to fill.
        if isinstance(w, WantedCertificates):
            n = len(w.certificates) + 1
            while f"{w.alias}-{n}" not in claimed and isinstance(
                store.get(f"{w.alias}-{n}"), TrustedCertEntry
            ):
                gone = store.remove(f"{w.alias}-{n}")
                if gone is not None:
                    removed.append(gone)
                    actions[gone.alias] = REMOVED
                n += 1
    return Outcome(store, actions, removed)
