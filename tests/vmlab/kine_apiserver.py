"""K3S's datastore client on the HA pair: kine and the pinned kube-apiserver, through the pair's VIP.

K3S itself cannot be obtained here, but K3S reaches MariaDB through kine, which the Go module proxy
serves: kine v0.17.5 is built once into the cache (`go install`), and the project's pinned
kube-apiserver (tests/cluster/build-binaries.sh) runs against it, both in the lab's namespace, with a
`datastore-endpoint`-style MySQL DSN through the VIP. Objects go in and are read back through the
API server's REST interface (a static token; the serving certificate is the API server's own).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from lab import HOST_IP, Lab

KINE_VERSION = "v0.17.5"
KINE_PORT = 2379
API_PORT = 6443
TOKEN = "vmlab-kine-token"  # the static token of this lab's throwaway API server
REPO = Path(__file__).resolve().parents[2]


class ApiError(RuntimeError):
    pass


def kine_binary(cache: Path) -> Path:
    """kine built once from the Go module proxy into the cache (go install of the exact release)."""
    out = cache / f"kine-{KINE_VERSION}"
    binary = out / "kine"
    if not binary.exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["go", "install", f"github.com/k3s-io/kine@{KINE_VERSION}"],
            env={**os.environ, "GOBIN": str(out), "GOFLAGS": "-trimpath"},
            check=True,
            capture_output=True,
            timeout=1800,
        )
    return binary


def apiserver_binary() -> Path:
    out = subprocess.run(
        [str(REPO / "tests/cluster/build-binaries.sh")], check=True, stdout=subprocess.PIPE, text=True
    ).stdout.strip()
    return Path(out.splitlines()[-1]) / "kube-apiserver"


class KubeOnKine:
    """kine (MySQL through the VIP) and kube-apiserver on it, inside the lab's namespace."""

    def __init__(self, lab: Lab, cache: Path, dsn: str):
        self.lab = lab
        self.work = lab.run_dir / "kine"
        self.work.mkdir(exist_ok=True)
        self.kine = kine_binary(cache)
        self.apiserver = apiserver_binary()
        self.dsn = dsn

    def start(self) -> None:
        key = self.work / "sa.key"
        if not key.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
            subprocess.run(
                ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(self.work / "sa.pub")],
                check=True,
                capture_output=True,
            )
        (self.work / "tokens.csv").write_text(f"{TOKEN},vmlab-admin,vmlab-admin,system:masters\n")
        self.lab._start_service(
            "kine",
            # Metrics off: their default :8080 is the lab mirror's port in the namespace.
            [
                str(self.kine),
                "--endpoint",
                self.dsn,
                "--listen-address",
                f"127.0.0.1:{KINE_PORT}",
                "--metrics-bind-address",
                "0",
            ],
        )
        self.lab._start_service(
            "kube-apiserver",
            [
                str(self.apiserver),
                f"--etcd-servers=http://127.0.0.1:{KINE_PORT}",
                "--bind-address=127.0.0.1",
                # The namespace has no default route to derive it from.
                f"--advertise-address={HOST_IP}",
                f"--secure-port={API_PORT}",
                f"--cert-dir={self.work / 'certs'}",
                f"--token-auth-file={self.work / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.43.0.0/16",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={self.work / 'sa.pub'}",
                f"--service-account-signing-key-file={key}",
                # No watch cache: every read after a failover comes from MariaDB through kine, not from the API
                # server's memory. It also spares the pair the cache's start, a list of every resource at once,
                # which on these emulated VMs made each query take seconds and the API server give up at start
                # ("unable to perform initial IP and Port allocation check").
                "--watch-cache=false",
                "--enable-priority-and-fairness=false",
                "--etcd-healthcheck-timeout=10s",
                "--etcd-readycheck-timeout=10s",
            ],
        )
        deadline = time.monotonic() + 300
        while not self.ready():
            for name in ("kine", "kube-apiserver"):
                if not self.lab.service_running(name):
                    tail = (self.lab.log_dir / f"{name}.log").read_text().splitlines()[-5:]
                    raise ApiError(f"{name} exited before the API server was ready:\n" + "\n".join(tail))
            if time.monotonic() > deadline:
                raise ApiError(
                    f"kube-apiserver on kine not ready after 300 s: {self.failing_checks()} (logs in {self.lab.log_dir})"
                )
            time.sleep(3)

    def stop(self) -> None:
        for name in ("kube-apiserver", "kine"):
            self.lab.stop_service(name)

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 20) -> tuple[str, str]:
        """One API request from inside the namespace (curl there: the host's routes do not reach the lab): the
        HTTP status, or why there is none, and the body."""
        cmd = self.lab.netns(
            "curl", "--silent", "--show-error", "--insecure", "--max-time", str(timeout),
            "--header", f"Authorization: Bearer {TOKEN}", "--header", "Content-Type: application/json",
            "--request", method, f"https://127.0.0.1:{API_PORT}{path}",
            *(["--data", json.dumps(body)] if body is not None else []),
            "--write-out", "\n%{http_code}",
        )  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout + 10)
        text, _newline, code = proc.stdout.rpartition("\n")
        if proc.returncode != 0:
            return f"none (curl {proc.returncode}: {proc.stderr.strip()})", text
        return code, text

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 20) -> dict:
        code, text = self.call(method, path, body, timeout)
        if not code.startswith("2"):
            raise ApiError(f"{method} {path}: HTTP {code} {text[:300]}")
        return json.loads(text) if text else {}

    def failing_checks(self) -> str:
        """The /readyz checks that fail, as the API server lists them (`[-]name failed: ...`)."""
        code, text = self.call("GET", "/readyz?verbose", timeout=10)
        failing = [line for line in text.splitlines() if line.startswith("[-]")]
        return "; ".join(failing) or f"HTTP {code}, no failing check listed"

    def ready(self) -> bool:
        """/readyz answers 200 (its body is the text `ok`, not JSON)."""
        try:
            return self.call("GET", "/readyz", timeout=5)[0] == "200"
        except subprocess.TimeoutExpired:
            return False

    def create_config_maps(self, prefix: str, count: int) -> list[str]:
        names = [f"{prefix}-{n}" for n in range(count)]
        for name in names:
            self.request(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"n": name}},
            )
        return names

    def config_map_names(self) -> set[str]:
        items = self.request("GET", "/api/v1/namespaces/default/configmaps")["items"]
        return {item["metadata"]["name"] for item in items}
