//! `kassa console` (and `kassa` alone): opens the full-screen console on the till database.

use std::process::ExitCode;

use super::{CliError, CliResult, Context};
use crate::tui::state::Settings;

#[derive(Debug, Default, clap::Args)]
pub struct ConsoleArgs {
    /// Open on the queue and conflict panes (for a technician, e.g. over SSH).
    #[arg(long)]
    pub technician: bool,
    /// No colours (also when NO_COLOR is set); states keep their words and symbols.
    #[arg(long)]
    pub no_color: bool,
}

pub fn run(ctx: &Context, args: ConsoleArgs) -> CliResult {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return Err(CliError::BadInput(
            "the console needs a terminal; use the headless commands (kassa --help)".into(),
        ));
    }
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let settings = Settings {
        currency: ctx.config.currency(),
        cash_rounding: ctx.config.cash_rounding,
        technician: args.technician,
        color: !(args.no_color || no_color_env),
        zone: crate::timefmt::Zone::Local,
    };
    let store = ctx.open_store()?;
    crate::tui::run::run(store, settings, &ctx.config)
        .map_err(|e| CliError::Failed(format!("console: {e:#}")))?;
    Ok(ExitCode::SUCCESS)
}
