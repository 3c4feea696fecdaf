"""Every module imports, and its argument spec and documentation agree on the options."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

PLUGINS = Path(__file__).resolve().parents[4] / "plugins"
MODULES = sorted(p.stem for p in (PLUGINS / "modules").glob("*.py"))


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_and_documents_itself(name):
    module = importlib.import_module(f"ansible_collections.redundant.kube.plugins.modules.{name}")
    for section in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
        assert getattr(module, section, "").strip(), f"{name} has no {section}"
    assert yaml.safe_load(module.DOCUMENTATION)["module"] == name
    # A module backed by an action plugin of the same name runs on the controller and has no main().
    assert callable(getattr(module, "main", None)) or (PLUGINS / "action" / f"{name}.py").is_file()
