"""What the collection says about itself (galaxy.yml, meta/, role metadata, requirements) is true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLES = sorted(p.parent.parent for p in REPO.glob("roles/*/meta/argument_specs.yml"))
# The systems the role tiers run on: molecule's image and the VM tier are Debian 12 (bookworm).
TESTED_PLATFORMS = {"Debian": ["bookworm"]}
# Roles that only run on the controller claim no node system.
CONTROLLER_ROLES = {"inventory_check", "storage"}


def _yaml(path: Path):
    return yaml.safe_load(path.read_text())


def _spec_options(role: Path) -> dict[str, dict]:
    options: dict[str, dict] = {}
    for entry in _yaml(role / "meta/argument_specs.yml")["argument_specs"].values():
        options.update(entry.get("options") or {})
    return options


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_role_default_is_in_its_argument_spec(role: Path):
    defaults_file = role / "defaults/main.yml"
    defaults = (_yaml(defaults_file) or {}) if defaults_file.exists() else {}
    options = _spec_options(role)
    missing = sorted(set(defaults) - set(options))
    assert not missing, f"{role.name}: defaults/main.yml has {missing}, meta/argument_specs.yml does not"
    for name, value in defaults.items():
        spec = options[name]
        if isinstance(value, str) and "{{" in value:
            # Computed on the host: described, not repeated - validate_argument_spec templates the spec it
            # is given, before facts exist (nodes.yml, the molecule verify plays).
            description = (
                " ".join(spec["description"])
                if isinstance(spec["description"], list)
                else spec["description"]
            )
            assert "default" in description.lower() or "default" in spec, (
                f"{role.name}: say what {name} defaults to"
            )
            assert "ansible_facts" not in str(spec.get("default", "")), (
                f"{role.name}: {name}'s spec default needs facts"
            )
        else:
            assert spec.get("default") == value, (
                f"{role.name}: {name} is {value!r} in defaults, {spec.get('default')!r} in the spec"
            )


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_role_platforms_are_the_tested_ones(role: Path):
    platforms = {p["name"]: p["versions"] for p in _yaml(role / "meta/main.yml")["galaxy_info"]["platforms"]}
    expected = {"GenericLinux": ["all"]} if role.name in CONTROLLER_ROLES else TESTED_PLATFORMS
    assert platforms == expected


def test_galaxy_metadata_names_no_made_up_location():
    galaxy = _yaml(REPO / "galaxy.yml")
    for key in ("repository", "documentation", "homepage", "issues"):
        url = galaxy.get(key)
        assert url is None or not re.search(r"example\.|\.invalid\b|localhost", url), f"{key}: {url}"


def test_the_licence_text_ships():
    galaxy = _yaml(REPO / "galaxy.yml")
    assert galaxy["license"] == ["GPL-3.0-or-later"]
    text = (REPO / "COPYING").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text


def _requirements(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-r")]


def test_runtime_requirements_are_lower_bounds_the_test_environment_pins():
    runtime = _requirements(REPO / "requirements.txt")
    assert runtime, "requirements.txt is empty"
    pins = dict(line.split("==", 1) for line in _requirements(REPO / "requirements-dev.txt") if "==" in line)
    for requirement in runtime:
        name, _sep, bound = requirement.partition(">=")
        assert bound and "," not in bound and "==" not in requirement, f"not a lower bound: {requirement}"
        assert name in pins, f"{name}: requirements-dev.txt should pin the version the project tests with"
    execution_environment = _yaml(REPO / "meta/execution-environment.yml")
    assert execution_environment["dependencies"]["python"] == "requirements.txt"


def test_runtime_requirements_are_imported():
    """Every runtime requirement is imported by the plugins (jmespath was declared and never used)."""
    sources = "\n".join(p.read_text() for p in (REPO / "plugins").rglob("*.py"))
    modules = {"PyYAML": "yaml"}
    for requirement in _requirements(REPO / "requirements.txt"):
        name = requirement.split(">=")[0]
        module = modules.get(name, name.replace("-", "_"))
        assert re.search(rf"^\s*(import|from) {module}\b", sources, re.M), (
            f"{name} is required but never imported"
        )


def test_docs_name_no_plugin_of_a_collection_users_do_not_install():
    """A plugin the docs name (`community.general.modprobe` was) comes from a collection galaxy.yml declares:
    every collection the project's own environment has (.collections/) but users do not get is refused."""
    declared = set(_yaml(REPO / "galaxy.yml")["dependencies"]) | {"ansible.builtin", "redundant.kube"}
    present = {f"{p.parent.name}.{p.name}" for p in (REPO / ".collections/ansible_collections").glob("*/*")}
    undeclared = present - declared
    assert undeclared, (
        "the project's environment has no collection beyond the declared ones: nothing to check"
    )
    pattern = re.compile(r"\b(" + "|".join(re.escape(c) for c in sorted(undeclared)) + r")\.[a-z0-9_]+")
    named = [
        f"{path.relative_to(REPO)}:{number}: {match[0]}"
        for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for match in pattern.finditer(line)
    ]
    assert not named, f"the docs name plugins users do not get: {named}"


