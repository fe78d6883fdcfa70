#!/usr/bin/env bash
# Docker images for the tests of the deploy commands (`oe install/pull/start`), built here from
# Debian packages (no public registry is reachable from the test machines) and served by a
# real registry on loopback:
#
#   contrib/test-images.sh           # build what is missing, start the registry, push, then
#                                    # print KEY=VALUE lines (last on stdout) for `eval`:
#                                    # OE_TEST_REGISTRY, OE_TEST_IMAGE_{ODOO,POSTGRES,NGINX}
#   contrib/test-images.sh --check   # the same, then prove the images work end to end:
#                                    # pull them back from the registry, run postgres, create a
#                                    # database with odoo (-i base), serve it, and ask
#                                    # /web/health through nginx; removes what it started
#   contrib/test-images.sh --stop    # stop the registry (its storage stays)
#
# Images (local tags; the registry holds the same as 127.0.0.1:PORT/<name>):
#   oe-test/base:h-HASH      Debian bookworm minbase made by mmdebstrap, with python3, the
#                            python3-* packages of the Odoo tree's debian/control Depends,
#                            postgresql-client and ca-certificates; `docker import`ed
#   oe-test/odoo:18.0        the Odoo tree at /opt/odoo, laid out like the official odoo image
#                            (/usr/bin/odoo, /entrypoint.sh with HOST/PORT/USER/PASSWORD,
#                            ODOO_RC=/etc/odoo/odoo.conf, user odoo, volumes /var/lib/odoo and
#                            /mnt/extra-addons, ports 8069 8071 8072)
#   oe-test/postgres:15      Debian's postgresql-15 with the official postgres image's entrypoint
#                            conventions (POSTGRES_USER/PASSWORD/DB, PGDATA, initdb on the first
#                            start, /docker-entrypoint-initdb.d, listens on * with scram auth)
#   oe-test/nginx:latest     Debian's nginx in the foreground, reading /etc/nginx/conf.d/*.conf
# Each also carries the tag h-HASH, HASH being a sha256 over its inputs: the text of its recipe
# function below (Dockerfile and files), its parent's hash, and for the base the package list,
# for odoo the sha256 of the source tarball (or of the source tree's files). An image whose
# hash tag exists is not rebuilt. What the hash does not see: the Debian mirror's state at build
# time (packages come from deb.debian.org, bookworm + updates + security).
#
# How: the base is mmdebstrap | docker import (the only way to get an image without pulling
# one); the three images are `docker build --pull=false` from a Dockerfile whose FROM is that
# base, rather than docker import + commit: a Dockerfile says ENTRYPOINT/USER/VOLUME/EXPOSE in
# the usual words, makes each step a layer the registry stores once (the base layer is shared
# by the three images), and is what people reading an official image's source expect. The
# Debian packages of postgres and nginx are installed by RUN apt-get inside the build (the
# build container reaches the mirror through docker's default bridge here).
#
# Environment: OE_TEST_ODOO_SRC (a directory or a .tar.zst of an Odoo 18.0 tree; default
# ../shared/odoo/odoo-18.0-min.tar.zst relative to the repository), OE_TEST_IMAGES_STATE (the
# registry's config, storage, pid and log, and build scratch; default /var/tmp/oe-test-images),
# OE_TEST_REGISTRY_PORT (5000). Needs root (or sudo for apt) for the packages it installs when
# missing: mmdebstrap, docker-registry (whose service it never starts), curl, zstd.
#
# Measured on the 2-core test machine (docker 20.10, storage driver fuse-overlayfs):
#   cold build (nothing in docker, empty registry): 7 min 36 s (mmdebstrap + import 2 min 20 s,
#     odoo 2 min, postgres 1 min 25 s, nginx 50 s, pushes 1 min), beside someone's cargo build on
#     the same 2 cores; every Dockerfile step costs ~5-8 s here, ENV and EXPOSE included (the
#     classic builder creates and commits a container per step, on fuse-overlayfs), hence the
#     few, merged steps. The first version, with 15 steps for odoo, took 9 min 43 s.
#   warm rerun (everything built and pushed):        2.9-3.7 s (the odoo tarball's sha256 and
#     listing its debian/control are most of it)
#   --check after a warm run:                        31-46 s (postgres initdb 4-5 s, odoo
#     -i base 22-32 s, serving until /web/health answers 200 through nginx 4-7 s)
#   a changed odoo recipe: odoo rebuilt and pushed in 2 min 34 s, the rest reused
#
# For a test harness: eval "$(contrib/test-images.sh)" (progress goes to stderr).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=cluster.sh source-path=SCRIPTDIR
source "$repo/contrib/cluster.sh"
self="$repo/contrib/test-images.sh"
state=${OE_TEST_IMAGES_STATE:-/var/tmp/oe-test-images}
port=${OE_TEST_REGISTRY_PORT:-5000}
# The default source is the test tree next to the repository (../shared/odoo/).
src=${OE_TEST_ODOO_SRC:-$repo/../shared/odoo/odoo-18.0-min.tar.zst}
registry=127.0.0.1:$port
suite=bookworm
mirrors=(
    "deb http://deb.debian.org/debian $suite main"
    "deb http://deb.debian.org/debian $suite-updates main"
    "deb http://deb.debian.org/debian-security $suite-security main"
)
# DOCKER_BUILDKIT=0: this docker has no buildx plugin; the classic builder is what it has.
export DOCKER_BUILDKIT=0

