"""The local control plane: real etcd, kube-apiserver, kube-controller-manager and kube-scheduler built
from the upstream Go modules, with kubelets simulated by kwok (pods become Running without containers).

    local_cluster.py start [--name NAME] [--nodes N]   prints the kubeconfig path
    local_cluster.py stop  [--name NAME]
    local_cluster.py kubeconfig [--name NAME]
    local_cluster.py lose-node|restore-node --node NODE [--name NAME]   stop/restart a simulated kubelet

Used by `make demo` and by the pytest fixture in tests/integration/conftest.py.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("RK_CACHE", Path.home() / ".cache" / "redundant-kube"))
KWOK_WORKDIR = CACHE / "kwok"
STORAGE_CLASSES = ("standard", "replicated", "local-path")
VOLUMES_PER_CLASS = 40
ZONES = ("zone-a", "zone-b", "zone-c")
# kwok heartbeats only nodes with this label; setting it to "stopped" makes a node stop answering, as a
# lost node does (the drill's lose_node). A label, not an annotation: kwok watches nodes with a server-side
# label selector, so a node leaving the selection is released at once, lease included.
SIMULATED_KUBELET_LABEL = "redundant-kube.test/simulated-kubelet"


def versions() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (HERE / "versions.env").read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.startswith("#")}


def binaries() -> Path:
    """Build (once) and return the directory with the pinned binaries."""
    out = subprocess.run(
        [str(HERE / "build-binaries.sh")], check=True, stdout=subprocess.PIPE, text=True
    ).stdout.strip()
    return Path(out.splitlines()[-1])


def kwok_env() -> dict[str, str]:
    env = dict(os.environ, KWOK_WORKDIR=str(KWOK_WORKDIR))
    # kwokctl must never try to download: every binary is given explicitly, offline is the truth here.
    env.pop("KUBECONFIG", None)
    return env


def config_yaml(bindir: Path) -> str:
    v = versions()
    options = {
        "runtime": "binary",
        "kubeVersion": v["KUBE_VERSION"],
        "etcdVersion": v["ETCD_VERSION"].lstrip("v"),
        "kwokVersion": v["KWOK_VERSION"],
        "bindAddress": "127.0.0.1",
        "kubeAdmission": True,
        "kubeAuthorization": True,
        "kubeApiserverBinary": str(bindir / "kube-apiserver"),
        "kubeControllerManagerBinary": str(bindir / "kube-controller-manager"),
        "kubeSchedulerBinary": str(bindir / "kube-scheduler"),
        "kubectlBinary": str(bindir / "kubectl"),
        "etcdBinary": str(bindir / "etcd"),
        "kwokControllerBinary": str(bindir / "kwok"),
        # Short node-loss detection, so node-failure tests take seconds rather than minutes.
        "kubeControllerManagerNodeMonitorPeriodMilliseconds": 1000,
        "kubeControllerManagerNodeMonitorGracePeriodMilliseconds": 8000,
        "nodeLeaseDurationSeconds": 4,
        # kwokctl multiplies the three values above by this factor (default 5): keep them as written.
        "heartbeatFactor": 1,
    }
    # `override` replaces kwokctl's own --manage-all-nodes=true.
    patches = [
        # A throwaway cluster: etcd need not wait for the disk on every write (about 1.5 ms a write on this
        # machine's disk), as nothing of it must outlive a crash.
        {"name": "etcd", "extraArgs": [{"key": "unsafe-no-fsync", "value": "true"}]},
        {
            "name": "kwok-controller",
            "extraArgs": [
                {"key": "manage-all-nodes", "value": "false", "override": True},
                {"key": "manage-nodes-with-label-selector", "value": f"{SIMULATED_KUBELET_LABEL}=running"},
            ],
        },
    ]
    # JSON is YAML; kwokctl reads a multi-document YAML file.
    return json.dumps(
        {
            "kind": "KwokctlConfiguration",
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "options": options,
            "componentsPatches": patches,
        }
    )


@dataclass
class LocalCluster:
    name: str
    bindir: Path

    @property
    def kubeconfig(self) -> str:
        return str(KWOK_WORKDIR / "clusters" / self.name / "kubeconfig.yaml")

    @property
    def kubectl(self) -> str:
        return str(self.bindir / "kubectl")

    def kubectl_run(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.kubectl, "--kubeconfig", self.kubeconfig, *args],
            input=stdin,
            text=True,
            capture_output=True,
            check=check,
        )

    def exists(self) -> bool:
        return Path(self.kubeconfig).is_file()

    def is_running(self) -> bool:
        return self.exists() and self.kubectl_run("get", "--raw", "/readyz", check=False).returncode == 0

    def start(self, nodes: int = 3, attempts: int = 3) -> LocalCluster:
        if self.is_running():
            return self
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(nodes)
                return self
            except (RuntimeError, subprocess.CalledProcessError):
                # kwokctl picks free ports before its components bind them; another cluster starting at
                # the same moment can take one ("address already in use"). Start afresh on new ports.
                self.stop()
                if attempt == attempts:
                    raise
        return self

    def _start_once(self, nodes: int) -> None:
        # kwokctl picks free ports and binds them only later: two clusters starting at once (a developer's
        # tests and CI on one machine) can be handed the same port, and one cluster's kubeconfig then reaches
        # the other's API server. Starts are serialized machine-wide, and each cluster checks it reaches itself.
        KWOK_WORKDIR.mkdir(parents=True, exist_ok=True)
        with open(KWOK_WORKDIR / "start.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._launch()
            self.wait_ready()
            self.claim_identity()
        self.seed(nodes)

    def _launch(self) -> None:
        if self.exists():  # left from a stopped machine: start the processes again
            run([str(self.bindir / "kwokctl"), "start", "cluster", "--name", self.name], env=kwok_env())
        else:
            config = KWOK_WORKDIR / f"{self.name}.config.yaml"
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(config_yaml(self.bindir))
            run(
                [
                    str(self.bindir / "kwokctl"),
                    "create",
                    "cluster",
                    "--name",
                    self.name,
                    "--config",
                    str(config),
                    "--wait",
                    "2m",
                    "--kubeconfig",
                    "",
                ],
                env=kwok_env(),
            )

    def claim_identity(self) -> None:
        """Mark the cluster with its name, or fail when the kubeconfig reaches another cluster's API server
        (or this API server stores into another cluster's etcd)."""
        marker = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "redundant-kube-local-cluster", "namespace": "kube-public"},
            "data": {"name": self.name},
        }
        for _iteration in range(50):  # kube-public is made by the API server just after it is ready
            created = self.kubectl_run("create", "-f", "-", stdin=json.dumps(marker), check=False)
            if 'namespaces "kube-public" not found' not in created.stderr:
                break
            time.sleep(0.2)
        if created.returncode != 0 and "AlreadyExists" not in created.stderr:
            raise RuntimeError(
                f"local cluster {self.name}: cannot write its marker: {created.stderr.strip()}"
            )
        found = self.kubectl_run(
            "get",
            "configmap",
            "--namespace",
            "kube-public",
            marker["metadata"]["name"],
            "-o",
            "jsonpath={.data.name}",
        ).stdout
        if found != self.name:
            raise RuntimeError(
                f"local cluster {self.name}: its kubeconfig reaches cluster {found} (port clash)"
            )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.kubectl_run("get", "--raw", "/readyz", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"local cluster {self.name} did not become ready in {timeout}s")
            time.sleep(0.3)

    def seed(self, nodes: int) -> None:
        """Simulated nodes, a default StorageClass and PersistentVolumes for claims to bind."""
        self.kubectl_run(
            "apply",
            "--server-side",
            "--field-manager=redundant-kube-tests",
            "-f",
            "-",
            stdin=seed_manifests(nodes),
        )
        self.wait_nodes_ready([f"node-{i}" for i in range(1, nodes + 1)])

    def wait_nodes_ready(self, names: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            out = self.kubectl_run("get", "nodes", "-o", "json").stdout
            ready = {
                n["metadata"]["name"]
                for n in json.loads(out)["items"]
                if any(
                    c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", [])
                )
            }
            if set(names) <= ready:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"nodes not Ready after {timeout}s: {sorted(set(names) - ready)}")
            time.sleep(0.3)

    def set_kubelet(self, node: str, running: bool) -> None:
        """Stop or restart a node's simulated kubelet: stopped, it misses heartbeats and the node
        lifecycle controller marks it NotReady and taints it unreachable, as for a lost machine."""
        state = "running" if running else "stopped"
        self.kubectl_run("label", "node", node, f"{SIMULATED_KUBELET_LABEL}={state}", "--overwrite")

    def stop(self) -> None:
        if self.exists() or (KWOK_WORKDIR / "clusters" / self.name).exists():
            run(
                [str(self.bindir / "kwokctl"), "delete", "cluster", "--name", self.name],
                env=kwok_env(),
                check=False,
            )
        shutil.rmtree(KWOK_WORKDIR / "clusters" / self.name, ignore_errors=True)
        (KWOK_WORKDIR / f"{self.name}.config.yaml").unlink(missing_ok=True)


