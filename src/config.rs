//! Configuration: TOML in the XDG config dir, overridden by environment variables, then flags.
//!
//! Order of precedence, lowest first: built-in defaults, the config file (`--config`,
//! `KASSA_CONFIG`, or `$XDG_CONFIG_HOME/kassa/config.toml`, or, when that does not exist, the
//! system-wide `/etc/kassa/config.toml` that the Debian package installs), environment
//! variables, flags. One file is read, never two; it sets only what it names; everything else
//! keeps its default.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::Currency;

/// The default config, with comments: what `kassa --print-default-config` prints.
pub const DEFAULT_CONFIG: &str = r#"# kassa configuration. Every key is optional; this file shows the defaults.
# Location: --config FILE, or KASSA_CONFIG, or $XDG_CONFIG_HOME/kassa/config.toml, or (when
# that does not exist) the system-wide /etc/kassa/config.toml.

# ISO 4217 code of the store's currency (EUR, USD, GBP, CHF, JPY, BHD).
currency = "EUR"

# Round cash payments to this many minor units (5 = nearest 0.05); 0 = no cash rounding.
cash_rounding = 0

# The local database. Default: $XDG_DATA_HOME/kassa/till.db. Also --db FILE or KASSA_DB.
# database = "/var/lib/kassa/till.db"

# The store's Supabase project. Leave out to run fully offline.
# Recommended instead of a static device_token: `kassa enroll --url URL --anon-key KEY
# --email EMAIL` signs the till in to Supabase Auth and keeps the session in the database
# (an enrolled session wins over the url/anon_key/device_token below).
[remote]
# url = "https://YOUR-PROJECT.supabase.co"        # env KASSA_REMOTE_URL
# anon_key = "eyJ..."                             # env KASSA_ANON_KEY
# device_token = "eyJ..."                         # env KASSA_DEVICE_TOKEN
# Plain http:// is accepted only for loopback addresses unless this is true.
allow_insecure_http = false
connect_timeout_ms = 3000
request_timeout_ms = 10000

[sync]
# Seconds between heartbeats while online (jittered; faster while offline).
heartbeat_interval_s = 10
# Most operations and bytes sent in one push.
batch_max_ops = 500
batch_max_bytes = 2000000

[backup]
# Automatic backups (one is taken beside the database before each schema migration): how many
# to keep, newest first (1-100).
keep = 3

# Refunds. Cash refunds are cash-rounded like cash sales (cash_rounding above).
[refunds]
# Most a refund without a receipt may pay back, in minor units (5000 = 50.00 in EUR);
# 0 = refunds without a receipt are not allowed.
blind_max_cents = 5000

# Cashiers and shifts. Without staff (none added with `kassa staff add` or pulled from the
# server) the till needs no PIN and no shift. With staff, a cashier (and a technician working
# headless without a manager's PIN) is held to these limits; beyond them a manager approves.
[staff]
# Largest line discount or price override a cashier may give alone, in percent.
max_discount_percent = 10
# Largest refund against a receipt a cashier may give alone, in minor units.
refund_limit_cents = 5000
# A refund without a receipt, a post-void and a no-sale drawer opening need a manager.
blind_refund_needs_manager = true
post_void_needs_manager = true
no_sale_needs_manager = true
# Wrong PINs in a row before that staff member is locked out, and for how long (seconds).
max_pin_attempts = 5
lockout_seconds = 300
# The console locks (asks for a PIN again) after this many idle seconds; 0 = never.
idle_lock_seconds = 120

# The header printed on every receipt (empty lines are left out). A field left empty here is
# taken from the server's store record once a sync brought one; a field set here wins.
[receipt]
store_name = ""
# Lines separated by \n, e.g. "Hauptstrasse 1\n10115 Berlin".
address = ""
tax_id = ""
# Columns of a receipt: 32 (58 mm paper), 42 or 48 (80 mm); 32 to 48.
width = 42

