//! `pgrest-lite`: the local stand-in for Supabase's data API.
//!
//! ```text
//! pgrest-lite serve --database-url postgres://authenticator@127.0.0.1:5432/kassa --port 54321 \
//!     [--jwt-exp 3600] [--refresh-token-reuse-interval 10]
//! pgrest-lite token anon|service-role
//! pgrest-lite token device --device <uuid> --store <uuid> [--ttl-days 365]
//! pgrest-lite db-init --database-url postgres://postgres@127.0.0.1:5432/kassa [--no-seed]
//! ```
//! The JWT secret comes from `--jwt-secret` or, better (it stays out of `ps`), from
//! `PGREST_JWT_SECRET`.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pgrest_lite::jwt::JwtKeys;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "pgrest-lite",
    version,
    about = "A local stand-in for the Supabase data API (PostgREST subset) in front of PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway in the foreground.
    Serve {
        /// PostgreSQL URL to connect as (the `authenticator` role, like PostgREST).
        #[arg(long, env = "PGREST_DB_URI")]
        database_url: String,
        /// HS256 secret of the project's JWTs.
        #[arg(long, env = "PGREST_JWT_SECRET", hide_env_values = true)]
        jwt_secret: String,
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[arg(long, default_value_t = 8)]
        pool_size: usize,
        #[arg(long, default_value = "public")]
        schema: String,
        /// Access-token lifetime of the auth stand-in, in seconds (GoTrue's JWT_EXP).
        #[arg(long, env = "GOTRUE_JWT_EXP", default_value_t = 3600)]
        jwt_exp: i64,
        /// Seconds a rotated refresh token may still be used (GoTrue's reuse interval).
        #[arg(
            long,
            env = "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL",
            default_value_t = 10
        )]
        refresh_token_reuse_interval: i64,
    },
    /// Mint an API key or a device token.
    Token {
        #[command(subcommand)]
        kind: TokenKind,
        /// HS256 secret of the project's JWTs.
        #[arg(long, env = "PGREST_JWT_SECRET", hide_env_values = true, global = true)]
        jwt_secret: Option<String>,
        /// Lifetime in days (negative: already expired).
        #[arg(
            long,
            default_value_t = 365,
            global = true,
            allow_negative_numbers = true
        )]
        ttl_days: i64,
    },
    /// Apply the Supabase setup SQL, the migrations and the seed to a database (as a superuser).
    DbInit {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// Skip supabase/seed.sql.
        #[arg(long)]
        no_seed: bool,
    },
}

#[derive(Subcommand)]
enum TokenKind {
    /// The anon API key (send as `apikey`).
    Anon,
    /// The service_role key (bypasses RLS).
    ServiceRole,
    /// A till's token: role authenticated, sub = device, app_metadata.store_id = store.
    Device {
        #[arg(long)]
        device: Uuid,
        #[arg(long)]
        store: Uuid,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgrest-lite: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Token {
            kind,
            jwt_secret,
            ttl_days,
        } => {
            let secret =
                jwt_secret.ok_or("a JWT secret is needed: --jwt-secret or PGREST_JWT_SECRET")?;
            let keys = JwtKeys::new(&secret)?;
            let ttl = ttl_days.saturating_mul(86400);
            let token = match kind {
                TokenKind::Anon => keys.api_key("anon", ttl),
                TokenKind::ServiceRole => keys.api_key("service_role", ttl),
                TokenKind::Device { device, store } => keys.device_token(device, store, ttl),
            };
            println!("{token}");
            Ok(())
        }
        Command::Serve {
            database_url,
            jwt_secret,
            host,
            port,
            pool_size,
            schema,
            jwt_exp,
            refresh_token_reuse_interval,
        } => {
            if jwt_exp < 1 || refresh_token_reuse_interval < 0 {
                return Err(
                    "--jwt-exp must be >= 1 and --refresh-token-reuse-interval >= 0".into(),
                );
            }
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
            let mut config = pgrest_lite::Config::new(&database_url, &jwt_secret)?;
            config.listen = SocketAddr::new(host, port);
            config.pool_size = pool_size;
            config.schema = schema;
            config.auth.jwt_exp = jwt_exp;
            config.auth.refresh_token_reuse_interval = refresh_token_reuse_interval;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let handle = pgrest_lite::serve(config).await?;
                let addr = handle.local_addr();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate() => {}
                }
                tracing::info!(%addr, "shutting down");
                handle.shutdown().await;
                Ok::<(), Box<dyn std::error::Error>>(())
            })
        }
        Command::DbInit {
            database_url,
            no_seed,
        } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let (client, conn) =
                    tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                pgrest_lite::sql::apply_all(&client, &client, !no_seed).await?;
                Ok::<(), Box<dyn std::error::Error>>(())
            })
        }
    }
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await
}
