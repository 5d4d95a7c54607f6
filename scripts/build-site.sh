#!/usr/bin/env bash
# Builds the browser side of the web UI into target/site/pkg:
#   oncewallet-<hash>.js     wasm-bindgen's ES module (loads and starts the wasm)
#   oncewallet-<hash>.wasm   the hydrate build of app/ (frontend/), through wasm-opt
#                            when it is installed (scripts/setup.sh test installs it)
#   oncewallet-<hash>.css    style/main.css
#   each also as .br and .gz (the server sends them to browsers that accept them)
#   bundle                   the current stem, oncewallet-<hash>, read by the server
#                            (the previous build's files stay too, for a server still
#                            running on them)
# <hash> is of the three files' content, so a name never changes content and browsers
# keep the files for a year (server/src/site.rs). Plain cargo + wasm-bindgen-cli
# (installed by scripts/setup.sh at the version in Cargo.lock); no cargo-leptos.
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
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step "wasm-bindgen $wasm"
# The name section only labels functions in stack traces, and is half the file.
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$work" --out-name "$output_name" "$wasm"

# wasm-opt 116 from crates.io (scripts/setup.sh test). Debian's binaryen 108 must not be
# used: its output fails to hydrate. The features are those rustc emits for wasm32 by
# default; without them wasm-opt refuses the module.
if wasm-opt --version 2>/dev/null | grep -q "version 116"; then
    step "wasm-opt -Oz"
    before=$(stat -c %s "$work/${output_name}_bg.wasm")
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        -o "$work/opt.wasm" "$work/${output_name}_bg.wasm"
    mv -f "$work/opt.wasm" "$work/${output_name}_bg.wasm"
    step "wasm-opt: $before -> $(stat -c %s "$work/${output_name}_bg.wasm") bytes"
else
    step "wasm-opt 116 not installed: the wasm is not optimised further (scripts/setup.sh test installs it)"
fi
cp style/main.css "$work/$output_name.css"

hash="$(cat "$work/$output_name.js" "$work/${output_name}_bg.wasm" "$work/$output_name.css" \
    | sha256sum | cut -c1-16)"
stem="$output_name-$hash"
mkdir -p "$pkg_dir"
# Leptos's HydrationScripts asks for <stem>.js and <stem>.wasm (the path is passed to the
# JS loader explicitly, so renaming wasm-bindgen's <name>_bg.wasm is all it takes).
mv -f "$work/$output_name.js" "$pkg_dir/$stem.js"
mv -f "$work/${output_name}_bg.wasm" "$pkg_dir/$stem.wasm"
mv -f "$work/$output_name.css" "$pkg_dir/$stem.css"

if command -v brotli >/dev/null 2>&1; then
    have_brotli=1
else
    have_brotli=0
    step "brotli not installed: only .gz copies (scripts/setup.sh installs it)"
fi
for file in "$pkg_dir/$stem.js" "$pkg_dir/$stem.wasm" "$pkg_dir/$stem.css"; do
    gzip -9 -n -k -f "$file"
    if [ "$have_brotli" = 1 ]; then
        brotli -q 11 -k -f "$file"
    fi
done

# The server reads the stem at start-up. The previous bundle stays, so that a server
# started before this build keeps serving the files its pages name; older ones go.
# `bundle` is replaced in one rename, so a server starting now reads the old or the new.
previous="$(cat "$pkg_dir/bundle" 2>/dev/null || true)"
printf '%s\n' "$stem" > "$pkg_dir/bundle.tmp"
mv -f "$pkg_dir/bundle.tmp" "$pkg_dir/bundle"
find "$pkg_dir" -maxdepth 1 -type f -name "$output_name*" ! -name "$stem.*" \
    ! -name "${previous:-$stem}.*" -delete

size() { stat -c %s "$1"; }
step "done: $stem; wasm $(size "$pkg_dir/$stem.wasm") bytes ($(size "$pkg_dir/$stem.wasm.gz") gzip$([ "$have_brotli" = 1 ] && echo ", $(size "$pkg_dir/$stem.wasm.br") brotli")), js $(size "$pkg_dir/$stem.js") bytes"
