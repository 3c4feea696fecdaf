#!/usr/bin/env bash
# The midPoint-like cluster's member (NOT Evolveum midPoint): the two commands of midPoint's image the
# midpoint_cluster example uses, for the variables it sets.
#   midpoint.sh init-native   the example's mp-config-init: writes the member's home (config.xml and its
#                             directories) into MP_INIT_CFG and creates the repository schema in the database
#                             the MP_SET_midpoint_repository_* variables name (password from the *_FILE)
#   midpoint.sh container     the image's entrypoint: refuses to start unless its home (/opt/midpoint/var) was
#                             initialised and the schema is in the repository, then runs the member's JVM
#                             (MidpointLike.java: keystore, node id, HTTP on 8080)
set -euo pipefail
MIDPOINT_HOME=/opt/midpoint/var
SCHEMA_VERSION=4.4
REPOSITORY_WAIT_SECONDS=120

say() { echo "midpoint.sh $command: $*"; }
refuse() {
    echo "midpoint.sh $command: refusing to start: $*" >&2
    exit 1
}

# psql against the repository with the password from its file (a private pgpass file: never an environment
# variable or an argument, so in no process listing); SQL on stdin.
repository_sql() {
    local url=${MP_SET_midpoint_repository_jdbcUrl:-} user=${MP_SET_midpoint_repository_jdbcUsername:-}
    local password_file=${MP_SET_midpoint_repository_jdbcPassword_FILE:-}
    [[ $url =~ ^jdbc:postgresql://([^:/]+)(:([0-9]+))?/([^?]+) ]] ||
        refuse "MP_SET_midpoint_repository_jdbcUrl '$url' is not jdbc:postgresql://HOST[:PORT]/DATABASE"
    [ -n "$user" ] || refuse "MP_SET_midpoint_repository_jdbcUsername is not set"
    [ -r "$password_file" ] || refuse "MP_SET_midpoint_repository_jdbcPassword_FILE '$password_file' is not readable"
    local host=${BASH_REMATCH[1]} port=${BASH_REMATCH[3]:-5432} database=${BASH_REMATCH[4]}
    local pgpass
    pgpass=$(mktemp)
    printf '%s:%s:%s:%s:%s\n' "$host" "$port" "$database" "$user" "$(head -n 1 "$password_file")" >"$pgpass"
    local status=0
    PGPASSFILE=$pgpass PGCONNECT_TIMEOUT=5 psql --no-psqlrc -v ON_ERROR_STOP=1 -qtA \
        -h "$host" -p "$port" -U "$user" -d "$database" -w || status=$?
    rm -f "$pgpass"
    return $status
}

# The repository may still be starting (its pod is deployed beside the members): wait for it.
wait_for_repository() {
    local deadline=$((SECONDS + REPOSITORY_WAIT_SECONDS)) problem
    until problem=$(echo "SELECT 1" | repository_sql 2>&1 >/dev/null); do
        [ $SECONDS -lt $deadline ] || refuse "the repository did not answer in ${REPOSITORY_WAIT_SECONDS} s: $problem"
        sleep 2
    done
}

init_native() {
    local home=${MP_INIT_CFG:-}
    [ -n "$home" ] || refuse "MP_INIT_CFG is not set"
    mkdir -p "$home"/{log,lib,icf-connectors,schema,post-initial-objects}
    cat >"$home/config.xml" <<XML
<?xml version="1.0"?>
<!-- written by midpoint.sh init-native (midPoint-like test application) -->
<configuration>
  <midpoint>
    <repository>
      <database>${MP_SET_midpoint_repository_database:-postgresql}</database>
      <jdbcUrl>${MP_SET_midpoint_repository_jdbcUrl:-}</jdbcUrl>
    </repository>
  </midpoint>
</configuration>
XML
    say "home $home initialised"
    if [ -z "${MP_SET_midpoint_repository_jdbcUrl:-}" ]; then
        say "no repository variables: schema left as it is"
        return
    fi
    wait_for_repository
    # Members' init containers may run at once: one at a time creates the schema, the others find it.
    repository_sql >/dev/null <<SQL
SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(4404);
CREATE TABLE IF NOT EXISTS m_global_metadata (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO m_global_metadata VALUES ('schemaVersion', '$SCHEMA_VERSION') ON CONFLICT (name) DO NOTHING;
COMMIT;
SQL
    say "repository schema $SCHEMA_VERSION present"
}

container() {
    [ -s "$MIDPOINT_HOME/config.xml" ] || refuse "$MIDPOINT_HOME/config.xml is missing: the home was not initialised (midpoint.sh init-native)"
    wait_for_repository
    local version
    version=$(echo "SELECT value FROM m_global_metadata WHERE name = 'schemaVersion'" | repository_sql 2>&1) ||
        refuse "no repository schema (run midpoint.sh init-native against it): $version"
    [ "$version" = "$SCHEMA_VERSION" ] || refuse "repository schema version '$version', $SCHEMA_VERSION expected"
    say "home $MIDPOINT_HOME initialised, repository schema $version found"
    # A small heap and the serial collector: three members and the database share a 2-core machine.
    exec java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 /opt/midpoint/lib/MidpointLike.java
}

command=${1:-}
case "$command" in
    init-native) init_native ;;
    container) container ;;
    *)
        echo "usage: midpoint.sh init-native|container" >&2
        exit 2
        ;;
esac
