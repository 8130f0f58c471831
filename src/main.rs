//! The `shipgate` binary: the library's command line, nothing more.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    shipgate::cli::main()
}
