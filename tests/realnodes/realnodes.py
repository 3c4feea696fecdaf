#!/usr/bin/env python
"""The realnodes test cluster: three podman node containers (systemd, the molecule Debian image) made
into a kubeadm cluster by the collection's own vip and kubeadm roles, air-gapped: three control-plane
nodes with stacked etcd behind the API virtual IP, untainted, with kube-proxy, CoreDNS, a routed bridge
pod network, kube-router's NetworkPolicy controller and local-path-provisioner as default StorageClass.
Every image is built from the pinned Go modules by images.py; containers really run.

    realnodes.py start                  prints the kubeconfig path (reuses a running cluster)
    realnodes.py stop                   removes the containers, volumes, network; restores host sysctls
    realnodes.py kubeconfig             prints the kubeconfig path of the running cluster
    realnodes.py lose-node NODE         kills the node container (kubelet and every container in it)
    realnodes.py restore-node NODE      starts it again and waits until the node is Ready
    realnodes.py --name NAME ...        another cluster (default rk-realnodes, or $RK_REALNODES_NAME)

Used by the pytest fixture in tests/realnodes/conftest.py.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import images
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import host_sysctl  # tests/host_sysctl.py: the forwarding parameters the podman network turns on

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MOLECULE = REPO / "tests/molecule"
TESTS = REPO / "tests"
PODMAN_ENV = {**os.environ, "CONTAINERS_CONF": str(MOLECULE / "containers.conf")}
NODE_COUNT = 3
API_VIP_HOST = 100  # host part of the VIP in the podman network's /24; the nodes are .11, .12, .13
READY_TIMEOUT = 600
# Global kernel parameters the nodes change: kubelet's kernel tunables, systemd-sysctl's files in the node image
# (99-protect-links.conf), the file limits systemd raises as each node's PID 1, and (host_sysctl.FORWARDING) the
# forwarding podman's bridge network turns on, put back only once no container runs. `stop` restores only these
# (tests/host_sysctl.py), so that `make test-realnodes` alone leaves the machine as it found it.
HOST_SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "fs.protected_hardlinks",
    "fs.protected_symlinks",
    "fs.protected_regular",
    "fs.protected_fifos",
    "fs.file-max",
    "fs.nr_open",
)


def node_connection() -> dict[str, object]:
    """How Ansible reaches a node container: the molecule hosts' ssh through `podman exec` (the node image is
    the molecule image), from extensions/molecule/config.yml, the one place it is written."""
    config = yaml.safe_load((REPO / "extensions/molecule/config.yml").read_text())
    return config["provisioner"]["connection_options"]


class Problem(Exception):
    """A one-line reason the command cannot go on (no traceback for the user)."""


def log(message: str) -> None:
    print(f"[realnodes {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(
    argv: list[str], *, check: bool = True, env: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(
            argv, env=env or PODMAN_ENV, text=True, capture_output=True, check=False, **kwargs
        )
    except FileNotFoundError as missing:
        raise Problem(f"{argv[0]} is missing ({missing.strerror})") from missing
    if check and done.returncode != 0:
        raise Problem(
            f"{' '.join(argv[:4])} failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
        )
    return done


def role_packages() -> list[str]:
    """The Debian packages the kubeadm and vip roles install, from the roles' own lists."""
    kubeadm = yaml.safe_load((REPO / "roles/kubeadm/vars/Debian.yml").read_text())["kubeadm_runtime_packages"]
    vip = yaml.safe_load((REPO / "roles/vip/defaults/main.yml").read_text())["vip_packages"]
    return sorted({*kubeadm, *vip})


def node_image_with_role_packages(base: str) -> str:
    """The molecule image with the kubeadm and vip roles' packages installed, built once (tag: a hash of the
    base image and the list), which takes their installs out of every start. The kubeadm_cluster and k3s_two_node
    molecule scenarios prove the roles install them on a bare node; here they find them installed.
    systemd-resolved stays out: the dns_resolver role looks at the node's resolver before installing it."""
    packages = role_packages()
    key = hashlib.sha256(json.dumps([base, packages]).encode()).hexdigest()[:12]
    image = f"localhost/redundant-kube/realnodes-node:{key}"
    if run(["podman", "image", "exists", image], check=False).returncode == 0:
        return image
    log(f"node image {image}: {base} with {' '.join(packages)} (apt-get, once)")
    builder = f"rk-node-image-{os.getpid()}"
    install = (
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
        + " ".join(packages)
        # As in the base image: no package lists (the nodes mount their own), and stale ones for apt's cache age.
        + " && apt-get clean && rm -rf /var/lib/apt/lists/* && touch -d @0 /var/lib/apt/lists"
    )
    try:
        # The machine's network: a podman bridge for it would turn on the machine's forwarding.
        run(
            ["podman", "run", "--name", builder, "--network", "host", base, "bash", "-c", install],
            timeout=1200,
        )
        run(["podman", "commit", "--quiet", "--change", 'CMD ["/sbin/init"]', builder, image])
    finally:
        run(["podman", "rm", "--force", builder], check=False)
    return image


