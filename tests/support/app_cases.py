"""Shared helpers of the app model tests: the three reference specs and the golden-file check.

Imported as a plain module: pytest puts this directory on sys.path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parents[1] / "unit" / "plugins" / "module_utils" / "app"
CASES = HERE / "cases"
GOLDEN = HERE / "golden"
# REDUNDANT_KUBE_UPDATE_GOLDEN=1 pytest tests/unit/plugins/module_utils/app  rewrites the golden files from the renderer.
UPDATE_GOLDEN = os.environ.get("REDUNDANT_KUBE_UPDATE_GOLDEN") == "1"

# Live digests of the objects the D2000 and midPoint specs mount but do not own (license, keystore, env Secret).
EXTERNAL_DIGESTS = {
    "ConfigMap/d2000-license": "1" * 64,
    "Secret/d2000-db": "2" * 64,
    "Secret/mp-demo-keystore": "3" * 64,
    "Secret/mp-demo-db": "4" * 64,
}


def load_case(name: str) -> dict[str, Any]:
    return yaml.safe_load((CASES / f"{name}.yml").read_text())


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.yaml"
    if UPDATE_GOLDEN:
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with REDUNDANT_KUBE_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"rendering of {name} differs from {path}; if intended, regenerate it"
