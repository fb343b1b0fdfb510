//! `kassa staff add|list|disable` (a store without a remote keeps its staff locally), and who
//! a headless command records: `--staff ID` where given, else `technician:<unix user>`, with a
//! manager's approval by `--approver ID --pin-stdin` where the cashier's limits require one.
//!
//! A PIN is read from standard input (or a prompt without echo on a terminal), never from an
//! argument, and is never printed or logged.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use uuid::Uuid;

use super::{print_json, CliError, CliResult, Context};
use crate::domain::{Attribution, Guarded, Pin, Role};
use crate::store::Db;

#[derive(Debug, clap::Args)]
pub struct StaffArgs {
    #[command(subcommand)]
    pub command: StaffCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StaffCommand {
    /// Add a staff member; the PIN (4-8 digits) is read from standard input or a prompt.
    Add {
        /// The name shown at the till.
        name: String,
        /// cashier, manager or technician.
        #[arg(long)]
        role: String,
    },
    /// List the staff (never shows a PIN or its hash).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a staff member: no more logins, approvals or documents.
    Disable {
        /// The staff member's id.
        id: String,
    },
}

/// The global flags that say who runs a headless command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ActorFlags {
    /// The staff member (id) this command is recorded against. Without it: the technician
    /// (the machine's account) with no staff id.
    #[arg(long, global = true, value_name = "ID")]
    pub staff: Option<String>,
    /// The manager (id) approving an action above a cashier's limits; the manager's PIN is
    /// read from standard input (needs --pin-stdin).
    #[arg(long, global = true, value_name = "ID")]
    pub approver: Option<String>,
    /// Read a PIN from standard input: the approver's, or (without --approver) that of the
    /// --staff manager approving their own action.
    #[arg(long, global = true)]
    pub pin_stdin: bool,
}

/// Parses a staff id (a uuid, any case, hyphenated or not).
pub(super) fn parse_staff_id(text: &str, flag: &str) -> Result<Uuid, CliError> {
    Uuid::parse_str(text.trim())
        .map_err(|_| CliError::BadInput(format!("{flag} {text:?} is not a staff id (a uuid)")))
}

/// The machine account running this command.
fn unix_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .map(|u| u.chars().filter(|c| !c.is_control()).take(64).collect())
        .unwrap_or_else(|| "unknown".into())
}

/// Reads one PIN: a prompt without echo when standard input is a terminal, else its first
/// line. The text is checked for the PIN format by the caller.
pub(super) fn read_pin(prompt: &str) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return read_pin_tty(prompt);
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Failed(format!("cannot read the PIN from standard input: {e}")))?;
    Ok(line)
}

fn read_pin_tty(prompt: &str) -> Result<String, CliError> {
    use crossterm::event::{read, Event, KeyCode, KeyEventKind, KeyModifiers};
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    crossterm::terminal::enable_raw_mode()
        .map_err(|e| CliError::Failed(format!("cannot prompt for the PIN: {e}")))?;
    let mut pin = String::new();
    let result = loop {
        match read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => match k.code {
                KeyCode::Enter => break Ok(()),
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    break Err(CliError::BadInput("no PIN entered".into()))
                }
                KeyCode::Esc => break Err(CliError::BadInput("no PIN entered".into())),
                KeyCode::Backspace => {
                    pin.pop();
                }
                KeyCode::Char(c) if pin.len() < 16 => pin.push(c),
                _ => {}
            },
            Ok(_) => {}
            Err(e) => break Err(CliError::Failed(format!("cannot read the PIN: {e}"))),
        }
    };
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = writeln!(err);
    result.map(|()| pin)
}

/// Who a command records, resolved before its store call (the PIN is read here, so that
/// nothing waits on standard input inside a transaction).
#[derive(Debug, Clone)]
pub(super) struct Actor {
    staff: Option<Uuid>,
    approver: Option<Uuid>,
    pin: Option<String>,
    user: String,
}

impl Actor {
    /// Parses the global flags; reads the PIN when `--pin-stdin` is given. Bad ids: bad input.
    pub(super) fn from_flags(flags: &ActorFlags) -> Result<Actor, CliError> {
        let staff = flags
            .staff
            .as_deref()
            .map(|s| parse_staff_id(s, "--staff"))
            .transpose()?;
        let approver = flags
            .approver
            .as_deref()
            .map(|s| parse_staff_id(s, "--approver"))
            .transpose()?;
        if approver.is_some() && !flags.pin_stdin {
            return Err(CliError::BadInput(
                "--approver needs --pin-stdin (the manager's PIN on standard input)".into(),
            ));
        }
        if flags.pin_stdin && approver.is_none() && staff.is_none() {
            return Err(CliError::BadInput(
                "--pin-stdin needs --approver ID or --staff ID (whose PIN it is)".into(),
            ));
        }
        let pin = if flags.pin_stdin {
            let text = read_pin("manager PIN: ")?;
            // The format is checked before anything is written (and never echoed).
            Pin::parse(&text)?;
            Some(text)
        } else {
            None
        };
        Ok(Actor {
            staff,
            approver,
            pin,
            user: unix_user(),
        })
    }

