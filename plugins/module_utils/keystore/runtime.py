# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What redundant.kube.keystore does: read the keystore where it is kept (a Secret's data key or a file),
reconcile it with the requested entries (manage.py decides, pure), and write it back only when something
changed, with a backup before anything is replaced or deleted.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable, Mapping
from typing import Any, Union

from ansible_collections.redundant.kube.plugins.module_utils.keystore.errors import (
    KeystoreError,
    KeystoreInputError,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.manage import (
    check_store_password,
    key_passwords,
    reconcile,
    wanted_entries,
)
from ansible_collections.redundant.kube.plugins.module_utils.keystore.store import Keystore
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    LABEL_MANAGED_BY,
    MANAGED_BY,
    content_digest,
)
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources

LABEL_BACKUP_OF = "redundant.kube/backup-of"


class KeystoreFailed(KeystoreError):
    """One line for the user: where the keystore is kept, what is wrong; nothing was changed."""


def _managed() -> dict[str, str]:
    return {LABEL_MANAGED_BY: MANAGED_BY}


class SecretTarget:
    """The keystore as one data key of a Secret (plus, optionally, the store password)."""

    def __init__(
        self,
        resources: Resources,
        namespace: str,
        name: str,
        file_name: str,
        password_key: str | None,
        check_mode: bool,
    ) -> None:
        self.resources = resources
        self.namespace, self.name = namespace, name
        self.file_name, self.password_key = file_name, password_key
        self.check_mode = check_mode
        self.before: dict[str, Any] | None = None

    def where(self) -> str:
        return f"Secret {self.namespace}/{self.name} ({self.file_name})"

    def read(self) -> tuple[bytes | None, str | None]:
        """(keystore bytes or None, store password from the Secret or None)."""
        self.before = self.resources.get("v1", "Secret", self.name, self.namespace)
        data = (self.before or {}).get("data") or {}
        keystore = base64.b64decode(data[self.file_name]) if data.get(self.file_name) else None
        password = None
        if self.password_key and data.get(self.password_key):
            password = base64.b64decode(data[self.password_key]).decode("utf-8")
        return keystore, password

    def exists(self) -> bool:
        return self.before is not None

    def password_outdated(self, store_password: str) -> bool:
        if not self.password_key:
            return False
        data = (self.before or {}).get("data") or {}
        return data.get(self.password_key) != _b64(store_password.encode("utf-8"))

    def write(self, keystore: bytes, store_password: str) -> None:
        data = {self.file_name: _b64(keystore)}
        if self.password_key:
            data[self.password_key] = _b64(store_password.encode("utf-8"))
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": _managed()},
            "data": data,
        }
        if self.before is None:
            manifest["type"] = "Opaque"
        self.resources.apply(manifest, dry_run=self.check_mode)

    def backup(self) -> str | None:
        """Copy the Secret's current data into <name>-backup-<digest>; the same content, the same name."""
        if self.before is None:
            return None
        name = f"{self.name}-backup-{content_digest(self.before)[:10]}"
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {**_managed(), LABEL_BACKUP_OF: self.name},
            },
            "type": self.before.get("type") or "Opaque",
            "data": dict(self.before.get("data") or {}),
        }
        self.resources.apply(manifest, dry_run=self.check_mode)
        return name

    def delete(self) -> bool:
        return bool(self.resources.delete("v1", "Secret", self.name, self.namespace, dry_run=self.check_mode))

    def result(self) -> dict[str, Any]:
        return {"secret": {"namespace": self.namespace, "name": self.name}, "file_name": self.file_name}


