#!/usr/bin/env bash
# Runs the molecule scenarios of extensions/molecule (all, or those named as arguments) on the locally
# built Debian bookworm systemd image: destroy, create, prepare, converge, idempotence, verify, destroy.
# Prints one line per scenario with its result and time, the checks it skipped and why, and exits
# non-zero when any scenario failed. Full logs: tests/output/molecule/<scenario>.log.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/.collections" ANSIBLE_ROLES_PATH="$root/roles"
export CONTAINERS_CONF="$root/tests/molecule/containers.conf"
export RK_CACHE=${RK_CACHE:-$HOME/.cache/redundant-kube}
# Packages the roles install are downloaded once and shared by every scenario's container.
export RK_APT_CACHE="$RK_CACHE/apt"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
logs="$root/tests/output/molecule"
mkdir -p "$logs" "$RK_APT_CACHE/archives/partial" "$RK_APT_CACHE/lists/partial"
# A new, empty lists directory must look stale, or cache_valid_time would skip the first apt-get update.
ls "$RK_APT_CACHE"/lists/*_Packages* >/dev/null 2>&1 || touch -d @0 "$RK_APT_CACHE/lists"

# One run at a time per machine, whatever the checkout or cache: container names (rk-<scenario>), the
# host kernel parameters saved and restored, and the apt cache's lock are all machine-wide.
exec 9>"${TMPDIR:-/tmp}/redundant-kube-molecule.lock"
flock -n 9 || { echo "molecule: waiting for another run on this machine to finish" >&2; flock 9; }

start=$(date +%s)
if ! RK_MOLECULE_IMAGE=$(tests/molecule/build-image.sh 2>"$logs/build-image.log"); then
  cat "$logs/build-image.log" >&2
  echo "molecule: FAILED to build the test image (log: $logs/build-image.log)"
  exit 1
fi
export RK_MOLECULE_IMAGE
printf '%-14s %-7s %5ss  %s\n' image ok $(( $(date +%s) - start )) "$RK_MOLECULE_IMAGE"

scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  for f in extensions/molecule/*/molecule.yml; do scenarios+=("$(basename "$(dirname "$f")")"); done
fi

# The privileged test hosts share kernel.core_pattern, fs.protected_*, the kubelet's kernel defaults and
# podman's IPv4 forwarding with this machine: restored after the last scenario.
sysctl_state=$(mktemp)
python3 tests/host_sysctl.py save "$sysctl_state"
trap 'python3 tests/host_sysctl.py restore "$sysctl_state"; rm -f "$sysctl_state"' EXIT

# Two lanes side by side: most of a scenario's time is Ansible's work per task, on one core at a time. The
# single-host node scenarios share the apt cache above and read the kernel's core pattern, which both set:
# they run one after the other in the first lane. The multi-host cluster scenarios have networks and apt
# volumes of their own; the K3S example's pair (the shortest) runs in the first lane too, before the node
# scenarios (the order of the names), so both lanes take about as long. Each scenario's lines are printed
# together when it ends.
run_scenario() {
  local scenario=$1 t0 log status report
  t0=$(date +%s)
  log="$logs/$scenario.log"
  if molecule test -s "$scenario" >"$log" 2>&1; then status=ok; else status=FAILED; fi
  report=$(printf '%-14s %-7s %5ss\n' "$scenario" "$status" $(( $(date +%s) - t0 ))
    # Skips are printed by the playbooks as "SKIPPED <check>: <reason>"; repeat them here, once each.
    grep -a -o '"msg": "SKIPPED[^"]*"' "$log" | sed 's/^"msg": "\(.*\)"$/    \1/' | sort -u
    if [ "$status" = FAILED ]; then
      grep -a -E 'fatal:|FAILED!|ERROR|CRITICAL' "$log" | grep -v 'default/molecule.yml. glob failed' | tail -n 8 | sed 's/^/    /'
      echo "    log: $log"
    fi)
  echo "$report"
  [ "$status" = ok ]
}
run_lane() {
  local rc=0 scenario
  for scenario in "$@"; do run_scenario "$scenario" || rc=1; done
  return $rc
}
first_lane=() second_lane=()
for scenario in "${scenarios[@]}"; do
  case $scenario in
    node_prep | node_template | k3s_two_node_example) first_lane+=("$scenario") ;;
    *) second_lane+=("$scenario") ;;
  esac
done
failed=0
run_lane "${first_lane[@]}" &
first_pid=$!
run_lane "${second_lane[@]}" || failed=1
wait "$first_pid" || failed=1
echo "molecule: ${#scenarios[@]} scenarios, $(( $(date +%s) - start ))s in all"
exit $failed
