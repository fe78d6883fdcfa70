#!/usr/bin/env bash
# Runs every test of oe: installs the Debian packages the tests need when they are missing
# (as root; otherwise says what to install), then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
for tool in gzip bzip2 zstd mount unzip python3 rsync; do
    command -v "$tool" >/dev/null || need+=("$tool")
done
if ((${#need[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${need[*]}; run: sudo apt-get install ${need[*]}" >&2
        exit 1
    fi
    echo "installing: ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Tests that need what this script cannot install (a Docker engine, an Odoo source tree) are
# skipped with a line saying what is missing, collected here; with CI=true a skip fails.
skips=$(mktemp)
trap 'rm -f "$skips"' EXIT
export OE_TEST_SKIPS=$skips

# Benchmarks must build; the integration tests run last, so the closing line counts them.
cargo bench --locked --no-run
status=0
cargo test --locked --lib --bins --tests || status=$?
if [ -s "$skips" ]; then
    echo "$(wc -l <"$skips") test(s) skipped:"
    cat "$skips"
fi
exit "$status"
