"""MariaDB primary/replica operations for the redundant.kube datastore role and keepalived.

Installed as /usr/local/sbin/rk-datastore (a wrapper that runs this file with the node's Python):

    rk-datastore state              JSON: writable, replicating_from, has_data, replica threads and error
    rk-datastore promote            keepalived notify_master: make this server the writable primary
    rk-datastore demote             keepalived notify_backup/notify_fault: make this server read-only
    rk-datastore primary            role: make this server writable (the role decided it is the primary)
    rk-datastore replica ADDRESS    role: replicate from ADDRESS (start it, or re-point it there)
    rk-datastore rejoin ADDRESS     role: replicate from ADDRESS starting at this server's own GTID position;
                                    fails, undoing it, when ADDRESS never had this server's last transactions
    rk-datastore clone ADDRESS      role: replace local data with a copy of ADDRESS, then replicate from it

Local statements run as root over the unix socket; replication credentials come from
/etc/mysql/rk-replication.cnf (root only). Prints what it changed, one line each; nothing when nothing
changed (the role's changed_when relies on that).
"""

import json
import os
import subprocess
import sys
import syslog
import time

CREDENTIALS = "/etc/mysql/rk-replication.cnf"
PEER_FILE = "/etc/mysql/rk-peers"
ADDRESS_FILE = "/etc/mysql/rk-address"
VIP_FILE = "/etc/mysql/rk-vip"
# ER_MASTER_FATAL_ERROR_READING_BINLOG: with gtid_strict_mode, the primary lacks the GTID we resume from.
DIVERGED = "1236"
APPLY_WAIT_SECONDS = 30


def sql(statement, host=None):
    """Run statements, return rows as lists of strings (tab-separated batch output)."""
    cmd = ["mariadb", "--batch", "--skip-column-names"]
    if host:
        cmd[1:1] = [f"--defaults-extra-file={CREDENTIALS}"]
        cmd += ["--host", host, "--connect-timeout", "3"]
    out = subprocess.run(cmd, input=statement, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"mariadb{' on ' + host if host else ''}: {out.stderr.strip()}")
    return [line.split("\t") for line in out.stdout.splitlines()]


def replica_status(host=None):
    """SHOW SLAVE STATUS as a dict (empty when this server replicates from nobody)."""
    cmd = ["mariadb", "--vertical", "--execute", "SHOW SLAVE STATUS"]
    if host:
        cmd[1:1] = [f"--defaults-extra-file={CREDENTIALS}"]
        cmd += ["--host", host, "--connect-timeout", "3"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    status = {}
    for line in out.splitlines():
        key, sep, value = line.strip().partition(": ")
        if sep:
            status[key] = value
    return status


def state():
    [[read_only, gtid]] = sql("SELECT @@global.read_only, @@global.gtid_current_pos")
    status = replica_status()
    vip = read_file(VIP_FILE)
    addresses = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False
    ).stdout
    return {
        "holds_vip": bool(vip) and f" {vip}/" in addresses,
        "writable": read_only == "0",
        "replicating_from": status.get("Master_Host") or None,
        "has_data": bool(gtid),
        "gtid_current_pos": gtid,
        "io_running": status.get("Slave_IO_Running"),
        "sql_running": status.get("Slave_SQL_Running"),
        "last_error": status.get("Last_IO_Error") or status.get("Last_SQL_Error") or "",
    }


def log(message):
    syslog.syslog(syslog.LOG_NOTICE, f"rk-datastore: {message}")
    print(message)


