# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Java keystores (JCEKS and PKCS12) in pure Python: the standard library plus `cryptography`.

from ansible_collections.redundant.kube.plugins.module_utils.keystore import Keystore, SecretKeyEntry
store = Keystore("jceks", [SecretKeyEntry("default", algorithm="AES", key=os.urandom(16))])
data = store.dump("changeit", {"default": "midpoint"})
again = Keystore.load(data, "changeit", {"default": "midpoint"})
"""

from __future__ import annotations

from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import (
    KeyPasswordError,
    KeystoreError,
    KeystoreFormatError,
    KeystoreInputError,
    StorePasswordError,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.model import (
    PRIVATE_KEY,
    SECRET_KEY,
    TRUSTED_CERT,
    KeystoreEntry,
    PrivateKeyEntry,
    SecretKeyEntry,
    TrustedCertEntry,
    fingerprint,
    normalize_alias,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.pbe import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import (
    DEFAULT_FILE_NAMES,
    JCEKS,
    PKCS12,
    TYPES,
    Keystore,
    detect_type,
)

__all__ = [
    "CRYPTOGRAPHY_IMPORT_ERROR",
    "DEFAULT_FILE_NAMES",
    "HAS_CRYPTOGRAPHY",
    "JCEKS",
    "PKCS12",
    "PRIVATE_KEY",
    "SECRET_KEY",
    "TRUSTED_CERT",
    "TYPES",
    "KeyPasswordError",
    "Keystore",
    "KeystoreEntry",
    "KeystoreError",
    "KeystoreFormatError",
    "KeystoreInputError",
    "PrivateKeyEntry",
    "SecretKeyEntry",
    "StorePasswordError",
    "TrustedCertEntry",
    "detect_type",
    "fingerprint",
    "normalize_alias",
]