# The receipt printer (ESC/POS). Printing runs after the sale is saved and never delays it;
# a failed print is listed by `kassa status` (and the console) and printed again by
# `kassa receipt SALE --print` (or Ctrl-P in the console).
[printer]
# none | file (append to path) | device (e.g. /dev/usb/lp0) | tcp (a raw port, host:9100)
kind = "none"
# path = "/dev/usb/lp0"
# address = "192.168.1.50:9100"
# How long one print may take (connect and write) before it counts as failed.
timeout_ms = 3000
# Open the cash drawer (through the printer) when a receipt has a cash tender.
cash_drawer = false
# Print a sale's receipt as soon as it is saved (kassa sell and the console); false: only on
# demand (`p` on the console's receipt, `kassa receipt SALE --print`).
print_after_sale = true
"#;

/// The system-wide config, read when no user config exists (installed by the Debian package).
pub const SYSTEM_CONFIG_PATH: &str = "/etc/kassa/config.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub currency: String,
    pub cash_rounding: i64,
    pub database: Option<PathBuf>,
    pub remote: RemoteConfig,
    pub sync: SyncConfig,
    pub backup: BackupConfig,
    pub refunds: RefundsConfig,
    pub staff: StaffConfig,
    pub receipt: ReceiptConfig,
    pub printer: PrinterConfig,
}

/// `[staff]`: a cashier's limits, the PIN lockout and the console's idle lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaffConfig {
    pub max_discount_percent: i64,
    pub refund_limit_cents: i64,
    pub blind_refund_needs_manager: bool,
    pub post_void_needs_manager: bool,
    pub no_sale_needs_manager: bool,
    pub max_pin_attempts: i64,
    pub lockout_seconds: i64,
    pub idle_lock_seconds: u64,
}

impl Default for StaffConfig {
    fn default() -> Self {
        let l = crate::domain::RoleLimits::default();
        let p = crate::domain::LockoutPolicy::default();
        StaffConfig {
            max_discount_percent: l.cashier_max_discount_percent,
            refund_limit_cents: l.cashier_refund_limit_cents,
            blind_refund_needs_manager: l.blind_refund_needs_manager,
            post_void_needs_manager: l.post_void_needs_manager,
            no_sale_needs_manager: l.no_sale_needs_manager,
            max_pin_attempts: p.max_attempts,
            lockout_seconds: p.lockout_seconds,
            idle_lock_seconds: 120,
        }
    }
}

/// `[receipt]`: the header printed on receipts and their width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptConfig {
    pub store_name: String,
    pub address: String,
    pub tax_id: String,
    pub width: usize,
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        ReceiptConfig {
            store_name: String::new(),
            address: String::new(),
            tax_id: String::new(),
            width: 42,
        }
    }
}

impl StaffConfig {
    /// The cashier's limits as the domain checks them.
    pub fn limits(&self) -> crate::domain::RoleLimits {
        crate::domain::RoleLimits {
            cashier_max_discount_percent: self.max_discount_percent,
            cashier_refund_limit_cents: self.refund_limit_cents,
            blind_refund_needs_manager: self.blind_refund_needs_manager,
            post_void_needs_manager: self.post_void_needs_manager,
            no_sale_needs_manager: self.no_sale_needs_manager,
        }
    }

    /// The PIN lockout as the store applies it.
    pub fn lockout(&self) -> crate::domain::LockoutPolicy {
        crate::domain::LockoutPolicy {
            max_attempts: self.max_pin_attempts,
            lockout_seconds: self.lockout_seconds,
        }
    }
}

/// Where receipts are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrinterKind {
    None,
    File,
    Device,
    Tcp,
}

/// `[printer]`: an ESC/POS printer on a device file, a raw TCP port or a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrinterConfig {
    pub kind: PrinterKind,
    pub path: Option<PathBuf>,
    pub address: Option<String>,
    pub timeout_ms: u64,
    pub cash_drawer: bool,
    pub print_after_sale: bool,
}

