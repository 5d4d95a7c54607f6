#!/usr/bin/env bash
# Builds the browser side of the web UI into target/site/pkg:
#   oncewallet.js    wasm-bindgen's ES module (loads and starts the wasm)
#   oncewallet.wasm  the hydrate build of app/ (frontend/)
#   oncewallet.css   style/main.css
# Plain cargo + wasm-bindgen-cli (installed by scripts/setup.sh at the version in
# Cargo.lock); no cargo-leptos, and no wasm-opt.
set -euo pipefail

cd "$(dirname "$0")/.."

# wasm-release (opt-level "z", fat LTO, one codegen unit) gives a wasm about a third of
# plain --release's; override with WASM_PROFILE=release for a faster, bigger build.
profile="${WASM_PROFILE:-wasm-release}"
target_dir="${CARGO_TARGET_DIR:-target}"
site_root="${LEPTOS_SITE_ROOT:-target/site}"
pkg_dir="$site_root/pkg"
output_name=oncewallet

step() { printf '==> build-site: %s\n' "$*"; }

step "cargo build -p frontend --target wasm32-unknown-unknown --profile $profile"
started=$SECONDS
cargo build -p frontend --lib --target wasm32-unknown-unknown --profile "$profile"
step "wasm build took $((SECONDS - started))s"

wasm="$target_dir/wasm32-unknown-unknown/$profile/frontend.wasm"
mkdir -p "$pkg_dir"

step "wasm-bindgen $wasm -> $pkg_dir/$output_name.js"
# The name section only labels functions in stack traces, and is half the file.
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$pkg_dir" --out-name "$output_name" "$wasm"
# .cargo/config.toml sets LEPTOS_OUTPUT_NAME at compile time, and with it set Leptos's
# HydrationScripts asks for <name>.wasm rather than wasm-bindgen's <name>_bg.wasm (the
# path is passed to the JS loader explicitly, so the rename is all it takes).
mv -f "$pkg_dir/${output_name}_bg.wasm" "$pkg_dir/$output_name.wasm"

step "style/main.css -> $pkg_dir/$output_name.css"
cp style/main.css "$pkg_dir/$output_name.css"

step "done: $(du -h "$pkg_dir/$output_name.wasm" | cut -f1) wasm, $(du -h "$pkg_dir/$output_name.js" | cut -f1) js"