mode=build
case ${1:-} in
    '') ;;
    --check) mode=check ;;
    --stop) mode=stop ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "test-images: unknown argument $1 (try --help)" >&2
        exit 2
        ;;
esac

say() { echo "test-images: $*" >&2; }
t0=$SECONDS
# Seconds since the script started, for the timings it prints.
elapsed() { echo "$((SECONDS - t0))s"; }

# --- the registry -------------------------------------------------------------------------

registry_up() { curl -fsS -o /dev/null --max-time 2 "http://$registry/v2/" 2>/dev/null; }

registry_stop() {
    local pid
    if [ -f "$state/registry/pid" ]; then
        pid=$(cat "$state/registry/pid")
        if kill -0 "$pid" 2>/dev/null && grep -q docker-registry "/proc/$pid/cmdline" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            say "registry $pid on $registry stopped"
        fi
        rm -f "$state/registry/pid"
    elif registry_up; then
        say "something answers on $registry but was not started by this script (no $state/registry/pid)"
        return 1
    fi
}

if [ "$mode" = stop ]; then
    registry_stop
    exit 0
fi

registry_start() {
    if registry_up; then
        # Ours, or another registry the caller set up on that port: either serves.
        return 0
    fi
    mkdir -p "$state/registry/data"
    cat >"$state/registry/config.yml" <<EOF
# Written by contrib/test-images.sh
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $state/registry/data
  delete:
    enabled: true
http:
  addr: $registry
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    # setsid: the registry outlives this script and a Ctrl-C in its terminal. 9>&-: nor does it
    # inherit the lock, which it would hold for as long as it runs.
    setsid docker-registry serve "$state/registry/config.yml" \
        </dev/null >>"$state/registry/log" 2>&1 9>&- &
    echo $! >"$state/registry/pid"
    for _ in $(seq 100); do
        registry_up && { say "registry $(cat "$state/registry/pid") listening on $registry"; return 0; }
        kill -0 "$(cat "$state/registry/pid")" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$state/registry/log" >&2 || true
    say "the registry did not start (log: $state/registry/log)"
    return 1
}

# --- tools --------------------------------------------------------------------------------

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
    say "needs a running Docker engine that \`docker\` can reach (docker info fails)"
    exit 1
fi
ensure_tools mmdebstrap:mmdebstrap docker-registry:docker-registry curl:curl zstd:zstd
# mmdebstrap in root mode (it mounts /proc and /dev in the new tree) and docker need root.
if [ "$(id -u)" -ne 0 ]; then
    say "run as root (mmdebstrap's root mode)"
    exit 1
fi

mkdir -p "$state/build"
# One run at a time builds and pushes (test harnesses may start several); --check runs
# unlocked, in its own containers.
exec 9>"$state/lock"
if ! flock -n 9; then
    say "waiting for another run of this script ($state/lock)"
    flock -w 1800 9 || { say "still locked after 30 min: $state/lock"; exit 1; }
