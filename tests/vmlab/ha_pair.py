"""The ha_pair scenario: Pacemaker + Corosync + DRBD on two VMs with a witness, on a lab of its own.

    tests/vmlab/run.sh ha_pair      (not part of the default run: see docs/testing-vm.md)

Three fresh VMs: ha1 and ha2 (the pair, each with an empty 1 GiB virtio disk /dev/vdb for DRBD) and
witness (corosync-qnetd, and the test's client). Checked: bad input fails before any change, naming
the variable; converge and a second run (-vvv) that changes nothing and prints no secret; crm_mon
shows the group on one node with DRBD Connected and UpToDate/UpToDate; then rounds of pulling the
plug on the primary's QEMU while the witness writes numbered MariaDB rows through the VIP and numbered
NFS files, counting every acknowledged row and file on the survivor; the killed node rejoins by
itself (no Ansible) and resyncs, and the group stays put; a network split between the pair nodes
leaves exactly one primary; losing the witness moves nothing.
"""

from __future__ import annotations

import itertools
import re
import statistics
import subprocess
import time
from pathlib import Path

from kine_apiserver import ApiError, KubeOnKine
from lab import PREFIX, SUBNET, VIP, Lab, LabError
from run import CACHE, Pinger, ScenarioFailed, Tier, check

PAIR = ["ha1", "ha2"]
WITNESS = "witness"
DATA_DISK_MIB = 1024
# A pair node runs MariaDB (its 128 MiB buffer pool), the NFS server, Corosync (which locks its memory) and
# Pacemaker's daemons. With 512 MiB, MariaDB answered kine's queries in 1 to 10 s and an ssh session to a pair
# node hung for minutes.
PAIR_MEMORY_MIB = 1024
ROUNDS = 3
# From the group's first member on the survivor to writes acknowledged again: a hang guard, not a goal (the gaps
# are measured). Under emulation the rest of the group took about 60 s to start, and the first rows after it up to
# another minute.
AFTER_FAILOVER_S = 300
KINE_OBJECTS = 20
# Lab-only secrets, made for this lab; the -vvv log of the second converge must not contain them.
SECRETS = {
    "ha_pair_cluster_secret": "vmlab-cluster-secret-7f3a",
    "ha_pair_drbd_secret": "vmlab-drbd-secret-91c2",
    "ha_pair_database_password": "vmlab-db-password-4e8b",
}
MOUNT_POINT = "/srv/ha"
NFS_MOUNT = "/mnt/ha"
ACKED_ROWS = "/root/rows.acked"
ACKED_FILES = "/root/files.acked"
# The client on the witness: one numbered row per INSERT through the VIP, one numbered file per fsync'd
# write on the NFS mount (hard: it blocks through the failover); each number is logged only once the
# server acknowledged it, with the witness's clock.
WRITER = f"""#!/bin/bash
rows() {{
  i=$1
  while [ ! -e /root/stop-writers ]; do
    if mariadb -h {VIP} -u k3s -p"$DB_PASSWORD" --connect-timeout=2 kine \\
         -e "INSERT INTO acked (id) VALUES ($i)" 2>/dev/null; then
      echo "$i $(date +%s.%N)" >> {ACKED_ROWS}
    fi
    i=$((i + 1))
  done
}}
files() {{
  i=$1
  while [ ! -e /root/stop-writers ]; do
    if printf '%s\\n' "$i" | dd of={NFS_MOUNT}/f$i conv=fsync status=none 2>/dev/null; then
      echo "$i $(date +%s.%N)" >> {ACKED_FILES}
    fi
    i=$((i + 1))
  done
}}
rm -f /root/stop-writers
rows "$1" & files "$1" &
wait
"""


def ha_lab(run_dir, image, mirror) -> Lab:
    return Lab(
        run_dir / "ha_pair",
        image,
        mirror,
        [*PAIR, WITNESS],
        data_disk_mib=dict.fromkeys(PAIR, DATA_DISK_MIB),
        memory_mib=dict.fromkeys(PAIR, PAIR_MEMORY_MIB),
    )


GROUPS = {"ha_pair": PAIR, "ha_pair_witness": [WITNESS]}
INVENTORY_VARS = {
    "ha_pair_drbd_disk": "/dev/vdb",
    "ha_pair_vip": VIP,
    "ha_pair_nfs_clients": f"{SUBNET}.0/{PREFIX}",
    **SECRETS,
}


