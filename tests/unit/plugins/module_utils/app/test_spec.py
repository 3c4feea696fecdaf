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


def test_reserved_init_container_prefix():
    params = load_case("d2000_pair")
    params["init_containers"][0]["name"] = "rk-odbc-ini"  # the module's own odbc.ini copy
    expect_error(
        params, "init_containers[0].name 'rk-odbc-ini': names starting with rk- are the module's own"
    )


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


# -- refused before anything is applied (issue: inputs that were accepted and deployed) ----------------
@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/config/../../etc/passwd", "config_files[0].path '/config/../../etc/passwd' contains '..'"),
        ("/config/", "config_files[0].path '/config/' ends in '/'"),
        ("/", "config_files[0].path '/' ends in '/'"),
    ],
)
def test_config_file_path_escaping_or_a_directory(path, fragment):
    params = load_case("d2000_pair")
    params["config_files"][0]["path"] = path
    expect_error(params, fragment)


def test_paths_are_normalised_so_one_directory_has_one_spelling():
    params = load_case("iris_single")
    params["config_files"][0]["path"] = "//external/./merge//merge.cpf"
    assert spec_from_user_params(params).config_files[0].path == "/external/merge/merge.cpf"
    params["volumes"].append({"name": "scratch", "mount_path": "//external", "empty_dir": True})
    expect_error(params, "'/external'")


def test_dot_dot_in_any_mount_path():
    params = load_case("iris_single")
    params["volumes"][0]["mount_path"] = "/data/../etc"
    expect_error(params, "volumes[0].mount_path '/data/../etc' contains '..'")
    params = load_case("d2000_pair")
    params["odbc"]["path"] = "/etc/odbc/"
    expect_error(params, "odbc.path '/etc/odbc/' ends in '/'")


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        ("x/y:bad tag!", "tag 'bad tag!' is not a tag"),
        ("x/y:.hidden", "tag '.hidden' is not a tag"),
        ("x/y:" + "t" * 129, "is not a tag"),
        ("Registry/UPPER:1", "'Registry/UPPER' is not an image name"),
        ("UPPER:1", "'UPPER' is not an image name"),
        ("x//y:1", "'x//y' is not an image name"),
        ("x/y-:1", "'x/y-' is not an image name"),
        ("x/y@sha256:abc", "digest 'sha256:abc' is not a digest"),
        ("x/y@sha256:" + "a" * 63, "is not a digest"),
        ("x/y@sha256:" + "g" * 64, "is not a digest"),
        ("x/y@md5", "is not a digest"),
        ("a" * 256 + ":1", "is not an image name"),
    ],
)
def test_image_reference_grammar(image, fragment):
    params = load_case("d2000_pair")
    params["server"]["image"] = image
    expect_error(params, "server.image", fragment)


@pytest.mark.parametrize(
    "image",
    [
        "busybox:1.36",
        "registry.example.com:5000/team/app_x.y__z--w:v1.2-rc_3",
        "localhost/app:1",
        "[::1]:5000/app:1",
        "Registry.Example:5000/app:1",
        "app:1@sha256:" + "0123456789abcdef" * 4,
        "app@sha512:" + "f" * 128,
    ],
)
def test_image_reference_grammar_accepts(image):
    params = load_case("d2000_pair")
    params["server"]["image"] = image
    assert spec_from_user_params(params).server.image == image


@pytest.mark.parametrize(
    ("resources", "fragment"),
    [
        ({"requests": {"cpu": "lots"}}, "server.resources.requests.cpu 'lots' is not a Kubernetes quantity"),
        ({"limits": {"memory": "1 Gi"}}, "server.resources.limits.memory"),
        (
            {"requests": {"cpu": "1"}, "limits": {"cpu": "500m"}},
            "server.resources.limits.cpu '500m' is below",
        ),
        ({"requets": {"cpu": "1"}}, "server.resources.requets: give requests and limits"),
    ],
)
def test_resource_quantities(resources, fragment):
    params = load_case("iris_single")
    params["server"]["resources"] = resources
    expect_error(params, fragment)


def test_resource_quantities_as_numbers_are_fine():
    params = load_case("iris_single")
    params["server"]["resources"] = {"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": 2.5}}
    spec_from_user_params(params)


@pytest.mark.parametrize("cidr", ["10.0.0.300/32", "10.0.0.5/33", "10.0.0.5", "10.0.0.05/32", "fe80::g/64"])
def test_egress_cidr_must_be_an_address_and_prefix(cidr):
    params = load_case("d2000_pair")
    params["egress"]["allow"][1]["cidr"] = cidr
    expect_error(params, f"egress.allow[1].cidr '{cidr}' is not a CIDR")


def test_duplicate_port_names():
    params = load_case("iris_single")
    params["server"]["ports"] = [
        {"name": "web", "container_port": 80},
        {"name": "web", "container_port": 443},
    ]
    expect_error(params, "server.ports[1].name 'web' is also ports[0]")
    params = load_case("d2000_pair")
    params["services"][0]["ports"].append({"name": "kernel", "port": 3120})
    expect_error(params, "services[0].ports[1].name 'kernel' is also ports[0]")
    params = load_case("d2000_pair")
    params["services"][0]["ports"].append({"name": "other", "port": 3119})
    expect_error(params, "services[0].ports[1].port 3119/TCP is also ports[0]")


