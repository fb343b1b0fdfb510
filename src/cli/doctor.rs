//! `kassa doctor` (each part of the set-up with a verdict) and `kassa init`.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use super::{print_json, CliError, CliResult, Context};
use crate::config::{default_config_path, state_dir, DEFAULT_CONFIG};
use crate::store::backup::BackupFile;
use crate::store::SkippedProduct;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    Ok,
    Warn,
    Fail,
}

#[derive(Serialize)]
struct Check {
    check: &'static str,
    verdict: Verdict,
    detail: String,
    /// The `catalog` check only: how many server products the till left out, and the first
    /// [`SKIPPED_LISTED`] of them by SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<Vec<SkippedProduct>>,
    /// The `backups` check only: the backup files beside the database, newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    backups: Option<Vec<BackupFile>>,
}

fn check(check: &'static str, verdict: Verdict, detail: impl Into<String>) -> Check {
    Check {
        check,
        verdict,
        detail: detail.into(),
        skipped_count: None,
        skipped: None,
        backups: None,
    }
}

/// The backups beside the database: the automatic ones (before each schema migration, the
/// newest `backup.keep` kept) and any left by `kassa restore`.
fn backups_check(ctx: &Context) -> Check {
    let files = crate::store::backup::list(&ctx.db_path);
    let auto = files.iter().filter(|b| b.automatic).count();
    let detail = match files.first() {
        None => format!(
            "no backups beside the database yet (one is taken before each schema migration, the newest {} kept; kassa backup FILE makes one now)",
            ctx.config.backup.keep
        ),
        Some(newest) => format!(
            "{} beside the database ({auto} automatic, the newest {} kept); newest {} ({} bytes)",
            files.len(),
            ctx.config.backup.keep,
            newest.path.display(),
            newest.bytes
        ),
    };
    let mut c = check("backups", Verdict::Ok, detail);
    c.backups = Some(files);
    c
}

/// How many skipped products `kassa doctor` lists (the count is always complete).
const SKIPPED_LISTED: usize = 100;

/// Server products the pull left out: a warning (the till sells everything else), with
/// each SKU and its reason so a technician can fix them on the server.
fn catalog_check(store: &crate::store::StoreHandle) -> Check {
    let r = store.call_blocking(|db| -> Result<_, crate::store::StoreError> {
        Ok((db.skipped_count()?, db.skipped_products(SKIPPED_LISTED)?))
    });
    let (total, list) = match r {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return check("catalog", Verdict::Fail, e.to_string()),
        Err(e) => return check("catalog", Verdict::Fail, e.to_string()),
    };
    let mut c = if total == 0 {
        check("catalog", Verdict::Ok, "no server products skipped")
    } else {
        check(
            "catalog",
            Verdict::Warn,
            format!(
                "{total} server product{} skipped: the till cannot use {} as sent; fix on the server, then sync",
                if total == 1 { "" } else { "s" },
                if total == 1 { "it" } else { "them" },
            ),
        )
    };
    c.skipped_count = Some(total);
    c.skipped = Some(list);
    c
}

/// One line per skipped product, under the `catalog` check.
fn skipped_line(p: &SkippedProduct) -> String {
    let copy = if p.older_copy_on_sale {
        "the till still sells its older copy"
    } else {
        "not on sale here"
    };
    format!(
        "{}: {} (server version {}, seen {} .. {}; {copy})",
        p.sku, p.reason, p.version, p.first_seen_at, p.last_seen_at
    )
}

/// `(host, port, is_https)` of an http(s) URL, without pulling in a URL parser.
pub fn host_port(url: &str) -> Option<(String, u16, bool)> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let default = if https { 443 } else { 80 };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((host.to_string(), port, https));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?, https)),
        None => Some((authority.to_string(), default, https)),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// The enrolled session: whether there is one and when its access token expires (never a