def wait_for_relay_log(timeout=APPLY_WAIT_SECONDS):
    """Let the replica apply what it already received before it stops replicating (async: whatever
    the old primary committed but never sent is lost, and that is what this role documents)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = replica_status()
        if status.get("Slave_SQL_Running") != "Yes" or "has read all relay log" in status.get(
            "Slave_SQL_Running_State", ""
        ):
            return
        time.sleep(0.2)


def make_writable():
    if state()["writable"]:
        return
    sql("SET GLOBAL read_only = OFF")
    log("read_only is now OFF (this server is the primary)")


def promote():
    current = state()
    if current["replicating_from"]:
        wait_for_relay_log()
        sql("STOP SLAVE; RESET SLAVE ALL")
        log(f"stopped replicating from {current['replicating_from']} at {state()['gtid_current_pos']}")
        make_writable()
    elif current["writable"]:
        return
    elif peer_follows_me():
        make_writable()
    else:
        # A read-only server that replicates from nobody may be a primary that was failed over while it
        # was away: only its peer can say it is current. Without that answer it stays read-only.
        log(
            "refusing to become writable: replicating from nobody and no peer replicates from this server; run the datastore role"
        )


def read_file(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return ""


def peer_follows_me():
    me = read_file(ADDRESS_FILE)
    for peer in read_file(PEER_FILE).split():
        try:
            if replica_status(peer).get("Master_Host") == me:
                return True
        except (subprocess.CalledProcessError, OSError):
            continue
    return False


def demote():
    try:
        if state()["writable"]:
            sql("SET GLOBAL read_only = ON")
            log("read_only is now ON (this server is not the primary)")
    except RuntimeError as err:  # a stopped server is read-only enough
        log(f"demote: {err}")


def replicate_from(address, position="slave_pos"):
    current = state()
    if current["replicating_from"] == address:
        if current["io_running"] != "Yes" or current["sql_running"] != "Yes":
            sql("START SLAVE")
            log(f"restarted replication from {address}")
        return
    if current["replicating_from"]:
        sql("STOP SLAVE")
    sql(
        f"CHANGE MASTER TO MASTER_HOST={quote(address)}, MASTER_PORT=3306, MASTER_USE_GTID={position}, "
        f"MASTER_USER={quote(credential('user'))}, MASTER_PASSWORD={quote(credential('password'))}, "
        "MASTER_CONNECT_RETRY=5; START SLAVE"
    )
    log(f"replicating from {address}")


def rejoin(address):
    """A server with data of its own resumes from its own position (gtid_current_pos). In strict mode
    the primary refuses when it never had this server's last transactions: the server then holds writes
    lost in a failover, and only a rebuild (clone) may discard them."""
    replicate_from(address, position="current_pos")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = replica_status()
        if status.get("Last_IO_Errno") == DIVERGED:
            sql("STOP SLAVE; RESET SLAVE ALL")
            raise RuntimeError(
                f"{address} does not have this server's transactions up to {state()['gtid_current_pos']} "
                f"({status.get('Last_IO_Error')}): list this host in datastore_rebuild_replicas to replace its data with a copy"
            )
        if status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes":
            return
        time.sleep(0.5)
    raise RuntimeError(
        f"replication from {address} did not start within 30 s: {replica_status().get('Last_IO_Error', '')}"
    )


def clone(address):
    """Replace the local application data with a consistent dump of ADDRESS and replicate from there.
    Local binary logs are reset first: with gtid_strict_mode a stale server's own GTIDs would refuse
    the primary's."""
    sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = ON; RESET MASTER")
    databases = os.environ["RK_DATASTORE_DATABASES"].split()
    dump = subprocess.run(
        [
            "mariadb-dump",
            f"--defaults-extra-file={CREDENTIALS}",
            "--host",
            address,
            "--single-transaction",
            "--gtid",
            "--master-data=1",
            "--add-drop-database",
            "--routines",
            "--triggers",
            "--databases",
            *databases,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if dump.returncode != 0:
        raise RuntimeError(f"mariadb-dump from {address}: {dump.stderr.strip()}")
    # Not binlogged: the copy must not become local transactions that collide with the primary's GTIDs.
    sql("SET SESSION sql_log_bin = 0;\n" + dump.stdout)
    log(
        f"cloned {', '.join(databases)} from {address} at gtid_slave_pos {sql('SELECT @@global.gtid_slave_pos')[0][0]}"
    )
    replicate_from(address)


def quote(value):
    """A SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def credential(key):
    for line in read_file(CREDENTIALS).splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name.strip() == key:
            return value.strip()
    raise RuntimeError(f"{CREDENTIALS} has no {key}")


def main(argv):
    command, args = argv[1], argv[2:]
    try:
        if command == "state":
            print(json.dumps(state()))
        elif command == "promote":
            promote()
        elif command == "demote":
            demote()
        elif command == "primary":
            if state()["replicating_from"]:
                sql("STOP SLAVE; RESET SLAVE ALL")
                log("no longer a replica")
            make_writable()
        elif command == "replica":
            demote()
            replicate_from(args[0])
        elif command == "rejoin":
            demote()
            rejoin(args[0])
        elif command == "clone":
            clone(args[0])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except RuntimeError as err:
        log(f"{command} failed: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
