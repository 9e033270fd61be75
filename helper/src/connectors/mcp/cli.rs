//! `patchbay mcp …`: sign in to remote MCP servers, use them from the terminal, and hook them
//! into other MCP clients.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use patchbay_proto::mcp::{STEP_UP_ATTEMPTS, TokenState};
use patchbay_proto::{ErrorCode, Secret};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::client_config::{self, McpClient, ProxyEntry};
use super::device::{self, DeviceCode};
use super::login::{self, Ctx, GivenClient, LoginEnd, LoginEvents, LoginRequest, Pending};
use super::options::ServerOptions;
use super::store::McpFiles;
use super::tokens::{Inflight, TokenManager};
use super::{client, list_servers, proxy, revoke};
use crate::ApiError;
use crate::engine::text::one_line;
use crate::engine::{fsutil, upstream};

#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// Folder of mcp-tokens.json and mcp-clients.json (the same as `patchbay serve`'s).
    /// Default: $XDG_DATA_HOME/patchbay, else ~/.local/share/patchbay.
    #[arg(long, env = "PATCHBAY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: McpCommand,
}

/// How to reach one server; stored with it at sign-in and used from then on.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OptionArgs {
    /// An extra request header, 'Name: value'. The value may be ${ENV_VAR}, expanded when a
    /// request is sent (never stored expanded). Repeat for more headers.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Leave out the RFC 8707 `resource` parameter (for authorization servers that refuse
    /// it, such as Entra ID).
    #[arg(long)]
    pub no_resource: bool,
    /// Listen for the redirect on this port (for authorization servers that pinned one
    /// redirect URI); default 53682.
    #[arg(long, value_name = "PORT")]
    pub callback_port: Option<u16>,
    /// The authorization server's issuer URL, for MCP servers that publish no metadata.
    #[arg(long, value_name = "URL")]
    pub auth_server: Option<String>,
}

impl OptionArgs {
    /// The given options, or `None` when no option was given (keep the stored ones).
    fn options(&self) -> Result<Option<ServerOptions>, ApiError> {
        let o = ServerOptions::from_args(
            &self.headers,
            self.no_resource,
            self.callback_port,
            self.auth_server.as_deref(),
        )?;
        Ok((!o.is_empty()).then_some(o))
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum McpCommand {
    /// Sign in to a remote MCP server (OAuth 2.1 with PKCE). Prints the URL to open; also
    /// accepts the redirect address pasted here, for SSH and headless machines.
    Login {
        url: String,
        /// Sign in with a code shown here instead of a redirect (RFC 8628 device flow): no
        /// local port, for SSH sessions and containers.
        #[arg(long)]
        device: bool,
        /// A client you registered at the authorization server yourself (when it offers no
        /// registration Patchbay can use). Kept for that authorization server.
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// The environment variable that holds that client's secret. Without it, Patchbay
        /// asks for the secret at the terminal (empty for a public client). Never on argv.
        #[arg(long, value_name = "VAR", requires = "client_id")]
        client_secret_env: Option<String>,
        #[command(flatten)]
        options: OptionArgs,
    },
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
    /// attached and refreshed (for stdio-only MCP clients). Signs in again by itself when the
    /// sign-in dies (the URL goes to stderr).
    Proxy { url: String },
    /// The servers Patchbay has signed in to.
    List,
    /// Sign out: revoke the tokens at the authorization server (RFC 7009) and forget them
    /// here (the client registration is kept).
    Logout { url: String },
    /// Add the server to another MCP client's configuration, as `patchbay mcp proxy URL`.
    Add {
        url: String,
        #[arg(long, value_enum)]
        client: McpClient,
        /// The entry's name in that client (default: from the server's host).
        #[arg(long)]
        name: Option<String>,
        /// Show the entry and the file it belongs in, without writing anything.
        #[arg(long)]
        print: bool,
    },
    /// Take the server out of another MCP client's configuration again.
    Remove {
        url: String,
        #[arg(long, value_enum)]
        client: McpClient,
        #[arg(long)]
        name: Option<String>,
    },
}

fn text(e: ApiError) -> String {
    e.message
}

/// Whether a person is at this terminal (so a sign-in can be asked for).
fn at_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Runs one `patchbay mcp` command. Errors are sentences for the terminal.
pub async fn run(args: McpArgs) -> Result<(), String> {
    let data_dir = crate::config::resolve_data_dir(args.data_dir).map_err(|e| e.to_string())?;
    let ctx = Ctx::new(upstream::client(), McpFiles::new(&data_dir));
    let tokens = TokenManager::new(ctx.clone(), Inflight::default());
    match args.command {
        McpCommand::Login {
            url,
            device,
            client_id,
            client_secret_env,
            options,
        } => {
            let url = login::server_url(&url).map_err(text)?;
            let client = match client_id {
                Some(id) => Some(given_client(id, client_secret_env.as_deref())?),
                None => None,
            };
            let req = LoginRequest {
                url,
                options: options.options().map_err(text)?,
                client,
            };
            if device {
                device_login(&ctx, &req).await
            } else {
                terminal_login(&ctx, &req).await
            }
        }
        McpCommand::Tools { url } => {
            let url = login::server_url(&url).map_err(text)?;
            let tools = with_step_up(&ctx, &tokens, &url, |s| Box::pin(s.list_tools())).await?;
            for tool in tools {
                match tool.description.as_deref() {
                    Some(d) if !d.is_empty() => println!("{}\t{}", tool.name, one_line(d)),
                    _ => println!("{}", tool.name),
                }
            }
            Ok(())
        }
        McpCommand::Call { url, tool, args } => {
            let url = login::server_url(&url).map_err(text)?;
            let arguments = call_arguments(args.as_deref())?;
            let result = with_step_up(&ctx, &tokens, &url, |s| {
                let (tool, arguments) = (tool.clone(), arguments.clone());
                Box::pin(async move { s.call_tool(&tool, arguments).await })
            })
            .await?;
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
            match revoke::sign_out(&ctx, &url).await.map_err(text)? {
                Some(done) => {
                    println!("{}", done.message);
                    Ok(())
                }
                None => Err(format!("Patchbay has no sign-in for {url}.")),
            }
        }
        McpCommand::Add {
            url,
            client,
            name,
            print,
        } => add_to_client(&url, client, name, print),
        McpCommand::Remove { url, client, name } => remove_from_client(&url, client, name),
    }
}

fn call_arguments(
    args: Option<&str>,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, String> {
    match args.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) => match serde_json::from_str::<serde_json::Value>(a) {
            Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
            _ => Err("the tool arguments must be a JSON object, e.g. '{\"text\":\"hi\"}'".into()),
        },
    }
}

/// The client the person registered by hand, its secret from `VAR` or typed at a prompt.
fn given_client(client_id: String, secret_env: Option<&str>) -> Result<GivenClient, String> {
    let client_id = client_id.trim().to_owned();
    if client_id.is_empty() {
        return Err("--client-id needs the id your authorization server gave the client.".into());
    }
    let client_secret = match secret_env {
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
            _ => {
                return Err(format!(
                    "--client-secret-env names {var}, which is not set. Set it to the client's \
                     secret (or leave the option out for a public client)."
                ));
            }
        },
        None if at_terminal() => {
            let typed = read_hidden(&format!(
                "Client secret for {client_id} (it is not shown; press Enter for a public client):"
            ))
            .map_err(|e| format!("cannot read the secret from the terminal: {e}"))?;
            Some(typed.trim().to_owned())
                .filter(|s| !s.is_empty())
                .map(Secret::new)
        }
        None => None,
    };
    Ok(GivenClient {
        client_id,
        client_secret,
    })
}

