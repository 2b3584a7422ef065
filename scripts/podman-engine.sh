#!/usr/bin/env bash
# A container engine for the restore drill's container path on a machine without Docker: Podman serving the
# Docker API, and a local Mongo-compatible image (SecantusDB) since no image registry may be reachable.
#
#   eval "$(scripts/podman-engine.sh up)"   # install, configure, build or reuse the images, start the API service
#   scripts/podman-engine.sh env            # print the variables to export (the service must be up)
#   scripts/podman-engine.sh down           # stop the API service (images are kept for the next `up`)
#
# Idempotent: packages are installed only when missing, each image is rebuilt only when its inputs change (a
# hash of them is the image's org.opschecks.inputs label), and a running service is reused. Progress goes to
# stderr; stdout carries only the `export` lines. On a machine with Docker none of this is needed.
#
# Settings (environment): OPSCHECKS_ENGINE_DIR (state: config, socket, pid, logs; default
# ~/.cache/opschecks/engine), DEBIAN_MIRROR (default: the mirror apt already uses for $SUITE), PIP (the pip
# that downloads the image's wheels on this host; default: the repo's .venv, else python3.11 -m pip).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMAGE_DIR="$ROOT/scripts/mongo-image"
DIR="${OPSCHECKS_ENGINE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/opschecks/engine}"
SUITE=bookworm              # Debian 12: python3 is 3.11, which the wheels and the suite need
BASE_PACKAGES=python3,python3-venv
BASE_IMAGE="localhost/opschecks-debian-python:$SUITE"
MONGO_IMAGE="localhost/opschecks-mongo:secantusdb-$(sed -n 's/^SecantusDB==//p' "$IMAGE_DIR/requirements.txt")"
CONF="$DIR/containers.conf"
SOCK="$DIR/podman.sock"
PIDFILE="$DIR/service.pid"
LABEL=org.opschecks.inputs

log() { echo "podman-engine: $*" >&2; }
die() { log "$*"; exit 1; }

install_packages() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    command -v debootstrap >/dev/null || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
    [[ ${#missing[@]} -eq 0 ]] && return
    [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}"
    log "installing ${missing[*]} (apt)"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

# crun (Podman's default runtime) fails on hybrid cgroups and the sandbox refuses the ulimits Podman sets.
write_conf() {
    mkdir -p "$DIR"
    cat >"$CONF" <<'EOF'
# Written by scripts/podman-engine.sh
[containers]
default_ulimits = []
pids_limit = 0

[engine]
runtime = "runc"
EOF
}

pm() { CONTAINERS_CONF="$CONF" podman "$@"; }

# The label of an image, or nothing when the image does not exist.
image_inputs() { pm image inspect --format "{{ index .Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

# The Debian mirror apt already uses for $SUITE (deb822 .sources stanzas or one-line .list entries).
apt_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk -v suite="$SUITE" '
            /^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
            /^[[:space:]]*$/ { if (hit && uri) { print uri; exit } uri = ""; hit = 0 }
            END { if (hit && uri) print uri }' "$f"
    done
    { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
        awk -v suite="$SUITE" '$1 == "deb" { sub(/\[[^]]*\] /, ""); if ($3 == suite) print $2 }'
}

build_base() {
    local mirror inputs rootfs
    mirror="${DEBIAN_MIRROR:-$(apt_mirror | head -n1)}"
    mirror="${mirror:-http://deb.debian.org/debian}"
    # The mirror is not an input: any mirror serves the same suite.
    inputs="$(echo "debootstrap minbase $SUITE $BASE_PACKAGES" | sha256sum | cut -c1-16)"
    if [[ $(image_inputs "$BASE_IMAGE") == "$inputs" ]]; then
        log "reusing $BASE_IMAGE"
        return
    fi
    rootfs="$(mktemp -d "${TMPDIR:-/tmp}/opschecks-rootfs-XXXXXX")"
    trap 'rm -rf "$rootfs"' RETURN
    log "building $BASE_IMAGE: debootstrap $SUITE from $mirror (about 2 minutes)"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$mirror" >"$DIR/debootstrap.log" 2>&1 ||
        die "debootstrap failed; see $DIR/debootstrap.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | pm import --change "LABEL $LABEL=$inputs" --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >&2
}

build_mongo() {
    local inputs context pip
    inputs="$( (image_inputs "$BASE_IMAGE"; cat "$IMAGE_DIR"/Containerfile "$IMAGE_DIR"/requirements.txt \
        "$IMAGE_DIR"/docker-entrypoint.py) | sha256sum | cut -c1-16)"
    if [[ $(image_inputs "$MONGO_IMAGE") == "$inputs" ]]; then
        log "reusing $MONGO_IMAGE"
        return
    fi
    log "building $MONGO_IMAGE"
    context="$(mktemp -d "${TMPDIR:-/tmp}/opschecks-image-XXXXXX")"
    trap 'rm -rf "$context"' RETURN
    cp "$IMAGE_DIR"/Containerfile "$IMAGE_DIR"/requirements.txt "$IMAGE_DIR"/docker-entrypoint.py "$context/"
    # pip inside the image cannot verify TLS on every machine: download on the host, install offline there.
    if [[ -n ${PIP:-} ]]; then pip=($PIP)
    elif [[ -x $ROOT/.venv/bin/pip ]]; then pip=("$ROOT/.venv/bin/pip")
    else pip=(python3.11 -m pip); fi
    "${pip[@]}" download --quiet --only-binary=:all: --python-version 3.11 --implementation cp \
        --platform "manylinux_2_28_$(uname -m)" --platform "manylinux_2_17_$(uname -m)" \
        --platform "manylinux2014_$(uname -m)" --platform any \
        --dest "$context/wheels" -r "$IMAGE_DIR/requirements.txt" >&2
    pm build --quiet --network=none --from "$BASE_IMAGE" --label "$LABEL=$inputs" -t "$MONGO_IMAGE" "$context" >&2
}

service_up() {
    if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && pm --url "unix://$SOCK" version >/dev/null 2>&1; then
        log "reusing the API service at unix://$SOCK (pid $(cat "$PIDFILE"))"
        return
    fi
    rm -f "$SOCK"
    CONTAINERS_CONF="$CONF" setsid podman system service --time=0 "unix://$SOCK" >"$DIR/service.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 100); do
        pm --url "unix://$SOCK" version >/dev/null 2>&1 && { log "API service up at unix://$SOCK (pid $!)"; return; }
        kill -0 "$!" 2>/dev/null || break
        sleep 0.1
    done
    die "podman system service did not come up; see $DIR/service.log"
}

service_down() {
    if [[ -f $PIDFILE ]]; then
        local pid; pid="$(cat "$PIDFILE")"
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            log "stopped the API service (pid $pid)"
        fi
        rm -f "$PIDFILE" "$SOCK"
    fi
}

print_env() {
    cat <<EOF
export CONTAINERS_CONF=$CONF
export DOCKER_HOST=unix://$SOCK
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_CONNECTION_MODE=docker_host
export OPSCHECKS_MONGO_IMAGE=$MONGO_IMAGE
export OPSCHECKS_PYTHON_BASE_IMAGE=$BASE_IMAGE
EOF
}

case "${1:-}" in
    up)
        install_packages
        write_conf
        build_base
        build_mongo
        service_up
        print_env
        ;;
    env) print_env ;;
    down) service_down ;;
    *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
