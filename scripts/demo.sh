#!/usr/bin/env bash
# `make demo`: deploy the example application of inventories/local/ with playbooks/site.yml.
# Without DEMO_KUBECONFIG it starts (or reuses) the local control plane: real API server, controllers and
# scheduler, simulated kubelets (pods are placed and reported Running, but no container runs).
# With DEMO_KUBECONFIG (your own cluster) it builds nothing and needs no Go: only the Python venv.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$PWD/.collections" ANSIBLE_ROLES_PATH="$PWD/roles"
if [ -n "${DEMO_KUBECONFIG:-}" ]; then
  kubeconfig=$DEMO_KUBECONFIG
  echo "[demo] using the cluster of $kubeconfig"
else
  echo "[demo] starting the local control plane (binaries are built once, about 6 min cold)"
  kubeconfig=$(python tests/cluster/local_cluster.py start --name redundant-kube-demo --nodes 3)
fi
export RK_KUBECONFIG=$kubeconfig
ansible-playbook -i inventories/local playbooks/site.yml "$@"
echo
echo "[demo] where every pod runs:"
PYTHONPATH=.collections python - "$kubeconfig" <<'PY'
import sys
from ansible_collections.redundant.kube.plugins.module_utils.kube.client import ConnectionSettings, api_client_from_settings
from ansible_collections.redundant.kube.plugins.module_utils.kube.resources import Resources

resources = Resources(api_client_from_settings(ConnectionSettings(kubeconfig=sys.argv[1])))
print(f"{'NAMESPACE':<12} {'POD':<40} {'SIDE':<5} {'NODE':<10} PHASE")
for pod in resources.list("v1", "Pod", label_selector="app.kubernetes.io/managed-by=redundant.kube"):
    meta, labels = pod["metadata"], pod["metadata"].get("labels") or {}
    print(f"{meta['namespace']:<12} {meta['name']:<40} {labels.get('redundant.kube/side', ''):<5} "
          f"{pod['spec'].get('nodeName', ''):<10} {pod.get('status', {}).get('phase', '')}")
PY
echo
if [ -z "${DEMO_KUBECONFIG:-}" ]; then
  echo "[demo] kubectl:  $(tests/cluster/build-binaries.sh)/kubectl --kubeconfig $kubeconfig get all -A"
  echo "[demo] stop the local cluster:  make demo-stop   (or: .venv/bin/python tests/cluster/local_cluster.py stop --name redundant-kube-demo)"
fi
