#!/usr/bin/env bash
# `make demo`: deploy the example application of inventories/local/ with playbooks/site.yml.
# Without DEMO_KUBECONFIG it starts (or reuses) the local control plane: real API server, controllers and
# scheduler, simulated kubelets (pods are placed and reported Running, but no container runs).
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
kubectl="$(tests/cluster/build-binaries.sh)/kubectl"
echo
echo "[demo] where every pod runs:"
"$kubectl" --kubeconfig "$kubeconfig" get pods -A -l app.kubernetes.io/managed-by=redundant.kube \
  -o custom-columns='NAMESPACE:.metadata.namespace,POD:.metadata.name,SIDE:.metadata.labels.redundant\.kube/side,NODE:.spec.nodeName,PHASE:.status.phase' || true
echo
echo "[demo] kubectl:  $kubectl --kubeconfig $kubeconfig get all -A"
if [ -z "${DEMO_KUBECONFIG:-}" ]; then
  echo "[demo] stop the local cluster:  make demo-stop   (or: .venv/bin/python tests/cluster/local_cluster.py stop --name redundant-kube-demo)"
fi