def primary(tier: Tier, nodes: list[str]) -> list[str]:
    """The nodes whose DRBD is Primary, read on each (unreachable ones are not primaries we can see)."""
    found = []
    for vm in nodes:
        proc = tier.lab.ssh(vm, "drbdadm role rk_ha", timeout=30, check=False)
        if proc.returncode == 0 and proc.stdout.startswith("Primary"):
            found.append(vm)
    return found


def group_node(tier: Tier, asked: str) -> str:
    out = tier.sh(asked, "crm_resource --locate --resource rk-ha-group", timeout=60)
    for vm in PAIR:
        if f"running on: {vm}" in out:
            return vm
    return ""


def wait_for(what: str, probe, timeout: float, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except (ScenarioFailed, OSError) as exc:  # a node still booting answers with an error
            value, last = None, exc
        else:
            last = value
        if value:
            return value
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"{what}: not after {timeout:.0f}s (last: {last})")
        time.sleep(interval)


def drbd_state(tier: Tier, vm: str) -> str:
    return tier.sh(vm, "drbdadm cstate rk_ha; drbdadm dstate rk_ha", timeout=30).split()


def in_sync(tier: Tier, vm: str) -> bool:
    return drbd_state(tier, vm) == ["Connected", "UpToDate/UpToDate"]


def numbers(text: str) -> list[int]:
    return [int(line.split()[0]) for line in text.splitlines() if line.strip()]


def acked_gap(text: str) -> float:
    """Longest interval between consecutive acknowledgements (the witness's clock)."""
    stamps = [float(line.split()[1]) for line in text.splitlines() if line.strip()]
    return max((b - a for a, b in itertools.pairwise(stamps)), default=float("inf"))


