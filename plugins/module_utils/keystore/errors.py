# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the keystore codec. Messages are one line, name the alias or option at fault, and never
contain key material or passwords."""

from __future__ import annotations


class KeystoreError(Exception):
    """Base class of every error the keystore package raises on purpose."""


class KeystoreFormatError(KeystoreError):
    """The data is not a keystore we can read (corrupt, truncated, or an unsupported variant)."""


class StorePasswordError(KeystoreError):
    """The store password does not match the keystore's integrity check (JCEKS digest, PKCS#12 MAC)."""


class KeyPasswordError(KeystoreError):
    """A key password cannot unlock its entry."""


class KeystoreInputError(KeystoreError):
    """A request the codec refuses: bad alias, unsupported key size, password Java cannot use, ..."""
