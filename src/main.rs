//! The `portcullis` binary: parse the command line, run it, exit.

fn main() -> std::process::ExitCode {
    portcullis::cli::main()
}