/// token). Returns the check and the session's project URL.
fn session_check(ctx: &Context, store: &crate::store::StoreHandle) -> (Check, Option<String>) {
    let s = match store.call_blocking(|db| db.device_session()) {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return (check("session", Verdict::Fail, e.to_string()), None),
        Err(e) => return (check("session", Verdict::Fail, e.to_string()), None),
    };
    let Some(s) = s else {
        let how = if ctx.config.remote.device_token.is_some() {
            "not enrolled: the static remote.device_token is used (kassa enroll is recommended)"
        } else {
            "not enrolled (kassa enroll)"
        };
        return (check("session", Verdict::Ok, how), None);
    };
    let sum = s.summary(chrono::Utc::now());
    let who = format!(
        "{} (device {}, store {})",
        sum.email,
        sum.device_id,
        sum.store_id.as_deref().unwrap_or("none")
    );
    let c = if let Some(r) = &sum.revoked_reason {
        check(
            "session",
            Verdict::Fail,
            format!("{who}: refused by Supabase Auth ({r}); enrol again"),
        )
    } else if ctx.config.remote.device_token.is_some() {
        check(
            "session",
            Verdict::Warn,
            format!(
                "enrolled as {who}; access token expires {}; remote.device_token is ignored",
                sum.access_expires_at
            ),
        )
    } else {
        check(
            "session",
            Verdict::Ok,
            format!(
                "enrolled as {who}; access token expires {}{}",
                sum.access_expires_at,
                if sum.access_expired {
                    " (expired: refreshed at the next sync)"
                } else {
                    ""
                }
            ),
        )
    };
    (c, Some(sum.url))
}

fn remote_check(ctx: &Context, session_url: Option<&str>) -> Check {
    let r = &ctx.config.remote;
    if let Some(url) = session_url {
        return reachability(url, r);
    }
    let Some(url) = r.url.as_deref() else {
        return check(
            "remote",
            Verdict::Ok,
            "not configured: the till runs offline",
        );
    };
    if r.anon_key.is_none() || r.device_token.is_none() {
        return check(
            "remote",
            Verdict::Fail,
            "remote.url is set but anon_key or device_token is missing (or enrol: kassa enroll)",
        );
    }
    reachability(url, r)
}

