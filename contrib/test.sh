#!/usr/bin/env bash
# Runs every test of oe: installs the Debian packages the tests need when they are missing
# (as root; otherwise says what to install), then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=contrib/cluster.sh
source contrib/cluster.sh
# The backup server's tests (tests/it/sshd.rs) start their own OpenSSH server on a loopback port.
# The deploy tests clone local repositories with git and check the generated nginx
# configuration with `nginx -t` (no server is started).
ensure_tools pg-server:postgresql gzip:gzip bzip2:bzip2 zstd:zstd mount:mount unzip:unzip \
    python3:python3 rsync:rsync /usr/sbin/sshd:openssh-server ssh:openssh-client \
    ssh-keygen:openssh-client git:git /usr/sbin/nginx:nginx-light

# The tests of a server and a user whose messages are in German (tests/it/locale.rs) need
# the de_DE.UTF-8 locale; Debian generates only what /etc/locale.gen lists.
if ! locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing locale de_DE.UTF-8; run: sudo sh -c \"echo 'de_DE.UTF-8 UTF-8' >> /etc/locale.gen && locale-gen\"" >&2
        exit 1
    fi
    ensure_tools locale-gen:locales
    grep -qx 'de_DE.UTF-8 UTF-8' /etc/locale.gen || echo 'de_DE.UTF-8 UTF-8' >> /etc/locale.gen
    locale-gen >/dev/null
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
