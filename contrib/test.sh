#!/usr/bin/env bash
# Runs every test of oe: installs the Debian packages the tests need when they are missing
# (as root; otherwise says what to install), then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=contrib/cluster.sh
source contrib/cluster.sh
# The backup server's tests (tests/it/sshd.rs) start their own OpenSSH server on a loopback port.
# The deploy tests clone local repositories with git and check the generated nginx
# configuration with `nginx -t` (no server is started). The cutoff tests (tests/it/cutoff.rs)
# make network namespaces and firewall rules with ip, nft and iptables; the mail catcher's
# web page is opened in headless Chromium (tests/it/mail.rs).
ensure_tools pg-server:postgresql gzip:gzip bzip2:bzip2 zstd:zstd mount:mount unzip:unzip \
    python3:python3 rsync:rsync /usr/sbin/sshd:openssh-server ssh:openssh-client \
    ssh-keygen:openssh-client git:git /usr/sbin/nginx:nginx-light pip3:python3-pip \
    ip:iproute2 nft:nftables iptables:iptables chromium:chromium curl:curl

# The object-storage tests (tests/it/s3.rs) start SeaweedFS and s3s-fs on loopback.
ensure_s3_servers

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

# The oracle of the addon checksum (src/odoo/addon_hash/tests.rs): click-odoo-contrib's own
# code, pinned, installed once outside the system's Python (--target), its dependencies not
# needed (the module it tests imports only the standard library).
click_odoo_contrib=1.24
OE_TEST_PYTHONPATH=/var/tmp/oe-test-pydeps/click-odoo-contrib-$click_odoo_contrib
if [ ! -d "$OE_TEST_PYTHONPATH/click_odoo_contrib" ]; then
    mkdir -p "$(dirname "$OE_TEST_PYTHONPATH")"
    staging=$(mktemp -d "$OE_TEST_PYTHONPATH.XXXXXX")
    # Readable by the test containers' own user (mktemp makes it 0700), which runs the oracle.
    chmod 755 "$staging"
    python3 -m pip install --quiet --no-deps --disable-pip-version-check \
        --target "$staging" "click-odoo-contrib==$click_odoo_contrib"
    rm -rf "$OE_TEST_PYTHONPATH"
    mv "$staging" "$OE_TEST_PYTHONPATH"
fi
export OE_TEST_PYTHONPATH

# Tests that need what this script cannot install (a Docker engine, an Odoo source tree) are
# skipped with a line saying what is missing, collected here; with CI=true a skip fails.
skips=$(mktemp)
export OE_TEST_SKIPS=$skips

# The deploy tests (tests/it/deploy.rs) need a Docker engine and the test images, built from
# Debian's packages and an Odoo source tree and served by a registry on loopback
# (contrib/test-images.sh: once per content hash, seconds when built). They build while cargo
# compiles; without an engine or an Odoo tree the tests skip with a line saying so.
images=$(mktemp)
images_log=$(mktemp)
trap 'rm -f "$skips" "$images" "$images_log"' EXIT
images_pid=
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    contrib/test-images.sh >"$images" 2>"$images_log" &
    images_pid=$!
else
    echo "no Docker engine: the deploy tests will skip" >&2
fi

# Benchmarks must build; the integration tests run last, so the closing line counts them.
cargo bench --locked --no-run
cargo test --locked --lib --bins --tests --no-run
if [ -n "$images_pid" ]; then
    if wait "$images_pid"; then
        eval "$(grep -E '^OE_TEST_[A-Z_]+=' "$images")"
        export OE_TEST_REGISTRY OE_TEST_IMAGE_ODOO OE_TEST_IMAGE_POSTGRES OE_TEST_IMAGE_NGINX
    else
        echo "contrib/test-images.sh failed; the deploy tests will skip. Its output:" >&2
        tail -n 30 "$images_log" >&2
    fi
fi
status=0
cargo test --locked --lib --bins --tests || status=$?
if [ -s "$skips" ]; then
    echo "$(wc -l <"$skips") test(s) skipped:"
    cat "$skips"
fi
exit "$status"
