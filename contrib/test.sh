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
# The backup server's tests (tests/it/sshd.rs) start their own OpenSSH server on a loopback port.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
for tool in ssh ssh-keygen; do
    command -v "$tool" >/dev/null || need+=(openssh-client)
done
if ((${#need[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${need[*]}; run: sudo apt-get install ${need[*]}" >&2
        exit 1
    fi
    echo "installing: ${need[*]}" >&2
    apt-get update -qq
    # A package's maintainer scripts start its service (openssh-server: sshd on port 22) through
    # invoke-rc.d, which first asks /usr/sbin/policy-rc.d; its exit code 101 means "do not".
    # In a container without systemd that start fails the install or leaves a daemon behind,
    # and the tests start their own servers: without such a policy, one is put in place for
    # the install only.
    (
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT
            printf '#!/bin/sh\n# contrib/test.sh: no service starts while it installs packages\nexit 101\n' \
                >/usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    )
fi

# The tests of a server and a user whose messages are in German (tests/it/locale.rs) need
# the de_DE.UTF-8 locale; Debian generates only what /etc/locale.gen lists.
if ! locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing locale de_DE.UTF-8; run: sudo sh -c \"echo 'de_DE.UTF-8 UTF-8' >> /etc/locale.gen && locale-gen\"" >&2
        exit 1
    fi
    if ! command -v locale-gen >/dev/null; then
        echo "installing: locales" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends locales >/dev/null
    fi
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
