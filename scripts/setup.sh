#!/usr/bin/env bash
# Installs what the build needs, and with `test` also what the tests need, skipping what
# is already there:
#   scripts/setup.sh run    the wasm target and wasm-bindgen-cli (scripts/run.sh)
#   scripts/setup.sh test   also PostgreSQL, Chromium, Node.js + Playwright, curl, wrk,
#                           promtool and wasm-opt (scripts/test.sh)
# Works as root on a fresh Debian 12 machine that reaches only the package registries
# (Debian, crates.io, npm): nothing here downloads a binary from anywhere else.
set -euo pipefail

cd "$(dirname "$0")/.."

purpose="${1:-test}"
case "$purpose" in
    run | test) ;;
    *)
        echo "usage: scripts/setup.sh [run|test]   (default: test, everything)" >&2
        exit 2
        ;;
esac

step() { printf '==> setup (%s): %s\n' "$purpose" "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- Rust: rustfmt and clippy (test.sh checks formatting and lints) -------------
if [ "$purpose" = test ]; then
    for component in rustfmt clippy; do
        if rustup component list --installed | grep -q "^$component"; then
            step "rust component $component present"
        else
            step "adding rust component $component"
            rustup component add "$component"
        fi
    done
fi

# --- Rust: the wasm target -------------------------------------------------------
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "rust target wasm32-unknown-unknown present"
else
    step "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi

# --- wasm-bindgen-cli, pinned to the wasm-bindgen crate in Cargo.lock ------------
# The CLI and the crate must agree exactly, or the generated JS does not match the
# wasm's imports.
wasm_bindgen_version="$(awk '
    $0 == "name = \"wasm-bindgen\"" { found = 1; next }
    found && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)"
if [ -z "$wasm_bindgen_version" ]; then
    echo "setup: could not read the wasm-bindgen version from Cargo.lock" >&2
    exit 1
fi
installed_version="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$installed_version" = "$wasm_bindgen_version" ]; then
    step "wasm-bindgen-cli $wasm_bindgen_version present"
else
    step "installing wasm-bindgen-cli $wasm_bindgen_version (found: ${installed_version:-none}); this compiles from crates.io"
    cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi

# --- brotli, for the precompressed console bundle --------------------------------
if command -v brotli >/dev/null 2>&1; then
    step "brotli present"
else
    step "installing Debian's brotli (precompresses the console bundle)"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends brotli
fi

if [ "$purpose" = run ]; then
    step "done (what running needs; scripts/setup.sh test adds the test tools)"
    exit 0
fi

# --- wasm-opt, pinned --------------------------------------------------------------
# Shrinks the console's wasm by about a quarter (scripts/build-site.sh runs it when it
# is installed). From crates.io, which builds binaryen from source (about ten minutes
# on 2 cores, once); Debian's binaryen 108 produces a wasm that fails to hydrate.
wasm_opt_version=0.116.1
if wasm-opt --version 2>/dev/null | grep -q "version 116"; then
    step "wasm-opt $wasm_opt_version present"
else
    step "installing wasm-opt $wasm_opt_version from crates.io (about ten minutes, once)"
    cargo install wasm-opt --version "$wasm_opt_version" --locked
fi


# --- Debian packages -------------------------------------------------------------
# PostgreSQL 15 for the second test pass, Chromium for the browser tests, Node.js
# for Playwright and (with Python 3) the example provider clients in docs/examples/, curl
# to wait for the test server, python3-venv for Schemathesis (test.sh installs it from PyPI
# into a virtual environment), wrk for the test of the pre-signed load (scripts/wrk.sh
# measures with it). `apt-get update` runs only when something is missing, so a
# machine that already has everything never touches the network here.
missing=()
for pkg in postgresql postgresql-contrib chromium curl python3 python3-venv wrk; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    step "installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    step "Debian packages present (postgresql, postgresql-contrib, chromium, curl, python3, python3-venv, wrk, node)"
fi

# --- promtool, for the alert rules and the dashboard in ops/ ----------------------
# Only the tool from Debian's `prometheus` package, unpacked: installing the package
# would also start a Prometheus server.
if command -v promtool >/dev/null 2>&1; then
    step "promtool present"
else
    step "installing promtool from Debian's prometheus package (the tool only)"
    unpack="$(mktemp -d)"
    if ! (cd "$unpack" && apt-get download -q prometheus); then
        as_root apt-get update -q
        (cd "$unpack" && apt-get download -q prometheus)
    fi
    dpkg-deb -x "$unpack"/prometheus_*.deb "$unpack/root"
    as_root install -m 0755 "$unpack/root/usr/bin/promtool" /usr/local/bin/promtool
    rm -rf "$unpack"
fi

# --- Playwright for the browser tests --------------------------------------------
# Only the npm packages: the browser is Debian's /usr/bin/chromium, so Playwright's
# own browser download is switched off.
if [ -d end2end/node_modules/@playwright/test ]; then
    step "end2end/node_modules present"
else
    step "installing end2end npm packages (npm ci)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

step "done"
