//! Compresses Swagger UI's vendored assets once, at build time, so `/api-docs` sends
//! them as brotli or gzip without compressing 1.9 MB per browser (`src/docs_ui.rs`).
//! The outputs go to `OUT_DIR` and are compiled in beside the plain files.
use std::io::Write as _;
use std::path::Path;

const ASSETS: [&str; 2] = ["swagger-ui-bundle.js", "swagger-ui.css"];

fn main() {
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let out_dir = Path::new(&out_dir);
    for name in ASSETS {
        let source = Path::new("assets/swagger-ui").join(name);
        println!("cargo::rerun-if-changed={}", source.display());
        let plain = std::fs::read(&source)
            .unwrap_or_else(|error| panic!("reading {}: {error}", source.display()));
        std::fs::write(out_dir.join(format!("{name}.br")), brotli_of(&plain))
            .expect("writing the brotli copy");
        std::fs::write(out_dir.join(format!("{name}.gz")), gzip_of(&plain))
            .expect("writing the gzip copy");
    }
    println!("cargo::rerun-if-changed=build.rs");
}

/// Quality 11 with a 4 MB window: the smallest brotli, paid once per build.
fn brotli_of(plain: &[u8]) -> Vec<u8> {
    let mut packed = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &plain[..], &mut packed, &params).expect("brotli in memory");
    packed
}

fn gzip_of(plain: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(plain).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}
