//! What every command needs: the loaded config, the database path, the store, logging.

use std::path::{Path, PathBuf};

use super::CliError;
use crate::config::{state_dir, Config};
use crate::store::{StoreHandle, StoreOptions};

pub struct Context {
    pub config: Config,
    /// The config file that was read, if any.
    pub config_path: Option<PathBuf>,
    pub db_path: PathBuf,
}

impl Context {
    pub fn load(config: Option<&Path>, db: Option<&Path>) -> Result<Context, CliError> {
        let env = |k: &str| std::env::var(k).ok();
        let (config, config_path) = Config::load(config, &env)?;
        let db_path = config.database_path(db);
        Ok(Context {
            config,
            config_path,
            db_path,
        })
    }

    /// Opens the store (its worker thread), creating and seeding the database on first use.
    pub fn open_store(&self) -> Result<StoreHandle, CliError> {
        let opts = StoreOptions {
            migration_backups_kept: self.config.backup.keep,
            ..StoreOptions::default()
        };
        StoreHandle::open(&self.db_path, opts)
            .map_err(|e| CliError::Failed(format!("cannot open {}: {e}", self.db_path.display())))
    }

    /// Logs go to a file in the XDG state dir (stdout belongs to the console and to `--json`),
    /// or, under systemd with standard error connected to the journal, to the journal.
    /// Returns the guard that flushes the log on drop; `None` when no log file can be made.
    pub fn init_logging(&self) -> Option<tracing_appender::non_blocking::WorkerGuard> {
        if super::journal::stderr_is_journal() {
            return super::journal::init();
        }
        let dir = state_dir();
        std::fs::create_dir_all(&dir).ok()?;
        let file = tracing_appender::rolling::never(&dir, "kassa.log");
        let (writer, guard) = tracing_appender::non_blocking(file);
        tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .with_env_filter(log_filter())
            .try_init()
            .ok()?;
        Some(guard)
    }
}

/// The log level: `KASSA_LOG` (an `EnvFilter`), default `info`.
pub(super) fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_env("KASSA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}