/// Reads a line from the terminal without echoing it.
fn read_hidden(prompt: &str) -> std::io::Result<String> {
    use std::os::fd::AsRawFd;
    let fd = std::io::stdin().as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal fd.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    let have = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have {
        let mut quiet = old;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: a termios copied from tcgetattr, with echo off.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    // Only now: what is typed after the prompt must never be echoed.
    eprintln!("{prompt}");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    }
    read.map(|_| line)
}

/// Connects and runs `op`; signs in again first when the grant is dead, and once more when
/// the server wants more scope (403 `insufficient_scope`) — at a terminal. Without one, the
/// failure says which scope is missing and what to run.
async fn with_step_up<T>(
    ctx: &Ctx,
    tokens: &TokenManager,
    url: &str,
    op: impl for<'a> Fn(&'a client::Session) -> futures::future::BoxFuture<'a, Result<T, ApiError>>,
) -> Result<T, String> {
    let mut step_ups = 0;
    loop {
        let session = connect(ctx, tokens.clone(), url).await?;
        let result = op(&session).await;
        session.close().await;
        match result {
            Err(e)
                if e.code == ErrorCode::Forbidden
                    && step_ups < STEP_UP_ATTEMPTS
                    && at_terminal() =>
            {
                step_ups += 1;
                eprintln!("{}\nStarting a new sign-in for it.", e.message);
                terminal_login(ctx, &LoginRequest::plain(url)).await?;
            }
            Err(e) if e.code == ErrorCode::Forbidden && step_ups > 0 => {
                return Err(format!(
                    "{} (The server still refused after a new sign-in; Patchbay stopped \
                     there. Ask the server's operator which scope the operation needs.)",
                    e.message
                ));
            }
            other => return other.map_err(text),
        }
    }
}

/// Connects; when the sign-in is dead (`invalid_grant`) and a person is at the terminal,
/// signs in again first (new PKCE and state, same client id) instead of only saying so.
async fn connect(ctx: &Ctx, tokens: TokenManager, url: &str) -> Result<client::Session, String> {
    match client::Session::connect(tokens.clone(), url).await {
        Ok(s) => Ok(s),
        Err(e) if e.code == ErrorCode::Unauthorized && at_terminal() => {
            eprintln!("{}\nStarting a new sign-in.", e.message);
            terminal_login(ctx, &LoginRequest::plain(url)).await?;
            client::Session::connect(tokens, url)
                .await
                .map_err(|e| e.message)
        }
        Err(e) => Err(e.message),
    }
}