def node_manifest(index: int) -> dict:
    name = f"node-{index}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": ZONES[(index - 1) % len(ZONES)],
                "type": "kwok",
                SIMULATED_KUBELET_LABEL: "running",
            },
        },
        "spec": {},
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "fake", "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def seed_manifests(nodes: int) -> str:
    docs: list[dict] = [node_manifest(i) for i in range(1, nodes + 1)]
    for cls in STORAGE_CLASSES:
        docs.append(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": cls,
                    "annotations": {
                        "storageclass.kubernetes.io/is-default-class": str(cls == "standard").lower()
                    },
                },
                "provisioner": "kubernetes.io/no-provisioner",
                "volumeBindingMode": "WaitForFirstConsumer",
                "allowVolumeExpansion": True,
            }
        )
        for i in range(1, VOLUMES_PER_CLASS + 1):
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": f"pv-{cls}-{i:03d}", "labels": {"redundant.kube/test-volume": cls}},
                    "spec": {
                        "capacity": {"storage": "100Gi"},
                        "accessModes": ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"],
                        "persistentVolumeReclaimPolicy": "Retain",
                        "storageClassName": cls,
                        # Not node-bound, like a replicated volume: any node can mount it.
                        "hostPath": {"path": f"/var/lib/redundant-kube-test/{cls}/{i}"},
                    },
                }
            )
    return "\n---\n".join(json.dumps(d) for d in docs)


def run(cmd: list[str], env: dict[str, str] | None = None, check: bool = True) -> None:
    result = subprocess.run(cmd, env=env, text=True, capture_output=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "kubeconfig", "lose-node", "restore-node"])
    parser.add_argument("--node", help="node name for lose-node/restore-node")
    parser.add_argument("--name", default="redundant-kube")
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.name, binaries())
    if args.action == "start":
        cluster.start(args.nodes)
    elif args.action == "stop":
        cluster.stop()
        return 0
    elif args.action in ("lose-node", "restore-node"):
        if not args.node:
            parser.error(f"{args.action} needs --node")
        cluster.set_kubelet(args.node, running=args.action == "restore-node")
        return 0
    print(cluster.kubeconfig)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