fi
hash_of() { sha256sum | cut -c1-12; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# --- the Odoo source and the package list -------------------------------------------------

if [ -d "$src" ]; then
    src=$(cd "$src" && pwd)
    # A tree: the hash of its files' names and contents (about a second for 124 MB).
    src_sum=$(cd "$src" && find . -type f -not -path './.git/*' -print0 | LC_ALL=C sort -z |
        xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
    control=$(cat "$src/debian/control")
elif [ -f "$src" ]; then
    src=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")
    src_sum=$(sha256sum "$src" | cut -d' ' -f1)
    control=$(tar --zstd -xOf "$src" --wildcards '*/debian/control')
else
    say "no Odoo source at $src (set OE_TEST_ODOO_SRC to a directory or a .tar.zst)"
    exit 1
fi

# The python3-* packages of the Depends field of debian/control (comments dropped). Of an
# alternative "a | b", the first that the host's apt knows (this host runs bookworm, the
# images' suite): python3-lxml-html-clean does not exist in bookworm, python3-lxml does.
python_packages() {
    awk '/^Depends:/ { on = 1; next } /^[A-Za-z-]+:/ { on = 0 } on && !/^#/' <<<"$control" |
        tr ',' '\n' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep '^python3-' |
        while IFS= read -r alts; do
            case $alts in
                *'|'*) ;;
                *) echo "$alts"; continue ;; # (apt-cache takes a second a call: only when needed)
            esac
            local pick='' alt
            IFS='|' read -ra list <<<"$alts"
            for alt in "${list[@]}"; do
                alt=$(echo "$alt" | tr -d '[:space:]')
                if apt-cache show --no-all-versions "$alt" >/dev/null 2>&1; then
                    pick=$alt
                    break
                fi
            done
            # Unknown to the host: the last one, and mmdebstrap's apt says if it is wrong.
            echo "${pick:-$alt}"
        done
}
packages=$(
    {
        echo python3
        python_packages
        echo postgresql-client
        echo ca-certificates
    } | LC_ALL=C sort -u | paste -sd,
)
if ! grep -q python3-psycopg2 <<<"$packages"; then
    say "found no python3-* packages in the debian/control of $src"
    exit 1
fi

# --- recipes ------------------------------------------------------------------------------
# Each context_NAME DIR writes the build context (Dockerfile and files) of an image into DIR;
# its text (declare -f) is part of the image's hash, so editing a recipe rebuilds that image
# and what derives from it.

context_base() {
    # Not a Dockerfile: the mmdebstrap command of build_base; only for the hash.
    echo "mmdebstrap --variant=minbase --include=$packages $suite ${mirrors[*]}"
}

