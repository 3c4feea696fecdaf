"""What the realnodes cluster promises, checked on running containers: nodes, system pods, the pod
network across nodes, Services through kube-proxy (ClusterIP, NodePort, session affinity), DNS through
CoreDNS, NetworkPolicy through kube-router, volumes through local-path-provisioner."""

from __future__ import annotations

import collections
import ipaddress
import subprocess
import urllib.request

from conftest import RealNodes

PORT = 8080
DENIED_PORT = 8081
# Serves its own pod name on two ports (the second one for the NetworkPolicy test).
SERVER_SCRIPT = f"hostname > /tmp/index.html && cd /tmp && (python3 -m http.server {DENIED_PORT} &) && exec python3 -m http.server {PORT}"


def server_pod(name: str, node: str, image: str, labels: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "web",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["bash", "-c", SERVER_SCRIPT],
                    "readinessProbe": {"httpGet": {"path": "/", "port": PORT}, "periodSeconds": 1},
                }
            ],
        },
    }


def client_pod(name: str, node: str, image: str, labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "client"}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "client",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["sleep", "infinity"],
                }
            ],
        },
    }


def service(name: str, selector: dict[str, str], **spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"port": PORT, "targetPort": PORT}], **spec},
    }


def running_pods(realnodes: RealNodes, namespace: str, *names: str) -> dict[str, dict]:
    def ready():
        pods = {p["metadata"]["name"]: p for p in realnodes.get("pods", "-n", namespace)["items"]}
        if all(
            name in pods
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in pods[name]["status"].get("conditions", [])
            )
            for name in names
        ):
            return pods
        return None

    return realnodes.wait(f"pods {', '.join(names)} Ready in {namespace}", ready)


