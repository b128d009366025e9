//! The `portcullis` binary: parse the command line, run it, exit.

/// mimalloc, not glibc's malloc: a proxied request allocates and frees
/// dozens of small blocks across threads, and glibc's arenas spent 8 % of
/// the gateway's CPU on it (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    portcullis::cli::main()
}