def remove_kubelet_cgroups(node: str, *, keep_root: bool) -> None:
    """Remove the empty cgroups under the node kubelet's cgroup root in the machine's hierarchy (one root per
    node and hierarchy, see site.yml), deepest first; with keep_root the roots themselves stay for the kubelet."""
    for root in Path("/sys/fs/cgroup").glob(f"*/{node}"):
        for directory in sorted(root.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            if keep_root and directory == root:
                continue
            try:
                directory.rmdir()
            except OSError as exc:
                log(f"cgroup {directory} left: {exc.strerror}")


class Cluster:
    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes = [f"{name}-{index}" for index in range(1, NODE_COUNT + 1)]
        self.state = REPO / "tests/output/realnodes" / name
        self.kubeconfig = self.state / "kubeconfig"
        self.description_file = self.state / "images.json"

    # --- queries -------------------------------------------------------------------------------

    def container_states(self) -> dict[str, str]:
        """Node name -> podman state (running, exited, ...) for the node containers that exist."""
        listed = run(
            [
                "podman",
                "ps",
                "--all",
                "--format",
                "json",
                "--filter",
                f"label=redundant-kube.realnodes={self.name}",
            ]
        )
        return {entry["Names"][0]: entry["State"] for entry in json.loads(listed.stdout or "[]")}

    def description(self) -> dict:
        if not self.description_file.is_file():
            raise Problem(
                f"the cluster {self.name} is not running (start it with: tests/realnodes/realnodes.py start)"
            )
        return json.loads(self.description_file.read_text())

    def kubectl(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        kubectl = Path(self.description()["node_artifacts"]) / "kubectl"
        return run(
            [str(kubectl), "--kubeconfig", str(self.kubeconfig), *args],
            check=check,
            env=dict(os.environ),
            timeout=timeout,
        )

    def require_running(self) -> None:
        states = self.container_states()
        if not states or not self.kubeconfig.is_file():
            raise Problem(
                f"the cluster {self.name} is not running (start it with: tests/realnodes/realnodes.py start)"
            )

    def require_node(self, node: str) -> None:
        if node not in self.nodes:
            raise Problem(f"unknown node {node!r}: the nodes of {self.name} are {', '.join(self.nodes)}")
        self.require_running()

    def api_answers(self) -> bool:
        try:
            return self.kubectl("get", "--raw", "/readyz", check=False, timeout=15).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    # --- start ---------------------------------------------------------------------------------

    def start(self) -> Path:
        began = time.monotonic()
        states = self.container_states()
        running = [node for node, state in states.items() if state == "running"]
        if set(states) == set(self.nodes) and self.kubeconfig.is_file() and running:
            # A kept cluster with nodes a test killed (lose-node): bring them back rather than rebuild.
            self.restore_lost_nodes()
            if self.api_answers():
                log(f"{self.name} is running already")
                return self.kubeconfig
        if states:
            log(f"removing what is left of an earlier {self.name}")
            self.stop()
        self.state.mkdir(parents=True, exist_ok=True)
        sysctl_file = self.state / "host-sysctl.json"
        run([sys.executable, str(TESTS / "host_sysctl.py"), "save", str(sysctl_file)])
        description = json.loads(Path(images.build()).read_text())
        node_image = node_image_with_role_packages(
            run([str(MOLECULE / "build-image.sh")]).stdout.strip().splitlines()[-1]
        )
        addresses = self._create_nodes(node_image)
        self._converge(description, addresses)
        self.description_file.write_text(json.dumps(description, indent=1))
        self._cluster_addons(description)
        self.wait_system_pods()
        log(f"{self.name} ready in {time.monotonic() - began:.0f} s; kubeconfig {self.kubeconfig}")
        return self.kubeconfig

    def _create_nodes(self, node_image: str) -> dict[str, str]:
        log(f"podman network {self.name} and {NODE_COUNT} node containers from {node_image}")
        run(["podman", "network", "create", "--label", f"redundant-kube.realnodes={self.name}", self.name])
        subnet = json.loads(run(["podman", "network", "inspect", self.name]).stdout)[0]["subnets"][0][
            "subnet"
        ]
        network = ipaddress.ip_network(subnet)
        addresses = {node: str(network[11 + index]) for index, node in enumerate(self.nodes)}
        addresses["api_vip"] = str(network[API_VIP_HOST])
        apt = images.CACHE / "realnodes" / "apt"
        for node in self.nodes:
            for directory in ("archives/partial", "lists/partial"):
                (apt / node.removeprefix(self.name + "-") / directory).mkdir(parents=True, exist_ok=True)
            lists = apt / node.removeprefix(self.name + "-") / "lists"
            if not any(lists.glob("*_Packages")):
                # The roles' apt cache_valid_time goes by this directory's age: new and empty must look stale.
                os.utime(lists, (0, 0))
            run(
                [
                    "podman", "run", "--detach", "--name", node, "--hostname", node,
                    "--label", f"redundant-kube.realnodes={self.name}",
                    "--network", self.name, "--ip", addresses[node],
                    "--privileged", "--systemd", "always",
                    # runc 1.1 needs the machine's whole cgroup hierarchy (docs/roles/kubeadm.md, step 5).
                    "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                    # containerd's overlay snapshots need a file system that is not overlay; a volume (not a
                    # tmpfs) keeps the images when lose-node stops the container.
                    "--volume", f"{node}-containerd:/var/lib/containerd",
                    # apt downloads of each node kept in the cache between runs (one lock per node).
                    "--volume", f"{apt / node.removeprefix(self.name + '-')}/archives:/var/cache/apt/archives",
                    "--volume", f"{apt / node.removeprefix(self.name + '-')}/lists:/var/lib/apt/lists",
                    node_image, "/sbin/init",
                ]
            )  # fmt: skip
        for node in self.nodes:
            self._wait_for_systemd(node)
        return addresses

    def _wait_for_systemd(self, node: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = run(
                ["podman", "exec", node, "systemctl", "is-system-running"], check=False
            ).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(1)
        raise Problem(f"systemd in {node} did not finish booting within 120 s")

    def _converge(self, description: dict, addresses: dict[str, str]) -> None:
        inventory = {
            "all": {
                "vars": {**node_connection(), "ansible_python_interpreter": "/usr/bin/python3"},
                "children": {
                    "kubeadm_control_plane": {
                        "hosts": {
                            node: {"node_ip": addresses[node], "pod_subnet": f"10.244.{index}.0/24"}
                            for index, node in enumerate(self.nodes)
                        }
                    }
                },
            }
        }
        (self.state / "inventory.yml").write_text(yaml.safe_dump(inventory))
        extra = {
            "api_vip": addresses["api_vip"],
            "kubeconfig": str(self.kubeconfig),
            "kube_version": description["versions"]["KUBE_VERSION"],
            "etcd_image_tag": description["versions"]["ETCD_VERSION"].removeprefix("v") + "-0",
            "binaries": {
                name: {"src": b["src"], "checksum": f"sha256:{b['sha256']}"}
                for name, b in description["binaries"].items()
            },
            "image_archives": [
                {"src": a["src"], "checksum": f"sha256:{a['sha256']}"}
                for a in description["archives"].values()
            ],
        }
        (self.state / "vars.json").write_text(json.dumps(extra, indent=1))
        self.run_playbook()

    def run_playbook(self) -> None:
        ansible_log = self.state / "ansible.log"
        log(f"ansible-playbook tests/realnodes/site.yml (log: {ansible_log})")
        env = {
            **PODMAN_ENV,
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
            "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
            "ANSIBLE_FORCE_COLOR": "0",
        }
        argv = [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "--inventory", str(self.state / "inventory.yml"),
            "--extra-vars", f"@{self.state / 'vars.json'}",
            str(HERE / "site.yml"),
        ]  # fmt: skip
        with ansible_log.open("w") as output:
            playbook = subprocess.Popen(
                argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            assert playbook.stdout is not None
            for line in playbook.stdout:
                output.write(line)
                if line.startswith("PLAY [") or line.startswith("TASK [redundant.kube.kubeadm : Join"):
                    log(line.strip(" *\n"))
            if playbook.wait() != 0:
                tail = ansible_log.read_text().splitlines()[-25:]
                raise Problem(f"ansible-playbook failed, log {ansible_log}:\n" + "\n".join(tail))

    # --- add-ons that are not kubeadm's ---------------------------------------------------------

    def _cluster_addons(self, description: dict) -> None:
        log("untainting the control-plane nodes; kube-router (NetworkPolicy) and local-path-provisioner")
        self.kubectl("taint", "nodes", "--all", "node-role.kubernetes.io/control-plane-")
        manifests = addon_manifests(description)
        (self.state / "addons.yaml").write_text(yaml.safe_dump_all(manifests))
        self.kubectl(
            "apply",
            "--server-side",
            "--field-manager",
            "redundant-kube-realnodes",
            "--filename",
            str(self.state / "addons.yaml"),
        )

    def wait_system_pods(self, timeout: float = READY_TIMEOUT) -> None:
        """Until every node is Ready and every pod of kube-system and local-path-storage runs with all its
        containers started."""
        deadline = time.monotonic() + timeout
        waiting: list[str] = ["(not asked yet)"]
        while time.monotonic() < deadline:
            waiting = self.not_ready()
            if not waiting:
                return
            time.sleep(3)
        raise Problem(f"not ready after {timeout:.0f} s: {'; '.join(waiting[:6])}")

    def not_ready(self) -> list[str]:
        nodes = json.loads(
            self.kubectl("get", "nodes", "--output", "json", check=False).stdout or '{"items": []}'
        )["items"]
        waiting = [
            f"node {n['metadata']['name']} not Ready"
            for n in nodes
            if not any(
                c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", [])
            )
        ]
        if len(nodes) != NODE_COUNT:
            waiting.append(f"{len(nodes)} of {NODE_COUNT} nodes registered")
        for namespace in ("kube-system", "local-path-storage"):
            pods = json.loads(
                self.kubectl("get", "pods", "-n", namespace, "--output", "json", check=False).stdout
                or '{"items": []}'
            )["items"]
            for pod in pods:
                statuses = pod["status"].get("containerStatuses", [])
                started = statuses and all(s.get("ready") and s.get("containerID") for s in statuses)
                if pod["status"].get("phase") != "Running" or not started:
                    waiting.append(f"{namespace}/{pod['metadata']['name']} {pod['status'].get('phase')}")
        return waiting

    def vip_holder(self) -> str | None:
        """The node whose eth0 holds the API VIP (the kubeconfig's server address), if any."""
        vip = json.loads((self.state / "vars.json").read_text())["api_vip"]
        for node, state in self.container_states().items():
            if state == "running":
                shown = run(["podman", "exec", node, "ip", "-4", "-o", "addr", "show"], check=False).stdout
                if f" {vip}/" in shown:
                    return node
        return None

    # --- node loss -----------------------------------------------------------------------------

    def lose_node(self, node: str) -> None:
        self.require_node(node)
        # SIGKILL to the node's init: its kubelet, containerd and every pod process die at once, as in a
        # power loss; the container and its volumes stay for restore-node.
        run(["podman", "kill", "--signal", "KILL", node])
        log(f"{node} killed")

    def restore_node(self, node: str, timeout: float = READY_TIMEOUT) -> None:
        self.require_node(node)
        started = datetime.datetime.now(datetime.UTC)
        # A machine that lost its power boots with an empty cgroup tree. This node's pod cgroups outlive its
        # container in the machine's hierarchy, and the restarted kubelet's cAdvisor would spend about 3 s on each
        # (it retries containerd for a task that died with the node): about 90 s with a few dozen.
        remove_kubelet_cgroups(node, keep_root=True)
        run(["podman", "start", node])
        self._wait_for_systemd(node)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # The Ready condition may still be the one from before the loss (the controller had not noticed
            # yet): only a lease renewed by the restarted kubelet counts.
            if self.node_ready(node) and self.lease_renewed_after(node, started):
                log(f"{node} Ready again")
                return
            time.sleep(2)
        raise Problem(f"{node} was started but is not Ready after {timeout:.0f} s")

    def restore_lost_nodes(self) -> None:
        """Start again every node that is not running, and wait until every node and system pod is back."""
        lost = [node for node, state in self.container_states().items() if state != "running"]
        for node in lost:
            self.restore_node(node)
        if lost:
            self.wait_system_pods()

    def node_ready(self, node: str) -> bool:
        jsonpath = 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'
        return self.kubectl("get", "node", node, "--output", jsonpath, check=False).stdout.strip() == "True"

    def lease_renewed_after(self, node: str, moment: datetime.datetime) -> bool:
        lease = self.kubectl(
            "get",
            "lease",
            "-n",
            "kube-node-lease",
            node,
            "--output",
            "jsonpath={.spec.renewTime}",
            check=False,
        )
        renewed = lease.stdout.strip()
        return bool(renewed) and datetime.datetime.fromisoformat(renewed) > moment

    # --- stop ----------------------------------------------------------------------------------

    def stop(self) -> None:
        # One podman call for all nodes: it removes them side by side (each takes seconds: every process of
        # the node's systemd, kubelet and pods is killed and its cgroups go).
        present = list(self.container_states())
        if present:
            run(["podman", "rm", "--force", "--time", "0", *present], check=False)
            log(f"removed {', '.join(present)}")
        for node in self.nodes:
            run(["podman", "volume", "rm", "--force", f"{node}-containerd"], check=False)
        run(["podman", "network", "rm", "--force", self.name], check=False)
        for node in self.nodes:
            remove_kubelet_cgroups(node, keep_root=False)
        sysctl_file = self.state / "host-sysctl.json"
        if sysctl_file.is_file():
            restored = run(
                [
                    sys.executable,
                    str(TESTS / "host_sysctl.py"),
                    "restore",
                    str(sysctl_file),
                    *HOST_SYSCTLS,
                    *host_sysctl.FORWARDING,
                ],
                check=False,
            )
            for line in (restored.stdout + restored.stderr).splitlines():
                log(line)
            if restored.returncode != 0:
                raise Problem(f"host sysctls not all restored (saved values in {sysctl_file})")
        for leftover in sorted(self.state.glob("*")) if self.state.is_dir() else []:
            leftover.unlink()
        if self.state.is_dir():
            self.state.rmdir()


def addon_manifests(description: dict) -> list[dict]:
    """kube-router (firewall only) and local-path-provisioner, from the manifests in their pinned modules,
    with the locally built images."""
    refs = description["images"]
    router_dir = images.module_dir(
        "github.com/cloudnativelabs/kube-router/v2", description["versions"]["KUBE_ROUTER_VERSION"]
    )
    # RBAC and service account of the kubeadm variant (in-cluster credentials), the DaemonSet of the
    # firewall-only variant without its CNI installer (the pod network is the bridge of site.yml).
    rbac = [
        doc
        for doc in yaml.safe_load_all((router_dir / "daemonset/kubeadm-kuberouter.yaml").read_text())
        if doc and doc["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
    ]
    daemonset = next(
        doc
        for doc in yaml.safe_load_all(
            (router_dir / "daemonset/kube-router-firewall-daemonset.yaml").read_text()
        )
        if doc and doc["kind"] == "DaemonSet"
    )
    pod = daemonset["spec"]["template"]["spec"]
    pod.pop("initContainers")
    pod["serviceAccountName"] = "kube-router"
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] in ("lib-modules", "xtables-lock")]
    router = pod["containers"][0]
    router["image"] = refs["kube-router"]
    router["imagePullPolicy"] = "Never"
    router["args"] = [a for a in router["args"] if not a.startswith("--kubeconfig")]
    router["env"] = [e for e in router["env"] if e["name"] != "KUBE_ROUTER_CNI_CONF_FILE"]
    router["volumeMounts"] = [
        m for m in router["volumeMounts"] if m["name"] in ("lib-modules", "xtables-lock")
    ]

    provisioner_dir = images.module_dir(
        "github.com/rancher/local-path-provisioner", description["versions"]["LOCAL_PATH_PROVISIONER_VERSION"]
    )
    storage = [
        doc
        for doc in yaml.safe_load_all((provisioner_dir / "deploy/local-path-storage.yaml").read_text())
        if doc
    ]
    for doc in storage:
        if doc["kind"] == "Deployment":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["image"] = refs["local-path-provisioner"]
            container["imagePullPolicy"] = "Never"
        elif doc["kind"] == "StorageClass":
            doc["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
        elif doc["kind"] == "ConfigMap":
            helper = yaml.safe_load(doc["data"]["helperPod.yaml"])
            # The helper pod runs the setup/teardown shell scripts: the userland image has sh, mkdir, rm.
            helper["spec"]["containers"][0].update(image=refs["userland"], imagePullPolicy="Never")
            doc["data"]["helperPod.yaml"] = yaml.safe_dump(helper)
    return [*rbac, daemonset, *storage]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--name", default=os.environ.get("RK_REALNODES_NAME", "rk-realnodes"))
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("start", "stop", "kubeconfig"):
        commands.add_parser(command)
    for command in ("lose-node", "restore-node"):
        commands.add_parser(command).add_argument("node")
    args = parser.parse_args(argv)
    cluster = Cluster(args.name)
    try:
        if args.command == "start":
            print(cluster.start())
        elif args.command == "stop":
            cluster.stop()
        elif args.command == "kubeconfig":
            cluster.require_running()
            print(cluster.kubeconfig)
        elif args.command == "lose-node":
            cluster.lose_node(args.node)
        else:
            cluster.restore_node(args.node)
    except Problem as problem:
        print(f"realnodes: {problem}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as failed:
        print(
            f"realnodes: {' '.join(map(str, failed.cmd[:3]))} failed with exit code {failed.returncode}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
