//! `patchbay`: the command-line entry point. Parses arguments, binds, prints the pairing
//! link and hands the socket to `engine::server`; nothing else.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use patchbay_helper::cli::{self, runtime};
use patchbay_helper::config::ServeArgs;
use patchbay_helper::engine::text::one_line;
use patchbay_helper::engine::{fsutil, server};
use patchbay_helper::logging::{LogPlan, Program};
use patchbay_helper::pairing::{self, TokenSource};
use patchbay_helper::{AppState, app};
use patchbay_proto::pairing::Pairing;

/// Patchbay connects a workspace to the accounts its agents use (Google Drive, OneDrive,
/// GitHub, Vercel, Manus, remote MCP servers) and keeps their credentials.
#[derive(Parser)]
#[command(name = "patchbay", version = cli::VERSION, about, long_about = None)]
struct Cli {
    /// Also log what the libraries say (-v), or everything (-vv debug, -vvv trace). A filter
    /// in PATCHBAY_LOG or RUST_LOG (e.g. `rmcp=debug`) wins over this.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the helper API on loopback and print the dashboard link that pairs with it.
    ///
    /// The pairing token comes from PATCHBAY_TOKEN when set, else it is generated once and
    /// kept (0600) in the data folder. It is never accepted on the command line, where other
    /// users of the machine could read it.
    Serve(ServeArgs),
    /// Sign in to remote MCP servers (OAuth 2.1) and use them: login, tools, call, proxy,
    /// list, logout.
    Mcp(patchbay_helper::connectors::mcp::cli::McpArgs),
    /// Run the helper at every login: a systemd user unit (Linux) or a launchd agent (macOS).
    Service(cli::service::ServiceArgs),
    /// Print the dashboard link of the running helper again (the one `serve` printed).
    Pair(cli::pair::PairArgs),
    /// Check rclone, gh, the ports, the credential files, the edge, the OAuth clients, the
    /// MCP sign-ins and the clock; one line each, with the fix. Exits non-zero on a problem.
    Doctor(cli::doctor::DoctorArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let program = match cli.command {
        Command::Serve(_) => Program::Server,
        Command::Mcp(_) | Command::Service(_) | Command::Pair(_) | Command::Doctor(_) => {
            Program::Command
        }
    };
    LogPlan::for_process(program, cli.verbose).install();
    if program == Program::Command {
        // `patchbay mcp tools | head -1`: a reader that stops early ends the command quietly,
        // as it ends `ls`, instead of a panic about a broken pipe. (Not for `serve`: a closed
        // stdout must not stop the server.)
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Mcp(args) => patchbay_helper::connectors::mcp::cli::run(args).await,
        Command::Service(args) => cli::service::run(args).await,
        Command::Pair(args) => cli::pair::run(args).await,
        Command::Doctor(args) => cli::doctor::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("patchbay: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let listen = args.validate_listen().map_err(|e| e.to_string())?;
    let listener = server::listen(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let config = args.into_config(bound).map_err(|e| e.to_string())?;
    let env_token = std::env::var("PATCHBAY_TOKEN").ok();
    let (token, source) = fsutil::ensure_private_dir(&config.data_dir)
        .and_then(|()| pairing::load_or_create(&config.data_dir, env_token))
        .map_err(|e| {
            format!(
                "cannot set up the data folder {}: {e}",
                config.data_dir.display()
            )
        })?;

    let link = Pairing {
        helper: format!("http://{bound}"),
        token: token.clone(),
    }
    .dashboard_link(&config.dashboard_url);
    // Before the link: once it is printed the helper is ready, its files swept.
    let limits = config.limits;
    let state = AppState::new(config, token);
    let config = state.config();
    tracing::info!(
        address = %bound,
        data_dir = %config.data_dir.display(),
        token = ?source,
        "helper listening"
    );
    // Where `patchbay pair` finds this helper again.
    let record = runtime::RunningHelper::this_process(
        bound,
        &config.dashboard_url,
        source == TokenSource::Environment,
    );
    if let Err(e) = runtime::record(&config.data_dir, &record) {
        tracing::warn!("cannot record the address for `patchbay pair`: {e}");
    }
    // The link goes to stdout only, never through the logger: it carries the token.
    println!(
        "{}",
        cli::pair::announcement(&format!("http://{bound}"), &link)
    );
    if source == TokenSource::Generated {
        println!(
            "(A new pairing token was saved in {}.)",
            config.data_dir.display()
        );
    }

    let data_dir = config.data_dir.clone();
    let stopping = state.clone();
    server::serve(listener, app(state.clone()), limits, async move {
        shutdown_signal().await;
        // End the flows first: their sessions turn "cancelled", which also answers any
        // long-poll still open, so the server can drain at once.
        stopping.shutdown().await;
    })
    .await;
    state.shutdown().await;
    runtime::forget(&data_dir);
    tracing::info!("helper stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