def test_architecture_figure_names_only_tested_systems():
    figure = (REPO / "docs/architecture.svg").read_text()
    for untested in ("Ubuntu", "EL ", "RHEL", "CentOS"):
        assert untested not in figure
    assert "Debian 12" in figure


def test_connection_defaults_are_set_in_one_place():
    """Every play's module_defaults take the connection from playbooks/vars/kube_connection.yml."""
    runtime = _yaml(REPO / "meta/runtime.yml")
    assert {"metadata": {"extend_group": ["kubernetes.core.k8s"]}} in runtime["action_groups"]["k8s"]
    shared = {
        "group/redundant.kube.k8s": "{{ rk_kube_connection }}",
        "group/kubernetes.core.helm": "{{ rk_helm_connection }}",
    }
    plays = [play for path in sorted((REPO / "playbooks").glob("*.yml")) for play in _yaml(path)]
    with_defaults = [play for play in plays if "module_defaults" in play]
    assert with_defaults, "no play sets module_defaults"
    for play in with_defaults:
        assert play["vars_files"] == ["vars/kube_connection.yml"], play["name"]
        for group, value in play["module_defaults"].items():
            assert shared.get(group) == value, (
                f"{play['name']}: {group} is set apart from the shared connection"
            )


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def test_every_claimed_ansible_core_release_and_controller_python_is_tested():
    """requires_ansible, the roles' min_ansible_version, tests/config.yml and the docs claim what the tiers run:
    the pinned ansible-core, and each older release line from the claimed oldest one up in
    scripts/test-ansible-core-versions.sh, on Pythons from the claimed oldest one up."""
    script = (REPO / "scripts/test-ansible-core-versions.sh").read_text()
    releases = re.findall(r'"(\d+\.\d+\.\d+) (3\.\d+)"', re.search(r"RELEASES=\((.*)\)", script)[1])
    pinned = re.search(r"^ansible-core==([\d.]+)$", (REPO / "requirements-dev.txt").read_text(), re.M)[1]
    lines = sorted({_minor(core) for core, _python in releases} | {_minor(pinned)})
    oldest = lines[0]
    assert lines == [(2, minor) for minor in range(oldest[1], _minor(pinned)[1] + 1)], (
        f"release lines between the oldest tested and the pinned one are left out: {lines}"
    )
    claimed = f"{oldest[0]}.{oldest[1]}"
    assert _yaml(REPO / "meta/runtime.yml")["requires_ansible"] == f">={claimed}.0"
    for role in ROLES:
        assert str(_yaml(role / "meta/main.yml")["galaxy_info"]["min_ansible_version"]) == claimed, role.name
    oldest_python = min(_minor(python) for _core, python in releases)
    python = f"{oldest_python[0]}.{oldest_python[1]}"
    assert _yaml(REPO / "tests/config.yml")["modules"]["python_requires"] == f">={python}"
    for doc in ("README.md", "docs/install.md"):
        assert f"ansible-core {claimed} or newer" in (REPO / doc).read_text(), doc
        assert re.search(rf"Python {python} or newer", (REPO / doc).read_text()), doc