def kill_round(tier: Tier, round_no: int, first_number: int) -> dict:
    """Pull the plug on the primary while the witness writes; count what it was told is stored."""
    lab = tier.lab
    victim = group_node(tier, PAIR[0] if lab.running(PAIR[0]) else PAIR[1])
    check(victim in PAIR, f"round {round_no}: the group runs on no node")
    survivor = next(vm for vm in PAIR if vm != victim)
    tier.sh(
        WITNESS,
        f"rm -f {ACKED_ROWS} {ACKED_FILES}; setsid /root/writer {first_number} >/dev/null 2>&1 < /dev/null &",
    )
    wait_for(
        "the writer's first rows and files",
        lambda: (
            tier.sh(WITNESS, f"cat {ACKED_ROWS} {ACKED_FILES} 2>/dev/null | wc -l").strip()
            not in ("", "0", "1")
        ),
        60,
    )
    time.sleep(5)
    pinger = Pinger(lab, VIP)
    pinger.wait_for_reply()  # else the silence after the kill has no start and goes unmeasured
    killed_at = time.monotonic()
    lab.kill(victim)
    wait_for(f"group on {survivor}", lambda: group_node(tier, survivor) == survivor, 180)
    since_kill = time.monotonic() - killed_at
    # A few acknowledgements after the failover, then stop the writers.
    seen = int(tier.sh(WITNESS, f"wc -l < {ACKED_ROWS}").strip())
    wait_for(
        "rows acknowledged after the failover",
        lambda: int(tier.sh(WITNESS, f"wc -l < {ACKED_ROWS}").strip()) > seen + 5,
        AFTER_FAILOVER_S,
    )
    seen_files = int(tier.sh(WITNESS, f"wc -l < {ACKED_FILES}").strip())
    wait_for(
        "files acknowledged after the failover",
        lambda: int(tier.sh(WITNESS, f"wc -l < {ACKED_FILES}").strip()) > seen_files + 5,
        AFTER_FAILOVER_S,
    )
    # [/]: the pattern must not match this very command line, whose shell pkill would kill (ssh then exits 255).
    tier.sh(WITNESS, "touch /root/stop-writers; sleep 3; pkill -f '[/]root/writer' || true")
    ping_gap, _pings = pinger.stop()
    rows_log, files_log = tier.sh(WITNESS, f"cat {ACKED_ROWS}"), tier.sh(WITNESS, f"cat {ACKED_FILES}")
    acked_rows, acked_files = numbers(rows_log), numbers(files_log)
    stored_rows = set(
        numbers(tier.sh(survivor, "mariadb --batch --skip-column-names kine -e 'SELECT id FROM acked'"))
    )
    stored_files = {
        int(name[1:]): content
        for name, content in (
            line.split(":", 1)
            for line in tier.sh(survivor, f"cd {MOUNT_POINT}/volumes && grep -H . f* || true").splitlines()
        )
    }
    lost_rows = [n for n in acked_rows if n not in stored_rows]
    lost_files = [n for n in acked_files if stored_files.get(n) != str(n)]
    result = {
        "victim": victim,
        "rows_acked": len(acked_rows),
        "rows_lost": len(lost_rows),
        "files_acked": len(acked_files),
        "files_lost": len(lost_files),
        "db_write_gap_s": round(acked_gap(rows_log), 2),
        "nfs_write_gap_s": round(acked_gap(files_log), 2),
        "vip_ping_gap_s": round(ping_gap, 2),
        "group_moved_s": round(since_kill, 1),
    }
    print(f"[vmlab] ha_pair round {round_no}: {result}", flush=True)
    check(
        not lost_rows,
        f"round {round_no}: {len(lost_rows)} acknowledged rows missing on {survivor}: {lost_rows[:20]}",
    )
    check(
        not lost_files,
        f"round {round_no}: {len(lost_files)} acknowledged files missing on {survivor}: {lost_files[:20]}",
    )
    # The killed node comes back by itself: boot, Corosync and Pacemaker at boot, DRBD resync.
    booted_at = time.monotonic()
    lab.boot(victim)
    lab.wait_ssh([victim])
    wait_for(f"{victim} back in sync", lambda: in_sync(tier, survivor), 600)
    result["rejoin_and_resync_s"] = round(time.monotonic() - booted_at, 1)
    # Booted again, the standby must leave the database port free for the agent's server (a socket unit of the
    # package held it once, and the failover back to this node failed).
    listening = tier.sh(victim, "ss -Hltn 'sport = :3306'", timeout=60).strip()
    check(
        not listening,
        f"round {round_no}: {victim}, booted again as the standby, listens on 3306: {listening}",
    )
    check(
        group_node(tier, survivor) == survivor,
        f"round {round_no}: the group moved back to {victim} (stay policy)",
    )
    return result


def split_pair(tier: Tier) -> str:
    """Cut the link between the pair nodes (the witness still sees both): exactly one primary at every sample."""
    ha1, ha2 = (tier.lab.vms[vm].ip for vm in PAIR)
    rules = {
        "ha1": ha2,
        "ha2": ha1,
    }
    for vm, peer in rules.items():
        tier.sh(
            vm,
            "nft add table inet rksplit && nft add chain inet rksplit in '{ type filter hook input priority -10; }'"
            f" && nft add chain inet rksplit out '{{ type filter hook output priority -10; }}'"
            f" && nft add rule inet rksplit in ip saddr {peer} drop && nft add rule inet rksplit out ip daddr {peer} drop",
        )
    samples, doubles = 0, []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        primaries = primary(tier, PAIR)
        samples += 1
        if len(primaries) > 1:
            doubles.append(time.monotonic())
        time.sleep(1)
    holders = [vm for vm in PAIR if group_node(tier, vm) == vm]
    for vm in PAIR:
        tier.sh(vm, "nft delete table inet rksplit")
    check(not doubles, f"split: both nodes were DRBD Primary at {len(doubles)} of {samples} samples")
    check(
        len(holders) == 1, f"split: the group runs on {holders or 'no node'} after 90 s, expected exactly one"
    )
    wait_for("the pair back in sync after the split", lambda: in_sync(tier, PAIR[0]), 600)
    return f"split: one primary ({holders[0]}) at all {samples} samples"


def refuses_a_missing_disk(tier: Tier) -> None:
    """On the fresh VMs: a disk that does not exist fails every host before any change, naming the variable."""
    bad = tier.playbook("ha_pair", {"ha_pair_drbd_disk": "/dev/vdz"}, expect_failure=True)
    check(
        "ha_pair_drbd_disk of ha1 is /dev/vdz, which does not exist there" in bad.log.read_text(),
        f"the missing device is not named (see {bad.log})",
    )
    check(not any(bad.recap[h].get("changed") for h in bad.recap), f"the refused run changed {bad.recap}")