class FileTarget:
    """The keystore as a file on the host the module runs on. The module hands in Ansible's own atomic
    move and backup, so files are written the way every Ansible module writes them."""

    def __init__(
        self,
        path: str,
        check_mode: bool,
        atomic_move: Callable[[str, str], None],
        backup_local: Callable[[str], str],
    ) -> None:
        self.path, self.check_mode = path, check_mode
        self.atomic_move, self.backup_local = atomic_move, backup_local

    def where(self) -> str:
        return f"keystore file {self.path}"

    def read(self) -> tuple[bytes | None, str | None]:
        if not os.path.exists(self.path):
            return None, None
        with open(self.path, "rb") as handle:
            return handle.read(), None

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def password_outdated(self, store_password: str) -> bool:
        return False

    def write(self, keystore: bytes, store_password: str) -> None:
        if self.check_mode:
            return
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise OSError(f"directory {directory} does not exist")
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".keystore-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(keystore)
            self.atomic_move(tmp, self.path)
            os.chmod(self.path, 0o600)  # atomic_move applies default permissions to a new file
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def backup(self) -> str | None:
        if self.check_mode or not os.path.exists(self.path):
            return None
        return self.backup_local(self.path)

    def delete(self) -> bool:
        if not os.path.exists(self.path):
            return False
        if not self.check_mode:
            os.unlink(self.path)
        return True

    def result(self) -> dict[str, Any]:
        # Not "dest": AnsibleModule would add the file's stat (size, mode, ...) to the result.
        return {"keystore_path": self.path}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _diff_view(store: Keystore | None) -> dict[str, Any]:
    """Aliases with non-secret facts only, for --diff."""
    view = {}
    for entry in store or ():
        facts: dict[str, Any] = {"type": entry.kind}
        info = entry.describe()
        for key in ("sha256_fingerprint", "subject", "created"):
            if key in info:
                facts[key] = info[key]
        view[entry.alias] = facts
    return {"entries": view}


def _read_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _reconcile(p: Mapping[str, Any], target: Target, diff: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"changed": False, "type": p["type"], **target.result()}
    current, stored_password = target.read()

    if p["state"] == "absent":
        if not target.exists():
            return result
        if p["backup"]:
            made = target.backup()
            if made:
                result["backup"] = made
        result["changed"] = bool(target.delete())
        result["entries"] = []
        return result

    store_password = p["store_password"] or stored_password
    if not store_password:
        raise KeystoreInputError(
            "store_password is required"
            + (
                f" (the Secret holds no {p['store_password_key']!r} to read it from)"
                if p.get("store_password_key")
                else ""
            )
        )
    check_store_password(store_password)
    wanted = wanted_entries(p["entries"], p["type"], store_password, _read_file)
    existing = Keystore.load(current, store_password, store_type=p["type"]) if current is not None else None
    before_view = _diff_view(existing)
    outcome = reconcile(existing, p["type"], wanted, force_regenerate=p["force_regenerate"])
    password_outdated = target.password_outdated(store_password)
    result["entries"] = outcome.report()
    result["changed"] = outcome.changed or password_outdated or current is None
    if diff:
        result["diff"] = {
            "before": before_view if current is not None else {},
            "after": _diff_view(outcome.keystore),
        }
    if not result["changed"]:
        return result
    data = (
        outcome.keystore.dump(store_password, key_passwords(wanted))
        if outcome.changed or current is None
        else current
    )
    if p["backup"] and current is not None and outcome.destructive:
        made = target.backup()
        if made:
            result["backup"] = made
    target.write(data, store_password)
    return result


Target = Union[SecretTarget, FileTarget]  # noqa: UP007 - a runtime alias; pylint reads `|` of classes as an error


def reconcile_keystore(params: Mapping[str, Any], target: Target, diff: bool) -> dict[str, Any]:
    """The module's result; KeystoreFailed naming the target when the request or the keystore is wrong
    (nothing is written then) or the file system refuses."""
    try:
        return _reconcile(params, target, diff)
    except KeystoreError as exc:
        raise KeystoreFailed(f"{target.where()}: {exc}; nothing was changed") from None
    except OSError as exc:
        raise KeystoreFailed(f"{target.where()}: {exc}") from None
