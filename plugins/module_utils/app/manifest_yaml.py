# Copyright: redundant.kube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manifests as YAML text: byte-stable output for state=rendered, diffs and golden files."""

from __future__ import annotations

from typing import Any

try:
    import yaml
except ImportError:  # ansible-core itself requires PyYAML; only a bare import check lacks it
    yaml = None


def _dumper() -> Any:
    class Dumper(yaml.SafeDumper):
        """Block style (|) for multi-line strings, so config files read as files in the manifests."""

    def represent_str(dumper: Any, text: str) -> Any:
        block = "\n" in text and all(line == line.rstrip() for line in text.split("\n"))
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if block else None)

    Dumper.add_representer(str, represent_str)
    return Dumper


def dump_yaml(obj: dict[str, Any]) -> str:
    """One object as YAML, keys sorted: byte-stable for the same object."""
    return yaml.dump(
        obj, Dumper=_dumper(), sort_keys=True, default_flow_style=False, width=1000, allow_unicode=True
    )


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML, byte-stable for the same objects."""
    return "".join("---\n" + dump_yaml(o) for o in objects)


def manifest_files(objects: list[dict[str, Any]]) -> dict[str, str]:
    """File name -> YAML for `state: rendered`; the numeric prefix keeps the apply order for `kubectl apply -f`."""
    return {
        f"{i:03d}-{o['kind'].lower()}-{o['metadata']['name']}.yaml": dump_yaml(o)
        for i, o in enumerate(objects)
    }