def converged_status(tier: Tier) -> str:
    """Converge twice (the second -vvv, unchanged, no secret in it); the group on one node, DRBD in sync."""
    tier.converge("ha_pair", verbose_second=True)
    verbose_log = max(tier.lab.log_dir.glob("*-ha_pair.log")).read_text()
    leaked = [name for name, value in SECRETS.items() if value in verbose_log]
    check(not leaked, f"the -vvv converge printed {leaked}")
    status = tier.sh(PAIR[0], "crm_mon --one-shot --inactive", timeout=60)
    holder = group_node(tier, PAIR[0])
    check(holder in PAIR, f"crm_mon shows the group on no node:\n{status}")
    for name in ("rk-fs", "rk-mariadb", "rk-nfs", "rk-export", "rk-vip"):
        check(
            re.search(rf"{name}\s+\(.*\):\s+Started {holder}\b", status) is not None,
            f"crm_mon does not show {name} started on {holder}:\n{status}",
        )
    check(f"Promoted: [ {holder} ]" in status, f"crm_mon does not show DRBD promoted on {holder}:\n{status}")
    check(in_sync(tier, PAIR[0]), f"DRBD is not Connected UpToDate/UpToDate: {drbd_state(tier, PAIR[0])}")
    return holder


def prepare_client(tier: Tier, holder: str) -> None:
    """The witness as the client: the test's table, the NFS mount through the VIP, the writer script."""
    tier.sh(holder, "mariadb kine -e 'CREATE TABLE IF NOT EXISTS acked (id INT PRIMARY KEY) ENGINE=InnoDB'")
    tier.sh(
        WITNESS,
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-client nfs-common >/dev/null",
        timeout=900,
    )
    tier.sh(
        WITNESS,
        f"mkdir -p {NFS_MOUNT} && (mountpoint -q {NFS_MOUNT}"
        f" || mount -t nfs4 -o hard,timeo=20 {VIP}:{MOUNT_POINT}/volumes {NFS_MOUNT})",
    )
    tier.sh(
        WITNESS,
        f"cat > /root/writer <<'EOF'\n{WRITER}EOF\nchmod 755 /root/writer"
        f" && sed -i '2i export DB_PASSWORD={SECRETS['ha_pair_database_password']}' /root/writer",
    )


def started_kine(tier: Tier) -> tuple[KubeOnKine | None, str]:
    """kine and the pinned kube-apiserver on MariaDB through the VIP, or None and why they did not start."""
    kube = KubeOnKine(
        tier.lab, CACHE.parent, f"mysql://k3s:{SECRETS['ha_pair_database_password']}@tcp({VIP}:3306)/kine"
    )
    try:
        kube.start()
    except ApiError as exc:
        kube.stop()  # kine would go on querying the pair through the kill rounds
        return None, str(exc)
    return kube, ""


def kine_across_failover(tier: Tier, kube: KubeOnKine) -> dict:
    """Objects made through the API server on kine before a primary kill are all served after the failover.
    Returns that kill round's figures."""
    created = kube.create_config_maps("before-kill", KINE_OBJECTS)
    result = kill_round(tier, 1, 1)
    served = wait_for("the API server serving through kine after the failover", kube.config_map_names, 180)
    missing = sorted(set(created) - served)
    check(
        not missing,
        f"kine: {len(missing)} of {len(created)} ConfigMaps missing after the failover: {missing[:10]}",
    )
    kube.create_config_maps("after-failover", 1)
    return result


