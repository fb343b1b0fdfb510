//! `kassa device-user`: the store owner's side of enrolment, run on the owner's machine (never
//! a till's), with the project's service key from `SUPABASE_SERVICE_ROLE_KEY` (never an
//! argument).
//!
//! - `create --url URL --store STORE [--device ID] --email EMAIL [--name NAME]`: a Supabase
//!   Auth user for the till (id = the device id, `app_metadata.store_id` and `device_id`,
//!   e-mail confirmed; the password from a prompt or standard input) and the device's row in
//!   `public.devices`. Prints the device id and the `kassa enroll` line for the till.
//! - `revoke --url URL --device ID` bans the till's user: its refreshes fail and its access
//!   tokens are refused at the next call. `--lift` lifts the ban (the till enrols again).

use std::process::ExitCode;

use uuid::Uuid;

use super::enroll::{auth_failure, read_secret, runtime};
use super::{print_json, CliError, CliResult, Context};
use crate::remote::auth::AdminClient;

#[derive(Debug, clap::Args)]
pub struct DeviceUserArgs {
    #[command(subcommand)]
    pub action: DeviceUserAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum DeviceUserAction {
    /// Create a till's Supabase Auth user and register the device.
    Create {
        /// The store's Supabase project URL.
        #[arg(long, value_name = "URL")]
        url: String,
        /// The store the till belongs to (public.stores.id).
        #[arg(long, value_name = "UUID")]
        store: Uuid,
        /// The device id (default: a new one).
        #[arg(long, value_name = "UUID")]
        device: Option<Uuid>,
        /// The till's e-mail address (its sign-in name).
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// The device's name in public.devices.
        #[arg(long, default_value = "till")]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ban a till's user: it becomes unauthorized at its next call.
    Revoke {
        #[arg(long, value_name = "URL")]
        url: String,
        #[arg(long, value_name = "UUID")]
        device: Uuid,
        /// Lift the ban instead.
        #[arg(long)]
        lift: bool,
    },
}

fn service_key() -> Result<String, CliError> {
    std::env::var("SUPABASE_SERVICE_ROLE_KEY")
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            CliError::BadInput(
                "set SUPABASE_SERVICE_ROLE_KEY to the project's service key (on the owner's machine, never a till's)".into(),
            )
        })
}

pub fn run(ctx: &Context, args: DeviceUserArgs) -> CliResult {
    let key = service_key()?;
    match args.action {
        DeviceUserAction::Create {
            url,
            store,
            device,
            email,
            name,
            json,
        } => {
            let email = email.trim().to_lowercase();
            if !email.contains('@') || email.contains(char::is_whitespace) {
                return Err(CliError::BadInput(format!(
                    "--email {email:?} is not an e-mail address"
                )));
            }
            let admin = AdminClient::new(&url, &key, &ctx.config.remote).map_err(auth_failure)?;
            let password = read_secret(&format!("Password for {email}: "))?;
            if password.chars().count() < 6 {
                return Err(CliError::BadInput(
                    "the password needs at least 6 characters".into(),
                ));
            }
            let device = device.unwrap_or_else(Uuid::new_v4);
            runtime()?
                .block_on(admin.create_device_user(device, store, &email, &password, &name))
                .map_err(auth_failure)?;
            if json {
                print_json(&serde_json::json!({
                    "device_id": device, "store_id": store, "email": email,
                }))?;
            } else {
                outln!("created {email}: device {device} of store {store}");
                outln!(
                    "on the till: kassa enroll --url {url} --anon-key <ANON KEY> --email {email}"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DeviceUserAction::Revoke { url, device, lift } => {
            let admin = AdminClient::new(&url, &key, &ctx.config.remote).map_err(auth_failure)?;
            runtime()?
                .block_on(admin.set_banned(device, !lift))
                .map_err(auth_failure)?;
            outln!(
                "{}",
                if lift {
                    format!("device {device}: ban lifted (the till enrols again)")
                } else {
                    format!("device {device}: revoked (unauthorized at its next call)")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