fn reachability(url: &str, r: &crate::config::RemoteConfig) -> Check {
    let Some((host, port, https)) = host_port(url) else {
        return check(
            "remote",
            Verdict::Fail,
            format!("cannot parse remote.url {url:?}"),
        );
    };
    if !https && !is_loopback(&host) && !r.allow_insecure_http {
        return check(
            "remote",
            Verdict::Fail,
            format!("{url} is plain http to a non-loopback host; use https"),
        );
    }
    let addrs = match (host.as_str(), port).to_socket_addrs() {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => {
            return check(
                "remote",
                Verdict::Fail,
                format!("cannot resolve {host}: {e}"),
            )
        }
    };
    let timeout = Duration::from_millis(r.connect_timeout_ms);
    for addr in &addrs {
        if TcpStream::connect_timeout(addr, timeout).is_ok() {
            return check("remote", Verdict::Ok, format!("{host}:{port} answers"));
        }
    }
    check(
        "remote",
        Verdict::Fail,
        format!("{host}:{port} does not answer (offline? sales still queue locally)"),
    )
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn mode_of(_: &Path) -> Option<u32> {
    None
}

fn writable_dir(dir: &Path) -> bool {
    std::fs::create_dir_all(dir).is_ok() && tempfile_probe(dir)
}

fn tempfile_probe(dir: &Path) -> bool {
    let probe = dir.join(format!(".kassa-doctor-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

pub fn run(ctx: &Context, json: bool) -> CliResult {
    let mut checks = Vec::new();
    let mut session_url = None;
    checks.push(match &ctx.config_path {
        Some(p) => check("config", Verdict::Ok, format!("{} is valid", p.display())),
        None => check("config", Verdict::Ok, "no config file: built-in defaults"),
    });
    match ctx.open_store() {
        Ok(store) => {
            let r = store.call_blocking(|db| -> Result<_, crate::store::StoreError> {
                let qc: String = db
                    .conn()
                    .query_row("PRAGMA quick_check", [], |r| r.get(0))?;
                let v: i64 = db
                    .conn()
                    .query_row("PRAGMA user_version", [], |r| r.get(0))?;
                Ok((qc, v))
            });
            checks.push(match r {
                Ok(Ok((qc, v))) if qc == "ok" => check(
                    "database",
                    Verdict::Ok,
                    format!("{} (schema {v}) quick_check ok", ctx.db_path.display()),
                ),
                Ok(Ok((qc, _))) => check("database", Verdict::Fail, format!("quick_check: {qc}")),
                Ok(Err(e)) => check("database", Verdict::Fail, e.to_string()),
                Err(e) => check("database", Verdict::Fail, e.to_string()),
            });
            checks.push(catalog_check(&store));
            let (c, url) = session_check(ctx, &store);
            checks.push(c);
            session_url = url;
        }
        Err(CliError::Failed(m) | CliError::BadInput(m)) => {
            checks.push(check("database", Verdict::Fail, m));
        }
        Err(CliError::Closed) => return Err(CliError::Closed),
    }
    checks.push(backups_check(ctx));
    checks.push(match mode_of(&ctx.db_path) {
        Some(mode) if mode & 0o004 != 0 => check(
            "permissions",
            Verdict::Warn,
            format!(
                "{} is readable by every user (mode {:o}); chmod 600 it",
                ctx.db_path.display(),
                mode & 0o777
            ),
        ),
        Some(mode) => check(
            "permissions",
            Verdict::Ok,
            format!("database mode {:o}", mode & 0o777),
        ),
        None => check(
            "permissions",
            Verdict::Warn,
            "cannot read the database's mode",
        ),
    });
    let logs = state_dir();
    checks.push(if super::journal::stderr_is_journal() {
        check(
            "logs",
            Verdict::Ok,
            "standard error is the systemd journal: logs go there",
        )
    } else if writable_dir(&logs) {
        check(
            "logs",
            Verdict::Ok,
            format!("{} is writable", logs.display()),
        )
    } else {
        check(
            "logs",
            Verdict::Warn,
            format!("cannot write logs to {}", logs.display()),
        )
    });
    checks.push(remote_check(ctx, session_url.as_deref()));
    let worst = checks
        .iter()
        .map(|c| c.verdict)
        .fold(Verdict::Ok, |a, v| match (a, v) {
            (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
            (Verdict::Warn, _) | (_, Verdict::Warn) => Verdict::Warn,
            _ => Verdict::Ok,
        });
    if json {
        print_json(&checks)?;
    } else {
        for c in &checks {
            let v = match c.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "WARN",
                Verdict::Fail => "FAIL",
            };
            outln!("[{v}] {:<12} {}", c.check, c.detail);
            let skipped = c.skipped.as_deref().unwrap_or_default();
            for p in skipped {
                outln!("{:<20}{}", "", skipped_line(p));
            }
            let more = c.skipped_count.unwrap_or(0) - skipped.len() as i64;
            if more > 0 {
                outln!("{:<20}... and {more} more", "");
            }
        }
    }
    Ok(if worst == Verdict::Fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn init(ctx: &Context) -> CliResult {
    match (&ctx.config_path, default_config_path()) {
        (Some(p), _) => outln!("config   {} (exists, left as it is)", p.display()),
        (None, Some(p)) => {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    CliError::Failed(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            std::fs::write(&p, DEFAULT_CONFIG)
                .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", p.display())))?;
            outln!("config   {} (written with defaults)", p.display());
        }
        (None, None) => outln!("config   no config directory; using defaults"),
    }
    let store = ctx.open_store()?;
    let n = store.call_blocking(|db| db.catalog().map(|c| c.len()))??;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&ctx.db_path, std::fs::Permissions::from_mode(0o600));
    }
    outln!("database {} ({n} products)", ctx.db_path.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_of_urls() {
        assert_eq!(
            host_port("https://x.supabase.co"),
            Some(("x.supabase.co".into(), 443, true))
        );
        assert_eq!(
            host_port("http://127.0.0.1:54321/rest"),
            Some(("127.0.0.1".into(), 54321, false))
        );
        assert_eq!(
            host_port("http://[::1]:8080"),
            Some(("::1".into(), 8080, false))
        );
        assert_eq!(host_port("ftp://x"), None);
        assert_eq!(host_port("http://x:notaport"), None);
    }
}
