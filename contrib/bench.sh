#!/usr/bin/env bash
# Whole-command benchmarks: oe against the pipelines people use without it, side by side in one
# run on the same throwaway PostgreSQL, alternating peer and oe, and a Markdown table of the
# medians at the end.
#
#   contrib/bench.sh                                  # the real thing: ~500 MB dump, 3 runs each
#   BENCH_SCALE=0.05 BENCH_RUNS=1 contrib/bench.sh    # smoke test, a minute or two
#
# Environment:
#   BENCH_SCALE     size of the generated database (1: its plain dump is about 500 MB)
#   BENCH_RUNS      timed runs of each command (3)
#   BENCH_SECTIONS  sections to run, in order (default: "load save"; see section_* below;
#                   odoo_zip and mirror also generate a filestore of ~5 GiB at scale 1,
#                   mirror_million a million small files; mirror needs rsync, restic, borgbackup;
#                   save_million `oe save` of a million small files, BENCH_FILES to change it;
#                   mirror_nightly 14 nights of a changing dump, daemon_memory an idle daemon,
#                   remote oe mirror/restore over loopback SSH against restic and borg; it needs
#                   openssh-server, restic, borgbackup, and runs as root; start `oe start` of
#                   an installed environment against Odoo's own start time in `docker run`:
#                   it needs a Docker engine (skipped, and said so, without one), the images
#                   of contrib/test-images.sh (OE_TEST_ODOO_SRC is passed on to it), curl, and
#                   root; the database does not matter to it: run it with BENCH_SCALE=0.01);
#                   update `oe update` of one changed module (its downtime against the
#                   template copy + `odoo -u` alone), `--rollback` and a nothing-to-do run:
#                   the same needs as start, and BENCH_UPDATE_MB (300) MiB of rows;
#                   cutoff `oe cutoff apply` of a Docker network's bridge against the one
#                   iptables command by hand (root, a Docker engine; any BENCH_SCALE);
#                   stage `oe stage --from-db` on a staging installation (its copy part and
#                   the whole command) against pg_dump -Fc -Z0 | pg_restore of the same
#                   database, and the filestore's share: the same needs as start,
#                   BENCH_STAGE_MB (300) MiB of rows and BENCH_STAGE_FILES (100000) files;
#                   db_live `oe db cp --live` of the generated database (its source in use)
#                   against pg_dump -Fc -Z0 | pg_restore into a new database;
#                   s3 oe mirror run/restore into SeaweedFS on loopback against a local
#                   repository and restic's s3 backend, encrypted against not (restic, curl)
#   BENCH_DIR       where the temporary files go: a directory is made inside it and removed at
#                   the end (default: a new directory under /var/tmp). Needs ~3 GB at scale 1,
#                   ~20 GB with odoo_zip.
#   OE_BIN          the oe to measure (default: target/release/oe, built when missing)
#   OE_PGPORT       port of the throwaway server (5433; it listens on its own socket only)
#
# Times are wall-clock (date +%s.%N). Target databases are dropped and made again between runs,
# and a CHECKPOINT precedes every timed run, none of which is timed (odoo_zip also syncs and
# drops the page cache before each, when it can). Peak RSS is GNU time's %M:
# the largest resident set of oe or of any one of the processes it ran (pg_dump, psql, ...).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=cluster.sh source-path=SCRIPTDIR
source "$repo/contrib/cluster.sh"

scale=${BENCH_SCALE:-1}
runs=${BENCH_RUNS:-3}
sections=${BENCH_SECTIONS:-load save}
case $runs in '' | *[!0-9]* | 0) echo "bench: BENCH_RUNS must be a positive integer" >&2; exit 2 ;; esac

ensure_tools pg-server:postgresql psql:postgresql-client pg_dump:postgresql-client \
    pg_restore:postgresql-client gzip:gzip pigz:pigz zstd:zstd lbzip2:lbzip2 bzip2:bzip2 \
    /usr/bin/time:time awk:gawk

oe_bin=${OE_BIN:-$repo/target/release/oe}
if [ ! -x "$oe_bin" ]; then
    if [ -n "${OE_BIN:-}" ]; then
        echo "bench: OE_BIN=$OE_BIN is not an executable" >&2
        exit 1
    fi
    echo "bench: building oe (cargo build --release)" >&2
    (cd "$repo" && cargo build --release --quiet)
fi
oe_bin=$(cd "$(dirname "$oe_bin")" && pwd)/$(basename "$oe_bin")

parent=${BENCH_DIR:-/var/tmp}
mkdir -p "$parent"
dir=$(mktemp -d "$parent/oe-bench.XXXXXX")
chmod 755 "$dir" # the server's user must reach the cluster inside, as root
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -z "${sshd_pid:-}" ] || kill "$sshd_pid" 2>/dev/null || true # section_remote's sshd
    [ -z "${weed_pid:-}" ] || kill "$weed_pid" 2>/dev/null || true # section_s3's SeaweedFS
    [ -z "${start_client:-}" ] || start_cleanup # section_start's containers and network
    if cluster_stop "$dir/cluster"; then
        rm -rf "$dir"
    else
        echo "bench: the server would not stop: left $dir" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

mkdir -p "$dir/work" "$dir/results" "$dir/logs"
table=$dir/results/table.md     # rows of the main table
sizes=$dir/results/sizes.md     # rows of the output size table
notes=$dir/results/notes.md     # lines printed under the tables

# --- helpers --------------------------------------------------------------------------------

say() { printf 'bench: %s\n' "$*" >&2; }

now() { date +%s.%N; }

# Seconds between two `now`s.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }

# Median of the numbers on stdin.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.2f\n", v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Largest of the numbers on stdin.
maximum() { sort -g | tail -n 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "nan" }'; }

# "✓" when ratio <= limit, "✗" otherwise.
verdict() { awk -v r="$1" -v l="$2" 'BEGIN { print (r != "nan" && r <= l + 0) ? "✓" : "✗" }'; }

mib() { awk -v b="$1" 'BEGIN { printf "%.1f\n", b / 1048576 }'; }

# Escapes a command for a Markdown table cell.
cell() { printf '%s' "$1" | sed 's/|/\\|/g'; }

checkpoint() { psql -X -q -d postgres -c CHECKPOINT >/dev/null; }

# What precedes every timed run after the CHECKPOINT: nothing ("none", the default), `sync`
# (written data of the previous run reaches the disk before the next starts: "sync"), or that
# and an emptied page cache ("drop": every run reads from the disk). A section may change it.
settle_mode=none
settle() {
    case $settle_mode in
        none) ;;
        sync) sync ;;
        drop) sync && echo 3 >/proc/sys/vm/drop_caches ;;
    esac
}

drop_db() {
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'SET client_min_messages = warning' \
        -c "DROP DATABASE IF EXISTS \"$1\"" >/dev/null
}

fresh_db() {
    drop_db "$1"
    createdb "$1"
}

# Runs a peer pipeline (in the work directory, with pipefail); prints its seconds.
time_peer() {
    local log=$1 cmd=$2 t0 t1
    checkpoint
    settle
    t0=$(now)
    if ! (cd "$dir/work" && bash -o pipefail -c "$cmd") >"$log" 2>&1; then
        say "peer failed: $cmd"
        tail -n 20 "$log" >&2
        return 1
    fi
    t1=$(now)
    elapsed "$t0" "$t1"
}

# Runs oe with the cluster's config (or $oe_config when set) under GNU time; prints its
# seconds, appends its peak RSS (KiB) to the file $2.
time_oe() {
    local log=$1 rss=$2 t0 t1
    shift 2
    checkpoint
    settle
    t0=$(now)
    if ! (cd "$dir/work" && /usr/bin/time -f '%M' -o "$log.rss" \
        "$oe_bin" --config "${oe_config:-$dir/cluster/config.yml}" "$@") >"$log" 2>&1; then
        say "oe failed: oe $*"
        tail -n 20 "$log" >&2
        return 1
    fi
    t1=$(now)
    tail -n 1 "$log.rss" >>"$rss"
    elapsed "$t0" "$t1"
}

# Row count of a table, to check that a load loaded something.
rows() { psql -X -A -t -q -d "$1" -c "SELECT count(*) FROM $2"; }

# Appends a row to the main table. Args: case, peer command, peer median, oe median,
# reference median (what the target is relative to), target limit ("" for report only),
# reference name, peak RSS KiB.
table_row() {
    local name=$1 peer_cmd=$2 peer_med=$3 oe_med=$4 ref_med=$5 limit=$6 ref_name=$7 rss=$8 r target
    r=$(ratio "$oe_med" "$ref_med")
    if [ -z "$limit" ]; then
        target="report only"
    else
        target="≤ ${limit}× ${ref_name} $(verdict "$r" "$limit")"
    fi
    [ "$ref_name" = peer ] || r="$r (vs ${ref_name})"
    # shellcheck disable=SC2016 # the backquotes are Markdown
    printf '| %s | `%s` | %s | %s | %s | %s | %s |\n' "$name" "$(cell "$peer_cmd")" "$peer_med" "$oe_med" \
        "$r" "$target" "$(mib $((rss * 1024)))" >>"$table"
}

# --- setup ----------------------------------------------------------------------------------

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)

CLUSTER_DATABASE=bench_src cluster_start "$dir/cluster"
pg_version=$(psql -X -A -t -q -d postgres -c 'SHOW server_version')

echo "# oe benchmarks"
echo
echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, ${mem:-? GiB} RAM, $(uname -sr)"
echo "- disk: $(df -h "$dir" | awk 'NR == 2 { print $1 " (" $2 ", " $4 " free)" }'), work dir $dir"
echo "- oe: $("$oe_bin" --version 2>&1 | head -n 1) ($oe_bin)"
echo "- PostgreSQL $pg_version ($CLUSTER_BINDIR), default settings"
echo "- gzip $(gzip --version | awk 'NR == 1 { print $NF }'), pigz $(pigz --version 2>&1 | awk '{ print $NF }'), \
zstd $(zstd --version | sed -E 's/.*v([0-9.]+).*/\1/'), lbzip2 $(lbzip2 --version 2>&1 | awk 'NR == 1 { print $NF }'), \
bash $BASH_VERSION"
echo "- scale $scale, $runs run(s) each, sections: $sections"
echo "- load average at start: $(cut -d" " -f1-3 /proc/loadavg) (other work on the machine makes the times noisy)"
echo

say "generating the database (scale $scale)"
t0=$(now)
createdb bench_src
psql -X -q -v ON_ERROR_STOP=1 -v scale="$scale" -d bench_src -f "$repo/contrib/gen-odoo-db.sql"
gen_seconds=$(elapsed "$t0" "$(now)")
src_rows=$(rows bench_src mail_message)

say "writing dump.sql with pg_dump"
t0=$(now)
pg_dump --no-owner -d bench_src -f "$dir/work/dump.sql"
dump_seconds=$(elapsed "$t0" "$(now)")
# The first read of the new tables set hint bits: write those pages now, not during a timed run.
checkpoint
dump_bytes=$(stat -c %s "$dir/work/dump.sql")
gz_bytes=$(pigz -p2 -6 -c "$dir/work/dump.sql" | wc -c)
echo "- database: generated in ${gen_seconds} s; plain dump $(mib "$dump_bytes") MiB in ${dump_seconds} s, \
gzip -6 ratio $(ratio "$dump_bytes" "$gz_bytes")"
echo

# --- section: load-db -----------------------------------------------------------------------

