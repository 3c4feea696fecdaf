"""Spec validation: every bad input the issue lists fails before rendering, naming the option and the fix."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from support.app_cases import load_case

from ansible_collections.redundant.kube.plugins.module_utils.app.spec import (
    SpecError,
    parse_quantity,
    spec_from_user_params,
)


def with_changes(case: str, **changes):
    params = copy.deepcopy(load_case(case))
    params.update(changes)
    return params


def expect_error(params, *fragments):
    with pytest.raises(SpecError) as err:
        spec_from_user_params(params)
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_reference_cases_parse():
    for case in ("d2000_pair", "iris_single", "midpoint_cluster"):
        spec = spec_from_user_params(load_case(case))
        assert spec.name == load_case(case)["name"]


def test_unknown_topology():
    expect_error(with_changes("d2000_pair", topology="triple"), "topology", "pair, single, cluster")


def test_companion_named_like_server():
    params = load_case("d2000_pair")
    params["companions"][1]["name"] = "server"
    expect_error(params, "companions[1].name 'server' is the server's name")


def test_companion_named_like_renamed_server():
    params = load_case("iris_single")
    params["companions"] = [{"name": "iris", "image": "busybox:1.36"}]
    expect_error(params, "companions[0].name 'iris' is the server's name")


def test_duplicate_companion_names():
    params = load_case("d2000_pair")
    params["companions"][2]["name"] = "clc"
    expect_error(params, "companions[2].name 'clc' is already used by companions[0].name")


def test_mount_path_used_twice():
    params = load_case("d2000_pair")
    params["config_files"][1]["path"] = "/opt/d2000/log"
    expect_error(
        params,
        "mount path '/opt/d2000/log' is used twice in workload 'server'",
        "volumes[0] (log)",
        "config_files[1]",
    )


def test_mount_path_twice_only_in_workloads_that_mount_both_is_fine():
    params = load_case("d2000_pair")
    params["config_files"].append({"path": "/x/y.conf", "content": "a", "workloads": ["clc"]})
    params["config_files"].append({"path": "/x/y.conf", "content": "b", "workloads": ["evh"]})
    with pytest.raises(SpecError, match="gives the same object name"):
        # distinct workloads may use one path, but the ConfigMap name derived from the path collides
        from ansible_collections.redundant.kube.plugins.module_utils.app.render import render_app

        render_app(spec_from_user_params(params), {})


@pytest.mark.parametrize("size", ["ten", "10GB", "1.5.3Gi", "-1Gi", ""])
def test_volume_size_not_a_quantity(size):
    params = load_case("iris_single")
    params["volumes"][0]["size"] = size
    if size == "":
        expect_error(params, "volumes[0]: set size")
    else:
        expect_error(params, f"volumes[0].size '{size}' is not a Kubernetes quantity")


@pytest.mark.parametrize("replicas", [0, -3])
def test_replicas_below_one(replicas):
    expect_error(
        with_changes("midpoint_cluster", replicas=replicas), f"replicas must be at least 1, got {replicas}"
    )


def test_cluster_of_one_is_allowed():
    assert spec_from_user_params(with_changes("midpoint_cluster", replicas=1)).replicas == 1


@pytest.mark.parametrize(
    ("image", "hint"),
    [
        ("foo", "foo:<tag>"),
        ("registry:5000/d2000/server", "registry:5000/d2000/server:<tag>"),
        ("foo:", "foo:<tag>"),
    ],
)
def test_image_without_tag(image, hint):
    params = load_case("d2000_pair")
    params["server"]["image"] = image
    expect_error(params, f"server.image '{image}' has no tag: write {hint}")


def test_image_with_digest_or_registry_port_and_tag_is_fine():
    params = load_case("d2000_pair")
    params["server"]["image"] = "registry:5000/d2000/server@sha256:" + "a" * 64
    params["companions"][0]["image"] = "registry:5000/d2000/clc:26"
    spec_from_user_params(params)


def test_companion_image_without_tag_names_the_companion():
    params = load_case("d2000_pair")
    params["companions"][3]["image"] = "registry.example/d2000/kom"
    expect_error(params, "companions[3].image 'registry.example/d2000/kom' has no tag")


def test_per_side_needs_pair():
    params = load_case("iris_single")
    params["per_side"] = [{"name": "arc", "image": "arc:1"}]
    expect_error(params, "per_side needs topology: pair")


def test_companions_not_in_cluster():
    params = load_case("midpoint_cluster")
    params["companions"] = [{"name": "x", "image": "x:1"}]
    expect_error(params, "companions need topology pair or single")


def test_unknown_workload_in_config_files():
    params = load_case("d2000_pair")
    params["config_files"][0]["workloads"] = ["server", "web"]
    expect_error(params, "config_files[0].workloads: 'web' is not a workload", "server, clc")


def test_core_pattern_piped_or_relative():
    params = load_case("iris_single")
    params["core_dumps"] = {"core_pattern": "|/usr/lib/systemd/systemd-coredump %P"}
    expect_error(params, "core_dumps.core_pattern", "pipes cores to a program")
    params["core_dumps"] = {"core_pattern": "core"}
    expect_error(params, "core_dumps.core_pattern 'core' is relative")


def test_bad_names_and_paths():
    expect_error(with_changes("iris_single", name="IRIS_1"), "name 'IRIS_1' is not a valid name")
    params = load_case("iris_single")
    params["volumes"][0]["mount_path"] = "external"
    expect_error(params, "volumes[0].mount_path 'external' must be an absolute path")


def test_name_too_long():
    expect_error(with_changes("d2000_pair", name="d" * 45), "too long")


def test_argument_spec_errors_are_reported_as_spec_errors():
    params = load_case("d2000_pair")
    params["volumes"][0]["access_mode"] = "ReadWriteSometimes"
    expect_error(params, "access_mode")
    params = load_case("iris_single")
    del params["server"]["image"]
    expect_error(params, "image")


def test_user_labels_may_not_override_module_labels():
    expect_error(
        with_changes("iris_single", labels={"app.kubernetes.io/instance": "x"}),
        "labels:",
        "set by the module",
    )


def test_ingress_needs_a_service():
    expect_error(with_changes("midpoint_cluster", services=[]), "ingress needs a service")


def test_per_side_service_with_node_port():
    params = load_case("d2000_pair")
    params["services"][0]["type"] = "NodePort"
    params["services"][0]["ports"][0]["node_port"] = 30119
    expect_error(params, "node_port cannot be used with per_side")


def test_bad_egress_cidr():
    params = load_case("d2000_pair")
    params["egress"]["allow"][0]["cidr"] = "db.example"
    expect_error(params, "egress.allow[0].cidr 'db.example' is not a CIDR")


def test_reserved_volume_prefix():
    params = load_case("iris_single")
    params["volumes"][0]["name"] = "rk-data"
    expect_error(params, "volumes[0].name 'rk-data'")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10Gi", Decimal(10 * 2**30)),
        ("512Mi", Decimal(512 * 2**20)),
        ("1G", Decimal(10**9)),
        ("1.5", Decimal("1.5")),
        ("100m", Decimal("0.1")),
        ("2e3", Decimal(2000)),
    ],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value
