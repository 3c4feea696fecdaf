#!/usr/bin/env bash
# Runs the test tiers in order and prints how long each took. No argument: every tier.
#   static       ruff lint/format, ansible-lint (production profile), ansible-test sanity (offline tests, pylint,
#                Python 3.10), the collection under ansible-core 2.16, 2.17 and 2.18 (the older releases meta/runtime.yml
#                claims), collection build + documented offline install + playbooks from the installed copy
#   unit         pytest tests/unit (pure functions, keytool round trips)
#   integration  pytest tests/integration against the local control plane
#   realnodes    a real 3-node kubeadm cluster in podman containers, running workloads (tests/realnodes)
#   molecule     role scenarios on systemd containers (podman)
#   vm           QEMU VM tier (real kernel)
# After the last tier the host's kernel parameters are compared with those at the start (tests/host_sysctl.py):
# a parameter the tests changed and did not restore fails the run, named.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$PWD/.collections" ANSIBLE_ROLES_PATH="$PWD/roles"
export PYTHONDONTWRITEBYTECODE=1
tiers=("$@")
[ ${#tiers[@]} -eq 0 ] && tiers=(static unit integration realnodes molecule vm)
start_all=$(date +%s)
summary=()
failed=0
sysctl_state=$(mktemp)
# A realnodes cluster this run started is removed even when the run is interrupted (Ctrl-C, SIGTERM): its
# privileged nodes' kubelets would go on changing the machine's kernel parameters. realnodes_pid is the start
# running beside integration, in a session of its own (setsid) so that the whole start, Ansible and podman
# included, stops at once.
realnodes_owned="" realnodes_pid=""
on_exit() {
  if [ -n "$realnodes_owned" ]; then
    echo "realnodes: removing the cluster this interrupted run started"
    # The start is record_run's child, the leader of its own process group (setsid).
    local start_group
    if [ -n "$realnodes_pid" ] && start_group=$(pgrep -P "$realnodes_pid"); then
      kill -TERM -- "-$start_group" 2>/dev/null
      wait "$realnodes_pid" 2>/dev/null
    fi
    python3 tests/realnodes/realnodes.py stop
  fi
  rm -f "$sysctl_state"
}
trap on_exit EXIT
python3 tests/host_sysctl.py save "$sysctl_state"

tier_static() {
  ruff check . && ruff format --check . && ansible-lint --nocolor -q && scripts/sanity.sh &&
    scripts/test-ansible-core-versions.sh &&
    scripts/test-collection-install.sh
}
# Two workers: much of a test's time is an `ansible` process starting or the API server answering, so
# two at once use both cores. Integration workers each start their own local control plane.
tier_unit() { pytest -q -n "${UNIT_WORKERS:-2}" tests/unit; }
tier_integration() {
  local rc=0
  # --durations: where the tier's minutes go, in every run's output.
  pytest -q -n 2 --dist loadfile --durations=15 tests/integration || rc=$?
  # Figures the tests measure (drill recovery times, playbook run times); workers' output is hidden.
  for f in tests/output/playbooks/*.txt; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
  return $rc
}
tier_molecule() { tests/molecule/run.sh; }
# One cluster for the tier, started here and removed at its end. Much of a realnodes test is waiting for
# containers and controllers, so the tests that leave the nodes alone run on two workers (a test file each);
# those that drain or kill nodes (marker disrupts_nodes: a drain evicts other tests' pods too) run after them,
# alone. Workers' output is hidden: the figures the tests measure are shown from their file (conftest.py's
# figure()).
tier_realnodes() {
  local rc=0 cli=(python3 tests/realnodes/realnodes.py)
  rm -f tests/output/realnodes/figures.txt
  realnodes_owned=yes
  if realnodes_started; then
    pytest -q -n 2 --dist loadfile -m "not disrupts_nodes" --durations=0 tests/realnodes || rc=$?
    pytest -q -p no:xdist -m disrupts_nodes --durations=0 tests/realnodes || rc=$?
  else
    rc=1
  fi
  [ -f tests/output/realnodes/figures.txt ] && { echo "--- measured"; cat tests/output/realnodes/figures.txt; }
  "${cli[@]}" stop || rc=$?
  realnodes_owned=""
  return $rc
}
tier_vm() { tests/vmlab/run.sh; }

# Runs a command with its output, exit status and seconds in DIR/NAME.log, DIR/NAME.rc and DIR/NAME.seconds: how
# work run in the background (below) reports back.
record_run() {
  local dir=$1 name=$2 t0
  shift 2
  t0=$(date +%s)
  "$@" >"$dir/$name.log" 2>&1
  echo $? >"$dir/$name.rc"
  echo $(( $(date +%s) - t0 )) >"$dir/$name.seconds"
}

# The realnodes cluster starts beside the integration tier when both are asked for: integration's two workers
# leave about a third of the two cores idle (its tests mostly wait for controllers and playbooks), and the start's
# Ansible uses it. Its log is shown when the realnodes tier's turn comes.
realnodes_beside="" realnodes_note=""
# The cluster's start: the one begun beside integration, else one here.
realnodes_started() {
  if [ -z "$realnodes_beside" ]; then
    python3 tests/realnodes/realnodes.py start >/dev/null
    return
  fi
  wait "$realnodes_pid"
  realnodes_pid=""
  local rc seconds
  rc=$(cat "$realnodes_beside/start.rc") seconds=$(cat "$realnodes_beside/start.seconds")
  echo "realnodes start (beside integration): exit $rc, ${seconds}s"
  realnodes_note="  its start (${seconds}s) beside integration"
  [ "$rc" = 0 ] || tail -n 40 "$realnodes_beside/start.log"
  rm -rf "$realnodes_beside"
  realnodes_beside=""
  [ "$rc" = 0 ]
}

# Tiers that run beside another one (its companions, started with it in the background, one after the other), when
# they are asked for together:
# - static, then unit, beside vm: under TCG the vm tier's time is vm2's alone (docs/testing-vm.md), and once vm1's own
#   work is done, about 4.5 minutes in, one core is idle for the rest of the tier. Static (one process at a time:
#   ruff, ansible-lint, ansible-test's tests one after the other) runs at nice 10 so that it takes little from the
#   VMs while both work, and takes about as long as vm1's work; unit follows with one worker at nice 0 (its tests of
#   the test applications wait 10 to 20 s for processes, which a nice-10 process would not get the CPU for);
# - else unit beside static: static leaves part of the two cores to unit's two workers.
# Other pairs were tried and took longer than their two tiers one after the other (docs/testing.md#time): vm beside
# molecule (the VMs' emulated CPUs take whatever the cores have), integration beside the realnodes tests that kill
# nodes. The realnodes start beside integration (realnodes_started above) is the other one that saved time.
# A companion's output is shown, and its row added to the table, when its host tier has ended.
declare -A companions=()
asked() { [[ " ${tiers[*]} " == *" $1 "* ]]; }
if asked static && asked vm; then
  companions[vm]="static"
  asked unit && companions[vm]+=" unit"
elif asked static && asked unit; then
  companions[static]="unit"
fi
declare -A companion_nice=([static]=10)
runs_beside() { [[ " ${companions[*]} " == *" $1 "* ]]; }
# Runs the host tier's companions one after another in the background; each one's log, exit status and seconds go
# to files in companion_dir.
begin_companions() {
  companion_dir=$(mktemp -d)
  ( for mate in ${companions[$1]}; do
      UNIT_WORKERS=$([ "$1" = vm ] && echo 1 || echo 2) record_run "$companion_dir" "$mate" \
        nice -n "${companion_nice[$mate]:-0}" bash -c "$(declare -f "tier_$mate"); tier_$mate"
    done ) &
  companion_pid=$!
}

for tier in "${tiers[@]}"; do
  runs_beside "$tier" && continue
  t0=$(date +%s)
  echo "=== tier $tier ==="
  [ -n "${companions[$tier]:-}" ] && begin_companions "$tier"
  if [ "$tier" = integration ] && asked realnodes; then
    realnodes_beside=$(mktemp -d) realnodes_owned=yes
    record_run "$realnodes_beside" start setsid python3 tests/realnodes/realnodes.py start &
    realnodes_pid=$!
  fi
  if "tier_$tier"; then status=ok; else status=FAILED; failed=1; fi
  note=""
  [ "$tier" = realnodes ] && note=$realnodes_note
  summary+=("$(printf '%-12s %-7s %4ds%s' "$tier" "$status" $(( $(date +%s) - t0 )) "$note")")
  if [ -n "${companions[$tier]:-}" ]; then
    wait "$companion_pid"
    for mate in ${companions[$tier]}; do
      echo "=== tier $mate (beside $tier) ==="
      cat "$companion_dir/$mate.log"
      if [ "$(cat "$companion_dir/$mate.rc")" = 0 ]; then status=ok; else status=FAILED; failed=1; fi
      summary+=("$(printf '%-12s %-7s %4ds  beside %s' "$mate" "$status" "$(cat "$companion_dir/$mate.seconds")" "$tier")")
    done
    rm -rf "$companion_dir"
  fi
done
echo "=== host state ==="
if python3 tests/host_sysctl.py check "$sysctl_state"; then status=ok; else status=FAILED; failed=1; fi
summary+=("$(printf '%-12s %-7s %4s' host-sysctl "$status" -)")
echo "=== test tiers ==="
printf '%s\n' "${summary[@]}"
echo "total $(( $(date +%s) - start_all ))s"
exit $failed