@pytest.mark.parametrize(
    ("option", "change", "fragment"),
    [
        (
            "license",
            {"license": {"config_map": "Bad_Name", "mount_path": "/lic"}},
            "license.config_map 'Bad_Name'",
        ),
        ("keystore", {"keystore": {"secret": "ks/1", "mount_path": "/ks"}}, "keystore.secret 'ks/1'"),
        ("env_from_secrets", {"env_from_secrets": ["Db-Creds"]}, "env_from_secrets[0] 'Db-Creds'"),
        ("image_pull_secrets", {"image_pull_secrets": ["ok", "-no"]}, "image_pull_secrets[1] '-no'"),
        ("priority_class", {"priority_class": "High Priority"}, "priority_class 'High Priority'"),
    ],
)
def test_names_of_objects_the_app_refers_to(option, change, fragment):
    expect_error(with_changes("iris_single", **change), fragment, "is not a valid object name")


def test_storage_class_and_ingress_names():
    params = load_case("iris_single")
    params["volumes"][0]["storage_class"] = "Fast_SSD"
    expect_error(params, "volumes[0].storage_class 'Fast_SSD' is not a valid object name")
    params = load_case("midpoint_cluster")
    params["ingress"]["tls_secret"] = "TLS"
    expect_error(params, "ingress.tls_secret 'TLS'")


def midpoint_init(**changes):
    """The midPoint case with its init container changed."""
    params = load_case("midpoint_cluster")
    params["init_containers"][0].update(changes)
    return params


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": "midpoint"}, "init_containers[0].name 'midpoint' is the name of a workload's container"),
        ({"name": "Init_1"}, "init_containers[0].name 'Init_1' is not a valid name"),
        ({"image": "evolveum/midpoint"}, "init_containers[0].image 'evolveum/midpoint' has no tag"),
        ({"env": {"1BAD": "x"}}, "init_containers[0].env: '1BAD' is not a valid environment variable name"),
        ({"workloads": ["nfs"]}, "init_containers[0].workloads: 'nfs' is not a workload of this app"),
        (
            {"volume_mounts": [{"volume": "scratch", "mount_path": "/x"}]},
            "init_containers[0].volume_mounts[0].volume 'scratch' is not one of the app's volumes "
            "(known: shared, home, db-pass): declare it under volumes (empty_dir: true",
        ),
        (
            {"volume_mounts": [{"volume": "home", "mount_path": "opt/mp-home"}]},
            "init_containers[0].volume_mounts[0].mount_path 'opt/mp-home' must be an absolute path",
        ),
        (
            {"volume_mounts": [{"volume": "home", "mount_path": "/h", "sub_path": "../etc"}]},
            "init_containers[0].volume_mounts[0].sub_path '../etc' must be a relative path inside the volume",
        ),
        (
            {
                "volume_mounts": [
                    {"volume": "home", "mount_path": "/h"},
                    {"volume": "shared", "mount_path": "/h/"},
                ]
            },
            "init_containers[0].volume_mounts[1].mount_path '/h' is also volume_mounts[0]",
        ),
        (
            {"resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi"}}},
            "init_containers[0].resources.limits.memory '1Gi' is below requests.memory",
        ),
    ],
)
def test_bad_init_container(changes, fragment):
    expect_error(midpoint_init(**changes), fragment)


def test_init_container_names_are_unique():
    params = load_case("midpoint_cluster")
    params["init_containers"].append(copy.deepcopy(params["init_containers"][0]))
    expect_error(params, "init_containers[1].name 'mp-config-init' is used twice")


def test_init_container_volume_must_reach_every_workload_it_runs_in():
    params = load_case("d2000_pair")
    params["volumes"][0]["workloads"] = ["server"]
    params["init_containers"][0]["workloads"] = ["server", "clc"]
    expect_error(
        params,
        "init_containers[0].volume_mounts[0].volume 'log' is not mounted in workload 'clc' (volumes[0].workloads)",
    )
    del params["init_containers"][0]["workloads"]  # every workload: the first that lacks the volume is named
    expect_error(params, "volume 'log' is not mounted in workload 'clc'")


def test_init_container_option_misspelt_is_refused_by_the_argument_spec():
    expect_error(midpoint_init(volume_mount=[]), "init_containers", "volume_mount")


def test_secret_volume_is_read_only_and_named_like_an_object():
    spec = spec_from_user_params(load_case("midpoint_cluster"))
    (volume,) = [v for v in spec.volumes if v.name == "db-pass"]
    assert (volume.source, volume.secret, volume.read_only) == ("secret", "mp-demo-db", True)
    params = load_case("midpoint_cluster")
    params["volumes"][2]["secret"] = "MP_DB"
    expect_error(params, "volumes[2].secret 'MP_DB' is not a valid object name")
    params["volumes"][2]["size"] = "1Gi"
    expect_error(params, "volumes", "mutually exclusive", "secret")