# What the pair's engines say, saved when a step fails: the VMs and their logs are gone after the run.
DIAGNOSIS = (
    "crm_mon --one-shot --inactive --show-detail",
    "systemctl list-jobs --no-pager",  # a start that hangs
    "cat /proc/drbd; drbdadm status",
    "corosync-quorumtool -s",
    "corosync-qdevice-tool -sv",
    "pcs constraint --full || crm configure show",
    "crm_simulate --live-check --show-scores | tail -n 60",
    "journalctl --no-pager -b -u corosync -u corosync-qdevice -u pacemaker -u drbd --since -15min | tail -n 400",
    "grep -v ' debug ' /var/log/pacemaker/pacemaker.log | tail -n 400",
    # What the database server said (mysqld_safe sends it to the journal) and who holds its port.
    "journalctl --no-pager -b -t mysqld -t mariadbd -t mysqld_safe -t mariadbd-safe | tail -n 80",
    "ss -Hltnp 'sport = :3306'; systemctl --no-pager status mariadb.socket mariadb.service | head -n 30",
    "uptime; mariadb --batch -e 'SHOW FULL PROCESSLIST' | head -n 40",
    f"tail -n 5 {ACKED_ROWS} {ACKED_FILES}",
)


def save_diagnosis(tier: Tier, why: str) -> Path:
    """DIAGNOSIS from every VM still running, into the run's log directory; returns the file."""
    path = tier.lab.log_dir / f"ha_pair-diagnosis-{time.strftime('%H%M%S')}.txt"
    with path.open("w") as out:
        out.write(f"{why}\n")
        for vm in [*PAIR, WITNESS]:
            if not tier.lab.running(vm):
                out.write(f"===== {vm}: not running\n")
                continue
            for command in DIAGNOSIS if vm in PAIR else ("corosync-qnetd-tool -lv",):
                try:
                    done = tier.lab.ssh(vm, command, check=False, timeout=60)
                    text = done.stdout + done.stderr
                except subprocess.TimeoutExpired:
                    text = "(no answer in 60 s)"
                out.write(f"===== {vm}: {command}\n{text}\n")
    return path


def witness_loss(tier: Tier) -> None:
    """The witness lost alone: both nodes keep quorum (two votes of three), nothing moves."""
    before = group_node(tier, PAIR[0])
    tier.lab.kill(WITNESS)
    time.sleep(30)
    after = group_node(tier, PAIR[0])
    check(after == before, f"witness lost: the group moved from {before} to {after}")
    quorate = tier.sh(PAIR[0], "corosync-quorumtool -s", timeout=30)
    check("Quorate:          Yes" in quorate, f"witness lost: the pair lost quorum:\n{quorate}")


def scenario_ha_pair(tier: Tier) -> str:
    refuses_a_missing_disk(tier)
    try:
        return proven_pair(tier)
    # A timeout too: a converge that hangs (a unit that never starts) is where the diagnosis shows why.
    except (ScenarioFailed, LabError, ApiError, subprocess.TimeoutExpired) as failed:
        raise ScenarioFailed(f"{failed} (diagnosis: {save_diagnosis(tier, str(failed))})") from None


def proven_pair(tier: Tier) -> str:
    prepare_client(tier, converged_status(tier))
    # An API server on kine that does not start fails the scenario at its end: the pair's own promises below
    # do not depend on it, and are still proven.
    kube, kine_problem = started_kine(tier)
    rounds = [kine_across_failover(tier, kube) if kube else kill_round(tier, 1, 1)]
    if kube:
        # Its proof is done. Kept on, its API server reconnected beside the writer after a later failover, the new
        # primary's one emulated CPU ran at a load of 4, and no row was acknowledged for over two minutes.
        kube.stop()
    rounds += [kill_round(tier, n + 1, 1 + n * 1_000_000) for n in range(1, ROUNDS)]
    tier.figures["ha_pair_rounds"] = rounds
    db_gaps = [r["db_write_gap_s"] for r in rounds]
    split = split_pair(tier)
    witness_loss(tier)
    summary = (
        f"{ROUNDS} primary kills, no acknowledged row or file lost "
        f"({sum(r['rows_acked'] for r in rounds)} rows, {sum(r['files_acked'] for r in rounds)} files); "
        f"MariaDB write gap median {statistics.median(db_gaps):.1f}s max {max(db_gaps):.1f}s; "
        f"rejoin+resync max {max(r['rejoin_and_resync_s'] for r in rounds):.0f}s; {split}; witness loss moved nothing"
    )
    print(f"[vmlab] ha_pair: {summary}", flush=True)
    check(not kine_problem, f"kine: the API server on MariaDB through the VIP did not start: {kine_problem}")
    return f"{summary}; kube-apiserver on kine served all {KINE_OBJECTS} ConfigMaps after the failover"
