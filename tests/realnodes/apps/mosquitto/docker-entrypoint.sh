#!/usr/bin/env bash
# The mosquitto test image's entrypoint: Debian bookworm's own mosquitto broker (the mosquitto package, unpacked
# into a layer of its own by tests/realnodes/images.py), started the way the official eclipse-mosquitto image
# starts it. That image runs its entrypoint as root, which hands /mosquitto to the mosquitto user (uid and gid
# 1883) and runs the command it is given, by default `/usr/sbin/mosquitto -c /mosquitto/config/mosquitto.conf`;
# the broker binds its listeners as root and then drops to that user (its `user` option, default mosquitto).
# Debian's maintainer scripts, which would make the user, never ran here (the packages are only unpacked): the
# user is made in this container's own /etc/passwd, with the official image's uid and gid.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
    getent group mosquitto >/dev/null || groupadd --system --gid 1883 mosquitto
    getent passwd mosquitto >/dev/null ||
        useradd --uid 1883 --gid mosquitto --no-create-home --home-dir /var/empty \
            --shell /usr/sbin/nologin mosquitto
    # A configuration mounted read-only (a ConfigMap) cannot change owner; the broker only reads it.
    chown -R mosquitto:mosquitto /mosquitto 2>/dev/null || true
fi
exec "$@"