impl Default for PrinterConfig {
    fn default() -> Self {
        PrinterConfig {
            kind: PrinterKind::None,
            path: None,
            address: None,
            timeout_ms: 3000,
            cash_drawer: false,
            print_after_sale: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// How many automatic (pre-migration) backups are kept beside the database.
    pub keep: usize,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig { keep: 3 }
    }
}

/// `[refunds]`: limits of refunding at this till.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefundsConfig {
    /// Most a refund without a receipt may pay back, in minor units.
    pub blind_max_cents: i64,
}

impl Default for RefundsConfig {
    fn default() -> Self {
        RefundsConfig {
            blind_max_cents: 5000,
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteConfig {
    pub url: Option<String>,
    pub anon_key: Option<String>,
    pub device_token: Option<String>,
    pub allow_insecure_http: bool,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
}

/// Never prints the key or the token.
impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("anon_key", &self.anon_key.as_ref().map(|_| "<redacted>"))
            .field(
                "device_token",
                &self.device_token.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    pub heartbeat_interval_s: u64,
    pub batch_max_ops: usize,
    pub batch_max_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            currency: "EUR".into(),
            cash_rounding: 0,
            database: None,
            remote: RemoteConfig::default(),
            sync: SyncConfig::default(),
            backup: BackupConfig::default(),
            refunds: RefundsConfig::default(),
            staff: StaffConfig::default(),
            receipt: ReceiptConfig::default(),
            printer: PrinterConfig::default(),
        }
    }
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            url: None,
            anon_key: None,
            device_token: None,
            allow_insecure_http: false,
            connect_timeout_ms: 3000,
            request_timeout_ms: 10_000,
        }
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            heartbeat_interval_s: 10,
            batch_max_ops: 500,
            batch_max_bytes: 2_000_000,
        }
    }
}

/// A configuration problem, reported in one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config: {0}")]
    Invalid(String),
}

impl RemoteConfig {
    /// True when url, key and token are all set: the till has somewhere to sync to.
    pub fn is_configured(&self) -> bool {
        self.url.is_some() && self.anon_key.is_some() && self.device_token.is_some()
    }
}

impl Config {
    /// Parses a config file's text; unknown keys and bad values are errors naming the file.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Loads the file (if `explicit` is given it must exist; the default location may be
    /// absent, and then the system-wide one is read if it exists), then applies environment
    /// overrides from `env`.
    pub fn load(
        explicit: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Config, Option<PathBuf>), ConfigError> {
        Config::load_from(
            explicit,
            env,
            default_config_path(),
            Path::new(SYSTEM_CONFIG_PATH),
        )
    }