context_odoo() {
    local dir=$1
    cat >"$dir/Dockerfile" <<EOF
FROM oe-test/base:h-$h_base
ENV LANG=C.UTF-8 ODOO_RC=/etc/odoo/odoo.conf
# /usr/bin/odoo, /entrypoint.sh, /usr/local/bin/wait-for-psql.py, /etc/odoo/odoo.conf
COPY rootfs/ /
# The official image's user, uid and gid 101 (made there by the Debian package's adduser), so
# that the owner of bind-mounted data directories is the same with either image.
RUN groupadd --system --gid 101 odoo \\
 && useradd --system --uid 101 --gid odoo --home-dir /var/lib/odoo --shell /bin/bash odoo \\
 && mkdir -p /var/lib/odoo /mnt/extra-addons \\
 && chown odoo: /var/lib/odoo /mnt/extra-addons /etc/odoo /etc/odoo/odoo.conf
COPY odoo /opt/odoo
VOLUME ["/var/lib/odoo", "/mnt/extra-addons"]
EXPOSE 8069 8071 8072
USER odoo
ENTRYPOINT ["/entrypoint.sh"]
CMD ["odoo"]
EOF
    # Odoo's Debian package installs /usr/bin/odoo; here a wrapper runs the tree's odoo-bin.
    mkdir -p "$dir/rootfs/usr/bin" "$dir/rootfs/usr/local/bin" "$dir/rootfs/etc/odoo"
    cat >"$dir/rootfs/usr/bin/odoo" <<'EOF'
#!/bin/sh
exec python3 /opt/odoo/odoo-bin "$@"
EOF
    # The official image's odoo.conf, plus the tree's own addons (the Debian package has them
    # in Odoo's default addons path; a tree run with an addons_path does not).
    cat >"$dir/rootfs/etc/odoo/odoo.conf" <<'EOF'
[options]
addons_path = /opt/odoo/addons,/mnt/extra-addons
data_dir = /var/lib/odoo
EOF
    # The official image's entrypoint (docker-library odoo 18.0), unchanged in behaviour.
    cat >"$dir/rootfs/entrypoint.sh" <<'EOF'
#!/bin/bash

set -e

if [ -v PASSWORD_FILE ]; then
    PASSWORD="$(< $PASSWORD_FILE)"
fi

# set the postgres database host, port, user and password according to the environment
# and pass them as arguments to the odoo process if not present in the config file
: ${HOST:=${DB_PORT_5432_TCP_ADDR:='db'}}
: ${PORT:=${DB_PORT_5432_TCP_PORT:=5432}}
: ${USER:=${DB_ENV_POSTGRES_USER:=${POSTGRES_USER:='odoo'}}}
: ${PASSWORD:=${DB_ENV_POSTGRES_PASSWORD:=${POSTGRES_PASSWORD:='odoo'}}}

DB_ARGS=()
function check_config() {
    param="$1"
    value="$2"
    if grep -q -E "^\s*\b${param}\b\s*=" "$ODOO_RC" ; then
        value=$(grep -E "^\s*\b${param}\b\s*=" "$ODOO_RC" |cut -d " " -f3|sed 's/["\n\r]//g')
    fi;
    DB_ARGS+=("--${param}")
    DB_ARGS+=("${value}")
}
check_config "db_host" "$HOST"
check_config "db_port" "$PORT"
check_config "db_user" "$USER"
check_config "db_password" "$PASSWORD"

case "$1" in
    -- | odoo)
        shift
        if [[ "$1" == "scaffold" ]] ; then
            exec odoo "$@"
        else
            wait-for-psql.py ${DB_ARGS[@]} --timeout=30
            exec odoo "$@" "${DB_ARGS[@]}"
        fi
        ;;
    -*)
        wait-for-psql.py ${DB_ARGS[@]} --timeout=30
        exec odoo "$@" "${DB_ARGS[@]}"
        ;;
    *)
        exec "$@"
esac

exit 1
EOF
    cat >"$dir/rootfs/usr/local/bin/wait-for-psql.py" <<'EOF'
#!/usr/bin/env python3
import argparse
import sys
import time

import psycopg2

if __name__ == '__main__':
    arg_parser = argparse.ArgumentParser()
    arg_parser.add_argument('--db_host', required=True)
    arg_parser.add_argument('--db_port', required=True)
    arg_parser.add_argument('--db_user', required=True)
    arg_parser.add_argument('--db_password', required=True)
    arg_parser.add_argument('--timeout', type=int, default=5)

    args = arg_parser.parse_args()

    start_time = time.time()
    error = ''
    while (time.time() - start_time) < args.timeout:
        try:
            conn = psycopg2.connect(user=args.db_user, host=args.db_host, port=args.db_port,
                                    password=args.db_password, dbname='postgres')
            error = ''
            break
        except psycopg2.OperationalError as e:
            error = e
        else:
            conn.close()
        time.sleep(1)

    if error:
        print("Database connection failure: %s" % error, file=sys.stderr)
        sys.exit(1)
EOF
    chmod 755 "$dir/rootfs/usr/bin/odoo" "$dir/rootfs/entrypoint.sh" \
        "$dir/rootfs/usr/local/bin/wait-for-psql.py"
}