def curl(
    realnodes: RealNodes, namespace: str, pod: str, url: str, max_time: int = 5
) -> subprocess.CompletedProcess:
    kubectl = [
        str(realnodes.cluster.description()["node_artifacts"] + "/kubectl"),
        "--kubeconfig",
        str(realnodes.cluster.kubeconfig),
    ]
    return subprocess.run(
        [
            *kubectl,
            "exec",
            "-n",
            namespace,
            pod,
            "--",
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            str(max_time),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=max_time + 30,
        check=False,
    )


def service_answer(realnodes: RealNodes, namespace: str, pod: str, url: str) -> str:
    """What a Service answers `pod` once it answers at all: kube-proxy programs a new Service on each node
    within seconds of its endpoints, not at once, and until then its ClusterIP leads nowhere."""
    answered = realnodes.wait(
        f"{url} to answer from {pod}",
        lambda: (attempt := curl(realnodes, namespace, pod, url)).returncode == 0 and attempt,
        timeout=60,
    )
    return answered.stdout.strip()


def test_three_nodes_ready_and_every_system_pod_running_with_started_containers(realnodes: RealNodes) -> None:
    nodes = realnodes.get("nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == realnodes.nodes
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", node["metadata"]["name"]
        assert not [
            t for t in node["spec"].get("taints", []) if t["key"] == "node-role.kubernetes.io/control-plane"
        ]
    # The bridge networks are 10.244.<n>.0/24 in node order, recorded on each Node (site.yml), and the pods
    # on a node have addresses from its /24.
    pod_cidrs = {n["metadata"]["name"]: n["spec"].get("podCIDR") for n in nodes}
    assert [pod_cidrs[node] for node in sorted(pod_cidrs)] == [
        f"10.244.{index}.0/24" for index in range(len(nodes))
    ]
    pods = realnodes.get("pods", "-n", "kube-system")["items"]
    pod_network = [p for p in pods if not p["spec"].get("hostNetwork")]
    assert pod_network, "no kube-system pod on the pod network"
    for pod in pod_network:
        address, node = pod["status"]["podIP"], pod["spec"]["nodeName"]
        assert ipaddress.ip_address(address) in ipaddress.ip_network(pod_cidrs[node]), (
            pod["metadata"]["name"],
            node,
        )
    components = collections.Counter()
    for pod in pods:
        name = pod["metadata"]["name"]
        statuses = pod["status"]["containerStatuses"]
        assert pod["status"]["phase"] == "Running", name
        assert all(s["started"] and s["containerID"].startswith("containerd://") for s in statuses), name
        for prefix in (
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kube-proxy",
            "coredns",
            "kube-router",
        ):
            if name.startswith(prefix + "-"):
                components[prefix] += 1
    assert components == {
        "etcd": 3,
        "kube-apiserver": 3,
        "kube-controller-manager": 3,
        "kube-scheduler": 3,
        "kube-proxy": 3,
        "coredns": 2,
        "kube-router": 3,
    }, sorted(p["metadata"]["name"] for p in pods)
    provisioner = realnodes.get("pods", "-n", "local-path-storage")["items"]
    assert [p["status"]["phase"] for p in provisioner] == ["Running"]


def test_pod_reaches_pod_on_another_node_by_ip_and_by_service_name(
    realnodes: RealNodes, namespace: str
) -> None:
    image = realnodes.images["userland"]
    first, third = realnodes.nodes[0], realnodes.nodes[2]
    realnodes.apply(
        *(
            dict(m, metadata={**m["metadata"], "namespace": namespace})
            for m in (
                server_pod("server", third, image, {"app": "server"}),
                client_pod("client", first, image),
                service("web", {"app": "server"}),
            )
        )
    )
    pods = running_pods(realnodes, namespace, "server", "client")
    assert pods["server"]["spec"]["nodeName"] == third and pods["client"]["spec"]["nodeName"] == first
    by_ip = curl(realnodes, namespace, "client", f"http://{pods['server']['status']['podIP']}:{PORT}/")
    assert by_ip.stdout.strip() == "server", by_ip.stderr
    by_name = service_answer(
        realnodes, namespace, "client", f"http://web.{namespace}.svc.cluster.local:{PORT}/"
    )
    assert by_name == "server"
    assert service_answer(realnodes, namespace, "client", f"http://web:{PORT}/") == "server"


def _three_servers(realnodes: RealNodes, namespace: str) -> list[str]:
    image = realnodes.images["userland"]
    names = [f"server-{index}" for index in range(1, 4)]
    realnodes.apply(
        *(
            dict(m, metadata={**m["metadata"], "namespace": namespace})
            for m in [
                server_pod(name, node, image, {"app": "server"})
                for name, node in zip(names, realnodes.nodes, strict=True)
            ]
        )
    )
    running_pods(realnodes, namespace, *names)
    return names


def test_nodeport_answers_from_every_node(realnodes: RealNodes, namespace: str) -> None:
    _three_servers(realnodes, namespace)
    realnodes.apply(
        dict(
            service("web", {"app": "server"}, type="NodePort"),
            metadata={"name": "web", "namespace": namespace},
        )
    )
    node_port = realnodes.get("service", "-n", namespace, "web")["spec"]["ports"][0]["nodePort"]

    def fetch(url: str) -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode().strip()
        except OSError:
            return None

    # kube-proxy programs a new Service's rules within seconds of its endpoints, not at once.
    answers = {
        node: realnodes.wait(
            f"NodePort {node_port} on {node}", lambda a=address: fetch(f"http://{a}:{node_port}/"), timeout=60
        )
        for node, address in realnodes.node_addresses().items()
    }
    assert sorted(answers) == realnodes.nodes
    assert set(answers.values()) <= {"server-1", "server-2", "server-3"}, answers


def test_client_ip_affinity_keeps_one_client_on_one_pod_and_plain_service_spreads(
    realnodes: RealNodes, namespace: str
) -> None:
    names = _three_servers(realnodes, namespace)
    realnodes.apply(
        *(
            dict(m, metadata={**m["metadata"], "namespace": namespace})
            for m in (
                service("sticky", {"app": "server"}, sessionAffinity="ClientIP"),
                service("spread", {"app": "server"}),
                client_pod("client", realnodes.nodes[0], realnodes.images["userland"]),
            )
        )
    )
    running_pods(realnodes, namespace, "client")
    for svc in ("sticky", "spread"):
        assert service_answer(realnodes, namespace, "client", f"http://{svc}:{PORT}/") in names
    answered = {}
    for svc in ("sticky", "spread"):
        loop = f"for i in $(seq 20); do curl --silent --max-time 5 http://{svc}:{PORT}/; done"
        kubectl_args = ["exec", "-n", namespace, "client", "--", "bash", "-c", loop]
        answered[svc] = realnodes.kubectl(*kubectl_args).split()
    assert len(answered["sticky"]) == 20 and len(set(answered["sticky"])) == 1, answered["sticky"]
    assert len(answered["spread"]) == 20 and len(set(answered["spread"])) > 1, answered["spread"]
    assert set(answered["spread"]) <= set(names)


def test_network_policy_allowing_egress_to_one_port_denies_the_other(
    realnodes: RealNodes, namespace: str
) -> None:
    image = realnodes.images["userland"]
    realnodes.apply(
        *(
            dict(m, metadata={**m["metadata"], "namespace": namespace})
            for m in (
                server_pod("server", realnodes.nodes[1], image, {"app": "server"}),
                client_pod("client", realnodes.nodes[0], image, {"app": "client"}),
            )
        )
    )
    server_ip = running_pods(realnodes, namespace, "server", "client")["server"]["status"]["podIP"]
    allowed_url, denied_url = f"http://{server_ip}:{PORT}/", f"http://{server_ip}:{DENIED_PORT}/"
    # Both ports answer before the policy, so a failure afterwards is the policy's doing.
    assert curl(realnodes, namespace, "client", allowed_url).stdout.strip() == "server"
    assert curl(realnodes, namespace, "client", denied_url).stdout.strip() == "server"
    realnodes.apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "egress-one-port", "namespace": namespace},
            "spec": {
                "podSelector": {"matchLabels": {"app": "client"}},
                "policyTypes": ["Egress"],
                "egress": [{"ports": [{"protocol": "TCP", "port": PORT}]}],
            },
        }
    )
    denied = realnodes.wait(
        "kube-router to enforce the policy",
        lambda: (
            (attempt := curl(realnodes, namespace, "client", denied_url, max_time=3)).returncode != 0
            and attempt
        ),
        timeout=90,
    )
    # kube-router REJECTs (ICMP port unreachable): curl says it could not connect (7), or times out (28).
    assert denied.returncode in (7, 28), (denied.returncode, denied.stderr)
    allowed = curl(realnodes, namespace, "client", allowed_url)
    assert allowed.returncode == 0 and allowed.stdout.strip() == "server", allowed.stderr