    /// [`Config::load`] with the user and system-wide locations given (for tests).
    pub fn load_from(
        explicit: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        user: Option<PathBuf>,
        system: &Path,
    ) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let candidates: Vec<(PathBuf, bool)> = match explicit {
            Some(p) => vec![(p.to_path_buf(), true)],
            None => match env("KASSA_CONFIG") {
                Some(p) => vec![(PathBuf::from(p), true)],
                None => user
                    .into_iter()
                    .chain(Some(system.to_path_buf()))
                    .map(|p| (p, false))
                    .collect(),
            },
        };
        let mut cfg = Config::default();
        let mut used = None;
        for (path, required) in candidates {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    cfg = Config::from_toml(&text, &path)?;
                    used = Some(path);
                    break;
                }
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(ConfigError::Read { path, source }),
            }
        }
        cfg.apply_env(env);
        cfg.validate()?;
        Ok((cfg, used))
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        let nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(v) = nonempty("KASSA_REMOTE_URL") {
            self.remote.url = Some(v);
        }
        if let Some(v) = nonempty("KASSA_ANON_KEY") {
            self.remote.anon_key = Some(v);
        }
        if let Some(v) = nonempty("KASSA_DEVICE_TOKEN") {
            self.remote.device_token = Some(v);
        }
        if let Some(v) = nonempty("KASSA_DB") {
            self.database = Some(PathBuf::from(v));
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        Currency::from_code(&self.currency).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if !(0..=1000).contains(&self.cash_rounding) {
            return Err(ConfigError::Invalid(
                "cash_rounding must be between 0 and 1000".into(),
            ));
        }
        if !(0..=crate::domain::MAX_UNIT_PRICE).contains(&self.refunds.blind_max_cents) {
            return Err(ConfigError::Invalid(format!(
                "refunds.blind_max_cents must be between 0 and {}",
                crate::domain::MAX_UNIT_PRICE
            )));
        }
        if !(0..=100).contains(&self.staff.max_discount_percent) {
            return Err(ConfigError::Invalid(
                "staff.max_discount_percent must be between 0 and 100".into(),
            ));
        }
        if !(0..=crate::domain::MAX_UNIT_PRICE).contains(&self.staff.refund_limit_cents) {
            return Err(ConfigError::Invalid(format!(
                "staff.refund_limit_cents must be between 0 and {}",
                crate::domain::MAX_UNIT_PRICE
            )));
        }
        if !(1..=100).contains(&self.staff.max_pin_attempts) {
            return Err(ConfigError::Invalid(
                "staff.max_pin_attempts must be between 1 and 100".into(),
            ));
        }
        if !(0..=86_400 * 7).contains(&self.staff.lockout_seconds) {
            return Err(ConfigError::Invalid(
                "staff.lockout_seconds must be between 0 and 604800".into(),
            ));
        }
        if self.sync.batch_max_ops == 0 || self.sync.batch_max_ops > 1000 {
            return Err(ConfigError::Invalid(
                "sync.batch_max_ops must be between 1 and 1000".into(),
            ));
        }
        if self.sync.heartbeat_interval_s == 0 {
            return Err(ConfigError::Invalid(
                "sync.heartbeat_interval_s must be at least 1".into(),
            ));
        }
        if !(1..=100).contains(&self.backup.keep) {
            return Err(ConfigError::Invalid(
                "backup.keep must be between 1 and 100".into(),
            ));
        }
        crate::receipt::check_width(self.receipt.width)
            .map_err(|e| ConfigError::Invalid(format!("receipt.{e}")))?;
        let p = &self.printer;
        if !(1..=60_000).contains(&p.timeout_ms) {
            return Err(ConfigError::Invalid(
                "printer.timeout_ms must be between 1 and 60000".into(),
            ));
        }
        match p.kind {
            PrinterKind::File | PrinterKind::Device if p.path.is_none() => {
                return Err(ConfigError::Invalid(
                    "printer.path is needed for kind \"file\" or \"device\"".into(),
                ));
            }
            PrinterKind::Tcp if p.address.as_deref().is_none_or(|a| a.trim().is_empty()) => {
                return Err(ConfigError::Invalid(
                    "printer.address (host:port) is needed for kind \"tcp\"".into(),
                ));
            }
            _ => {}
        }
        if let Some(url) = &self.remote.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "remote.url must start with https:// (got {url:?})"
                )));
            }
        }
        Ok(())
    }

    pub fn currency(&self) -> Currency {
        Currency::from_code(&self.currency).unwrap_or(Currency::EUR)
    }

    /// The refund limits this config sets (`cash_rounding`, `refunds.blind_max_cents`).
    pub fn refund_policy(&self) -> crate::domain::RefundPolicy {
        crate::domain::RefundPolicy {
            cash_rounding: self.cash_rounding,
            blind_max_cents: self.refunds.blind_max_cents,
        }
    }

    /// The database path: flag, else `KASSA_DB`/config, else the XDG data dir.
    pub fn database_path(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| self.database.clone())
            .unwrap_or_else(|| data_dir().join("till.db"))
    }
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "kassa")
}

pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