context_postgres() {
    local dir=$1
    cat >"$dir/Dockerfile" <<EOF
FROM oe-test/base:h-$h_base
ENV LANG=C.UTF-8 PG_MAJOR=15 PATH=/usr/lib/postgresql/15/bin:\$PATH PGDATA=/var/lib/postgresql/data
COPY rootfs/ /
# As the official image: a postgres user with a fixed uid/gid (999) before the package makes
# one, and no "main" cluster from postgresql-common (the entrypoint runs initdb into PGDATA).
RUN groupadd -r -g 999 postgres \\
 && useradd -r -g postgres -u 999 --home-dir /var/lib/postgresql --shell /bin/bash postgres \\
 && mkdir -p /var/lib/postgresql /etc/postgresql-common/createcluster.d \\
 && chown postgres: /var/lib/postgresql \\
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/oe-test.conf \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /var/run/postgresql /docker-entrypoint-initdb.d \\
 && chown postgres: /var/run/postgresql && chmod 3777 /var/run/postgresql \\
 && mkdir -p "\$PGDATA" && chown postgres: "\$PGDATA" && chmod 1777 "\$PGDATA"
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
    # The official image's conventions, in a shorter entrypoint: as root, make PGDATA the
    # postgres user's and run again as that user; with no PG_VERSION in PGDATA, initdb (user
    # POSTGRES_USER, password POSTGRES_PASSWORD, scram for TCP from anywhere, trust on the
    # socket), create POSTGRES_DB and run /docker-entrypoint-initdb.d/* (*.sh, *.sql, *.sql.gz)
    # on a server listening on the socket only; then exec postgres listening on all addresses.
    mkdir -p "$dir/rootfs/usr/local/bin"
    cat >"$dir/rootfs/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/bash
set -Eeo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres: "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_USER:=postgres}"
    : "${POSTGRES_DB:=$POSTGRES_USER}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
        echo 'Error: database is uninitialized and superuser password is not specified.' >&2
        echo '       Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust).' >&2
        exit 1
    fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
        -D "$PGDATA" --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-}
    {
        echo
        echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    } >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

    PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    export PGUSER=$POSTGRES_USER PGHOST=/var/run/postgresql
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --no-psqlrc -d postgres -q \
            --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) echo "$0: running $f"; . "$f" ;;
            *.sql) echo "$0: running $f"; psql -v ON_ERROR_STOP=1 --no-psqlrc -d "$POSTGRES_DB" -f "$f" ;;
            *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | psql -v ON_ERROR_STOP=1 --no-psqlrc -d "$POSTGRES_DB" ;;
            *) ;;
        esac
    done
    unset PGUSER PGHOST
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo
    echo 'PostgreSQL init process complete; ready for start up.'
    echo
fi

exec "$@"
EOF
    chmod 755 "$dir/rootfs/usr/local/bin/docker-entrypoint.sh"
}