def test_local_path_claim_written_by_one_pod_is_read_by_the_next(
    realnodes: RealNodes, namespace: str
) -> None:
    image = realnodes.images["userland"]
    node = realnodes.nodes[1]
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}},
    }

    def pod(name: str, command: str) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                # Through the scheduler (not nodeName): a WaitForFirstConsumer claim is provisioned for the
                # node the scheduler picks.
                "nodeSelector": {"kubernetes.io/hostname": node},
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "c",
                        "image": image,
                        "imagePullPolicy": "Never",
                        "command": ["bash", "-c", command],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
            },
        }

    def finished(name: str):
        return lambda: (
            realnodes.get("pod", "-n", namespace, name)["status"].get("phase") in ("Succeeded", "Failed")
        )

    realnodes.apply(claim, pod("writer", "echo written-by-writer > /data/proof"))
    realnodes.wait("the writer to finish", finished("writer"))
    assert realnodes.get("pod", "-n", namespace, "writer")["status"]["phase"] == "Succeeded"
    bound = realnodes.get("pvc", "-n", namespace, "data")
    assert bound["status"]["phase"] == "Bound"
    assert bound["spec"]["storageClassName"] == "local-path"  # the default class, not named in the claim
    realnodes.kubectl("delete", "pod", "-n", namespace, "writer")
    realnodes.apply(pod("reader", "cat /data/proof"))
    realnodes.wait("the reader to finish", finished("reader"))
    assert realnodes.kubectl("logs", "-n", namespace, "reader").strip() == "written-by-writer"
    volume = realnodes.get("pv", bound["spec"]["volumeName"])
    assert volume["spec"]["hostPath"]["path"].startswith("/opt/local-path-provisioner/")
