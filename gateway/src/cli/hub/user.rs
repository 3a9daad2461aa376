//! `hub user add|passwd|assign|token|list`: the hub's accounts, changed in PostgreSQL with an
//! audit row each (actor `cli:<unix user>`). Passwords are read from standard input (one line)
//! or, on a terminal, asked for twice without echo; never from the command line.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use kilowatch_gateway::hub::auth::accounts::{self, AssignMode};
use kilowatch_gateway::hub::auth::{password, Role, Scope};
use kilowatch_gateway::hub::{config::HubFile, pg};

use crate::cli::args::Usage;

#[derive(clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Add a user: admin (every site), coach (the --site given), plant (exactly one --site).
    Add {
        /// User name (letters, digits, `.`, `_`, `-`, `@`).
        name: String,
        /// admin, coach or plant.
        #[arg(long)]
        role: String,
        /// An assigned site (repeat for several).
        #[arg(long = "site", value_name = "SITE")]
        sites: Vec<String>,
        /// Read the password from standard input (its first line).
        #[arg(long)]
        password_stdin: bool,
        /// No password: the account can only use API tokens.
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
    },
    /// Set a user's password (ends their sessions).
    Passwd {
        name: String,
        /// Read the password from standard input (its first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's sites (or --add / --remove some).
    Assign {
        name: String,
        #[arg(long = "site", value_name = "SITE")]
        sites: Vec<String>,
        /// Add the sites to those the user has.
        #[arg(long, conflicts_with = "remove")]
        add: bool,
        /// Remove the sites from those the user has.
        #[arg(long)]
        remove: bool,
    },
    /// Make an API token for a user (printed once), or --revoke one.
    Token {
        name: String,
        /// The token's name, unique per user.
        #[arg(long, value_name = "NAME")]
        token_name: String,
        /// What the token may do: portfolio:read, audit:read (admins); repeat for several.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Expiry, e.g. 90d (default: none).
        #[arg(long, value_name = "DURATION")]
        valid_for: Option<String>,
        /// Delete the token instead.
        #[arg(long)]
        revoke: bool,
    },
    /// List the users with their role, sites and tokens.
    List,
}

fn actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| {
            // SAFETY: getuid has no preconditions.
            format!("uid{}", unsafe { libc::getuid() })
        });
    format!("cli:{user}")
}

/// A terminal line read without echo.
fn read_hidden(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal descriptor.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    let have = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have {
        let mut quiet = old;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: a termios read from this descriptor, with echo cleared.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    }
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The new password: standard input's first line, or asked twice on a terminal.
fn new_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return Err(
            Usage("give the password on standard input with --password-stdin".into()).into(),
        );
    }
    let a = read_hidden("New password: ")?;
    let b = read_hidden("Again: ")?;
    if a != b {
        return Err(Usage("the two passwords differ".into()).into());
    }
    Ok(a)
}

async fn hash(pw: String) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || password::hash(&pw)).await??)
}

pub async fn run(cfg: &HubFile, a: UserArgs) -> anyhow::Result<()> {
    let pool = pg::pool(&cfg.postgres)?;
    pg::prepare(&pool).await?;
    let mut c = pool.get().await?;
    let actor = actor();
    match a.action {
        Action::Add {
            name,
            role,
            sites,
            password_stdin,
            no_password,
        } => {
            let role: Role = role.parse().map_err(|e| Usage(format!("--role: {e}")))?;
            accounts::check_name(&name)?;
            let hashed = if no_password {
                None
            } else {
                Some(hash(new_password(password_stdin)?).await?)
            };
            accounts::add_user(&mut c, &actor, &name, role, hashed, &sites).await?;
            println!("user {name} ({role}) added");
        }
        Action::Passwd {
            name,
            password_stdin,
        } => {
            let hashed = hash(new_password(password_stdin)?).await?;
            accounts::set_password(&mut c, &actor, &name, Some(hashed)).await?;
            println!("password of {name} set; their sessions ended");
        }
        Action::Assign {
            name,
            sites,
            add,
            remove,
        } => {
            let mode = match (add, remove) {
                (true, _) => AssignMode::Add,
                (_, true) => AssignMode::Remove,
                _ => AssignMode::Replace,
            };
            let now = accounts::assign(&mut c, &actor, &name, &sites, mode).await?;
            println!("{name}: {}", now.join(", "));
        }
        Action::Token {
            name,
            token_name,
            scopes,
            valid_for,
            revoke,
        } => {
            if revoke {
                accounts::revoke_token(&mut c, &actor, &name, &token_name).await?;
                println!("token {token_name} of {name} revoked");
                return Ok(());
            }
            let scopes = scopes
                .iter()
                .map(|s| {
                    s.parse::<Scope>()
                        .map_err(|e| Usage(format!("--scope: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let valid_for = valid_for
                .map(|v| {
                    kilowatch_site::config::parse_duration(&v)
                        .map_err(|e| Usage(format!("--valid-for: {e}")))
                })
                .transpose()?;
            let token =
                accounts::create_token(&mut c, &actor, &name, &token_name, &scopes, valid_for)
                    .await?;
            eprintln!("token {token_name} of {name} (shown once; only its hash is kept):");
            println!("{token}");
        }
        Action::List => {
            for u in accounts::list(&c).await? {
                println!(
                    "{}\t{}\t{}\tpassword={}\ttokens={}{}",
                    u.name,
                    u.role,
                    if u.sites.is_empty() {
                        "-".into()
                    } else {
                        u.sites.join(",")
                    },
                    u.password,
                    u.tokens.join(","),
                    if u.disabled { "\tdisabled" } else { "" }
                );
            }
        }
    }
    Ok(())
}
