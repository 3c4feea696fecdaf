# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`Keystore`: an ordered set of entries plus the file type, loaded from and dumped to bytes.

Java keystores (JCEKS and PKCS12) in pure Python: the standard library plus `cryptography`.

from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import SecretKeyEntry
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import Keystore
store = Keystore("jceks", [SecretKeyEntry("default", algorithm="AES", key=os.urandom(16))])
data = store.dump("changeit", {"default": "midpoint"})
again = Keystore.load(data, "changeit", {"default": "midpoint"})
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping

from ansible_collections.redundant.kube.plugins.module_utils.keystore import jceks, pkcs12
from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import (
    KeystoreFormatError,
    KeystoreInputError,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import (
    KeystoreEntry,
    SecretKeyEntry,
    normalize_alias,
)

JCEKS = "jceks"
PKCS12 = "pkcs12"
TYPES = (JCEKS, PKCS12)
DEFAULT_FILE_NAMES = {JCEKS: "keystore.jceks", PKCS12: "keystore.p12"}


def detect_type(data: bytes) -> str:
    """`jceks` or `pkcs12`, from the first bytes; anything else is an error naming what it is."""
    head = data[:4]
    if head == b"\xce\xce\xce\xce":
        return JCEKS
    if head == b"\xfe\xed\xfe\xed":
        raise KeystoreFormatError("this is a JKS keystore; only JCEKS and PKCS12 are supported")
    if head[:1] == b"\x30":
        return PKCS12
    raise KeystoreFormatError("not a JCEKS or PKCS12 keystore")


class Keystore:
    """Entries keyed by lower-case alias, in insertion order."""

    def __init__(self, store_type: str, entries: Iterable[KeystoreEntry] = ()) -> None:
        if store_type not in TYPES:
            raise KeystoreInputError(f"keystore type must be one of {', '.join(TYPES)}, not {store_type!r}")
        self.type = store_type
        self._entries: dict[str, KeystoreEntry] = {}
        for entry in entries:
            self.add(entry)

    # --- entries ---------------------------------------------------------------------------------
    def add(self, entry: KeystoreEntry, replace: bool = False) -> None:
        if entry.alias in self._entries and not replace:
            raise KeystoreInputError(f"alias {entry.alias!r} is already in the keystore")
        self._entries[entry.alias] = entry

    def get(self, alias: str) -> KeystoreEntry | None:
        return self._entries.get(normalize_alias(alias))

    def remove(self, alias: str) -> KeystoreEntry | None:
        return self._entries.pop(normalize_alias(alias), None)

    def __contains__(self, alias: object) -> bool:
        return isinstance(alias, str) and normalize_alias(alias) in self._entries

    def __iter__(self) -> Iterator[KeystoreEntry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def aliases(self) -> list[str]:
        return list(self._entries)

    def unlock(self, alias: str, password: str) -> SecretKeyEntry:
        """Decrypt a secret key entry in place (KeyPasswordError when the password is wrong).

        An entry read from a file is decrypted even when it is already unlocked, so the password is
        always checked; an entry made in memory has no password yet and is returned as it is."""
        entry = self.get(alias)
        if not isinstance(entry, SecretKeyEntry):
            raise KeystoreInputError(f"alias {normalize_alias(alias)!r} is not a secret key")
        if entry.protected is not None:
            (jceks if entry.origin == JCEKS else pkcs12).unlock(entry, password)
        return entry

    # --- bytes -----------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        data: bytes,
        store_password: str,
        key_passwords: Mapping[str, str] | None = None,
        store_type: str | None = None,
    ) -> Keystore:
        """Parse `data`. The store password is checked first (StorePasswordError); secret keys whose
        alias has a key password are unlocked (KeyPasswordError if it is wrong), the others stay
        locked but are kept."""
        found = detect_type(data)
        if store_type is not None and store_type != found:
            raise KeystoreFormatError(f"the keystore is {found.upper()}, not {store_type.upper()}")
        codec = jceks if found == JCEKS else pkcs12
        entries = codec.load(data, store_password, key_passwords)
        store = cls(found)
        for entry in entries:
            if entry.alias in store._entries:
                raise KeystoreFormatError(f"the keystore holds alias {entry.alias!r} twice")
            store.add(entry)
        return store

    def dump(
        self,
        store_password: str,
        key_passwords: Mapping[str, str] | None = None,
        *,
        iterations: int | None = None,
        random: Callable[[int], bytes] = os.urandom,
    ) -> bytes:
        """Serialize. Entries read from a file of this type are copied in their protected form;
        new secret keys are sealed with their key password from `key_passwords`."""
        codec = jceks if self.type == JCEKS else pkcs12
        return codec.dump(
            self._entries.values(),
            store_password,
            key_passwords,
            iterations=iterations or codec.DEFAULT_ITERATIONS,
            random=random,
        )
