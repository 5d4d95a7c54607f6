//! `server users`: console users from the command line, for whoever can reach the
//! database (and so needs no admin): the way back in after a lost admin password.
//! Every change is audited like the console's, with the actor `command line (<os user>)`.
use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand, ValueEnum};

use app::model::Role;

use super::password;
use super::users::{self, Actor, StaffUser, UserAdminError};
use crate::db::{DatabaseSettings, Store};

#[derive(Clone, Args)]
#[command(
    after_help = "Exit status: 0 done, 1 refused (unknown user, weak password, last \
                        admin…), 2 bad flags."
)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Clone, Subcommand)]
pub enum UsersCommand {
    /// Every console user, with role, status and last sign-in
    List {
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Create an enabled user; prints a generated password unless --password-stdin
    Create {
        username: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from the first line of standard input (not from a terminal)
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Set a new password and end the user's sessions; a generated one is printed and must
    /// be changed at the next sign-in, one read with --password-stdin is kept
    ResetPassword {
        username: String,
        /// Read the password from the first line of standard input (not from a terminal)
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Disable a user and end their sessions (never the last enabled admin)
    Disable {
        username: String,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Enable a disabled user
    Enable {
        username: String,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Remove a user's second factor (a lost device) and end their sessions; they set up a
    /// new one at their next sign-in
    ResetMfa {
        username: String,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

impl UsersCommand {
    /// Every subcommand takes `--database-url` after its name, where people type it.
    pub fn database_url(&self) -> &str {
        match self {
            UsersCommand::List { database }
            | UsersCommand::Create { database, .. }
            | UsersCommand::ResetPassword { database, .. }
            | UsersCommand::Disable { database, .. }
            | UsersCommand::Enable { database, .. }
            | UsersCommand::ResetMfa { database, .. } => &database.database_url,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Support,
    Operator,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Support => Role::Support,
            RoleArg::Operator => Role::Operator,
            RoleArg::Admin => Role::Admin,
        }
    }
}

pub async fn run(args: &UsersArgs) -> anyhow::Result<i32> {
    let store = Store::connect(args.command.database_url(), Default::default()).await?;
    let name = format!(
        "command line ({})",
        std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown os user".to_owned())
    );
    let actor = Actor::CommandLine(&name);
    match execute(&store, actor, &args.command).await {
        Ok(()) => Ok(0),
        Err(UserAdminError::Unavailable(error)) => Err(error),
        Err(refusal) => {
            eprintln!("server users: {refusal}");
            Ok(1)
        }
    }
}

async fn execute(
    store: &Store,
    actor: Actor<'_>,
    command: &UsersCommand,
) -> Result<(), UserAdminError> {
    match command {
        UsersCommand::List { .. } => {
            let list = users::list_users(store, actor).await?;
            print!("{}", render(&list));
        }
        UsersCommand::Create {
            username,
            role,
            password_stdin,
            ..
        } => {
            let (password, generated) = password(*password_stdin)?;
            let user = users::create_user(store, actor, username, password.clone(), (*role).into())
                .await?;
            println!("created {} ({})", user.username, user.role.as_str());
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::ResetPassword {
            username,
            password_stdin,
            ..
        } => {
            let id = users::user_id(store, username).await?;
            let (password, generated) = password(*password_stdin)?;
            let user = users::reset_password(store, actor, id, password.clone(), generated).await?;
            println!("password of {} reset; their sessions ended", user.username);
            if generated {
                println!("password: {password}  (to be changed at the next sign-in)");
            }
        }
        UsersCommand::Disable { username, .. } | UsersCommand::Enable { username, .. } => {
            let disable = matches!(command, UsersCommand::Disable { .. });
            let id = users::user_id(store, username).await?;
            let user = users::set_disabled(store, actor, id, disable).await?;
            let state = if user.disabled { "disabled" } else { "enabled" };
            println!("{} is {state}", user.username);
        }
        UsersCommand::ResetMfa { username, .. } => {
            let id = users::user_id(store, username).await?;
            let ended = super::mfa::reset(store, actor, id).await?;
            println!(
                "second factor of {username} removed; {ended} session(s) ended; \
                 they set up a new one at their next sign-in"
            );
        }
    }
    Ok(())
}

/// A generated password, or the first line of standard input.
fn password(from_stdin: bool) -> Result<(String, bool), UserAdminError> {
    if !from_stdin {
        return Ok((password::generate_password(), true));
    }
    if std::io::stdin().is_terminal() {
        // Typed at a terminal the password would be echoed, and kept in its scrollback.
        return Err(UserAdminError::Unavailable(anyhow::anyhow!(
            "--password-stdin reads a pipe, not a terminal: \
             printf '%s\\n' \"$PASSWORD\" | server users …"
        )));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| UserAdminError::Unavailable(error.into()))?;
    Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
}

fn render(list: &[StaffUser]) -> String {
    let mut out = format!(
        "{:<24} {:<9} {:<9} {:<20} {}\n",
        "USERNAME", "ROLE", "STATUS", "LAST SIGN-IN (UTC)", "NOTE"
    );
    for user in list {
        let status = if user.disabled { "disabled" } else { "enabled" };
        let last = user.last_login_at.map_or("never".to_owned(), |at| {
            at.format("%Y-%m-%d %H:%M:%S").to_string()
        });
        let note = if user.must_change_password {
            "must change password"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:<24} {:<9} {status:<9} {last:<20} {note}\n",
            user.username,
            user.role.as_str()
        ));
    }
    out
}
