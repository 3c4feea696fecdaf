"""The renderer: golden manifests for the three topologies and the rules each topology promises."""

from __future__ import annotations

import copy

import pytest
import yaml
from support.app_cases import EXTERNAL_DIGESTS, check_golden, load_case

from ansible_collections.redundant.kube.plugins.module_utils.app.manifest_yaml import (
    manifest_files,
    to_yaml,
)
from ansible_collections.redundant.kube.plugins.module_utils.app.render import (
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_ROLE,
    LABEL_SIDE,
    external_objects,
    render_app,
)
from ansible_collections.redundant.kube.plugins.module_utils.app.spec import spec_from_user_params
from ansible_collections.redundant.kube.plugins.module_utils.kube.objects import (
    checksum_annotation_key,
    content_digest,
)

CASE_NAMES = ["d2000_pair", "iris_single", "midpoint_cluster"]


def render_case(name: str, digests: dict[str, str] | None = None, **changes):
    params = {**load_case(name), **changes}
    return render_app(spec_from_user_params(params), EXTERNAL_DIGESTS if digests is None else digests)


def by_name(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_golden(name):
    check_golden(name, to_yaml(render_case(name)))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_same_input_same_bytes(name):
    first = to_yaml(render_case(name))
    second = to_yaml(
        render_app(spec_from_user_params(copy.deepcopy(load_case(name))), dict(EXTERNAL_DIGESTS))
    )
    assert first == second


@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_object_is_labelled_for_removal(name):
    for obj in render_case(name):
        if obj["kind"] == "Namespace":
            continue
        assert obj["metadata"]["labels"][LABEL_MANAGED_BY] == "redundant.kube"
        assert obj["metadata"]["labels"][LABEL_INSTANCE] == load_case(name)["name"]


def test_pair_servers_have_required_anti_affinity_on_topology_key():
    deployments = by_name(render_case("d2000_pair", topology_key="topology.kubernetes.io/zone"), "Deployment")
    for side, other in (("a", "b"), ("b", "a")):
        terms = pod_spec(deployments[f"d2000-server-{side}"])["affinity"]["podAntiAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        assert terms == [
            {
                "labelSelector": {
                    "matchLabels": {
                        LABEL_INSTANCE: "d2000",
                        "app.kubernetes.io/component": "server",
                        LABEL_SIDE: other,
                    }
                },
                "topologyKey": "topology.kubernetes.io/zone",
            }
        ]


def test_pair_companions_and_archives_pinned_to_their_sides_server():
    deployments = by_name(render_case("d2000_pair"), "Deployment")
    assert sorted(deployments) == sorted(
        f"d2000-{w}-{s}" for w in ("server", "clc", "evh", "eds", "kom", "arc") for s in ("a", "b")
    )
    for name, obj in deployments.items():
        side = obj["metadata"]["labels"][LABEL_SIDE]
        assert name.endswith(f"-{side}")
        assert obj["spec"]["strategy"] == {"type": "Recreate"}
        assert obj["spec"]["template"]["metadata"]["labels"][LABEL_SIDE] == side
        if "-server-" in name:
            continue
        terms = pod_spec(obj)["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms[0]["labelSelector"]["matchLabels"][LABEL_SIDE] == side
        assert terms[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
        assert terms[0]["topologyKey"] == "kubernetes.io/hostname"


def test_pair_archive_instances_and_roles():
    deployments = by_name(render_case("d2000_pair"), "Deployment")
    for side, number, role in (("a", "1", "active"), ("b", "2", "passive")):
        obj = deployments[f"d2000-arc-{side}"]
        labels = obj["spec"]["template"]["metadata"]["labels"]
        assert labels[LABEL_ROLE] == role
        assert labels["redundant.kube/instance-number"] == number
        env = {e["name"]: e.get("value") for e in pod_spec(obj)["containers"][0]["env"]}
        assert env["D2000_ARC_INSTANCE"] == number
        assert env["REDUNDANT_KUBE_SIDE"] == side


def test_pair_disruption_budget_keeps_one_server():
    pdb = by_name(render_case("d2000_pair"), "PodDisruptionBudget")["d2000-server"]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == {
        LABEL_INSTANCE: "d2000",
        "app.kubernetes.io/component": "server",
    }


def test_odbc_keepalive_defaults_env_and_override():
    objects = render_case("d2000_pair")
    ini = by_name(objects, "ConfigMap")["d2000-odbc"]["data"]["odbc.ini"]
    sections = ini.split("\n\n")
    assert "KeepaliveTime = 60" in sections[0] and "KeepaliveInterval = 60" in sections[0]
    assert "KeepaliveTime = 30" in sections[1] and "KeepaliveTime = 60" not in sections[1]
    deployments = by_name(objects, "Deployment")
    pod = pod_spec(deployments["d2000-server-a"])
    server = pod["containers"][0]
    assert {"name": "ODBCINI", "value": "/config/odbc/odbc.ini"} in server["env"]
    # unixODBC ignores an ODBCINI file it cannot open for appending: the container mounts a writable copy,
    # made by the module's init container (the first, of the server's own image and resources) from the ConfigMap.
    assert {"name": "rk-odbc-copy", "mountPath": "/config/odbc/odbc.ini", "subPath": "odbc.ini"} in server[
        "volumeMounts"
    ]
    assert {"name": "rk-odbc-copy", "emptyDir": {}} in pod["volumes"]
    assert {"name": "rk-odbc", "configMap": {"name": "d2000-odbc"}} in pod["volumes"]
    init = pod["initContainers"][0]
    assert init["name"] == "rk-odbc-ini" and init["image"] == server["image"]
    assert init["command"] == ["cp", "/rk-odbc/odbc.ini", "/rk-odbc-copy/odbc.ini"]
    assert init["resources"] == server["resources"] and init["resources"] is not server["resources"]
    assert {m["name"]: m["mountPath"] for m in init["volumeMounts"]} == {
        "rk-odbc": "/rk-odbc",
        "rk-odbc-copy": "/rk-odbc-copy",
    }
    clc = pod_spec(deployments["d2000-clc-a"])
    assert "ODBCINI" not in {e["name"] for e in clc["containers"][0]["env"]}
    assert "rk-odbc-ini" not in {c["name"] for c in clc.get("initContainers", [])}


def test_config_files_mounted_by_subpath_at_exact_path():
    objects = render_case("d2000_pair")
    maps = by_name(objects, "ConfigMap")
    cm = maps["d2000-cfg-config-d2000-instance-properties"]
    assert cm["data"] == {"instance.properties": "instance.name=d2000\nredundancy=true\n"}
    mounts = pod_spec(by_name(objects, "Deployment")["d2000-evh-b"])["containers"][0]["volumeMounts"]
    assert {
        "name": "rk-cfg-config-d2000-instance-properties",
        "mountPath": "/config/d2000/instance.properties",
        "subPath": "instance.properties",
        "readOnly": True,
    } in mounts
    assert "/opt/d2000/app/demo/application.properties" not in {m["mountPath"] for m in mounts}


def test_checksum_annotations_cover_exactly_the_mounted_objects():
    objects = render_case("d2000_pair")
    maps = by_name(objects, "ConfigMap")
    deployments = by_name(objects, "Deployment")
    server = deployments["d2000-server-a"]["spec"]["template"]["metadata"]["annotations"]
    app_props = "d2000-cfg-opt-d2000-app-demo-application-properties"
    assert server[checksum_annotation_key("ConfigMap", app_props)] == content_digest(maps[app_props])
    assert (
        server[checksum_annotation_key("ConfigMap", "d2000-license")]
        == EXTERNAL_DIGESTS["ConfigMap/d2000-license"]
    )
    assert server[checksum_annotation_key("Secret", "d2000-db")] == EXTERNAL_DIGESTS["Secret/d2000-db"]
    clc = deployments["d2000-clc-a"]["spec"]["template"]["metadata"]["annotations"]
    assert checksum_annotation_key("ConfigMap", app_props) not in clc
    assert checksum_annotation_key("ConfigMap", "d2000-license") not in clc


def test_config_change_changes_only_the_pods_that_mount_it():
    params = load_case("d2000_pair")
    before = by_name(render_case("d2000_pair"), "Deployment")
    changed = copy.deepcopy(params["config_files"])
    changed[2]["content"] = "application.name=renamed\n"
    after = by_name(render_case("d2000_pair", config_files=changed), "Deployment")
    differs = sorted(n for n in before if before[n] != after[n])
    assert differs == ["d2000-arc-a", "d2000-arc-b", "d2000-server-a", "d2000-server-b"]


def test_external_digest_unknown_offline_leaves_no_annotation():
    objects = render_case("d2000_pair", digests={})
    annotations = by_name(objects, "Deployment")["d2000-server-a"]["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert checksum_annotation_key("ConfigMap", "d2000-license") not in annotations
    assert external_objects(spec_from_user_params(load_case("d2000_pair"))) == [
        ("ConfigMap", "d2000-license"),
        ("Secret", "d2000-db"),
    ]


def test_capabilities_and_devices():
    server = pod_spec(by_name(render_case("d2000_pair"), "Deployment")["d2000-server-a"])
    container = server["containers"][0]
    assert container["securityContext"] == {"capabilities": {"add": ["NET_BIND_SERVICE", "NET_RAW"]}}
    assert {"name": "rk-dev-dev-ttys0", "mountPath": "/dev/ttyS0"} in container["volumeMounts"]
    assert {"name": "rk-dev-dev-ttys0", "hostPath": {"path": "/dev/ttyS0", "type": "CharDevice"}} in server[
        "volumes"
    ]


def test_pair_volume_shared_per_side():
    objects = render_case("d2000_pair")
    assert sorted(by_name(objects, "PersistentVolumeClaim")) == ["d2000-log-a", "d2000-log-b"]
    deployments = by_name(objects, "Deployment")
    for name, obj in deployments.items():
        side = name[-1]
        claim = next(v for v in pod_spec(obj)["volumes"] if v["name"] == "log")
        assert claim == {"name": "log", "persistentVolumeClaim": {"claimName": f"d2000-log-{side}"}}


def test_read_write_once_pod_gives_one_claim_per_workload():
    params = load_case("d2000_pair")
    volumes = [{**params["volumes"][0], "access_mode": "ReadWriteOncePod"}]
    claims = by_name(render_case("d2000_pair", volumes=volumes), "PersistentVolumeClaim")
    assert len(claims) == 12 and "d2000-log-kom-b" in claims


def test_per_side_services_and_egress_policy():
    objects = render_case("d2000_pair")
    services = by_name(objects, "Service")
    assert sorted(services) == ["d2000-kernel-a", "d2000-kernel-b"]
    assert services["d2000-kernel-b"]["spec"]["selector"][LABEL_SIDE] == "b"
    policy = by_name(objects, "NetworkPolicy")["d2000-egress"]["spec"]
    assert policy["policyTypes"] == ["Egress"]
    assert {
        "to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    } in policy["egress"]
    assert {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    } in policy["egress"]
    assert {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]} in policy["egress"]


def test_single_recreate_tolerations_probe_and_core_dumps():
    objects = render_case("iris_single")
    deployment = by_name(objects, "Deployment")["iris-iris"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = pod_spec(deployment)
    assert pod["tolerations"] == [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 30,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 30,
        },
    ]
    container = pod["containers"][0]
    assert container["livenessProbe"]["exec"]["command"][-1] == "iris qlist iris | grep running"
    assert {
        "name": "rk-core-dumps",
        "mountPath": "/data/core",
        "subPathExpr": "$(REDUNDANT_KUBE_POD_NAME)",
    } in container["volumeMounts"]
    assert "affinity" not in pod
    assert by_name(objects, "PersistentVolumeClaim")["iris-sys"]["spec"]["storageClassName"] == "longhorn"
    assert by_name(objects, "Service")["iris"]["spec"]["type"] == "LoadBalancer"
    assert not by_name(objects, "PodDisruptionBudget")


def test_single_user_toleration_for_failover_taint_wins():
    mine = {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 5,
    }
    pod = pod_spec(by_name(render_case("iris_single", tolerations=[mine]), "Deployment")["iris-iris"])
    assert [t["tolerationSeconds"] for t in pod["tolerations"]] == [5, 30]


def test_cluster_statefulset_headless_identity_spread_affinity():
    objects = render_case("midpoint_cluster")
    sts = by_name(objects, "StatefulSet")["midpoint-midpoint"]
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["serviceName"] == "midpoint-members"
    headless = by_name(objects, "Service")["midpoint-members"]["spec"]
    assert headless["clusterIP"] == "None"
    pod = pod_spec(sts)
    env = pod["containers"][0]["env"]
    assert {"name": "MEMBER_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in env
    assert {"name": "MP_SET_midpoint_taskManager_clustered", "value": "true"} in env
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert pod["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert {
        "name": "shared",
        "nfs": {"server": "mp-demo-nfs.mp-demo.svc.cluster.local", "path": "/exports"},
    } in pod["volumes"]
    assert [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]] == ["home"]
    client = by_name(objects, "Service")["midpoint"]["spec"]
    assert client["sessionAffinity"] == "ClientIP"
    assert client["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    annotations = by_name(objects, "Ingress")["midpoint"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-name"] == "mp-demo"
    assert by_name(objects, "PodDisruptionBudget")["midpoint"]["spec"]["maxUnavailable"] == 1


def test_cluster_of_one_has_no_disruption_budget():
    assert not by_name(render_case("midpoint_cluster", replicas=1), "PodDisruptionBudget")


def test_manifest_files_keep_apply_order():
    objects = render_case("iris_single")
    files = manifest_files(objects)
    names = list(files)
    assert names == sorted(names)
    assert names[0] == "000-namespace-iris.yaml"
    assert yaml.safe_load(files[names[-1]])["kind"] == objects[-1]["kind"]


def user_init_containers(pod: dict) -> list[dict]:
    """The init containers the spec's init_containers made (not the module's own, named rk-...)."""
    return [c for c in pod.get("initContainers", []) if not c["name"].startswith("rk-")]


@pytest.mark.parametrize(
    ("case", "workload_kind", "with_init", "without_init"),
    [
        ("d2000_pair", "Deployment", ["d2000-server-a", "d2000-server-b"], ["d2000-clc-a", "d2000-arc-b"]),
        ("iris_single", "Deployment", ["iris-iris"], []),
        ("midpoint_cluster", "StatefulSet", ["midpoint-midpoint"], []),
    ],
)
def test_init_containers_in_the_pods_of_the_workloads_they_name(case, workload_kind, with_init, without_init):
    workloads = by_name(render_case(case), workload_kind)
    name = load_case(case)["init_containers"][0]["name"]
    for workload in with_init:
        pod = pod_spec(workloads[workload])
        (init,) = user_init_containers(pod)
        assert init["name"] == name
        volumes = {v["name"] for v in pod["volumes"]} | {
            t["metadata"]["name"] for t in workloads[workload]["spec"].get("volumeClaimTemplates", [])
        }
        assert {m["name"] for m in init["volumeMounts"]} <= volumes  # only the pod's own volumes
    for workload in without_init:
        assert user_init_containers(pod_spec(workloads[workload])) == []


def test_init_container_gets_the_identity_of_its_pod_and_its_own_mount_path():
    servers = by_name(render_case("d2000_pair"), "Deployment")
    for side in ("a", "b"):
        (init,) = user_init_containers(pod_spec(servers[f"d2000-server-{side}"]))
        assert init["env"] == [{"name": "REDUNDANT_KUBE_SIDE", "value": side}]
        assert init["volumeMounts"] == [{"name": "log", "mountPath": "/log"}]
    member = pod_spec(by_name(render_case("midpoint_cluster"), "StatefulSet")["midpoint-midpoint"])
    (init,) = member["initContainers"]
    assert init["env"][0] == {"name": "MEMBER_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    assert init["volumeMounts"] == [{"name": "home", "mountPath": "/opt/mp-home"}]
    assert {"name": "home", "mountPath": "/opt/midpoint/var"} in member["containers"][0]["volumeMounts"]


def test_changing_an_init_container_changes_only_its_workloads():
    params = load_case("d2000_pair")
    before = by_name(render_case("d2000_pair"), "Deployment")
    params["init_containers"][0]["image"] = "registry.example/d2000/server:26.0.2"
    after = by_name(render_app(spec_from_user_params(params), EXTERNAL_DIGESTS), "Deployment")
    assert sorted(n for n in before if before[n] != after[n]) == ["d2000-server-a", "d2000-server-b"]


def test_secret_volume_is_mounted_read_only_tracked_and_read_as_external():
    member = by_name(render_case("midpoint_cluster"), "StatefulSet")["midpoint-midpoint"]
    pod = pod_spec(member)
    assert {"name": "db-pass", "secret": {"secretName": "mp-demo-db"}} in pod["volumes"]
    assert {"name": "db-pass", "mountPath": "/opt/midpoint/config-secrets", "readOnly": True} in pod[
        "containers"
    ][0]["volumeMounts"]
    annotations = member["spec"]["template"]["metadata"]["annotations"]
    assert annotations[checksum_annotation_key("Secret", "mp-demo-db")] == "4" * 64
    assert ("Secret", "mp-demo-db") in external_objects(spec_from_user_params(load_case("midpoint_cluster")))