/// Shows a sign-in at a terminal: on stdout for `login`, on stderr for the proxy (whose
/// stdout carries only JSON-RPC).
pub(super) struct Terminal {
    pub to_stderr: bool,
}

impl Terminal {
    fn say(&self, text: &str) {
        if self.to_stderr {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{text}");
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
}

impl LoginEvents for Terminal {
    fn awaiting(&mut self, pending: &Pending) {
        self.say(&format!(
            "Open this URL in your browser to sign in to {}:\n\n  {}\n",
            pending.server_url(),
            pending.auth_url
        ));
        self.say(&format!(
            "Waiting for the redirect on {}. If your browser runs on another machine, paste \
             the address it ends up at here and press Enter.",
            pending.redirect_uri
        ));
    }

    fn bad_paste(&mut self, message: &str) {
        eprintln!("{message}");
    }
}

/// Lines read from a blocking reader on a plain thread: a blocking read of a terminal that
/// never sends anything must not keep the runtime (and so the process) from exiting.
pub(super) fn lines_of(reader: impl BufRead + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if !line.trim().is_empty() && tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Cancels `token` on Ctrl-C.
fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    cancel
}

async fn terminal_login(ctx: &Ctx, req: &LoginRequest) -> Result<(), String> {
    let options = login::options_for(ctx, req).await.map_err(text)?;
    let lease = login::lease_for(ctx, &options, &req.url).map_err(text)?;
    let mut pasted = lines_of(std::io::BufReader::new(std::io::stdin()));
    let cancel = cancel_on_ctrl_c();
    let terminal = &mut Terminal { to_stderr: false };
    match login::run(ctx, req, lease, terminal, &mut pasted, &cancel).await {
        Ok(entry) => {
            println!(
                "Signed in to {} (authorization server {}).",
                entry.url, entry.issuer
            );
            Ok(())
        }
        Err(end) => Err(end.message()),
    }
}

async fn device_login(ctx: &Ctx, req: &LoginRequest) -> Result<(), String> {
    let cancel = cancel_on_ctrl_c();
    let mut show = |code: &DeviceCode| {
        println!(
            "To sign in to {}, open\n\n  {}\n\nand enter the code {}",
            code.server_url, code.verification_uri, code.user_code
        );
        if let Some(complete) = &code.verification_uri_complete {
            println!("(or open {complete}, which carries the code)");
        }
        println!(
            "\nWaiting for your approval (the code expires in {} minutes)…",
            code.expires_in.div_ceil(60)
        );
        let _ = std::io::stdout().flush();
    };
    match device::run(ctx, req, &mut show, &cancel).await {
        Ok(entry) => {
            println!(
                "Signed in to {} (authorization server {}).",
                entry.url, entry.issuer
            );
            Ok(())
        }
        Err(LoginEnd::TimedOut) => {
            Err("the code expired before it was approved; run the login again".into())
        }
        Err(end) => Err(end.message()),
    }
}

/// The client's config file, and the entry for `url`.
fn client_entry(
    url: &str,
    client: McpClient,
    name: Option<String>,
) -> Result<(PathBuf, ProxyEntry), String> {
    let url = login::server_url(url).map_err(text)?;
    let name = name.unwrap_or_else(|| client_config::default_name(&url));
    client_config::check_name(&name)?;
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("cannot find the path of this patchbay executable: {e}"))?;
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or("HOME is not set, so Patchbay cannot find the client's configuration.")?;
    let path = client.config_path(&home, |k| std::env::var(k).ok());
    Ok((path, ProxyEntry::new(name, &exe, &url)))
}

fn read_config(path: &std::path::Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write_config(path: &std::path::Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    fsutil::write_private_atomic(path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn add_to_client(
    url: &str,
    client: McpClient,
    name: Option<String>,
    print: bool,
) -> Result<(), String> {
    let (path, entry) = client_entry(url, client, name)?;
    let shown = path.display().to_string();
    if print {
        println!("# {} — add this to {shown}:", client.label());
        print!("{}", client_config::render(client, &entry));
        return Ok(());
    }
    let old = read_config(&path)?;
    let new = client_config::add(client, &shown, old.as_deref(), &entry)?;
    write_config(&path, &new)?;
    println!(
        "Added “{}” to {} ({shown}): it runs {} mcp proxy {}. Restart {} to pick it up.",
        entry.name,
        client.label(),
        entry.command,
        entry.args.last().map(String::as_str).unwrap_or(""),
        client.label()
    );
    Ok(())
}

fn remove_from_client(url: &str, client: McpClient, name: Option<String>) -> Result<(), String> {
    let (path, entry) = client_entry(url, client, name)?;
    let shown = path.display().to_string();
    let Some(old) = read_config(&path)? else {
        return Err(format!(
            "{shown} does not exist; there is nothing to remove."
        ));
    };
    let (new, removed) = client_config::remove(client, &shown, &old, &entry.name)?;
    if !removed {
        return Err(format!(
            "{shown} has no entry “{}” (give --name if you added it under another name).",
            entry.name
        ));
    }
    write_config(&path, &new)?;
    println!(
        "Removed “{}” from {} ({shown}).",
        entry.name,
        client.label()
    );
    Ok(())
}
