//! `patchbay mcp …`: sign in to remote MCP servers and use them from the terminal.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use patchbay_proto::mcp::{REDIRECT_URI, TokenState};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::login::{self, Ctx, LoginEnd, LoginEvents, Pending};
use super::store::McpFiles;
use super::tokens::{Inflight, TokenManager};
use super::{client, list_servers, proxy, remove_server};
use crate::ApiError;
use crate::engine::lease::LoopbackLease;
use crate::engine::text::one_line;
use crate::engine::upstream;

#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// Folder of mcp-tokens.json and mcp-clients.json (the same as `patchbay serve`'s).
    /// Default: $XDG_DATA_HOME/patchbay, else ~/.local/share/patchbay.
    #[arg(long, env = "PATCHBAY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum McpCommand {
    /// Sign in to a remote MCP server (OAuth 2.1 with PKCE). Prints the URL to open; also
    /// accepts the redirect address pasted here, for SSH and headless machines.
    Login { url: String },
    /// List the server's tools.
    Tools { url: String },
    /// Call a tool with JSON arguments (an object), and print its result.
    Call {
        url: String,
        tool: String,
        /// The arguments as a JSON object, e.g. '{"text":"hi"}'.
        args: Option<String>,
    },
    /// Serve MCP on stdin/stdout and forward everything to the remote server, with tokens
    /// attached and refreshed (for stdio-only MCP clients).
    Proxy { url: String },
    /// The servers Patchbay has signed in to.
    List,
    /// Forget a server's tokens (the client registration with its issuer is kept).
    Logout { url: String },
}

/// Runs one `patchbay mcp` command. Errors are sentences for the terminal.
pub async fn run(args: McpArgs) -> Result<(), String> {
    let data_dir = crate::config::resolve_data_dir(args.data_dir).map_err(|e| e.to_string())?;
    let ctx = Ctx {
        http: upstream::client(),
        files: McpFiles::new(&data_dir),
    };
    let tokens = TokenManager::new(ctx.clone(), Inflight::default());
    let text = |e: ApiError| e.message;
    match args.command {
        McpCommand::Login { url } => login(&ctx, &url).await,
        McpCommand::Tools { url } => {
            let url = login::server_url(&url).map_err(text)?;
            let session = connect(&ctx, tokens, &url).await?;
            let tools = session.list_tools().await.map_err(text);
            session.close().await;
            for tool in tools? {
                match tool.description.as_deref() {
                    Some(d) if !d.is_empty() => println!("{}\t{}", tool.name, one_line(d)),
                    _ => println!("{}", tool.name),
                }
            }
            Ok(())
        }
        McpCommand::Call { url, tool, args } => {
            let url = login::server_url(&url).map_err(text)?;
            let arguments =
                match args.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
                    None => None,
                    Some(a) => match serde_json::from_str::<serde_json::Value>(a) {
                        Ok(serde_json::Value::Object(map)) => Some(map),
                        _ => return Err(
                            "the tool arguments must be a JSON object, e.g. '{\"text\":\"hi\"}'"
                                .into(),
                        ),
                    },
                };
            let session = connect(&ctx, tokens, &url).await?;
            let result = session.call_tool(&tool, arguments).await.map_err(text);
            session.close().await;
            let result = result?;
            let json = serde_json::to_string_pretty(&result).unwrap_or_default();
            println!("{json}");
            if result.is_error == Some(true) {
                return Err(format!("the tool {tool} reported an error"));
            }
            Ok(())
        }
        McpCommand::Proxy { url } => {
            let url = login::server_url(&url).map_err(text)?;
            proxy::run(tokens, &url).await.map_err(text)
        }
        McpCommand::List => {
            let servers = list_servers(&ctx).await.map_err(text)?;
            if servers.is_empty() {
                println!("No MCP servers. Sign in to one with `patchbay mcp login <url>`.");
            }
            for s in servers {
                let state = match s.token_state {
                    TokenState::Valid => "signed in",
                    TokenState::Expired => "signed in (token will be refreshed)",
                    TokenState::ReauthorizationRequired => "sign-in needed",
                    TokenState::Missing => "no token",
                };
                println!(
                    "{}\t{}\t{}",
                    s.url,
                    s.issuer.as_deref().unwrap_or("-"),
                    state
                );
            }
            Ok(())
        }
        McpCommand::Logout { url } => {
            let url = login::server_url(&url).map_err(text)?;
            let key = url.clone();
            if remove_server(&ctx, move |k| k == key).await.map_err(text)? {
                println!("Signed out of {url}.");
                Ok(())
            } else {
                Err(format!("Patchbay has no sign-in for {url}."))
            }
        }
    }
}

/// Connects; when the sign-in is dead (`invalid_grant`) and a person is at the terminal,
/// signs in again first (new PKCE and state, same client id) instead of only saying so.
async fn connect(ctx: &Ctx, tokens: TokenManager, url: &str) -> Result<client::Session, String> {
    use std::io::IsTerminal;
    match client::Session::connect(tokens.clone(), url).await {
        Ok(s) => Ok(s),
        Err(e)
            if e.code == patchbay_proto::ErrorCode::Unauthorized
                && std::io::stdin().is_terminal()
                && std::io::stderr().is_terminal() =>
        {
            eprintln!("{}\nStarting a new sign-in.", e.message);
            login(ctx, url).await?;
            client::Session::connect(tokens, url)
                .await
                .map_err(|e| e.message)
        }
        Err(e) => Err(e.message),
    }
}

struct Terminal;

impl LoginEvents for Terminal {
    fn awaiting(&mut self, pending: &Pending) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "Open this URL in your browser to sign in to {}:\n\n  {}\n",
            pending.server_url, pending.auth_url
        );
        let _ = writeln!(
            out,
            "Waiting for the redirect on {REDIRECT_URI}. If your browser runs on another \
             machine, paste the address it ends up at here and press Enter."
        );
        let _ = out.flush();
    }

    fn bad_paste(&mut self, message: &str) {
        eprintln!("{message}");
    }
}

async fn login(ctx: &Ctx, url: &str) -> Result<(), String> {
    let url = login::server_url(url).map_err(|e| e.message)?;
    let lease = LoopbackLease::try_acquire(&ctx.files.data_dir, &format!("MCP login for {url}"))
        .map_err(|e| ApiError::from(e).message)?;
    let (paste_tx, mut pasted) = mpsc::channel(4);
    // A plain thread, not tokio's stdin: a blocking read of a terminal that never sends
    // anything would keep the runtime (and so the process) from exiting after the sign-in.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if !line.trim().is_empty() && paste_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    match login::run(ctx, &url, lease, &mut Terminal, &mut pasted, &cancel).await {
        Ok(entry) => {
            println!(
                "Signed in to {} (authorization server {}).",
                entry.url, entry.issuer
            );
            Ok(())
        }
        Err(LoginEnd::Failed(e)) => Err(e.message),
        Err(LoginEnd::Cancelled) => Err("sign-in cancelled".into()),
        Err(LoginEnd::TimedOut) => Err(format!(
            "no redirect arrived within {} minutes; run the login again",
            login::LOGIN_TIMEOUT.as_secs() / 60
        )),
    }
}
