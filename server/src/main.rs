//! The oncewallet server: wallet API, operator API and console in one binary, and the
//! tools that work on its database (`server --help`).
// Requests allocate many small, short-lived buffers on every runtime thread; mimalloc's
// per-thread free lists serve them for a fraction of glibc malloc's cost
// (docs/PERFORMANCE.md, "the allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // Parsed before the runtime starts: parsing edits the environment (see `cli::parse`).
    let cli = server::cli::parse();
    let code = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(server::cli::run(cli))?;
    std::process::exit(code)
}