context_nginx() {
    local dir=$1
    cat >"$dir/Dockerfile" <<EOF
FROM oe-test/base:h-$h_base
# As the official nginx image: a default server in conf.d that the user's own replaces.
COPY rootfs/ /
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \\
 && rm -rf /var/lib/apt/lists/* \\
 && rm -f /etc/nginx/sites-enabled/default \\
 && ln -sf /dev/stdout /var/log/nginx/access.log \\
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
    mkdir -p "$dir/rootfs/etc/nginx/conf.d"
    cat >"$dir/rootfs/etc/nginx/conf.d/default.conf" <<'EOF'
server {
    listen 80 default_server;
    server_name _;
    location / {
        default_type text/plain;
        return 200 "oe-test/nginx\n";
    }
}
EOF
}

recipe_hash() { # NAME PARENT-HASH EXTRA...
    {
        declare -f "context_$1"
        shift
        printf '%s\n' "$@"
    } | hash_of
}

h_base=$(recipe_hash base "$packages" "${mirrors[@]}")
h_odoo=$(recipe_hash odoo "$h_base" "$src_sum")
h_postgres=$(recipe_hash postgres "$h_base")
h_nginx=$(recipe_hash nginx "$h_base")

# --- building -----------------------------------------------------------------------------

build_base() {
    local tag=oe-test/base:h-$h_base
    if have_image "$tag"; then
        say "base: $tag exists"
        return 0
    fi
    say "base: mmdebstrap $suite minbase + $(tr ',' '\n' <<<"$packages" | wc -l) packages"
    local tar="$state/build/base-$h_base.tar"
    rm -f "$tar"
    # Documentation and manual pages left out (copyright files kept); the dpkg setting stays in
    # the image, so packages installed on top leave them out too.
    nice mmdebstrap --quiet --variant=minbase --include="$packages" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        "$suite" "$tar" "${mirrors[@]}" >&2
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --message "contrib/test-images.sh: mmdebstrap --variant=minbase $suite" \
        "$tar" "$tag" >/dev/null
    rm -f "$tar"
    say "base: $tag built ($(elapsed))"
}

build_image() { # NAME TAG HASH
    local name=$1 tag=$2 hash=$3 ctx
    if have_image "oe-test/$name:h-$hash"; then
        docker tag "oe-test/$name:h-$hash" "oe-test/$name:$tag"
        say "$name: oe-test/$name:h-$hash exists"
        return 0
    fi
    ctx="$state/build/$name"
    rm -rf "$ctx"
    mkdir -p "$ctx"
    "context_$name" "$ctx"
    if [ "$name" = odoo ]; then
        mkdir "$ctx/odoo"
        if [ -d "$src" ]; then
            cp -a "$src/." "$ctx/odoo/"
            rm -rf "$ctx/odoo/.git"
        else
            tar --zstd -xf "$src" -C "$ctx/odoo" --strip-components=1
        fi
    fi
    say "$name: docker build"
    if ! nice docker build --pull=false \
        -t "oe-test/$name:h-$hash" -t "oe-test/$name:$tag" "$ctx" >"$state/build/$name.log" 2>&1; then
        tail -n 30 "$state/build/$name.log" >&2
        say "$name: docker build failed (log: $state/build/$name.log)"
        return 1
    fi
    rm -rf "$ctx"
    say "$name: oe-test/$name:$tag built ($(elapsed))"
    # The images of older recipes go (their layers too, unless shared); the registry keeps
    # their tags (it has no garbage collection while it runs).
    local old
    for old in $(docker images --format '{{.Repository}}:{{.Tag}}' |
        grep -E "^($registry/)?oe-test/$name:h-" | grep -v ":h-$hash\$"); do
        docker rmi "$old" >/dev/null && say "$name: removed $old"
    done
}

build_base
build_image odoo 18.0 "$h_odoo"
build_image postgres 15 "$h_postgres"
build_image nginx latest "$h_nginx"

# --- pushing ------------------------------------------------------------------------------

registry_start

# Pushes oe-test/NAME:TAG and :h-HASH unless the registry already has that hash's manifest.
push_image() { # NAME TAG HASH
    local name=$1 tag=$2 hash=$3 ref t
    ref=$registry/oe-test/$name
    if curl -fsS -o /dev/null -I \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://$registry/v2/oe-test/$name/manifests/h-$hash" 2>/dev/null &&
        curl -fsS -o /dev/null -I \
            -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
            "http://$registry/v2/oe-test/$name/manifests/$tag" 2>/dev/null &&
        [ "$(docker image inspect -f '{{join .RepoDigests " "}}' "oe-test/$name:h-$hash" 2>/dev/null |
            grep -c "$ref@")" -gt 0 ]; then
        say "$name: in the registry"
        return 0
    fi
    for t in "h-$hash" "$tag"; do
        docker tag "oe-test/$name:$t" "$ref:$t"
        docker push --quiet "$ref:$t" >&2
    done
    say "$name: pushed to $ref ($(elapsed))"
}
push_image odoo 18.0 "$h_odoo"
push_image postgres 15 "$h_postgres"
push_image nginx latest "$h_nginx"

img_odoo=$registry/oe-test/odoo:18.0
img_postgres=$registry/oe-test/postgres:15
img_nginx=$registry/oe-test/nginx:latest
say "images ready ($(elapsed))"

# --- the end-to-end check -----------------------------------------------------------------

if [ "$mode" = check ]; then
    flock -u 9
    id=oe-test-check-$$
    check_cleanup() {
        # -v: also the anonymous volumes of the images' VOLUMEs (PGDATA, /mnt/extra-addons).
        docker rm -f -v "$id-nginx" "$id-odoo" "$id-db" >/dev/null 2>&1 || true
        docker volume rm "$id-odoo" >/dev/null 2>&1 || true
        docker network rm "$id" >/dev/null 2>&1 || true
        rm -rf "$state/build/$id"
    }
    trap check_cleanup EXIT
    step=$SECONDS
    lap() { # what
        say "check: $1 ($((SECONDS - step))s)"
        step=$SECONDS
    }

    # From the registry, not from the local tags: untag the registry references, pull them
    # back (the layers are here, so this checks manifests and digests, not the transfer).
    for img in "$img_odoo" "$img_postgres" "$img_nginx"; do
        docker rmi "$img" >/dev/null
        docker pull --quiet "$img" >/dev/null
        say "check: pulled $(docker image inspect -f '{{index .RepoDigests 0}}' "$img")"
    done
    lap "pulled the three images back from $registry"

    docker network create "$id" >/dev/null
    docker run -d --name "$id-db" --network "$id" --network-alias db \
        -e POSTGRES_USER=odoo -e POSTGRES_PASSWORD=odoo -e POSTGRES_DB=postgres \
        "$img_postgres" >/dev/null
    # The server is ready when it answers over TCP (during initdb it listens on its socket only).
    for _ in $(seq 120); do
        docker exec "$id-db" pg_isready -q -h 127.0.0.1 -U odoo 2>/dev/null && break
        sleep 0.5
    done
    docker exec "$id-db" pg_isready -h 127.0.0.1 -U odoo >&2 || {
        docker logs "$id-db" >&2
        exit 1
    }
    lap "postgres up (initdb on first start)"

    docker volume create "$id-odoo" >/dev/null
    if ! docker run --rm --network "$id" -v "$id-odoo:/var/lib/odoo" "$img_odoo" \
        odoo -d check -i base --without-demo=all --stop-after-init --log-level=warn >&2; then
        say "check: odoo could not create the database"
        exit 1
    fi
    lap "odoo created database check (-i base --without-demo=all --stop-after-init)"

    docker run -d --name "$id-odoo" --network "$id" --network-alias odoo \
        -v "$id-odoo:/var/lib/odoo" "$img_odoo" odoo -d check --db-filter='^check$' >/dev/null

    mkdir -p "$state/build/$id"
    cat >"$state/build/$id/odoo.conf" <<'EOF'
server {
    listen 80 default_server;
    location / {
        proxy_pass http://odoo:8069;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
    }
}
EOF
    chmod 755 "$state/build/$id"
    chmod 644 "$state/build/$id/odoo.conf"
    docker run -d --name "$id-nginx" --network "$id" -p 127.0.0.1::80 \
        -v "$state/build/$id/odoo.conf:/etc/nginx/conf.d/default.conf:ro" "$img_nginx" >/dev/null
    hostport=$(docker port "$id-nginx" 80/tcp | grep -m1 '^127\.0\.0\.1:' || true)
    [ -n "$hostport" ] || { say "check: nginx has no published port"; docker logs "$id-nginx" >&2; exit 1; }
    status=
    for _ in $(seq 120); do
        status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$hostport/web/health" || true)
        [ "$status" = 200 ] && break
        sleep 0.5
    done
    if [ "$status" != 200 ]; then
        say "check: GET http://$hostport/web/health (nginx -> odoo:8069) answered ${status:-nothing}"
        docker logs --tail 30 "$id-odoo" >&2
        docker logs --tail 30 "$id-nginx" >&2
        exit 1
    fi
    lap "GET /web/health through nginx (published on $hostport) -> odoo:8069 answered 200: $(curl -s "http://$hostport/web/health")"
    # And a page that needs the database.
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 "http://$hostport/web/login" || true)
    if [ "$status" != 200 ]; then
        say "check: GET /web/login answered ${status:-nothing}"
        docker logs --tail 30 "$id-odoo" >&2
        exit 1
    fi
    lap "GET /web/login (database check) answered 200"
    # For the record: can this host reach a container's address directly?
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id-odoo")
    if curl -fsS -o /dev/null --max-time 3 "http://$ip:8069/web/health" 2>/dev/null; then
        say "check: the host reaches the odoo container at $ip:8069 directly"
    else
        say "check: the host does not reach the odoo container at $ip:8069 directly"
    fi
    check_cleanup
    trap - EXIT
    lap "removed the containers, the volume and the network"
    say "check passed ($(elapsed) in all)"
fi

echo "OE_TEST_REGISTRY=$registry"
echo "OE_TEST_IMAGE_ODOO=$img_odoo"
echo "OE_TEST_IMAGE_POSTGRES=$img_postgres"
echo "OE_TEST_IMAGE_NGINX=$img_nginx"