# load_case NAME INPUT PEER_CMD LIMIT REFERENCE: times `PEER_CMD` (loading into the empty
# database bench_peer) and `oe load-db odoo INPUT -d bench_oe` alternately; REFERENCE is "peer"
# or "floor" (the median of `cat dump.sql | psql`, measured first).
load_case() {
    local name=$1 input=$2 peer_cmd=$3 limit=$4 reference=$5
    local id=load_${input//[^a-z0-9]/_} i s peer_med oe_med ref_med
    local peer_times=$dir/results/$id.peer oe_times=$dir/results/$id.oe rss=$dir/results/$id.rss
    : >"$peer_times"
    : >"$oe_times"
    : >"$rss"
    for ((i = 1; i <= runs; i++)); do
        # Alternate who goes first, so that neither always runs on a warmer machine.
        local order="peer oe"
        ((i % 2)) || order="oe peer"
        for who in $order; do
            if [ "$who" = peer ]; then
                fresh_db bench_peer
                s=$(time_peer "$dir/logs/$id.peer.$i" "$peer_cmd")
                echo "$s" >>"$peer_times"
                [ "$(rows bench_peer mail_message)" = "$src_rows" ] || { say "peer load of $input is incomplete"; return 1; }
                drop_db bench_peer
            else
                drop_db bench_oe
                s=$(time_oe "$dir/logs/$id.oe.$i" "$rss" load-db odoo "$input" -d bench_oe)
                echo "$s" >>"$oe_times"
                [ "$(rows bench_oe mail_message)" = "$src_rows" ] || { say "oe load of $input is incomplete"; return 1; }
                drop_db bench_oe
            fi
            say "$name run $i/$runs: $who ${s}s"
        done
    done
    peer_med=$(median <"$peer_times")
    oe_med=$(median <"$oe_times")
    echo "$peer_med" >"$dir/results/$id.peer_median"
    if [ "$reference" = floor ]; then
        ref_med=$(cat "$dir/results/floor.median")
    else
        ref_med=$peer_med
    fi
    table_row "$name" "$peer_cmd" "$peer_med" "$oe_med" "$ref_med" "$limit" "$reference" "$(maximum <"$rss")"
}

section_load() {
    local psql_cmd="psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d bench_peer"
    say "preparing the inputs of the load cases"
    (
        cd "$dir/work"
        [ -f dump.sql.gz ] || pigz -p2 -6 -c dump.sql >dump.sql.gz
        [ -f dump.sql.zst ] || zstd -q -T2 -3 dump.sql -o dump.sql.zst
        [ -f dump.sql.bz2 ] || lbzip2 -n2 -c dump.sql >dump.sql.bz2
        [ -f dump.dump ] || pg_dump --no-owner -Fc -d bench_src -f dump.dump
    )
    checkpoint

    # The floor: psql reading the plain dump as fast as cat gives it. oe loading the same file
    # shows its own overhead.
    load_case "load .sql (floor)" dump.sql "cat dump.sql | $psql_cmd" 1.05 peer
    cp "$dir/results/load_dump_sql.peer_median" "$dir/results/floor.median"
    load_case "load .sql.gz" dump.sql.gz "gzip -dc dump.sql.gz | $psql_cmd" 1.05 floor
    load_case "load .sql.zst" dump.sql.zst "zstd -dc dump.sql.zst | $psql_cmd" 1.05 floor
    load_case "load .sql.bz2" dump.sql.bz2 "lbzip2 -n2 -dc dump.sql.bz2 | $psql_cmd" 1.0 peer
    load_case "load .dump" dump.dump "pg_restore --no-owner --exit-on-error -d bench_peer dump.dump" "" peer
}

# --- section: save-db -----------------------------------------------------------------------

# save_case NAME OUTPUT PEER_CMD LIMIT: times `PEER_CMD` (writing peer.OUTPUT from bench_src)
# and `oe save-db odoo oe.OUTPUT -d bench_src` alternately, and records the output sizes.
save_case() {
    local name=$1 output=$2 peer_cmd=$3 limit=$4
    local id=save_${output//[^a-z0-9]/_} i s peer_med oe_med peer_bytes oe_bytes
    local peer_times=$dir/results/$id.peer oe_times=$dir/results/$id.oe rss=$dir/results/$id.rss
    : >"$peer_times"
    : >"$oe_times"
    : >"$rss"
    for ((i = 1; i <= runs; i++)); do
        local order="peer oe"
        ((i % 2)) || order="oe peer"
        for who in $order; do
            if [ "$who" = peer ]; then
                rm -f "$dir/work/peer.$output"
                s=$(time_peer "$dir/logs/$id.peer.$i" "$peer_cmd")
                echo "$s" >>"$peer_times"
                peer_bytes=$(stat -c %s "$dir/work/peer.$output")
            else
                rm -f "$dir/work/oe.$output"
                s=$(time_oe "$dir/logs/$id.oe.$i" "$rss" save-db odoo "oe.$output" -d bench_src)
                echo "$s" >>"$oe_times"
                oe_bytes=$(stat -c %s "$dir/work/oe.$output")
            fi
            say "$name run $i/$runs: $who ${s}s"
        done
    done
    rm -f "$dir/work/peer.$output" "$dir/work/oe.$output"
    peer_med=$(median <"$peer_times")
    oe_med=$(median <"$oe_times")
    table_row "$name" "$peer_cmd" "$peer_med" "$oe_med" "$peer_med" "$limit" peer "$(maximum <"$rss")"
    printf '| %s | %s | %s | %s |\n' "$name" "$(mib "$oe_bytes")" "$(mib "$peer_bytes")" \
        "$(ratio "$oe_bytes" "$peer_bytes")" >>"$sizes"
}

section_save() {
    save_case "save .sql.gz" sql.gz "pg_dump --no-owner bench_src | pigz -p2 -6 > peer.sql.gz" 1.1
    save_case "save .dump.bz2" dump.bz2 "pg_dump --no-owner -Fc -Z0 bench_src | lbzip2 -n2 > peer.dump.bz2" 1.0
    save_case "save .sql.zst" sql.zst "pg_dump --no-owner bench_src | zstd -q -T2 -3 > peer.sql.zst" ""
}

# --- section: odoo_zip ----------------------------------------------------------------------

# Odoo's backup zips (dump.sql, manifest.json, filestore/): `oe save odoo bench_src oe.zip` and
# `oe load odoo oe.zip NEWDB` against what Odoo's database manager does to make a backup zip
# (contrib/odoo-zip.py), against the floor of a save (reading the database and the filestore
# as fast as pg_dump and tar do) and against the floor of a load (psql of the plain dump, cp -a
# of the filestore). The filestore is generated (contrib/gen-filestore.py: about 20,000 files,
# 5 GiB at scale 1, half of the bytes incompressible) under the service's data_dir, and
# bench_src's ir_attachment rows are pointed at its files. Page cache dropped before every
# timed run when the kernel lets us (else: warm cache, said in the notes).

odoo_data=    # the service's data_dir (under $dir)
odoo_files=   # files in bench_src's filestore

# The value of a setting of the cluster's config, as oe reads it.
oe_setting() {
    "$oe_bin" --config "$dir/cluster/config.yml" --json config | python3 -c '
import json, sys
print(next(s["value"] for s in json.load(sys.stdin)["settings"] if s["key"] == sys.argv[1]))' "$1"
}

# Files below a directory.
count_files() { find "$1" -type f | wc -l; }

# Generates (once) bench_src's filestore and points its ir_attachment rows at the files
# (attach_filestore, contrib/cluster.sh). Then writes work/dump.sql again, since the rows changed.
odoo_filestore() {
    [ -z "$odoo_files" ] || return 0
    local list=$dir/results/filestore.tsv store t0 gen_s bytes deflated real_dir
    odoo_data=$(oe_setting services.odoo.data_dir)
    real_dir=$(cd "$dir" && pwd -P)
    case $odoo_data in
        "$dir"/* | "$real_dir"/*) ;;
        *) say "services.odoo.data_dir of $dir/cluster/config.yml is $odoo_data, not under $dir"; return 1 ;;
    esac
    if [ "$(oe_setting environment)" != production ]; then
        say "the environment of $dir/cluster/config.yml is not production: oe load would neutralize"
        return 1
    fi
    store=$odoo_data/filestore/bench_src
    rm -rf "$store"
    say "generating the filestore (scale $scale) in $store"
    t0=$(now)
    python3 "$repo/contrib/gen-filestore.py" --scale "$scale" "$store" "$list"
    gen_s=$(elapsed "$t0" "$(now)")
    t0=$(now)
    attach_filestore bench_src "$list"
    # The filestore is what the database says (untimed; also checks the generator).
    if ! "$oe_bin" --config "$dir/cluster/config.yml" -q verify odoo bench_src; then
        say "oe verify odoo bench_src failed after generating the filestore"
        return 1
    fi
    # Every section's plain dump is of the database as it is now.
    rm -f "$dir/work/dump.sql.gz" "$dir/work/dump.sql.zst" "$dir/work/dump.sql.bz2" "$dir/work/dump.dump"
    pg_dump --no-owner -d bench_src -f "$dir/work/dump.sql"
    checkpoint
    odoo_files=$(count_files "$store")
    bytes=$(awk -F'\t' '{ s += $4 } END { printf "%.0f\n", s }' "$list")
    # What deflate -6 would make of it: the ratio of each mimetype (every file of a mimetype is
    # made alike) on the first MiB of 5 of its files, applied to all its bytes.
    deflated=$(python3 -c '
import sys, zlib
samples, sizes = {}, {}
for line in open(sys.argv[1]):
    _n, fname, _sha, size, mime, _name = line.rstrip("\n").split("\t")
    sizes[mime] = sizes.get(mime, 0) + int(size)
    if len(samples.setdefault(mime, [])) < 5:
        with open(sys.argv[2] + "/" + fname, "rb") as f:
            data = f.read(1 << 20)
        samples[mime].append((len(data), len(zlib.compress(data, 6))))
print(round(sum(sizes[m] * sum(c for _, c in s) / max(1, sum(r for r, _ in s)) for m, s in samples.items())))' "$list" "$store")
    echo "- filestore: $odoo_files files, $(mib "$bytes") MiB (deflate -6 ratio about $(ratio "$bytes" "$deflated")),\
 generated in ${gen_s} s; ir_attachment pointed at it and dump.sql rewritten in $(elapsed "$t0" "$(now)") s"
}

# Drops DB and removes its filestore (untimed).
drop_odoo_db() {
    drop_db "$1"
    rm -rf "${odoo_data:?}/filestore/$1"
}

section_odoo_zip() {
    odoo_filestore
    local i s who order id=odoo_zip
    local src_store=$odoo_data/filestore/bench_src
    local settle_before=$settle_mode cache_note
    if (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
        settle_mode=drop
        cache_note="page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every timed run"
    else
        settle_mode=sync
        cache_note="warm cache: the page cache could not be dropped (sync only before every timed run)"
    fi
    say "odoo_zip: $cache_note"
    export FILESTORE=$src_store DATA_DIR=$odoo_data
    cp "$repo/contrib/odoo-zip.py" "$dir/work/odoo-zip.py"

    # shellcheck disable=SC2016 # expanded by the bash that runs the peer
    local odoo_cmd='rm -rf odoo-tmp && mkdir odoo-tmp && cp -a "$FILESTORE" odoo-tmp/filestore && pg_dump --no-owner bench_src > odoo-tmp/dump.sql && python3 odoo-zip.py bench_src odoo-tmp peer.zip && rm -rf odoo-tmp'
    # (tar writing to /dev/null itself would skip reading the files: GNU tar notices.)
    # shellcheck disable=SC2016
    local floor_cmd='pg_dump --no-owner bench_src > /dev/null && tar -cf - -C "$FILESTORE" . | cat > /dev/null'
    # shellcheck disable=SC2016
    local load_cmd='psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d bench_zip_peer -f dump.sql && cp -a "$FILESTORE" "$DATA_DIR/filestore/bench_zip_peer"'

    local odoo_times=$dir/results/$id.odoo floor_times=$dir/results/$id.floor
    local save_times=$dir/results/$id.save save_rss=$dir/results/$id.save.rss
    local peer_load_times=$dir/results/$id.peer_load load_times=$dir/results/$id.load
    local load_rss=$dir/results/$id.load.rss
    local peer_bytes oe_bytes
    : >"$odoo_times"; : >"$floor_times"; : >"$save_times"; : >"$save_rss"
    : >"$peer_load_times"; : >"$load_times"; : >"$load_rss"

    # Save: Odoo's algorithm, the floor and oe, in turns.
    for ((i = 1; i <= runs; i++)); do
        order="odoo floor oe"
        ((i % 2)) || order="oe floor odoo"
        for who in $order; do
            case $who in
                odoo)
                    rm -rf "$dir/work/peer.zip" "$dir/work/odoo-tmp"
                    s=$(time_peer "$dir/logs/$id.odoo.$i" "$odoo_cmd")
                    echo "$s" >>"$odoo_times"
                    peer_bytes=$(stat -c %s "$dir/work/peer.zip")
                    ;;
                floor)
                    s=$(time_peer "$dir/logs/$id.floor.$i" "$floor_cmd")
                    echo "$s" >>"$floor_times"
                    ;;
                oe)
                    rm -f "$dir/work/oe.zip"
                    s=$(time_oe "$dir/logs/$id.save.$i" "$save_rss" save odoo bench_src oe.zip)
                    echo "$s" >>"$save_times"
                    oe_bytes=$(stat -c %s "$dir/work/oe.zip")
                    ;;
            esac
            say "save .zip run $i/$runs: $who ${s}s"
        done
    done
    # Both archives are whole (untimed).
    for who in oe peer; do
        if ! "$oe_bin" --config "$dir/cluster/config.yml" verify "$dir/work/$who.zip" \
            >"$dir/logs/$id.verify.$who" 2>&1; then
            say "oe verify $who.zip failed:"
            tail -n 20 "$dir/logs/$id.verify.$who" >&2
            return 1
        fi
    done
    rm -f "$dir/work/peer.zip"

    # Load: psql of the plain dump and cp -a of the filestore, then oe from oe.zip, in turns,
    # each into a database (and filestore) of its own, dropped after it was checked.
    local name files
    for ((i = 1; i <= runs; i++)); do
        order="peer oe"
        ((i % 2)) || order="oe peer"
        for who in $order; do
            if [ "$who" = peer ]; then
                name=bench_zip_peer
                drop_odoo_db "$name"
                mkdir -p "$odoo_data/filestore"
                createdb "$name"
                s=$(time_peer "$dir/logs/$id.peer_load.$i" "$load_cmd")
                echo "$s" >>"$peer_load_times"
            else
                name=bench_zip_oe_$i
                drop_odoo_db "$name"
                s=$(time_oe "$dir/logs/$id.load.$i" "$load_rss" load odoo oe.zip "$name")
                echo "$s" >>"$load_times"
            fi
            say "load .zip run $i/$runs: $who ${s}s"
            [ "$(rows "$name" mail_message)" = "$src_rows" ] || { say "$who load: mail_message incomplete"; return 1; }
            files=$(count_files "$odoo_data/filestore/$name")
            [ "$files" = "$odoo_files" ] || { say "$who load: $files files in the filestore, not $odoo_files"; return 1; }
            if [ "$who" = oe ] && [ "$i" = 1 ] &&
                ! "$oe_bin" --config "$dir/cluster/config.yml" verify odoo "$name" >"$dir/logs/$id.verify.db" 2>&1; then
                say "oe verify odoo $name failed:"
                tail -n 20 "$dir/logs/$id.verify.db" >&2
                return 1
            fi
            drop_odoo_db "$name"
        done
    done
    rm -f "$dir/work/oe.zip"
    settle_mode=$settle_before

    local odoo_med floor_med save_med peer_load_med load_med save_kib load_kib
    odoo_med=$(median <"$odoo_times")
    floor_med=$(median <"$floor_times")
    save_med=$(median <"$save_times")
    peer_load_med=$(median <"$peer_load_times")
    load_med=$(median <"$load_times")
    save_kib=$(maximum <"$save_rss")
    load_kib=$(maximum <"$load_rss")
    table_row "save .zip vs Odoo's algorithm" "$odoo_cmd" "$odoo_med" "$save_med" "$odoo_med" 0.2 peer "$save_kib"
    table_row "save .zip vs floor (pg_dump + tar)" "$floor_cmd" "$floor_med" "$save_med" "$floor_med" 1.3 peer "$save_kib"
    table_row "load .zip vs floor (psql + cp -a)" "$load_cmd" "$peer_load_med" "$load_med" "$peer_load_med" 1.2 peer "$load_kib"
    printf '| %s | %s | %s | %s |\n' "save .zip (peer: Odoo's zipfile, deflate 6)" "$(mib "$oe_bytes")" \
        "$(mib "$peer_bytes")" "$(ratio "$oe_bytes" "$peer_bytes")" >>"$sizes"
    {
        echo "- odoo_zip: $cache_note."
        echo "- odoo_zip: \$FILESTORE is bench_src's filestore ($odoo_files files), \$DATA_DIR the service's data_dir."
        echo "- odoo_zip: \`oe verify\` passed on both archives and on oe's first loaded database; every"
        echo "  loaded filestore had all $odoo_files files."
        echo "- odoo_zip: oe peak RSS $(mib $((save_kib * 1024))) MiB saving, $(mib $((load_kib * 1024)))" \
            "MiB loading (target < 100 MiB: $(verdict "$(mib $((save_kib * 1024)))" 100) $(verdict "$(mib $((load_kib * 1024)))" 100))."
    } >>"$notes"
}

# --- sections to come -----------------------------------------------------------------------
# Each section is a function section_NAME, run when NAME is in BENCH_SECTIONS; it appends rows
# to "$table" with table_row (and may print its own tables), using the cluster (bench_src, the
# PG* variables, "$dir/cluster/config.yml"), "$dir/work" for files, time_peer and time_oe.

# --- section: mirror ------------------------------------------------------------------------

# `oe mirror` against rsync, restic and borg on a tree in an Odoo filestore layout
# (contrib/gen-filestore.py: about 20,000 files, 5 GiB at scale 1, half incompressible) plus
# the plain dump of bench_src (about 500 MB): a first snapshot, a run with nothing changed, a
# full restore; then 14 "nights" of a dump of which 1% of the rows change each night (the
# repository's growth); then the peak memory of a run over a tree of a million small files
# (times the scale). First snapshots are timed with a cold page cache (dropped before every
# timed run, when the kernel allows it) and with a warm one (the tree read once beforehand,
# as after the nightly backup job); the other runs with a cold one.

# Changes about 1% of the data rows of a plain dump in place (COPY lines: the last field gets
# a new value), the same rows whatever the night, a different value each night.
mutate_dump() {
    python3 - "$1" "$2" <<'PY'
import random, sys
path, night = sys.argv[1], int(sys.argv[2])
rng = random.Random(night)
out = []
in_copy = False
with open(path, "rb") as f:
    for line in f:
        if line.startswith(b"COPY "):
            in_copy = True
        elif line == b"\\.\n":
            in_copy = False
        elif in_copy and rng.random() < 0.01:
            fields = line.rstrip(b"\n").split(b"\t")
            fields[-1] = b"night %d %d" % (night, rng.randrange(1 << 30))
            line = b"\t".join(fields) + b"\n"
        out.append(line)
with open(path + ".new", "wb") as f:
    f.writelines(out)
PY
    mv "$1.new" "$1"
}

# Bytes below a directory.
dir_bytes() { du -sb "$1" | cut -f1; }

section_mirror() {
    ensure_tools rsync:rsync restic:restic borg:borgbackup
    local m=$dir/mirror src i s
    local settle_before=$settle_mode cold_mode=sync
    if (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then cold_mode=drop; else say "mirror: cannot drop the page cache: the cold runs are only synced"; fi
    rm -rf "$m"
    mkdir -p "$m/src"
    say "mirror: generating the tree (scale $scale)"
    python3 "$repo/contrib/gen-filestore.py" --scale "$scale" "$m/src/filestore" "$m/filestore.tsv" >&2
    cp "$dir/work/dump.sql" "$m/src/dump.sql"
    src=$m/src
    local files bytes
    files=$(count_files "$src")
    bytes=$(dir_bytes "$src")
    printf '%s: {}\n' "$src" >"$m/dirs.yml"
    export RESTIC_PASSWORD=bench BORG_PASSPHRASE='' BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
    export RESTIC_CACHE_DIR=$m/restic-cache BORG_BASE_DIR=$m/borg-base SRC=$src M=$m
    local oe_mirror=(mirror -r "$m/oe" --dirs-file "$m/dirs.yml")
    local restic_first='restic -q -r "$M/restic" backup "$SRC"'
    local borg_first='borg create --compression zstd,3 "$M/borg::first" "$SRC"'
    local rsync_cmd='rsync -a "$SRC/" "$M/rsync/"'
    local restic_again='restic -q -r "$M/restic" backup "$SRC"'
    local borg_again='borg create --compression zstd,3 "$M/borg::again-$RANDOM$RANDOM" "$SRC"'
    local restic_restore='rm -rf "$M/restic-out" && restic -q -r "$M/restic" restore latest --target "$M/restic-out"'
    local id=mirror r
    local t_first_rsync=$dir/results/$id.first.rsync
    local t_same_oe=$dir/results/$id.same.oe t_same_rsync=$dir/results/$id.same.rsync
    local t_same_restic=$dir/results/$id.same.restic t_same_borg=$dir/results/$id.same.borg
    local t_restore_oe=$dir/results/$id.restore.oe t_restore_restic=$dir/results/$id.restore.restic
    local rss=$dir/results/$id.rss cache
    for cache in cold warm; do
        for f in oe restic borg; do : >"$dir/results/$id.first.$cache.$f"; done
    done
    for f in "$t_first_rsync" "$t_same_oe" "$t_same_rsync" "$t_same_restic" "$t_same_borg" \
        "$t_restore_oe" "$t_restore_restic" "$rss"; do
        : >"$f"
    done
    fresh_repos() {
        rm -rf "$m/oe" "$m/restic" "$m/borg" "$m/restic-cache" "$m/borg-base"
        restic -q -r "$m/restic" init >/dev/null
        borg init -e none "$m/borg" >/dev/null 2>&1
        "$oe_bin" "${oe_mirror[@]}" init >/dev/null
    }
    # A first snapshot into fresh repositories of each of restic, borg and oe, alternating.
    first_snapshots() {
        local cache=$1 run=$2 t=$dir/results/$id.first.$1 s
        fresh_repos
        s=$(time_peer "$dir/logs/$id.first.$cache.restic.$run" "$restic_first"); echo "$s" >>"$t.restic"; say "mirror first run $run ($cache cache): restic ${s}s"
        s=$(time_peer "$dir/logs/$id.first.$cache.borg.$run" "$borg_first"); echo "$s" >>"$t.borg"; say "mirror first run $run ($cache cache): borg ${s}s"
        s=$(time_oe "$dir/logs/$id.first.$cache.oe.$run" "$rss" "${oe_mirror[@]}" run); echo "$s" >>"$t.oe"; say "mirror first run $run ($cache cache): oe ${s}s"
    }
    for ((i = 1; i <= runs; i++)); do
        # Cold page cache: every timed run reads the tree from the disk (when the kernel lets
        # us drop the cache; else only synced).
        settle_mode=$cold_mode
        rm -rf "$m/rsync"
        s=$(time_peer "$dir/logs/$id.first.rsync.$i" "$rsync_cmd"); echo "$s" >>"$t_first_rsync"; say "mirror first copy $i: rsync ${s}s"
        first_snapshots cold "$i"
        # Warm page cache, as for the nightly mirror job right after the backup job wrote the
        # zips: the tree is read once untimed, and only written data is synced between runs.
        settle_mode=sync
        tar -cf - -C "$src" . | cat >/dev/null
        first_snapshots warm "$i"
        # Runs with nothing changed, then full restores into empty directories (cold cache).
        settle_mode=$cold_mode
        s=$(time_peer "$dir/logs/$id.same.rsync.$i" "$rsync_cmd"); echo "$s" >>"$t_same_rsync"; say "mirror unchanged run $i: rsync ${s}s"
        s=$(time_peer "$dir/logs/$id.same.restic.$i" "$restic_again"); echo "$s" >>"$t_same_restic"; say "mirror unchanged run $i: restic ${s}s"
        s=$(time_peer "$dir/logs/$id.same.borg.$i" "$borg_again"); echo "$s" >>"$t_same_borg"; say "mirror unchanged run $i: borg ${s}s"
        s=$(time_oe "$dir/logs/$id.same.oe.$i" "$rss" "${oe_mirror[@]}" run); echo "$s" >>"$t_same_oe"; say "mirror unchanged run $i: oe ${s}s"
        s=$(time_peer "$dir/logs/$id.restore.restic.$i" "$restic_restore"); echo "$s" >>"$t_restore_restic"; say "mirror restore $i: restic ${s}s"
        rm -rf "$m/oe-out"
        s=$(time_oe "$dir/logs/$id.restore.oe.$i" "$rss" "${oe_mirror[@]}" restore latest --dir "$src" --target "$m/oe-out"); echo "$s" >>"$t_restore_oe"; say "mirror restore $i: oe ${s}s"
        diff -r "$src" "$m/oe-out" >/dev/null || { say "oe's restore differs from the source"; return 1; }
        rm -rf "$m/oe-out" "$m/restic-out"
    done
    local rss_kib first_oe first_restic first_borg fastest
    rss_kib=$(maximum <"$rss")
    for cache in cold warm; do
        first_oe=$(median <"$dir/results/$id.first.$cache.oe")
        first_restic=$(median <"$dir/results/$id.first.$cache.restic")
        first_borg=$(median <"$dir/results/$id.first.$cache.borg")
        fastest=$(awk -v a="$first_restic" -v b="$first_borg" 'BEGIN { print (a < b) ? a : b }')
        table_row "mirror first snapshot, $cache cache, vs restic" "$restic_first" "$first_restic" "$first_oe" "$fastest" 1.0 "fastest of restic and borg" "$rss_kib"
        table_row "mirror first snapshot, $cache cache, vs borg" "$borg_first" "$first_borg" "$first_oe" "$fastest" 1.0 "fastest of restic and borg" "$rss_kib"
    done
    table_row "mirror first copy (rsync, report)" "$rsync_cmd" "$(median <"$t_first_rsync")" "$(median <"$dir/results/$id.first.cold.oe")" "$(median <"$t_first_rsync")" "" peer "$rss_kib"
    local same_oe
    same_oe=$(median <"$t_same_oe")
    table_row "mirror nothing changed vs rsync" "$rsync_cmd" "$(median <"$t_same_rsync")" "$same_oe" "$(median <"$t_same_rsync")" 5 peer "$rss_kib"
    table_row "mirror nothing changed vs restic" "$restic_again" "$(median <"$t_same_restic")" "$same_oe" "$(median <"$t_same_restic")" 1.0 peer "$rss_kib"
    table_row "mirror nothing changed vs borg" "$borg_again" "$(median <"$t_same_borg")" "$same_oe" "$(median <"$t_same_borg")" 1.0 peer "$rss_kib"
    table_row "mirror full restore vs restic" "$restic_restore" "$(median <"$t_restore_restic")" "$(median <"$t_restore_oe")" "$(median <"$t_restore_restic")" 1.0 peer "$rss_kib"
    local repo_oe repo_restic repo_borg
    repo_oe=$(dir_bytes "$m/oe"); repo_restic=$(dir_bytes "$m/restic"); repo_borg=$(dir_bytes "$m/borg")
    rm -rf "$m/oe" "$m/restic" "$m/borg" "$m/rsync" "$m/restic-cache" "$m/borg-base" "$m/src/filestore"

    rm -rf "$m"
    settle_mode=$settle_before

    printf '| mirror repository after the first snapshot | %s | %s | %s |\n' "$(mib "$repo_oe")" \
        "$(mib "$repo_restic")" "$(ratio "$repo_oe" "$repo_restic")" >>"$sizes"
    printf '| mirror repository (borg as peer) | %s | %s | %s |\n' "$(mib "$repo_oe")" \
        "$(mib "$repo_borg")" "$(ratio "$repo_oe" "$repo_borg")" >>"$sizes"
    {
        echo "- mirror: source $files files, $(mib "$bytes") MiB (generated filestore + plain dump); peers rsync $(rsync --version | awk 'NR == 1 { print $3 }'), restic $(restic version | awk '{ print $2 }'), borg $(borg --version | awk '{ print $2 }') (no encryption, zstd 3); mirror size peers: restic (first line), borg (second)."
    } >>"$notes"
}

# 14 nights of the plain dump of bench_src, 1% of its rows changed each night: the growth of
# the repository.
section_mirror_nightly() {
    local m=$dir/mirror-nightly
    rm -rf "$m"
    mkdir -p "$m"
    # 14 nights of a dump with 1% of its rows changed each night.
    say "mirror: 14 nights of a changing dump"
    mkdir -p "$m/nightly"
    cp "$dir/work/dump.sql" "$m/nightly/dump.sql"
    printf '%s: {}\n' "$m/nightly" >"$m/nightly.yml"
    local nightly=(mirror -r "$m/repo" --dirs-file "$m/nightly.yml") one fourteen night
    "$oe_bin" "${nightly[@]}" init >/dev/null
    "$oe_bin" "${nightly[@]}" run >/dev/null
    one=$(dir_bytes "$m/repo")
    for ((night = 2; night <= 14; night++)); do
        mutate_dump "$m/nightly/dump.sql" "$night"
        "$oe_bin" "${nightly[@]}" run >/dev/null
    done
    fourteen=$(dir_bytes "$m/repo")
    rm -rf "$m/nightly" "$m/repo"

    rm -rf "$m"
    echo "- mirror: 14 nights of the dump with 1% of its rows changed each night: repository $(mib "$fourteen") MiB against $(mib "$one") MiB after the first night: $(ratio "$fourteen" "$one")x (target ≤ 1.3x: $(verdict "$(ratio "$fourteen" "$one")" 1.3))." >>"$notes"
}

# A million small files (times the scale): time and peak memory of a first run and of a run
# with nothing changed.
section_mirror_million() {
    local m=$dir/mirror-million id=mirror
    rm -rf "$m"
    mkdir -p "$m"
    # A million small files (times the scale): peak memory of a first run.
    local million
    million=$(awk -v s="$scale" 'BEGIN { printf "%d", 1000000 * s }')
    say "mirror: $million small files"
    python3 - "$m/many" "$million" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "%03d" % (i % 1000), "%02d" % (i // 1000 % 100))
    if i < 100000:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%d" % i), "w") as f:
        f.write("file %d\n" % i)
PY
    printf '%s: {}\n' "$m/many" >"$m/many.yml"
    "$oe_bin" mirror -r "$m/many-repo" init >/dev/null
    local many_rss=$dir/results/$id.many.rss many_s
    : >"$many_rss"
    many_s=$(time_oe "$dir/logs/$id.many" "$many_rss" mirror -r "$m/many-repo" --dirs-file "$m/many.yml" run)
    local again_s
    again_s=$(time_oe "$dir/logs/$id.many.again" "$many_rss" mirror -r "$m/many-repo" --dirs-file "$m/many.yml" run)
    rm -rf "$m"

    echo "- mirror: first run over $million small files in $many_s s, peak RSS $(mib $(($(maximum <"$many_rss") * 1024))) MiB (target < 256 MiB at a million: $(verdict "$(mib $(($(maximum <"$many_rss") * 1024)))" 256)); a run with nothing changed in $again_s s." >>"$notes"
}

# `oe save` of a filestore of a million small files (BENCH_FILES, default 1000000): time and
# peak memory, which must not grow with the number of files (target < 100 MiB). The files are
# named by their SHA-1 as Odoo names them, and the copy of bench_src gets an ir_attachment row
# for each, so the check for missing files merges a million names too. Generated once, run by
# hand (not in the default sections); run it with a small BENCH_SCALE, the database's size
# does not matter here.
section_save_million() {
    local files=${BENCH_FILES:-1000000} id=save_million db=bench_many
    case $files in '' | *[!0-9]* | 0) say "BENCH_FILES must be a positive integer"; return 1 ;; esac
    odoo_data=$(oe_setting services.odoo.data_dir)
    local store=$odoo_data/filestore/$db t0
    drop_db "$db"
    createdb -T bench_src "$db"
    rm -rf "$store"
    say "save_million: $files files in $store"
    t0=$(now)
    local list=$dir/results/$id.tsv
    python3 - "$store" "$files" "$list" <<'PY'
import hashlib, os, sys
root, n = sys.argv[1], int(sys.argv[2])
with open(sys.argv[3], "w") as listing:
    for i in range(1, n + 1):
        data = b"attachment %d\n" % i
        h = hashlib.sha1(data).hexdigest()
        d = os.path.join(root, h[:2])
        if not os.path.isdir(d):
            os.makedirs(d)
        with open(os.path.join(d, h), "wb") as f:
            f.write(data)
        listing.write("%d\t%s\t%d\n" % (i, h, len(data)))
PY
    {
        echo 'CREATE TEMP TABLE fs (n integer, h varchar, size integer);'
        echo 'COPY fs FROM STDIN;'
        cat "$list"
        echo '\.'
        cat <<'SQL'
-- Only the generated files: the database's own attachments have none here.
UPDATE ir_attachment SET store_fname = NULL WHERE store_fname IS NOT NULL;
INSERT INTO ir_attachment (res_id, company_id, file_size, create_uid, write_uid, name, res_model,
                           type, store_fname, checksum, mimetype, public, create_date, write_date)
SELECT 1, 1, size, 2, 2, 'attachment_' || n || '.txt', 'mail.message', 'binary',
       substr(h, 1, 2) || '/' || h, h, 'text/plain', false,
       timestamp '2024-06-01 12:00:00', timestamp '2024-06-01 12:00:00'
FROM fs ORDER BY n;
VACUUM (ANALYZE) ir_attachment;
SQL
    } | psql -X -q -v ON_ERROR_STOP=1 -d "$db"
    rm -f "$list"
    say "save_million: generated in $(elapsed "$t0" "$(now)") s"
    local rss=$dir/results/$id.rss save_s
    : >"$rss"
    rm -f "$dir/work/many.zip"
    save_s=$(time_oe "$dir/logs/$id" "$rss" save --strict odoo "$db" many.zip)
    local peak entries
    peak=$(mib $(($(maximum <"$rss") * 1024)))
    # Every entry is there and hashes to its name (untimed).
    "$oe_bin" --config "$dir/cluster/config.yml" -q verify "$dir/work/many.zip"
    entries=$(python3 -c 'import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).infolist()))' "$dir/work/many.zip")
    rm -rf "$store" "$dir/work/many.zip"
    drop_db "$db"
    echo "- save_million: \`oe save --strict\` of $files small files ($entries entries) in $save_s s, peak RSS $peak MiB (target < 100 MiB: $(verdict "$peak" 100))." >>"$notes"
}

# An idle daemon: resident memory and CPU time over a minute between fire times (it must
# sleep, not poll), with jobs of the shape of contrib/oe.example.yml's.
section_daemon_memory() {
    local d=$dir/daemon idle=${BENCH_IDLE_SECONDS:-60}
    mkdir -p "$d/backups"
    cat >"$d/config.yml" <<EOF
backup_dir: $d/backups
daemon: {state_file: $d/state.json}
jobs:
  nightly-backup: {schedule: "0 2 * * *", backup: {databases: all, exclude: ['^test_']}}
  restore-test: {schedule: "0 5 * * 0", restore_test: {databases: all}}
EOF
    say "daemon: idle for $idle s"
    "$oe_bin" --config "$d/config.yml" daemon 2>"$dir/logs/daemon.log" &
    local pid=$! hz before after rss
    sleep 2
    hz=$(getconf CLK_TCK)
    before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    sleep "$idle"
    after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || true
    rm -rf "$d"
    echo "- daemon: idle for $idle s between fire times: $(((after - before) * 1000 / hz)) ms of CPU, peak RSS $(mib $((rss * 1024))) MiB (target < 20 MiB: $(verdict "$(mib $((rss * 1024)))" 20))." >>"$notes"
}

# --- section: remote ------------------------------------------------------------------------

# A backup server over loopback SSH (issue 13): `oe mirror run` into a repository on a private
# sshd started here (`oe server init`, `oe server add-key`; the key's forced command runs
# `oe serve` under GNU time, for its peak memory) against the same run into a local
# repository, against `restic -r sftp:` and `borg create` over ssh to the same sshd
# (`borg serve --append-only --restrict-to-path` behind the key's forced command, as the
# append-only setups in the field do); a run with nothing changed, local and over ssh; and
# `oe restore --from ssh://…` of a backup zip mirrored to the server against `oe restore -z`
# of the same zip on the local disk. The source is what the nightly off-site mirror job
# reads: bench_src's filestore (odoo_filestore) and a directory holding the plain dump. Warm
# page cache (the tree read once untimed; written data synced between runs), as right after
# the nightly backup job. The server side runs as a backup user of its own (`oe-bench`,
# created if missing, shell /bin/sh), as on a backup server: not as root, whose shell
# startup (sshd runs every command through the user's shell, and bash reads ~/.bashrc then)
# is whatever the machine's administrator put there.

sshd_pid=   # the private sshd of section_remote, stopped by cleanup
sshd_port=

# sshd_start DIR AUTHORIZED_KEYS USER: starts /usr/sbin/sshd (as root) on a free port of
# 127.0.0.1 with its own ed25519 host key DIR/host_ed25519 and config DIR/sshd_config, logging
# to DIR/sshd.log, USER let in with the keys of AUTHORIZED_KEYS only; sets sshd_pid and
# sshd_port. StrictModes is off: the bench directory is below a world-writable /var/tmp.
sshd_start() {
    local s=$1 ak=$2 user=$3 attempt port waited
    mkdir -p /run/sshd && chmod 755 /run/sshd # privilege separation; made at boot on a host
    mkdir -p "$s" && chmod 700 "$s"
    rm -f "$s/host_ed25519" "$s/host_ed25519.pub"
    ssh-keygen -q -t ed25519 -N '' -C oe-bench-sshd -f "$s/host_ed25519"
    # PerSourcePenalties (OpenSSH 9.8) would slow down 127.0.0.1 after refused logins.
    local newer=
    printf 'HostKey %s\nPerSourcePenalties no\n' "$s/host_ed25519" >"$s/probe_config"
    if /usr/sbin/sshd -t -f "$s/probe_config" 2>/dev/null; then newer='PerSourcePenalties no'; fi
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        cat >"$s/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $s/host_ed25519
PidFile $s/sshd.pid
AuthorizedKeysFile $ak
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $user
StrictModes no
PrintMotd no
UseDNS no
LogLevel VERBOSE
Subsystem sftp internal-sftp
$newer
EOF
        chmod 600 "$s/sshd_config"
        /usr/sbin/sshd -D -e -f "$s/sshd_config" </dev/null >"$s/sshd.log" 2>&1 &
        sshd_pid=$!
        for ((waited = 0; waited < 200; waited++)); do
            if grep -qF "Server listening on 127.0.0.1 port $port." "$s/sshd.log"; then
                sshd_port=$port
                return 0
            fi
            kill -0 "$sshd_pid" 2>/dev/null || break
            sleep 0.1
        done
        sshd_stop
        grep -q 'Address already in use' "$s/sshd.log" && continue # taken meanwhile: another
        say "sshd did not start (attempt $attempt):"
        tail -n 20 "$s/sshd.log" >&2
        return 1
    done
    say "sshd found no free port"
    return 1
}

sshd_stop() {
    [ -n "${sshd_pid:-}" ] || return 0
    kill "$sshd_pid" 2>/dev/null || true
    wait "$sshd_pid" 2>/dev/null || true
    sshd_pid=
}

section_remote() {
    ensure_tools /usr/sbin/sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client \
        restic:restic borg:borgbackup
    if [ "$(id -u)" -ne 0 ]; then
        say "remote: needs root (a private sshd that lets root in)"
        return 1
    fi
    odoo_filestore
    local r=$dir/remote i s who order carried=0
    rm -rf "$r"
    mkdir -p "$r/keys" "$r/dump" "$r/backups"
    chmod 700 "$r/keys"
    # The backup user: its home holds the server root and the peers' repositories, and a
    # copy of oe it can run. A password of `*` (no password) lets it log in with a key.
    local user=oe-bench home=$r/home made_user=
    if ! id -u "$user" >/dev/null 2>&1; then
        useradd --system --shell /bin/sh --home-dir "$home" --no-create-home "$user" || { say "remote: cannot create the user $user"; return 1; }
        made_user=yes
    fi
    usermod --home "$home" --shell /bin/sh --password '*' "$user"
    mkdir -p "$home"
    install -m 755 "$oe_bin" "$r/oe"
    chown "$user:" "$home"
    chmod 700 "$home"
    chmod 711 "$r"
    as_user() { runuser -u "$user" -- "$@"; }
    cp "$dir/work/dump.sql" "$r/dump/dump.sql"
    local store=$odoo_data/filestore/bench_src files bytes
    files=$(($(count_files "$store") + 1))
    bytes=$(($(dir_bytes "$store") + $(dir_bytes "$r/dump")))
    local ak=$home/authorized_keys ident=bench-client server_root=$home/server
    as_user sh -c ': >"$1" && chmod 600 "$1"' sh "$ak"
    sshd_start "$r/sshd" "$ak" "$user"
    say "remote: sshd on 127.0.0.1:$sshd_port (pid $sshd_pid)"
    printf '[127.0.0.1]:%s %s\n' "$sshd_port" "$(cut -d' ' -f1,2 "$r/sshd/host_ed25519.pub")" >"$r/known_hosts"
    local key
    for key in oe restic borg; do
        ssh-keygen -q -t ed25519 -N '' -C "bench-$key" -f "$r/keys/$key"
    done
    # restic: an sftp login; borg: nothing but `borg serve` in its own repository.
    printf 'restrict %s\n' "$(cat "$r/keys/restic.pub")" >>"$ak"
    printf 'command="env BORG_BASE_DIR=%s borg serve --append-only --restrict-to-path %s",restrict %s\n' \
        "$home/borg-serve-base" "$home/borg" "$(cat "$r/keys/borg.pub")" >>"$ak"

    # oe serve's peak RSS: the key's forced command (written by `oe server add-key`) runs this
    # wrapper instead of oe itself, with the same arguments.
    local serve_rss=$home/serve.rss
    as_user sh -c ': >"$1"' sh "$serve_rss"
    printf '#!/bin/sh\nexec /usr/bin/time -f %%M -a -o %s %s "$@"\n' "$serve_rss" "$r/oe" >"$r/oe-serve-timed"
    chmod 755 "$r/oe-serve-timed"
    local have_server=yes have_from=yes
    "$oe_bin" server --help >/dev/null 2>&1 || have_server=
    "$oe_bin" restore --help 2>/dev/null | grep -q -- '--from' || have_from=
    # A new server root with the oe key, its repository empty: what a first snapshot needs.
    fresh_server() {
        rm -rf "$server_root" "$r/oe-cache"
        as_user "$r/oe" server init "$server_root" >/dev/null
        as_user "$r/oe" server --root "$server_root" add-key "$ident" "$(cat "$r/keys/oe.pub")" \
            --authorized-keys "$ak" >/dev/null
        # Only the program of the forced command changes: command="OE serve …" → wrapper.
        as_user sed -i -E "/ bench-oe\$/ s|^command=\"[^ \"]+|command=\"$r/oe-serve-timed|" "$ak"
        grep -q "^command=\"$r/oe-serve-timed serve " "$ak" || { say "oe server add-key wrote no forced command to wrap:"; cat "$ak" >&2; return 1; }
    }

    local base
    base=$(cat "$dir/cluster/config.yml")
    local cfg_local=$r/local.yml cfg_ssh=$r/ssh.yml
    printf '%s\nbackup_dir: %s\nmirror:\n  repository: %s\n' "$base" "$r/backups" "$r/oe-local" >"$cfg_local"
    printf '%s\nbackup_dir: %s\nmirror:\n  repository: %s\n  ssh: {identity_file: %s, known_hosts: %s}\n  cache_dir: %s\n' \
        "$base" "$r/backups" "ssh://$user@127.0.0.1:$sshd_port/$ident" "$r/keys/oe" "$r/known_hosts" "$r/oe-cache" >"$cfg_ssh"
    printf '%s: {}\n%s: {}\n' "$store" "$r/dump" >"$r/dirs.yml"
    printf '%s: {}\n' "$r/backups" >"$r/backups.yml"

    export RESTIC_PASSWORD=bench BORG_PASSPHRASE='' BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
    export RESTIC_CACHE_DIR=$r/restic-cache BORG_BASE_DIR=$r/borg-base R=$r H=$home U=$user STORE=$store
    export RSSH="ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null -o UserKnownHostsFile=$r/known_hosts -p $sshd_port"
    export BORG_RSH="$RSSH -i $r/keys/borg"
    # shellcheck disable=SC2016 # expanded by the bash that runs the peer
    local restic_opts='-r "sftp:$U@127.0.0.1:$H/restic" -o sftp.command="$RSSH -i $R/keys/restic $U@127.0.0.1 -s sftp"'
    local restic_first="restic -q $restic_opts backup \"\$STORE\" \"\$R/dump\""
    # shellcheck disable=SC2016
    local borg_repo='"ssh://$U@127.0.0.1:'"$sshd_port"'$H/borg"'
    local borg_first="borg create --compression zstd,3 $borg_repo::first \"\$STORE\" \"\$R/dump\""
    local oe_local_cmd="oe mirror run (local repository)"

    local id=remote rss=$dir/results/remote.rss
    local t_first_local=$dir/results/$id.first.local t_first_ssh=$dir/results/$id.first.ssh
    local t_first_restic=$dir/results/$id.first.restic t_first_borg=$dir/results/$id.first.borg
    local t_same_local=$dir/results/$id.same.local t_same_ssh=$dir/results/$id.same.ssh
    local t_restore_local=$dir/results/$id.restore.local t_restore_ssh=$dir/results/$id.restore.ssh
    local t_restore_zip=$dir/results/$id.restore.zip
    local t_login=$dir/results/$id.login t_carry=$dir/results/$id.carry
    local f
    for f in "$rss" "$t_first_local" "$t_first_ssh" "$t_first_restic" "$t_first_borg" \
        "$t_same_local" "$t_same_ssh" "$t_restore_local" "$t_restore_ssh" "$t_restore_zip" \
        "$t_login" "$t_carry"; do
        : >"$f"
    done
    local settle_before=$settle_mode
    settle_mode=sync
    tar -cf - -C "$store" . -C "$r/dump" . | cat >/dev/null

    for ((i = 1; i <= runs; i++)); do
        # Fresh repositories for everyone (untimed), then the first snapshots in turns.
        rm -rf "$r/oe-local" "$home/restic" "$home/borg" "$r/restic-cache" "$r/borg-base" "$home/borg-serve-base"
        "$oe_bin" --config "$cfg_local" mirror init >/dev/null
        (cd "$dir/work" && eval "restic -q $restic_opts init") >"$dir/logs/$id.restic-init.$i" 2>&1 || { say "restic init over sftp failed:"; tail -n 20 "$dir/logs/$id.restic-init.$i" >&2; return 1; }
        (cd "$dir/work" && eval "borg init -e none $borg_repo") >"$dir/logs/$id.borg-init.$i" 2>&1 || { say "borg init over ssh failed:"; tail -n 20 "$dir/logs/$id.borg-init.$i" >&2; return 1; }
        [ -z "$have_server" ] || fresh_server
        order="local ssh restic borg"
        ((i % 2)) || order="borg restic ssh local"
        for who in $order; do
            case $who in
                local) s=$(oe_config=$cfg_local time_oe "$dir/logs/$id.first.local.$i" "$rss" mirror --dirs-file "$r/dirs.yml" run); echo "$s" >>"$t_first_local" ;;
                ssh)
                    [ -n "$have_server" ] || continue
                    s=$(oe_config=$cfg_ssh time_oe "$dir/logs/$id.first.ssh.$i" "$rss" mirror --dirs-file "$r/dirs.yml" run); echo "$s" >>"$t_first_ssh" ;;
                restic) s=$(time_peer "$dir/logs/$id.first.restic.$i" "$restic_first"); echo "$s" >>"$t_first_restic" ;;
                borg) s=$(time_peer "$dir/logs/$id.first.borg.$i" "$borg_first"); echo "$s" >>"$t_first_borg" ;;
            esac
            say "remote first snapshot $i/$runs: $who ${s}s"
        done
        # Nothing changed since: local and over ssh, in turns.
        order="local ssh"
        ((i % 2)) || order="ssh local"
        for who in $order; do
            case $who in
                local) s=$(oe_config=$cfg_local time_oe "$dir/logs/$id.same.local.$i" "$rss" mirror --dirs-file "$r/dirs.yml" run); echo "$s" >>"$t_same_local" ;;
                ssh)
                    [ -n "$have_server" ] || continue
                    s=$(oe_config=$cfg_ssh time_oe "$dir/logs/$id.same.ssh.$i" "$rss" mirror --dirs-file "$r/dirs.yml" run); echo "$s" >>"$t_same_ssh" ;;
            esac
            say "remote nothing changed $i/$runs: $who ${s}s"
        done
        # What ssh alone costs here: a login that runs `true`, and the bytes of the local
        # repository carried to `cat >/dev/null` (the first snapshot's transfer, nothing else).
        s=$(time_peer "$dir/logs/$id.login.$i" "\$RSSH -i \$R/keys/restic \$U@127.0.0.1 true")
        echo "$s" >>"$t_login"
        carried=$(dir_bytes "$r/oe-local")
        s=$(time_peer "$dir/logs/$id.carry.$i" "tar -cf - -C \$R/oe-local . | \$RSSH -i \$R/keys/restic -o Ciphers=aes128-gcm@openssh.com \$U@127.0.0.1 'cat >/dev/null'")
        echo "$s" >>"$t_carry"
        say "remote ssh alone $i/$runs: login $(tail -n 1 "$t_login")s, the repository's bytes ${s}s"
    done

    # Restores: a backup zip of bench_src (oe backup into backup_dir, untimed), mirrored to the
    # server and to the local repository (untimed), then `oe restore --from ssh://…` (the
    # newest backup of the configured database, bench_src) against the same from the local
    # repository, and against `oe restore -z ZIP` of the zip itself.
    local zip=
    if [ -n "$have_server" ] && [ -n "$have_from" ]; then
        "$oe_bin" --config "$cfg_local" -q backup odoo -d bench_src >"$dir/logs/$id.backup" 2>&1 || { say "oe backup failed:"; tail -n 20 "$dir/logs/$id.backup" >&2; return 1; }
        zip=$(find "$r/backups" -name '*.zip' | head -n 1)
        [ -n "$zip" ] || { say "oe backup wrote no zip into $r/backups"; return 1; }
        "$oe_bin" --config "$cfg_ssh" -q mirror --dirs-file "$r/backups.yml" run >"$dir/logs/$id.mirror-backups" 2>&1 || { say "mirroring the backup to the server failed:"; tail -n 20 "$dir/logs/$id.mirror-backups" >&2; return 1; }
        "$oe_bin" --config "$cfg_local" -q mirror --dirs-file "$r/backups.yml" run >"$dir/logs/$id.mirror-backups-local" 2>&1 || { say "mirroring the backup to the local repository failed:"; tail -n 20 "$dir/logs/$id.mirror-backups-local" >&2; return 1; }
        local name
        for ((i = 1; i <= runs; i++)); do
            order="local ssh zip"
            ((i % 2)) || order="zip ssh local"
            for who in $order; do
                name=bench_remote_$who
                drop_odoo_db "$name"
                case $who in
                    local) s=$(oe_config=$cfg_local time_oe "$dir/logs/$id.restore.local.$i" "$rss" restore odoo --from "$r/oe-local" -d "$name"); echo "$s" >>"$t_restore_local" ;;
                    ssh) s=$(oe_config=$cfg_ssh time_oe "$dir/logs/$id.restore.ssh.$i" "$rss" restore odoo --from "ssh://$user@127.0.0.1:$sshd_port/$ident" -d "$name"); echo "$s" >>"$t_restore_ssh" ;;
                    zip) s=$(oe_config=$cfg_local time_oe "$dir/logs/$id.restore.zip.$i" "$rss" restore odoo -z "$zip" -d "$name"); echo "$s" >>"$t_restore_zip" ;;
                esac
                say "remote restore $i/$runs: $who ${s}s"
                [ "$(rows "$name" mail_message)" = "$src_rows" ] || { say "$who restore: mail_message incomplete"; return 1; }
                [ "$(count_files "$odoo_data/filestore/$name")" = "$odoo_files" ] || { say "$who restore: filestore incomplete"; return 1; }
                drop_odoo_db "$name"
            done
        done
    fi
    settle_mode=$settle_before

    local rss_kib serve_kib first_local first_ssh
    rss_kib=$(maximum <"$rss")
    serve_kib=$({ grep -E '^[0-9]+$' "$serve_rss" || true; } | maximum)
    first_local=$(median <"$t_first_local")
    if [ -n "$have_server" ]; then
        first_ssh=$(median <"$t_first_ssh")
        table_row "remote first snapshot: ssh vs local repository" "$oe_local_cmd" "$first_local" "$first_ssh" "$first_local" 1.25 peer "$rss_kib"
        table_row "remote first snapshot vs restic over sftp" "$restic_first" "$(median <"$t_first_restic")" "$first_ssh" "$(median <"$t_first_restic")" 1.0 peer "$rss_kib"
        table_row "remote first snapshot vs borg over ssh" "$borg_first" "$(median <"$t_first_borg")" "$first_ssh" "$(median <"$t_first_borg")" 1.0 peer "$rss_kib"
        table_row "remote nothing changed: ssh vs local repository" "$oe_local_cmd" "$(median <"$t_same_local")" "$(median <"$t_same_ssh")" "$(median <"$t_same_local")" 2 peer "$rss_kib"
        echo "- remote: ssh alone, on this machine: a login running \`true\` $(median <"$t_login") s; the local repository's bytes ($(mib "$carried") MiB) carried to \`cat >/dev/null\` with AES-128-GCM $(median <"$t_carry") s, with both cores free (what a first snapshot over ssh adds at least, in CPU that the local run spends compressing)." >>"$notes"
        echo "- remote: \`oe serve\` peak RSS $(mib $((${serve_kib:-0} * 1024))) MiB, client (oe and ssh) $(mib $((rss_kib * 1024))) MiB (target < 256 MiB each: $(verdict "$(mib $((${serve_kib:-0} * 1024)))" 256) $(verdict "$(mib $((rss_kib * 1024)))" 256))." >>"$notes"
    else
        # oe without `oe server` (issue 13 not merged): the peers and the local runs only.
        table_row "remote first snapshot: restic over sftp (oe: local repository)" "$restic_first" "$(median <"$t_first_restic")" "$first_local" "$(median <"$t_first_restic")" "" peer "$rss_kib"
        table_row "remote first snapshot: borg over ssh (oe: local repository)" "$borg_first" "$(median <"$t_first_borg")" "$first_local" "$(median <"$t_first_borg")" "" peer "$rss_kib"
        echo "- remote: this oe has no \`oe server\`: the ssh runs were skipped (oe column: local repository)." >>"$notes"
    fi
    if [ -n "$zip" ]; then
        table_row "remote restore --from ssh vs --from local repository" "oe restore odoo --from REPO_DIR" "$(median <"$t_restore_local")" "$(median <"$t_restore_ssh")" "$(median <"$t_restore_local")" 1.3 peer "$rss_kib"
        table_row "remote restore --from ssh vs -z the zip itself" "oe restore odoo -z ZIP" "$(median <"$t_restore_zip")" "$(median <"$t_restore_ssh")" "$(median <"$t_restore_zip")" "" peer "$rss_kib"
    else
        echo "- remote: this oe has no \`oe server\` or no \`oe restore --from\`: the restore runs were skipped." >>"$notes"
    fi
    echo "- remote: source $files files, $(mib "$bytes") MiB (bench_src's filestore + plain dump), over ssh to a private sshd on 127.0.0.1 (openssh-server $(dpkg-query -W -f '${Version}' openssh-server 2>/dev/null || echo '?')); restic $(restic version | awk '{ print $2 }') over sftp, borg $(borg --version | awk '{ print $2 }') (\`borg serve --append-only\`, no encryption, zstd 3); warm page cache." >>"$notes"
    sshd_stop
    rm -rf "$r"
    [ -z "$made_user" ] || userdel "$user"
}

# --- section: s3 ----------------------------------------------------------------------------

# `oe mirror run` of bench_src's filestore and plain dump into SeaweedFS (`weed mini`, the S3
# store hosting companies run, on loopback) against the same run into a local repository and
# restic's s3 backend to the same server; encrypted against unencrypted; then `oe mirror
# restore` of the filestore against `restic restore` of it from the same server. Fresh
# repositories (untimed init) for every run, in alternating order.

weed_pid=   # section_s3's SeaweedFS, stopped by cleanup

# weed_start DIR PORT: SeaweedFS with one identity (benchkey/benchsecret) on PORT..PORT+4.
weed_start() {
    local d=$1 p=$2 _
    mkdir -p "$d/data" "$d/log"
    printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"benchkey","secretKey":"benchsecret"}],"actions":["Admin","Read","List","Tagging","Write"]}]}' >"$d/s3.json"
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$OE_TEST_WEED" -logdir="$d/log" mini \
        -dir="$d/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
        -s3.port="$p" -master.port=$((p + 1)) -volume.port=$((p + 2)) -filer.port=$((p + 3)) \
        -admin.port=$((p + 4)) -admin.ui=false -webdav=false -s3.port.iceberg=0 \
        -s3.port.lance=0 -s3.config="$d/s3.json" -filer.localSocket="$d/filer.sock" \
        -s3.localSocket="$d/s3.sock" >"$d/weed.log" 2>&1 &
    weed_pid=$!
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && return 0
        sleep 0.1
    done
    say "SeaweedFS did not start:"
    tail -n 20 "$d/weed.log" >&2
    return 1
}

section_s3() {
    ensure_tools restic:restic curl:curl
    ensure_s3_servers
    odoo_filestore
    local m=$dir/s3 port=27333 i s who order
    rm -rf "$m"
    mkdir -p "$m/dump"
    cp "$dir/work/dump.sql" "$m/dump/dump.sql"
    local store=$odoo_data/filestore/bench_src files bytes
    files=$(($(count_files "$store") + 1))
    bytes=$(($(dir_bytes "$store") + $(dir_bytes "$m/dump")))
    weed_start "$m/weed" "$port"
    curl -sS --fail --aws-sigv4 aws:amz:us-east-1:s3 --user benchkey:benchsecret \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X PUT "http://127.0.0.1:$port/bench" -o /dev/null
    printf '[default]\naws_access_key_id = benchkey\naws_secret_access_key = benchsecret\n' >"$m/credentials"
    printf 'bench passphrase\n' >"$m/passphrase"
    chmod 600 "$m/credentials" "$m/passphrase"
    printf '%s: {}\n%s: {}\n' "$store" "$m/dump" >"$m/dirs.yml"
    # config REPOSITORY [ENCRYPTED]: a config of oe for that repository.
    config() {
        printf 'mirror:\n  repository: %s\n  s3: {endpoint: "http://127.0.0.1:%s", credentials_file: %s}\n  cache_dir: %s\n' \
            "$1" "$port" "$m/credentials" "$m/oe-cache"
        [ -z "${2:-}" ] || printf '  passphrase_file: %s\n' "$m/passphrase"
    }
    export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret RESTIC_PASSWORD=bench
    export RESTIC_CACHE_DIR=$m/restic-cache STORE=$store M=$m
    local restic_repo="s3:http://127.0.0.1:$port/bench/restic"
    local restic_first="restic -q -r $restic_repo-\$RUN backup \"\$STORE\" \"\$M/dump\""
    local restic_restore="rm -rf \"\$M/out-restic\" && restic -q -r $restic_repo-\$RUN restore latest --target \"\$M/out-restic\" --include \"\$STORE\""

    local id=s3 rss=$dir/results/s3.rss f
    local t_local=$dir/results/$id.local t_s3=$dir/results/$id.s3 t_enc=$dir/results/$id.enc
    local t_restic=$dir/results/$id.restic t_restore=$dir/results/$id.restore
    local t_restore_restic=$dir/results/$id.restore.restic t_restore_enc=$dir/results/$id.restore.enc
    for f in "$rss" "$t_local" "$t_s3" "$t_enc" "$t_restic" "$t_restore" "$t_restore_restic" "$t_restore_enc"; do
        : >"$f"
    done
    local settle_before=$settle_mode
    settle_mode=sync
    tar -cf - -C "$store" . -C "$m/dump" . | cat >/dev/null
    for ((i = 1; i <= runs; i++)); do
        export RUN=$i
        rm -rf "$m/local" "$m/oe-cache" "$m/restic-cache"
        config "$m/local" >"$m/local.yml"
        config "s3://bench/oe-$i" >"$m/s3.yml"
        config "s3://bench/enc-$i" yes >"$m/enc.yml"
        "$oe_bin" --config "$m/local.yml" mirror init >/dev/null
        "$oe_bin" --config "$m/s3.yml" mirror init >/dev/null
        "$oe_bin" --config "$m/enc.yml" mirror init --encrypt >/dev/null
        restic -q -r "$restic_repo-$i" init >"$dir/logs/$id.restic-init.$i" 2>&1 || { say "restic init on s3 failed:"; tail -n 20 "$dir/logs/$id.restic-init.$i" >&2; return 1; }
        order="local s3 enc restic"
        ((i % 2)) || order="restic enc s3 local"
        for who in $order; do
            case $who in
                local | s3 | enc)
                    s=$(oe_config=$m/$who.yml time_oe "$dir/logs/$id.$who.$i" "$rss" mirror --dirs-file "$m/dirs.yml" run)
                    echo "$s" >>"$dir/results/$id.$who" ;;
                restic) s=$(time_peer "$dir/logs/$id.restic.$i" "$restic_first"); echo "$s" >>"$t_restic" ;;
            esac
            say "s3 first snapshot $i/$runs: $who ${s}s"
        done
        order="s3 enc restic"
        ((i % 2)) || order="restic enc s3"
        for who in $order; do
            case $who in
                s3 | enc)
                    rm -rf "$m/out-$who"
                    s=$(oe_config=$m/$who.yml time_oe "$dir/logs/$id.restore.$who.$i" "$rss" mirror restore latest --dir "$store" --target "$m/out-$who")
                    [ "$(count_files "$m/out-$who")" = "$(count_files "$store")" ] || { say "s3 restore ($who): files missing"; return 1; }
                    if [ "$who" = s3 ]; then echo "$s" >>"$t_restore"; else echo "$s" >>"$t_restore_enc"; fi ;;
                restic)
                    s=$(time_peer "$dir/logs/$id.restore.restic.$i" "$restic_restore")
                    [ "$(count_files "$m/out-restic")" = "$(count_files "$store")" ] || { say "restic restore: files missing"; return 1; }
                    echo "$s" >>"$t_restore_restic" ;;
            esac
            say "s3 restore $i/$runs: $who ${s}s"
        done
        rm -rf "$m/out-s3" "$m/out-enc" "$m/out-restic"
    done
    settle_mode=$settle_before

    local rss_kib first_s3
    rss_kib=$(maximum <"$rss")
    first_s3=$(median <"$t_s3")
    table_row "s3 first snapshot: SeaweedFS vs local repository" "oe mirror run (local repository)" "$(median <"$t_local")" "$first_s3" "$(median <"$t_local")" 1.3 peer "$rss_kib"
    table_row "s3 first snapshot vs restic s3" "$restic_first" "$(median <"$t_restic")" "$first_s3" "$(median <"$t_restic")" 1.0 peer "$rss_kib"
    table_row "s3 first snapshot: encrypted vs not" "oe mirror run (s3, unencrypted)" "$first_s3" "$(median <"$t_enc")" "$first_s3" 1.1 peer "$rss_kib"
    table_row "s3 restore of the filestore vs restic restore" "$restic_restore" "$(median <"$t_restore_restic")" "$(median <"$t_restore")" "$(median <"$t_restore_restic")" 1.0 peer "$rss_kib"
    table_row "s3 restore of the filestore: encrypted vs not" "oe mirror restore (s3, unencrypted)" "$(median <"$t_restore")" "$(median <"$t_restore_enc")" "$(median <"$t_restore")" "" peer "$rss_kib"
    echo "- s3: source $files files, $(mib "$bytes") MiB (bench_src's filestore + plain dump), to SeaweedFS $("$OE_TEST_WEED" version 2>/dev/null | awk '{ print $3 }') (\`weed mini\`) on 127.0.0.1; restic $(restic version | awk '{ print $2 }') (its s3 backend, encrypted as always); oe peak RSS $(mib $((rss_kib * 1024))) MiB (target < 256 MiB: $(verdict "$(mib $((rss_kib * 1024)))" 256)); warm page cache." >>"$notes"
    kill "$weed_pid" 2>/dev/null || true
    wait "$weed_pid" 2>/dev/null || true
    weed_pid=
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY RESTIC_PASSWORD RUN
    rm -rf "$m"
}

# --- section: start -------------------------------------------------------------------------

# `oe start` of an installed environment against Odoo's own start time (the target: healthy
# within that + 2 s). One installation is set up as tests/it/deploy.rs does, none of it timed:
# a default app in a local bare git repository whose manifest lists the three images of
# contrib/test-images.sh, a config of its own (production, nginx on, deploy.base_dir,
# http_port and db_port), `oe install`, a first `oe start` (postgres' initdb), a database made
# by Odoo itself inside its container (-i base, the name the installation's dbfilter wants),
# `oe stop`. Then, alternating, medians of BENCH_RUNS:
# - oe: `oe start` with every container existing and stopped, until it returns: it starts
#   postgres (waits for a login), odoo (waits for /web/health on its address) and nginx (waits
#   for /web/health through nginx). `oe stop` after it, untimed.
# - peer: with the installation's postgres running (`oe start --env-only`, untimed), `docker
#   run -d` of the same odoo image by the digest in oe.lock, on the installation's network,
#   with the mounts oe gives its own odoo container: config dir at /etc/odoo (read-only: the
#   same odoo.conf), data_dir at /var/lib/odoo, sources at /mnt/extra-addons (read-only, as oe
#   mounts them in production) and the log dir at /var/log/odoo (odoo.conf's logfile), command
#   /usr/bin/odoo; timed until `curl` of /web/health on the container's address answers 200
#   (asked every 0.1 s). `docker rm -f` and `oe stop` after it, untimed.
# Both go from "not running" to "Odoo answers /web/health"; oe also starts postgres and nginx
# and waits for each, the peer starts a new container (create + start) where oe starts
# existing ones. Everything made in Docker carries the label oe.client=<client>; it goes, with
# the network oe-<client>, in start_cleanup (also when the script exits early).

start_client=   # the client of section_start: start_cleanup removes its containers and network
cutoff_cfg=     # a config whose oe applied a cutoff to oe-<start_client>: start_cleanup removes it

start_cleanup() {
    [ -n "${start_client:-}" ] || return 0
    local ids
    if [ -n "${cutoff_cfg:-}" ]; then
        "$oe_bin" --config "$cutoff_cfg" -q cutoff remove --network "oe-$start_client" >/dev/null 2>&1 ||
            say "could not remove the cutoff of oe-$start_client (see 'iptables -S DOCKER-USER')"
        cutoff_cfg=
    fi
    ids=$(docker ps -aq --filter "label=oe.client=$start_client" 2>/dev/null || true)
    # shellcheck disable=SC2086 # container ids, one a word
    [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
    docker network rm "oe-$start_client" >/dev/null 2>&1 || true
    start_client=
}

# A free TCP port of 127.0.0.1.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Builds and serves the images of contrib/test-images.sh; sets OE_TEST_REGISTRY and
# OE_TEST_IMAGE_{ODOO,POSTGRES,NGINX} (the caller declares them local). $1 names the section
# in messages, $2 is its scratch directory.
test_images() {
    local id=$1 s=$2
    say "$id: the test images (contrib/test-images.sh)"
    if ! "$repo/contrib/test-images.sh" >"$s/images.env" 2>"$dir/logs/$id.images"; then
        say "$id: contrib/test-images.sh failed:"
        tail -n 20 "$dir/logs/$id.images" >&2
        return 1
    fi
    eval "$(grep -E '^OE_TEST_[A-Z_]+=' "$s/images.env")"
    if [ -z "$OE_TEST_IMAGE_ODOO" ] || [ -z "$OE_TEST_IMAGE_POSTGRES" ] || [ -z "$OE_TEST_IMAGE_NGINX" ]; then
        say "$id: contrib/test-images.sh printed no OE_TEST_IMAGE_{ODOO,POSTGRES,NGINX}:"
        cat "$s/images.env" >&2
        return 1
    fi
}

# The odoo image's digest reference in the oe.lock $1.
lock_odoo_image() {
    local image
    image=$(awk '$1 == "odoo:" { role = 1; next } /^  [^ ]/ { role = 0 } role && $1 == "digest:" { print $2; exit }' "$1")
    image=${image//[\"\']/}
    case $image in
        *@sha256:*) echo "$image" ;;
        *) say "no odoo digest in $1:"; cat "$1" >&2; return 1 ;;
    esac
}

# Makes the directory $1 a git repository whose one commit holds its files, and its bare
# clone $1.git.
bench_repo() {
    local g=(git -c user.name=bench -c user.email=bench@example.org -C "$1")
    "${g[@]}" init -q -b main
    "${g[@]}" add -A
    "${g[@]}" commit -q -m first
    git clone -q --bare "$1" "$1.git"
}

# Runs oe with the config $2 for the section $1, its output in logs/$1.$3; fails with its tail.
oe_setup() {
    local id=$1 cfg=$2 name=$3
    shift 3
    if ! "$oe_bin" --config "$cfg" "$@" >"$dir/logs/$id.$name" 2>&1; then
        say "$id: oe $* failed:"
        tail -n 30 "$dir/logs/$id.$name" >&2
        return 1
    fi
}

# Whether the deploy section $1 can run here: a Docker engine and root; else says why.
deploy_possible() {
    if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
        say "$1: SKIPPED: no Docker engine (docker info failed)"
        echo "- $1: skipped: no Docker engine here (\`docker info\` failed)." >>"$notes"
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "$1: SKIPPED: needs root (oe install gives data_dir and log to the image's odoo user)"
        echo "- $1: skipped: not run as root (\`oe install\` chowns data_dir and log)." >>"$notes"
        return 1
    fi
}

section_start() {
    deploy_possible start || return 0
    ensure_tools curl:curl git:git
    local s=$dir/start id=start i t who order
    rm -rf "$s"
    mkdir -p "$s/remotes/defapp" "$s/srv"

    local OE_TEST_REGISTRY= OE_TEST_IMAGE_ODOO= OE_TEST_IMAGE_POSTGRES= OE_TEST_IMAGE_NGINX=
    test_images start "$s" || return 1

    # The installation, as tests/it/deploy.rs makes one (untimed).
    start_client=bench$$
    local client=$start_client http_port db_port odoo_port
    http_port=$(free_port)
    db_port=$(free_port)
    odoo_port=$(free_port)
    cat >"$s/remotes/defapp/__manifest__.py" <<EOF
# the bench client's default app
{
    'name': 'Bench default',
    'depends': ['base'],
    'env-ver': '2',
    'odoo-license': 'CE',
    'port': '$odoo_port',
    'docker-images': [
        'odoo $OE_TEST_IMAGE_ODOO',
        'postgres $OE_TEST_IMAGE_POSTGRES',
        'nginx $OE_TEST_IMAGE_NGINX',
    ],
}
EOF
    bench_repo "$s/remotes/defapp"
    local cfg=$s/config.yml
    printf "deploy: {base_dir: '%s', http_port: %s, db_port: %s}\n" "$s/srv" "$http_port" "$db_port" >"$cfg"
    oe_setup start "$cfg" config config --client "$client" --environment production \
        --defapp "file://$s/remotes/defapp.git" --nginx on
    say "start: oe install (client $client)"
    oe_setup start "$cfg" install install
    local root=$s/srv/$client network=oe-$client db=${client}_prod
    local d
    for d in config data_dir sources log; do
        [ -d "$root/$d" ] || { say "start: oe install made no $root/$d"; return 1; }
    done
    say "start: first oe start (initdb)"
    oe_setup start "$cfg" first-start start
    say "start: creating the database $db (odoo -i base, inside the odoo container)"
    if ! docker exec "oe-$client-odoo" /usr/bin/odoo -d "$db" -i base --stop-after-init --no-http \
        >"$dir/logs/$id.initdb" 2>&1; then
        say "start: odoo -d $db -i base failed:"
        tail -n 30 "$dir/logs/$id.initdb" >&2
        return 1
    fi
    oe_setup start "$cfg" first-stop stop

    # The odoo image as oe.lock records it, and as oe's container runs it.
    local image running_image
    image=$(lock_odoo_image "$root/oe.lock") || return 1
    running_image=$(docker inspect -f '{{.Config.Image}}' "oe-$client-odoo")
    [ "$running_image" = "$image" ] || { say "start: oe's odoo container runs $running_image, oe.lock says $image"; return 1; }

    local peer=oe-$client-bench-peer
    local peer_args=(--name "$peer" --label "oe.client=$client" --network "$network"
        -v "$root/config:/etc/odoo:ro" -v "$root/data_dir:/var/lib/odoo"
        -v "$root/sources:/mnt/extra-addons:ro" -v "$root/log:/var/log/odoo"
        "$image" /usr/bin/odoo)
    # The peer: prints the seconds from `docker run -d` to the first 200 of /web/health on the
    # container's address (at most 180 s, oe start's default timeout for a container).
    peer_start() {
        local log=$1 t0 ip n=0 begun=$SECONDS
        t0=$(now)
        if ! docker run -d "${peer_args[@]}" >"$log" 2>&1; then
            say "start: docker run of the peer failed:"
            tail -n 20 "$log" >&2
            return 1
        fi
        ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$network\").IPAddress}}" "$peer")
        [ -n "$ip" ] || { say "start: the peer has no address in $network"; return 1; }
        until [ "$(curl -fsS -o /dev/null -w '%{http_code}' --max-time 3 "http://$ip:8069/web/health" 2>/dev/null)" = 200 ]; do
            n=$((n + 1))
            if ((n % 20 == 0)); then
                if [ "$(docker inspect -f '{{.State.Running}}' "$peer" 2>/dev/null)" != true ] ||
                    ((SECONDS - begun >= 180)); then
                    say "start: the peer's odoo stopped or did not answer within 180 s; the end of its log:"
                    docker logs --tail 10 "$peer" >&2 2>&1 || true
                    tail -n 20 "$root/log/odoo.log" >&2 || true
                    return 1
                fi
            fi
            sleep 0.1
        done
        elapsed "$t0" "$(now)"
    }
    # What runs must be exactly this (untimed check before each timed run).
    running_roles() {
        docker ps --filter "label=oe.client=$client" --format '{{.Label "oe.role"}}' | sort | tr '\n' ' '
    }

    local t_oe=$dir/results/$id.oe t_peer=$dir/results/$id.peer rss=$dir/results/$id.rss
    : >"$t_oe"
    : >"$t_peer"
    : >"$rss"
    for ((i = 1; i <= runs; i++)); do
        order="peer oe"
        ((i % 2)) || order="oe peer"
        for who in $order; do
            if [ "$who" = peer ]; then
                oe_setup start "$cfg" "env.$i" start --env-only
                [ "$(running_roles)" = "postgres " ] || { say "start: before the peer, running: $(running_roles)"; return 1; }
                t=$(peer_start "$dir/logs/$id.peer.$i")
                echo "$t" >>"$t_peer"
                if [ "$i" = 1 ]; then
                    # It reached the installation's database, not only its own HTTP server.
                    local ip code
                    ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$network\").IPAddress}}" "$peer")
                    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 120 "http://$ip:8069/web/login?db=$db" || true)
                    [ "$code" = 200 ] || { say "start: the peer's /web/login answered $code, not 200"; return 1; }
                fi
                docker rm -f -v "$peer" >/dev/null
                oe_setup start "$cfg" "env-stop.$i" stop
            else
                [ -z "$(running_roles)" ] || { say "start: before oe start, running: $(running_roles)"; return 1; }
                t=$(oe_config=$cfg time_oe "$dir/logs/$id.oe.$i" "$rss" start)
                echo "$t" >>"$t_oe"
                [ "$(grep -c " started$" "$dir/logs/$id.oe.$i")" = 3 ] || { say "start: oe start did not start 3 existing containers:"; cat "$dir/logs/$id.oe.$i" >&2; return 1; }
                oe_setup start "$cfg" "stop.$i" stop
            fi
            say "start run $i/$runs: $who ${t}s"
        done
    done

    local peer_med oe_med diff rss_kib
    peer_med=$(median <"$t_peer")
    oe_med=$(median <"$t_oe")
    diff=$(awk -v a="$oe_med" -v b="$peer_med" 'BEGIN { printf "%.2f\n", a - b }')
    rss_kib=$(maximum <"$rss")
    local name="start of an installed environment (oe: postgres, odoo, nginx, each waited for; peer: odoo alone, postgres running)"
    local peer_cmd="docker run -d --network oe-CLIENT -v CONFIG:/etc/odoo:ro -v DATA_DIR:/var/lib/odoo -v SOURCES:/mnt/extra-addons:ro -v LOG:/var/log/odoo ODOO@DIGEST /usr/bin/odoo; curl -fsS http://IP:8069/web/health every 0.1 s"
    # The ratio column holds the difference: the target is in seconds.
    # shellcheck disable=SC2016 # the backquotes are Markdown
    printf '| %s | `%s` | %s | %s | %s | %s | %s |\n' "$name" "$(cell "$peer_cmd")" "$peer_med" "$oe_med" \
        "$(awk -v d="$diff" 'BEGIN { printf "%+.2f s (oe − peer)", d }')" "≤ peer + 2 s $(verdict "$diff" 2)" \
        "$(mib $((rss_kib * 1024)))" >>"$table"
    {
        echo "- start: runs, seconds: oe $(tr '\n' ' ' <"$t_oe")| peer $(tr '\n' ' ' <"$t_peer")(alternating, peer first in odd runs)."
        echo "- start: images of contrib/test-images.sh from its registry $OE_TEST_REGISTRY (odoo as $image, $OE_TEST_IMAGE_POSTGRES, $OE_TEST_IMAGE_NGINX); database $db made with \`odoo -i base\`; Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'), storage driver $(docker info --format '{{.Driver}}' 2>/dev/null || echo '?'); page cache warm for both."
        echo "- start: oe starts the 3 existing stopped containers one after the other and waits for each (postgres: a login; odoo: /web/health on its address; nginx: /web/health through it, polled every 0.2 s); the peer makes and starts one new container with postgres already running, and asks every 0.1 s."
    } >>"$notes"

    start_cleanup
    rm -rf "$s"
}

# --- section: update ------------------------------------------------------------------------

# `oe update` of one changed module against what it does alone, and its rollback and its
# nothing-to-do run against their targets. An installation as tests/it/update.rs makes one
# (untimed): a default app depending on the addon bench_probe of a second local repository,
# its database made by `oe update` itself, then BENCH_UPDATE_MB (300) MiB of rows added so the
# rollback copy has a size. Then BENCH_RUNS times:
# - a new field in bench_probe, committed and pulled (`oe pull --repos`, untimed);
# - peer (first, on the same change), what an operator does by hand, timed from stopping Odoo
#   to Odoo answering /web/health through nginx again: `docker stop` of Odoo, `createdb -T`
#   (the copy to go back to), `odoo -u bench_probe --stop-after-init --no-http --workers 0` in a
#   `docker run --rm` of the same image with the installation's mounts and network, `docker
#   start`; on bench_peer, a copy of the database made beforehand (untimed), so that oe finds
#   the same work after it;
# - oe: `oe update --quick` with Odoo serving; its downtime as it reports it (from stopping
#   Odoo until Odoo answers again through nginx);
# - `oe update --rollback`, timed (target < 10 s);
# - `oe update --quick` with nothing changed since, timed (target < 3 s, and no downtime).
section_update() {
    deploy_possible update || return 0
    ensure_tools curl:curl git:git
    local s=$dir/update id=update i t mb=${BENCH_UPDATE_MB:-300}
    rm -rf "$s"
    mkdir -p "$s/remotes/defapp/bench_default" "$s/remotes/addons/bench_probe" "$s/srv"
    local OE_TEST_REGISTRY= OE_TEST_IMAGE_ODOO= OE_TEST_IMAGE_POSTGRES= OE_TEST_IMAGE_NGINX=
    test_images update "$s" || return 1

    start_client=benchup$$
    local client=$start_client http_port db_port
    http_port=$(free_port)
    db_port=$(free_port)
    local probe=$s/remotes/addons/bench_probe
    printf "{'name': 'Bench probe', 'depends': ['base'], 'license': 'LGPL-3'}\n" >"$probe/__manifest__.py"
    printf 'from . import models\n' >"$probe/__init__.py"
    # The addon's model with the fields f1..f$1.
    bench_model() {
        printf 'from odoo import fields, models\n\n\nclass Thing(models.Model):\n'
        printf "    _name = 'bench.probe.thing'\n    _description = 'Bench'\n\n    name = fields.Char()\n"
        local n
        for ((n = 1; n <= $1; n++)); do printf '    f%s = fields.Integer()\n' "$n"; done
    }
    bench_model 0 >"$probe/models.py"
    cat >"$s/remotes/defapp/bench_default/__manifest__.py" <<EOF
{
    'name': 'Bench default', 'depends': ['base', 'bench_probe'], 'license': 'LGPL-3',
    'env-ver': '2', 'odoo-license': 'CE', 'port': '$(free_port)',
    'git-repos': ['file://$s/remotes/addons.git addons'],
    'docker-images': [
        'odoo $OE_TEST_IMAGE_ODOO',
        'postgres $OE_TEST_IMAGE_POSTGRES',
        'nginx $OE_TEST_IMAGE_NGINX',
    ],
}
EOF
    : >"$s/remotes/defapp/bench_default/__init__.py"
    bench_repo "$s/remotes/defapp"
    bench_repo "$s/remotes/addons"
    local cfg=$s/config.yml
    printf "deploy: {base_dir: '%s', http_port: %s, db_port: %s}\n" "$s/srv" "$http_port" "$db_port" >"$cfg"
    oe_setup update "$cfg" config config --client "$client" --environment production \
        --defapp "file://$s/remotes/defapp.git" --nginx on
    say "update: oe install, and the database made by oe update (client $client)"
    oe_setup update "$cfg" install install
    oe_setup update "$cfg" create update
    local root=$s/srv/$client db=${client}_prod image pg=oe-$client-postgres
    image=$(lock_odoo_image "$root/oe.lock") || return 1
    say "update: $mb MiB of rows in $db"
    docker exec "$pg" psql -U odoo -d "$db" -qc \
        "CREATE TABLE bench_pad AS SELECT g, repeat(md5(g::text), 30) AS pad FROM generate_series(1, $mb * 1024) g" \
        >"$dir/logs/$id.pad" 2>&1 || { say "update: padding failed"; cat "$dir/logs/$id.pad" >&2; return 1; }

    local peer=oe-$client-bench-peer
    # Until Odoo answers /web/health through nginx (at most 180 s).
    serving() {
        local n=0
        until [ "$(curl -fsS -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$http_port/web/health" 2>/dev/null)" = 200 ]; do
            n=$((n + 1))
            ((n < 1800)) || { say "update: odoo does not answer through nginx"; return 1; }
            sleep 0.1
        done
    }
    # The peer, on the same change as oe next, by hand: its downtime from stopping Odoo to
    # Odoo answering again. It updates bench_peer, a copy of the database made beforehand
    # (untimed; Odoo must be stopped for it too), so that oe finds the same work after it.
    peer_update() {
        local log=$1 t0 t1 odoo=oe-$client-odoo
        docker stop -t 30 "$odoo" >/dev/null
        docker exec "$pg" createdb -U odoo -T "$db" bench_peer >"$log" 2>&1 ||
            { say "update: createdb -T failed"; cat "$log" >&2; return 1; }
        docker start "$odoo" >/dev/null
        serving || return 1
        t0=$(now)
        docker stop -t 30 "$odoo" >/dev/null
        docker exec "$pg" createdb -U odoo -T bench_peer bench_peer_before >>"$log" 2>&1 ||
            { say "update: createdb -T failed"; cat "$log" >&2; return 1; }
        if ! docker run --rm --name "$peer" --label "oe.client=$client" --network "oe-$client" \
            -v "$root/config:/etc/odoo:ro" -v "$root/data_dir:/var/lib/odoo" \
            -v "$root/sources:/mnt/extra-addons:ro" -v "$root/log:/var/log/odoo" \
            "$image" /usr/bin/odoo --logfile= -d bench_peer -u bench_probe --stop-after-init \
            --no-http --workers 0 --max-cron-threads 0 >>"$log" 2>&1; then
            say "update: the peer's odoo -u failed:"
            tail -n 20 "$log" >&2
            return 1
        fi
        docker start "$odoo" >/dev/null
        serving || return 1
        t1=$(now)
        docker exec "$pg" dropdb -U odoo bench_peer >>"$log" 2>&1
        docker exec "$pg" dropdb -U odoo bench_peer_before >>"$log" 2>&1
        elapsed "$t0" "$t1"
    }

    local t_peer=$dir/results/$id.peer t_oe=$dir/results/$id.oe t_back=$dir/results/$id.back
    local t_quick=$dir/results/$id.quick rss=$dir/results/$id.rss log
    : >"$t_peer"
    : >"$t_oe"
    : >"$t_back"
    : >"$t_quick"
    : >"$rss"
    local g=(git -c user.name=bench -c user.email=bench@example.org -C "$s/remotes/addons")
    for ((i = 1; i <= runs; i++)); do
        bench_model "$i" >"$probe/models.py"
        "${g[@]}" commit -qam "field f$i"
        "${g[@]}" push -q "$s/remotes/addons.git" main
        oe_setup update "$cfg" "pull.$i" pull --repos
        t=$(peer_update "$dir/logs/$id.peer.$i") || return 1
        echo "$t" >>"$t_peer"
        say "update run $i/$runs: peer downtime ${t}s (stop, copy, odoo -u, start)"
        log=$dir/logs/$id.oe.$i
        oe_config=$cfg time_oe "$log" "$rss" update --quick >/dev/null || return 1
        grep -q "bench_probe" "$log" || { say "update: oe update did not update bench_probe:"; cat "$log" >&2; return 1; }
        t=$(awk '$1 == "downtime" { print $2 }' "$log")
        [ -n "$t" ] || { say "update: oe update reported no downtime:"; cat "$log" >&2; return 1; }
        echo "$t" >>"$t_oe"
        say "update run $i/$runs: oe downtime ${t}s"
        serving || return 1
        t=$(oe_config=$cfg time_oe "$dir/logs/$id.back.$i" "$rss" update --rollback) || return 1
        echo "$t" >>"$t_back"
        say "update run $i/$runs: rollback ${t}s"
        log=$dir/logs/$id.quick.$i
        t=$(oe_config=$cfg time_oe "$log" "$rss" update --quick) || return 1
        grep -q "nothing to update" "$log" || { say "update: oe update --quick after the rollback did something:"; cat "$log" >&2; return 1; }
        echo "$t" >>"$t_quick"
        say "update run $i/$runs: nothing to do ${t}s"
    done

    local peer_med oe_med back_med quick_med rss_kib rss_mib r
    peer_med=$(median <"$t_peer")
    oe_med=$(median <"$t_oe")
    back_med=$(median <"$t_back")
    quick_med=$(median <"$t_quick")
    rss_kib=$(maximum <"$rss")
    rss_mib=$(mib $((rss_kib * 1024)))
    r=$(ratio "$oe_med" "$peer_med")
    local peer_cmd="docker stop odoo; createdb -T DB BEFORE; docker run --rm ODOO@DIGEST odoo -d DB -u bench_probe --stop-after-init --no-http --workers 0; docker start odoo; curl /web/health through nginx every 0.1 s"
    # shellcheck disable=SC2016 # the backquotes are Markdown
    {
        printf '| update of one changed module: downtime from stopping Odoo to Odoo answering through nginx (oe: copy, -u on the copy, swap; peer: copy, -u in place; %s MiB database) | `%s` | %s | %s | %s | ≤ 1.2 %s | %s |\n' \
            "$mb" "$(cell "$peer_cmd")" "$peer_med" "$oe_med" "$r" "$(verdict "$r" 1.2)" "$rss_mib"
        printf '| `oe update --rollback` (%s MiB database) | — | — | %s | — | < 10 s %s | %s |\n' \
            "$mb" "$back_med" "$(awk -v t="$back_med" 'BEGIN { print (t < 10) ? "✓" : "✗" }')" "$rss_mib"
        printf '| `oe update --quick`, nothing changed (no downtime) | — | — | %s | — | < 3 s %s | %s |\n' \
            "$quick_med" "$(awk -v t="$quick_med" 'BEGIN { print (t < 3) ? "✓" : "✗" }')" "$rss_mib"
    } >>"$table"
    {
        echo "- update: runs, seconds: oe downtime $(tr '\n' ' ' <"$t_oe")| peer downtime $(tr '\n' ' ' <"$t_peer")| rollback $(tr '\n' ' ' <"$t_back")| nothing to do $(tr '\n' ' ' <"$t_quick")(the peer always first, on the same change)."
        echo "- update: both stop Odoo while it serves, copy the database with createdb -T (oe: CREATE DATABASE … TEMPLATE), run odoo -u bench_probe --stop-after-init in a one-off container of the same image and start Odoo until /web/health answers through nginx; oe also hard-links the filestore, checks the modules' states, stores the checksums and swaps the names."
    } >>"$notes"

    start_cleanup
    rm -rf "$s"
}

# --- section: stage -------------------------------------------------------------------------

# `oe stage --from-db` on a staging installation, against the stream it is built on alone. An
# installation as tests/it/stage.rs makes one (untimed): environment staging, nginx on, a
# default app depending on base, its database <client>_prod made by `oe update`; mail.listen
# on 0.0.0.0 (no catcher runs: oe stage only warns) and the daemon's state (the recorded
# cutoffs) in the section's directory. With Odoo stopped, two sources made beside it with
# createdb -T: <client>_src, padded with BENCH_STAGE_MB (300) MiB of rows and given a filestore
# of BENCH_STAGE_FILES (100000) files of 2 KiB (Odoo's layout ab/ab<sha1>, owned as data_dir
# is), and <client>_bare, the same database without a filestore. One `oe stage --from-db
# <client>_src` untimed first (it applies the cutoff, and leaves a filestore to replace as
# every later run finds one). Then BENCH_RUNS times, alternating (odd runs: peer, src, bare;
# even runs: bare, src, peer), each after a CHECKPOINT of the installation's server:
# - peer: pg_dump --no-owner -Fc -Z0 <client>_src | pg_restore --no-owner --exit-on-error
#   into a new database (made before, dropped after, untimed), host binaries over TCP to the
#   published port, as oe streams it;
# - oe: `oe --json stage --from-db <client>_src`, then the same from <client>_bare: wall-clock
#   time of the whole command, and copied.seconds of its JSON (the copy part: stream, links,
#   new identity, neutralization, mail servers pointed at the catcher, the swap; what the
#   copy replaced is dropped and removed while Odoo starts, after this part);
# - for reference in the notes: `cp -al` of the same filestore, and `rm -rf` of it.
section_stage() {
    deploy_possible stage || return 0
    ensure_tools curl:curl git:git python3:python3
    local s=$dir/stage id=stage i t who order mb=${BENCH_STAGE_MB:-300} files=${BENCH_STAGE_FILES:-100000}
    case $mb in '' | *[!0-9]*) say "stage: BENCH_STAGE_MB must be a number"; return 1 ;; esac
    case $files in '' | *[!0-9]* | 0) say "stage: BENCH_STAGE_FILES must be a positive integer"; return 1 ;; esac
    rm -rf "$s"
    mkdir -p "$s/remotes/defapp/bench_default" "$s/srv" "$s/mail" "$s/state"
    local OE_TEST_REGISTRY= OE_TEST_IMAGE_ODOO= OE_TEST_IMAGE_POSTGRES= OE_TEST_IMAGE_NGINX=
    test_images stage "$s" || return 1

    start_client=benchst$$
    local client=$start_client http_port db_port smtp_port
    http_port=$(free_port)
    db_port=$(free_port)
    smtp_port=$(free_port)
    cat >"$s/remotes/defapp/bench_default/__manifest__.py" <<EOM
{
    'name': 'Bench default', 'depends': ['base'], 'license': 'LGPL-3',
    'env-ver': '2', 'odoo-license': 'CE', 'port': '$(free_port)',
    'docker-images': [
        'odoo $OE_TEST_IMAGE_ODOO',
        'postgres $OE_TEST_IMAGE_POSTGRES',
        'nginx $OE_TEST_IMAGE_NGINX',
    ],
}
EOM
    : >"$s/remotes/defapp/bench_default/__init__.py"
    bench_repo "$s/remotes/defapp"
    local cfg=$s/config.yml
    printf "deploy: {base_dir: '%s', http_port: %s, db_port: %s}\n" "$s/srv" "$http_port" "$db_port" >"$cfg"
    oe_setup stage "$cfg" config config --client "$client" --environment staging \
        --defapp "file://$s/remotes/defapp.git" --nginx on
    printf "mail: {dir: '%s', listen: ['0.0.0.0:%s']}\ndaemon: {state_file: '%s'}\n" \
        "$s/mail" "$smtp_port" "$s/state/state.json" >>"$cfg"
    say "stage: oe install, and the database made by oe update (client $client)"
    oe_setup stage "$cfg" install install
    oe_setup stage "$cfg" create update
    local root=$s/srv/$client db=${client}_prod src=${client}_src bare=${client}_bare
    local pg=oe-$client-postgres odoo=oe-$client-odoo peer_db=${client}_peer
    local store=$root/data_dir/filestore/$src owner
    owner=$(stat -c %u:%g "$root/data_dir")

    # The sources, made while Odoo has no session (untimed), their scheduled actions off: Odoo's
    # cron workers run those of every database of the server, and an autovacuum on a source
    # (its files' garbage collection) would change it between runs.
    say "stage: the sources $src ($mb MiB of rows, $files files) and $bare (no filestore)"
    docker stop -t 30 "$odoo" >/dev/null
    {
        docker exec "$pg" createdb -U odoo -T "$db" "$src" &&
            docker exec "$pg" psql -U odoo -d "$src" -v ON_ERROR_STOP=1 -qc \
                "UPDATE ir_cron SET active = false; CREATE TABLE bench_pad AS SELECT g, repeat(md5(g::text), 30) AS pad FROM generate_series(1, $mb * 1024) g" &&
            docker exec "$pg" createdb -U odoo -T "$src" "$bare"
    } >"$dir/logs/$id.sources" 2>&1 || { say "stage: making the sources failed"; cat "$dir/logs/$id.sources" >&2; return 1; }
    mkdir -p "$store"
    [ ! -d "$root/data_dir/filestore/$db" ] || cp -a "$root/data_dir/filestore/$db/." "$store/"
    python3 - "$store" "$files" <<'PY'
import hashlib, os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    data = hashlib.shake_128(b"bench stage %d" % i).digest(2048)
    h = hashlib.sha1(data).hexdigest()
    d = os.path.join(root, h[:2])
    if not os.path.isdir(d):
        os.makedirs(d)
    with open(os.path.join(d, h), "wb") as f:
        f.write(data)
PY
    chown -R "$owner" "$store"
    local store_files
    store_files=$(count_files "$store")
    cutoff_cfg=$cfg

    # The installation's server, as the peer reaches it (the password of config/postgres.yml
    # by the environment: fine in a benchmark).
    yml() { awk -v k="$1" -F': *' '$1 == k { v = $2; gsub(/["'\'']/, "", v); print v; exit }' "$root/config/postgres.yml"; }
    local pgenv
    pgenv=(PGHOST=127.0.0.1 "PGPORT=$db_port" "PGUSER=$(yml user)" "PGPASSWORD=$(yml password)" PGDATABASE=postgres)
    [ "$(yml port)" = "$db_port" ] || { say "stage: config/postgres.yml says port $(yml port), not $db_port"; return 1; }

    local t_peer=$dir/results/$id.peer t_oe=$dir/results/$id.oe t_copy=$dir/results/$id.copy
    local t_bare=$dir/results/$id.bare t_bare_copy=$dir/results/$id.bare_copy t_cp=$dir/results/$id.cp t_rm=$dir/results/$id.rm
    local rss=$dir/results/$id.rss kept=0
    : >"$t_peer"
    : >"$t_oe"
    : >"$t_copy"
    : >"$t_bare"
    : >"$t_bare_copy"
    : >"$t_cp"
    : >"$t_rm"
    : >"$rss"
    # `oe --json stage --from-db $2`, after a CHECKPOINT of the installation's server: prints
    # its wall-clock seconds, then copied.seconds, filestore_files and linked_files of its JSON;
    # appends its peak RSS (KiB) to $rss.
    stage_run() {
        local log=$1 from=$2 t0 t1
        (export "${pgenv[@]}" && checkpoint)
        t0=$(now)
        if ! /usr/bin/time -f '%M' -o "$log.rss" "$oe_bin" --config "$cfg" --json stage --from-db "$from" \
            >"$log.json" 2>"$log"; then
            say "stage: oe stage --from-db $from failed:"
            tail -n 20 "$log" >&2
            return 1
        fi
        t1=$(now)
        tail -n 1 "$log.rss" >>"$rss"
        printf '%s ' "$(elapsed "$t0" "$t1")"
        python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
c = d["copied"]
assert d["database"] == sys.argv[2] and c["from"] == "database" and c["source"] == sys.argv[3], d
print("%.3f %s %s" % (c["seconds"], c.get("filestore_files"), c["linked_files"]))' "$log.json" "$db" "$from"
    }
    local peer_cmd="pg_dump --no-owner -Fc -Z0 SRC | pg_restore --no-owner --exit-on-error -d PEER"
    say "stage: oe stage --from-db $src, untimed (the cutoff applied, a filestore in place)"
    local out
    out=$(stage_run "$dir/logs/$id.first" "$src") || return 1
    for ((i = 1; i <= runs; i++)); do
        order="peer src bare"
        ((i % 2)) || order="bare src peer"
        for who in $order; do
            case $who in
                peer)
                    (export "${pgenv[@]}" && fresh_db "$peer_db")
                    t=$(export "${pgenv[@]}" &&
                        time_peer "$dir/logs/$id.peer.$i" "pg_dump --no-owner -Fc -Z0 $src | pg_restore --no-owner --exit-on-error -d $peer_db") || return 1
                    [ "$i" != 1 ] || [ "$(export "${pgenv[@]}" && rows "$peer_db" bench_pad)" = $((mb * 1024)) ] ||
                        { say "stage: the peer's copy lacks rows"; return 1; }
                    (export "${pgenv[@]}" && drop_db "$peer_db")
                    echo "$t" >>"$t_peer"
                    say "stage run $i/$runs: peer ${t}s"
                    ;;
                src | bare)
                    local from=$src total copy fs linked
                    [ "$who" = src ] || from=$bare
                    out=$(stage_run "$dir/logs/$id.$who.$i" "$from") || return 1
                    read -r total copy fs linked <<<"$out"
                    if [ "$who" = src ]; then
                        if [ "$fs" != "$store_files" ] || [ "$linked" != "$store_files" ]; then
                            say "stage: $fs files, $linked linked, of $store_files"
                            return 1
                        fi
                        echo "$total" >>"$t_oe"
                        echo "$copy" >>"$t_copy"
                    else
                        [ "$fs" = 0 ] || { say "stage: $bare has a filestore of $fs files?"; return 1; }
                        # What the staging database's filestore holds after a copy of a
                        # database without one.
                        kept=$(count_files "$root/data_dir/filestore/$db" 2>/dev/null || echo 0)
                        echo "$total" >>"$t_bare"
                        echo "$copy" >>"$t_bare_copy"
                    fi
                    say "stage run $i/$runs: oe from $who ${total}s, copy part ${copy}s"
                    ;;
            esac
        done
        # References for the filestore part (not in the table): cp -al of the same files, and
        # rm -rf of those links (what replacing a staging filestore removes).
        local t0 cp_dir=$root/data_dir/filestore/bench_cp
        rm -rf "$cp_dir"
        t0=$(now)
        cp -al "$store" "$cp_dir"
        elapsed "$t0" "$(now)" >>"$t_cp"
        t0=$(now)
        rm -rf "$cp_dir"
        elapsed "$t0" "$(now)" >>"$t_rm"
    done
    # Odoo serves the last copy (the command waited for it; checked once more here).
    local code
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 60 "http://127.0.0.1:$http_port/web/login?db=$db" || true)
    [ "$code" = 200 ] || { say "stage: Odoo's /web/login through nginx answered $code after the last run"; return 1; }

    local peer_med oe_med copy_med bare_med bare_copy_med cp_med rss_kib fs_part per100k r
    peer_med=$(median <"$t_peer")
    oe_med=$(median <"$t_oe")
    copy_med=$(median <"$t_copy")
    bare_med=$(median <"$t_bare")
    bare_copy_med=$(median <"$t_bare_copy")
    cp_med=$(median <"$t_cp")
    rss_kib=$(maximum <"$rss")
    fs_part=$(awk -v a="$copy_med" -v b="$bare_copy_med" 'BEGIN { printf "%.2f\n", a - b }')
    local left=
    [ "$kept" = 0 ] || left=" After a run from $bare (no filestore) the staging database's filestore still held $kept files: the previous copy's, kept under the new database's name."
    per100k=$(awk -v d="$fs_part" -v n="$store_files" 'BEGIN { printf "%.2f\n", d * 100000 / n }')
    table_row "\`oe stage --from-db\`, its copy part (copied.seconds: stream + hard links + new identity + neutralize + mail servers + swap; $mb MiB of rows, $store_files files)" \
        "$peer_cmd" "$peer_med" "$copy_med" "$peer_med" 1.1 peer "$rss_kib"
    r=$(ratio "$oe_med" "$peer_med")
    # shellcheck disable=SC2016 # the backquotes are Markdown
    printf '| %s | `%s` | %s | %s | %s | %s | %s |\n' \
        "\`oe stage --from-db\`, the whole command (also the cutoff checked, Odoo stopped, and started until it serves through nginx)" \
        "$(cell "$peer_cmd")" "$peer_med" "$oe_med" "$r" \
        "≤ 1.1× peer $(verdict "$r" 1.1) (the issue's target read literally; the peer neither stops nor starts Odoo)" \
        "$(mib $((rss_kib * 1024)))" >>"$table"
    {
        echo "- stage: runs, seconds: oe from $src $(paste -sd' ' "$t_oe") (copy part $(paste -sd' ' "$t_copy")) | from $bare $(paste -sd' ' "$t_bare") (copy part $(paste -sd' ' "$t_bare_copy")) | peer $(paste -sd' ' "$t_peer") (alternating: peer, src, bare in odd runs, reversed in even ones; one untimed oe stage first)."
        echo "- stage: the filestore part, median copy part with the filestore − without it: $copy_med − $bare_copy_med = $fs_part s for $store_files files of 2 KiB, $per100k s per 100,000 files (target < 2 s $(verdict "$per100k" 2)). oe links the files while the database streams, so this is what they add to the wall time, not the linking alone; the previous staging filestore ($store_files links) and database are removed while Odoo starts, after the copy part. For reference, \`cp -al\` of the same filestore alone: median $cp_med s ($(paste -sd' ' "$t_cp")), \`rm -rf\` of those links: median $(median <"$t_rm") s ($(paste -sd' ' "$t_rm")).$left"
        echo "- stage: the whole command minus its copy part (cutoff, Odoo stop and start until it serves through nginx while the replaced database and filestore are removed, the lock, the catcher asked): median $(awk -v a="$oe_med" -v b="$copy_med" 'BEGIN { printf "%.2f", a - b }') s; from $bare: whole $bare_med s. Both copy the same database from the installation's PostgreSQL ($OE_TEST_IMAGE_POSTGRES, published on 127.0.0.1) with the host's pg_dump/pg_restore $(pg_dump --version | awk '{ print $3 }'); the page cache is warm; no mail catcher ran."
    } >>"$notes"

    start_cleanup
    rm -rf "$s"
}

# --- section: db_live ------------------------------------------------------------------------

# `oe db cp --live` (pg_dump streamed into pg_restore, the copy finished and renamed) against
# the same stream by hand, alternating, each into a new database dropped after its run.
section_db_live() {
    local i t_oe=$dir/db_live.oe t_peer=$dir/db_live.peer rss=$dir/db_live.rss
    local peer_cmd="pg_dump --no-owner -Fc -Z0 bench_src | pg_restore --no-owner --exit-on-error -d bench_live_peer"
    : >"$t_oe"
    : >"$t_peer"
    : >"$rss"
    for ((i = 0; i < runs; i++)); do
        fresh_db bench_live_peer
        time_peer "$dir/logs/db_live.peer.$i" "$peer_cmd" >>"$t_peer" || return 1
        drop_db bench_live_peer
        time_oe "$dir/logs/db_live.oe.$i" "$rss" db cp --live bench_src bench_live_oe >>"$t_oe" || return 1
        drop_db bench_live_oe
    done
    table_row "oe db cp --live (a database in use)" "$peer_cmd" "$(median <"$t_peer")" \
        "$(median <"$t_oe")" "$(median <"$t_peer")" 1.1 peer "$(maximum <"$rss")"
}

# --- section: cutoff -------------------------------------------------------------------------

# `oe cutoff apply` (fresh: its rules removed before each run) of a test network's bridge,
# against inserting the same rule with iptables by hand; the target is under 1 s.
section_cutoff() {
    if [ "$(id -u)" -ne 0 ] || ! docker info >/dev/null 2>&1; then
        say "cutoff: needs root and a Docker engine; skipped"
        return 0
    fi
    local net=oebench$$ i t_oe=$dir/cutoff.oe t_peer=$dir/cutoff.peer rss=$dir/cutoff.rss t0
    local rule=(-i "$net" -p tcp -m multiport --dports 25,110,143,465,587,993,995,2525
        -m comment --comment bench -j REJECT --reject-with tcp-reset)
    docker network create -o "com.docker.network.bridge.name=$net" "$net" >/dev/null
    : >"$t_oe"
    : >"$t_peer"
    : >"$rss"
    for ((i = 0; i < runs; i++)); do
        t0=$(now)
        iptables -w -I DOCKER-USER 1 "${rule[@]}"
        elapsed "$t0" "$(now)" >>"$t_peer"
        iptables -w -D DOCKER-USER "${rule[@]}"
        time_oe "$dir/logs/cutoff.$i" "$rss" cutoff apply --network "$net" >>"$t_oe" || break
        "$oe_bin" cutoff remove --network "$net" >/dev/null
    done
    docker network rm "$net" >/dev/null
    local peer_med oe_med
    peer_med=$(median <"$t_peer")
    oe_med=$(median <"$t_oe")
    printf '| `oe cutoff apply` (a Docker bridge, IPv4 and IPv6 checked) | `iptables -I DOCKER-USER …` | %s | %s | %s | < 1 s %s | %s |\n' \
        "$peer_med" "$oe_med" "$(ratio "$oe_med" "$peer_med")" \
        "$(awk -v t="$oe_med" 'BEGIN { print (t < 1) ? "✓" : "✗" }')" "$(mib $(($(maximum <"$rss") * 1024)))" >>"$table"
}

# --- run --------------------------------------------------------------------------------------

for section in $sections; do
    if ! declare -F "section_$section" >/dev/null; then
        say "no section '$section' (there are: $(declare -F | awk '$3 ~ /^section_/ { sub(/^section_/, "", $3); printf "%s ", $3 }'))"
        exit 2
    fi
    say "section $section"
    "section_$section"
done

echo "| case | peer command | peer median s | oe median s | ratio (oe/peer) | target | oe peak RSS MiB |"
echo "| --- | --- | ---: | ---: | ---: | --- | ---: |"
cat "$table" 2>/dev/null || true
if [ -s "$sizes" ]; then
    echo
    echo "| output | oe MiB | peer MiB | oe/peer |"
    echo "| --- | ---: | ---: | ---: |"
    cat "$sizes"
fi
if [ -s "$notes" ]; then
    echo
    cat "$notes"
fi
echo
echo "Load average at the end: $(cut -d" " -f1-3 /proc/loadavg)."
echo "Medians of $runs run(s); \"floor\" is \`cat dump.sql | psql\`; RSS is the largest of oe and the processes it ran."
