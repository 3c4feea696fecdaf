# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of redundant.kube.controller_checksums: everything happens on the controller."""

from __future__ import annotations

import hashlib
import os
import re

from ansible.plugins.action import ActionBase

CHECKSUM = re.compile(r"^sha256:[0-9a-f]{64}$")
# (path, size, mtime) -> digest: every host of a play asks about the same files; hash them once.
_DIGESTS: dict[tuple[str, int, float], str] = {}


def file_digest(path: str) -> str:
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime)
    if key not in _DIGESTS:
        sha = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        _DIGESTS[key] = "sha256:" + sha.hexdigest()
    return _DIGESTS[key]


def problems(files: list[dict]) -> tuple[list[str], dict[str, str]]:
    """One line per file that is missing, unreadable or not what its checksum says."""
    found, digests = [], {}
    for entry in files:
        path, expected, variable = entry["path"], entry["checksum"], entry["variable"]
        if not CHECKSUM.match(expected or ""):
            found.append(f'{variable}: {expected!r} for {path} is not "sha256:<64 hex digits>"')
            continue
        try:
            digests[path] = file_digest(path)
        except OSError as err:
            found.append(f"{variable}: {path} cannot be read on the controller ({err.strerror})")
            continue
        if digests[path] != expected:
            found.append(
                f"{variable}: {path} has {digests[path]}, not {expected} - wrong file or wrong version"
            )
    return found, digests


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("files",))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _unused, args = self.validate_argument_spec(
            argument_spec={
                "files": {
                    "type": "list",
                    "elements": "dict",
                    "required": True,
                    "options": {
                        "path": {"type": "path", "required": True, "aliases": ["src"]},
                        "checksum": {"type": "str", "required": True},
                        "variable": {"type": "str", "required": True},
                    },
                }
            }
        )
        found, digests = problems(args["files"])
        result.update(changed=False, digests=digests)
        if found:
            result.update(failed=True, msg="; ".join(found))
        return result
