//! `carepost`: see `carepost --help`.

fn main() -> std::process::ExitCode {
    carepost_server::cli::main()
}