    /// The attribution of a document, checked against the store: an unknown or disabled
    /// staff id is bad input; an approver's PIN is checked (a wrong one counts toward the
    /// lockout); when the store has staff and `action` is above the limits of the actor's
    /// role without an approval, bad input.
    pub(super) fn attribution(
        &self,
        cfg: &crate::config::StaffConfig,
        db: &mut Db,
        action: Option<Guarded>,
    ) -> Result<Attribution, CliError> {
        let now = chrono::Utc::now();
        let (mut who, role) = match self.staff {
            Some(id) => {
                let m = db
                    .staff_member(&id)?
                    .ok_or_else(|| CliError::BadInput(format!("unknown staff id {id}")))?;
                if !m.active {
                    return Err(CliError::BadInput(format!("staff member {id} is disabled")));
                }
                (Attribution::staff(id), m.role)
            }
            // Without staff the till records nobody, exactly as before staff existed.
            None if db.has_staff()? => (Attribution::technician(&self.user), Role::Technician),
            None => (Attribution::default(), Role::Technician),
        };
        if let Some(pin) = &self.pin {
            let approver = self.approver.or(self.staff).ok_or_else(|| {
                CliError::BadInput("--pin-stdin needs --approver ID or --staff ID".into())
            })?;
            let m = db.approve_by_manager(&approver, pin, &cfg.lockout(), now)?;
            who.approved_by = Some(m.id);
        }
        if let Some(action) = action {
            if who.approved_by.is_none()
                && db.has_staff()?
                && cfg.limits().needs_manager(role, action)
            {
                return Err(CliError::BadInput(format!(
                    "{} needs a manager's approval at this till: add --approver ID --pin-stdin",
                    describe(action)
                )));
            }
        }
        Ok(who)
    }
}

fn describe(a: Guarded) -> &'static str {
    match a {
        Guarded::Discount { .. } => "a discount above the cashier's limit",
        Guarded::Refund { .. } => "a refund above the cashier's limit",
        Guarded::BlindRefund => "a refund without a receipt",
        Guarded::PostVoid => "a post-void",
        Guarded::NoSale => "opening the drawer with no sale",
    }
}

pub fn run(ctx: &Context, args: StaffArgs) -> CliResult {
    match args.command {
        StaffCommand::Add { name, role } => add(ctx, &name, &role),
        StaffCommand::List { json } => list(ctx, json),
        StaffCommand::Disable { id } => disable(ctx, &id),
    }
}

fn local_only(ctx: &Context) -> Result<(), CliError> {
    if ctx.config.remote.url.is_some() {
        return Err(CliError::BadInput(
            "this till has a remote: its staff are managed on the server (and pulled)".into(),
        ));
    }
    Ok(())
}

fn add(ctx: &Context, name: &str, role: &str) -> CliResult {
    local_only(ctx)?;
    let role = Role::parse(role).ok_or_else(|| {
        CliError::BadInput(format!(
            "--role {role:?}: use cashier, manager or technician"
        ))
    })?;
    let name = crate::domain::staff::clean_name(name)?;
    let pin = Pin::parse(&read_pin("PIN (4-8 digits): ")?)?;
    let store = ctx.open_store()?;
    let m =
        store.call_blocking(move |db| db.add_staff(&name, role, &pin, chrono::Utc::now()))??;
    outln!("{}\t{}\t{}", m.id, m.role.as_str(), m.name);
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &Context, json: bool) -> CliResult {
    let store = ctx.open_store()?;
    let staff = store.call_blocking(|db| db.list_staff())??;
    if json {
        print_json(&staff)?;
        return Ok(ExitCode::SUCCESS);
    }
    for m in &staff {
        outln!(
            "{}\t{:<10}\t{}\t{}",
            m.id,
            m.role.as_str(),
            if m.active { "active" } else { "disabled" },
            m.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn disable(ctx: &Context, id: &str) -> CliResult {
    local_only(ctx)?;
    let id = parse_staff_id(id, "staff id")?;
    let store = ctx.open_store()?;
    let m = store.call_blocking(move |db| db.disable_staff(&id, chrono::Utc::now()))??;
    outln!("{}\tdisabled\t{}", m.id, m.name);
    Ok(ExitCode::SUCCESS)
}
