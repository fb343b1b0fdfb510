//! The `kassa` binary: the console, or a headless command.

fn main() -> std::process::ExitCode {
    // Error reports with context, and the terminal restored if anything panics.
    let _ = color_eyre::install();
    kassa::cli::main()
}