pub fn data_dir() -> PathBuf {
    project_dirs()
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where logs go: `$XDG_STATE_HOME/kassa` (falls back to the data dir).
pub fn state_dir() -> PathBuf {
    project_dirs()
        .and_then(|d| d.state_dir().map(Path::to_path_buf))
        .unwrap_or_else(data_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_printed_default_config_is_the_default() {
        let cfg = Config::from_toml(DEFAULT_CONFIG, Path::new("default")).unwrap();
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn the_packaged_system_config_is_the_default_with_the_database_in_var_lib() {
        let text = include_str!("../assets/deb/config.toml");
        let cfg = Config::from_toml(text, Path::new(SYSTEM_CONFIG_PATH)).unwrap();
        assert_eq!(
            cfg,
            Config {
                database: Some(PathBuf::from("/var/lib/kassa/till.db")),
                ..Config::default()
            }
        );
    }

    #[test]
    fn a_file_overrides_only_what_it_sets() {
        let cfg = Config::from_toml("cash_rounding = 5\n", Path::new("x")).unwrap();
        assert_eq!(cfg.cash_rounding, 5);
        assert_eq!(cfg.currency, "EUR");
        assert_eq!(cfg.sync, SyncConfig::default());
    }

    #[test]
    fn bad_config_is_a_one_line_error_naming_the_file() {
        let e = Config::from_toml("curency = \"EUR\"\n", Path::new("/etc/k.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("config /etc/k.toml: unknown field `curency`"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
        let e = Config::from_toml("currency = \"XYZ\"\n", Path::new("k")).unwrap_err();
        assert_eq!(e.to_string(), "config: unknown currency \"XYZ\"");
    }

    #[test]
    fn env_overrides_the_file_and_secrets_stay_out_of_debug() {
        let env = |k: &str| match k {
            "KASSA_REMOTE_URL" => Some("http://127.0.0.1:1".to_string()),
            "KASSA_ANON_KEY" => Some("anon-secret".to_string()),
            "KASSA_DEVICE_TOKEN" => Some("token-secret".to_string()),
            _ => None,
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[remote]\nurl = \"https://x.example\"\n").unwrap();
        let (cfg, used) = Config::load(Some(&p), &env).unwrap();
        assert_eq!(used.as_deref(), Some(p.as_path()));
        assert_eq!(cfg.remote.url.as_deref(), Some("http://127.0.0.1:1"));
        assert!(cfg.remote.is_configured());
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
    }

    #[test]
    fn the_system_wide_config_is_read_only_when_no_user_config_exists() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.toml");
        let system = dir.path().join("system.toml");
        std::fs::write(&system, "cash_rounding = 5\n[backup]\nkeep = 7\n").unwrap();
        let (cfg, used) = Config::load_from(None, &no_env, Some(user.clone()), &system).unwrap();
        assert_eq!(used.as_deref(), Some(system.as_path()));
        assert_eq!((cfg.cash_rounding, cfg.backup.keep), (5, 7));
        // A user file wins, and is read alone (not merged with the system-wide one).
        std::fs::write(&user, "currency = \"CHF\"\n").unwrap();
        let (cfg, used) = Config::load_from(None, &no_env, Some(user.clone()), &system).unwrap();
        assert_eq!(used.as_deref(), Some(user.as_path()));
        assert_eq!((cfg.currency.as_str(), cfg.cash_rounding), ("CHF", 0));
        // KASSA_CONFIG and --config are above both.
        let explicit = dir.path().join("explicit.toml");
        std::fs::write(&explicit, "cash_rounding = 10\n").unwrap();
        let (cfg, _) = Config::load_from(Some(&explicit), &no_env, Some(user), &system).unwrap();
        assert_eq!(cfg.cash_rounding, 10);
        // Neither present: defaults.
        let none = dir.path().join("none.toml");
        let (cfg, used) = Config::load_from(None, &no_env, Some(none.clone()), &none).unwrap();
        assert_eq!((cfg, used), (Config::default(), None));
        let e = Config::from_toml("[backup]\nkeep = 0\n", Path::new("k")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "config: backup.keep must be between 1 and 100"
        );
    }

    #[test]
    fn an_explicit_missing_file_is_an_error() {
        let e = Config::load(Some(Path::new("/nonexistent/k.toml")), &no_env).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("cannot read config /nonexistent/k.toml"));
    }
}
