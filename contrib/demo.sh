#!/usr/bin/env bash
# Try oe without touching anything of yours: builds it, starts a throwaway PostgreSQL in a
# temporary directory, fills it with a small Odoo-like database (demo_prod, about 10 MB) and its
# filestore (200 files, 60 MB), then saves and loads it in a few formats and shows that the
# copies match. Everything is removed at
# the end, also on failure or Ctrl-C. Needs cargo and PostgreSQL's server package (installed
# when missing and run as root). Environment: DEMO_SCALE (0.02), OE_PGPORT (5433), OE_BIN (use
# this oe instead of building one).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=cluster.sh source-path=SCRIPTDIR
source "$repo/contrib/cluster.sh"
scale=${DEMO_SCALE:-0.02}

ensure_tools pg-server:postgresql psql:postgresql-client pg_dump:postgresql-client python3:python3

if [ -n "${OE_BIN:-}" ]; then
    oe_bin=$OE_BIN
else
    if ! command -v cargo >/dev/null 2>&1; then
        echo "demo: cargo is missing: install Rust (https://rustup.rs) and run this again" >&2
        exit 1
    fi
    echo "demo: building oe (cargo build --release)" >&2
    (cd "$repo" && cargo build --release --quiet)
    oe_bin=$repo/target/release/oe
fi
[ -x "$oe_bin" ] || { echo "demo: no oe at $oe_bin" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/oe-demo.XXXXXX")
chmod 755 "$work" # the server's user must reach the cluster inside, as root
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if cluster_stop "$work/cluster"; then
        rm -rf "$work"
    else
        echo "demo: the server would not stop: left $work" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cluster_start "$work/cluster"
export OE_CONFIG=$work/cluster/config.yml
cd "$work"

echo "demo: generating demo_prod (scale $scale)" >&2
start=$(date +%s.%N)
createdb demo_prod
psql -X -q -v ON_ERROR_STOP=1 -v scale="$scale" -d demo_prod -f "$repo/contrib/gen-odoo-db.sql"
# Its filestore, where Odoo keeps it (services.odoo.data_dir of the cluster's config), and its
# attachments pointed at those files.
python3 "$repo/contrib/gen-filestore.py" --scale 0.01 \
    "$work/cluster/odoo-data/filestore/demo_prod" "$work/filestore.tsv" >&2
attach_filestore demo_prod "$work/filestore.tsv"
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "demo: generated in %.1f s\n", b - a }' >&2

# `oe` as the reader would type it: the binary just built, the cluster's configuration.
oe() { "$oe_bin" "$@"; }

# Shows a command, then runs it.
run() {
    printf '\n$ %s\n' "$*"
    "$@"
}

run oe config
run oe save-db odoo demo.sql.gz
run oe save-db odoo demo.dump.zst
run ls -l demo.sql.gz demo.dump.zst
run oe load-db odoo demo.sql.gz -d demo_staging
run oe load-db odoo demo.dump.zst -d demo_staging --force

# Row counts and a checksum of every row, in both databases.
tables=(res_partner product_template sale_order sale_order_line account_move account_move_line
    mail_message ir_attachment ir_module_module)
digest() {
    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" \
        -c "SELECT count(*) || ' ' || left(md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')), 12) FROM $2 t"
}
printf '\n%-20s %-24s %-24s %s\n' table "demo_prod rows / md5" "demo_staging rows / md5" same
all_same=yes
for t in "${tables[@]}"; do
    a=$(digest demo_prod "$t")
    b=$(digest demo_staging "$t")
    same=yes
    if [ "$a" != "$b" ]; then
        same=NO
        all_same=no
    fi
    printf '%-20s %-24s %-24s %s\n' "$t" "$a" "$b" "$same"
done

# Odoo backup archives: the filestore checked against the attachments, saved with the database,
# the archive checked, loaded as a neutralized copy, backed up.
run oe verify odoo demo_prod
run oe save odoo demo_prod demo.zip
run oe verify demo.zip
run oe load odoo demo.zip demo_copy --copy --neutralize
run oe neutralize odoo demo_copy --dry-run
run oe config --backup-dir "$work/backups"
run oe backup odoo -d demo_prod
run oe backups

# Deduplicated snapshots of the backup directory, with an rsync exclusion rule (the mirror-dir
# file format; `mirror:` in the config does the same).
mkdir -p "$work/backups/.cache"
echo "scratch" >"$work/backups/.cache/scratch"
printf '%s: {exclude: [/.cache/]}\n' "$work/backups" >mirror-dirs.yml
run oe mirror -r "$work/repo" init
run oe mirror -r "$work/repo" --dirs-file mirror-dirs.yml run
run oe mirror -r "$work/repo" --dirs-file mirror-dirs.yml run
run oe mirror -r "$work/repo" snapshots
run oe mirror -r "$work/repo" ls latest --dir "$work/backups"
run oe mirror -r "$work/repo" restore latest --dir "$work/backups" --target "$work/restored"
run oe mirror -r "$work/repo" check --read-data

# The nightly service's jobs, run once now: a backup of the database and a restore test of
# that backup (scratch database and filestore, verified, counted, dropped); then their status.
cat >>"$OE_CONFIG" <<EOF
daemon: {state_file: $work/state.json}
jobs:
  nightly-backup: {schedule: "0 2 * * *", backup: {databases: [demo_prod]}}
  restore-test: {schedule: "0 5 * * 0", restore_test: {databases: [demo_prod]}}
EOF
run oe daemon --print-schedule -n 2
run oe daemon --once
run oe status

# Loading over an existing database without --force is refused.
printf '\n$ %s\n' "oe load-db odoo demo.sql.gz -d demo_staging"
rc=0
oe load-db odoo demo.sql.gz -d demo_staging || rc=$?
echo "exit code: $rc"

echo
if [ "$all_same" != yes ]; then
    echo "demo: FAILED: demo_staging differs from demo_prod" >&2
    exit 1
fi
if [ "$rc" -eq 0 ]; then
    echo "demo: FAILED: loading over an existing database without --force was not refused" >&2
    exit 1
fi
echo "demo: all good: the copies match, and the unforced load was refused (exit code $rc)"
