//! `patchbay mcp add|remove URL --client …`: the entry that makes another MCP client run
//! `patchbay mcp proxy URL`, in the file and format that client documents:
//!
//! | client | file | entry |
//! |---|---|---|
//! | Claude Code | `~/.claude.json` (user scope) | `mcpServers.NAME = {type: "stdio", command, args, env}` |
//! | Claude Desktop | `claude_desktop_config.json` in Claude's config folder | `mcpServers.NAME = {command, args}` |
//! | Cursor | `~/.cursor/mcp.json` | `mcpServers.NAME = {command, args}` |
//! | VS Code | `mcp.json` in the user folder (`Code/User`) | `servers.NAME = {type: "stdio", command, args}` |
//! | Codex | `$CODEX_HOME/config.toml` (`~/.codex`) | `[mcp_servers.NAME] command, args` |
//!
//! The edit is a plain function of the old text ([`add`], [`remove`]): every other entry and
//! setting stays as it was (TOML keeps its comments too), and a file that does not parse is
//! never overwritten. The command is the absolute path of the running `patchbay`, so the
//! client finds it whatever its `PATH`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// The MCP clients Patchbay writes configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum McpClient {
    ClaudeCode,
    ClaudeDesktop,
    Cursor,
    Vscode,
    Codex,
}

impl McpClient {
    pub fn label(self) -> &'static str {
        match self {
            McpClient::ClaudeCode => "Claude Code",
            McpClient::ClaudeDesktop => "Claude Desktop",
            McpClient::Cursor => "Cursor",
            McpClient::Vscode => "VS Code",
            McpClient::Codex => "Codex",
        }
    }

    /// The client's user-level configuration file, given the home folder and environment.
    pub fn config_path(self, home: &Path, var: impl Fn(&str) -> Option<String>) -> PathBuf {
        let config_home = || {
            if cfg!(target_os = "macos") {
                home.join("Library/Application Support")
            } else {
                var("XDG_CONFIG_HOME")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| home.join(".config"))
            }
        };
        match self {
            McpClient::ClaudeCode => home.join(".claude.json"),
            McpClient::ClaudeDesktop => config_home().join("Claude/claude_desktop_config.json"),
            McpClient::Cursor => home.join(".cursor/mcp.json"),
            McpClient::Vscode => config_home().join("Code/User/mcp.json"),
            McpClient::Codex => var("CODEX_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".codex"))
                .join("config.toml"),
        }
    }

    /// The JSON member that holds the servers (not for Codex).
    fn servers_key(self) -> &'static str {
        match self {
            McpClient::Vscode => "servers",
            _ => "mcpServers",
        }
    }
}

/// What the client should run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyEntry {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
}

impl ProxyEntry {
    /// `patchbay mcp proxy URL`, by the absolute path of `exe`.
    pub fn new(name: String, exe: &Path, url: &str) -> ProxyEntry {
        ProxyEntry {
            name,
            command: exe.display().to_string(),
            args: vec!["mcp".into(), "proxy".into(), url.into()],
        }
    }
}

/// A name for the server's entry: its host (and port), with `-` for anything else.
pub fn default_name(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    let name: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "patchbay".into()
    } else {
        name.to_owned()
    }
}

/// Checks a `--name`: letters, digits, `-` and `_` (what every client's keys allow).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(
            "--name takes letters, digits, - and _ only (at most 64), for example --name notes."
                .into(),
        )
    }
}

/// The entry alone, as the client's file would hold it (for `--print`).
pub fn render(client: McpClient, entry: &ProxyEntry) -> String {
    match client {
        McpClient::Codex => {
            let mut doc = toml_edit::DocumentMut::new();
            insert_toml(&mut doc, entry);
            doc.to_string()
        }
        _ => {
            let mut servers = Map::new();
            servers.insert(entry.name.clone(), json_entry(client, entry));
            let doc = json!({ client.servers_key(): servers });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
    }
}

fn json_entry(client: McpClient, entry: &ProxyEntry) -> Value {
    match client {
        McpClient::ClaudeCode => json!({
            "type": "stdio", "command": entry.command, "args": entry.args, "env": {},
        }),
        McpClient::Vscode => json!({"type": "stdio", "command": entry.command, "args": entry.args}),
        _ => json!({"command": entry.command, "args": entry.args}),
    }
}

fn insert_toml(doc: &mut toml_edit::DocumentMut, entry: &ProxyEntry) {
    let servers = doc.entry("mcp_servers").or_insert_with(|| {
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        toml_edit::Item::Table(t)
    });
    let mut table = toml_edit::Table::new();
    table["command"] = toml_edit::value(entry.command.as_str());
    let mut args = toml_edit::Array::new();
    for a in &entry.args {
        args.push(a.as_str());
    }
    table["args"] = toml_edit::value(args);
    if let Some(servers) = servers.as_table_like_mut() {
        servers.insert(&entry.name, toml_edit::Item::Table(table));
    }
}

fn unreadable(path: &str, why: impl std::fmt::Display) -> String {
    format!(
        "{path} does not parse ({why}). Patchbay will not overwrite it: fix it, or add the \
         entry by hand (`--print` shows it)."
    )
}

/// The file's new text with `entry` added (or replaced); `old` is `None` for a new file.
pub fn add(
    client: McpClient,
    path: &str,
    old: Option<&str>,
    entry: &ProxyEntry,
) -> Result<String, String> {
    let old = old.filter(|t| !t.trim().is_empty());
    match client {
        McpClient::Codex => {
            let mut doc: toml_edit::DocumentMut =
                old.unwrap_or("").parse().map_err(|e| unreadable(path, e))?;
            if doc.get("mcp_servers").is_some_and(|s| !s.is_table_like()) {
                return Err(unreadable(path, "mcp_servers is not a table"));
            }
            insert_toml(&mut doc, entry);
            Ok(doc.to_string())
        }
        _ => {
            let mut doc: Value = match old {
                Some(t) => serde_json::from_str(t).map_err(|e| unreadable(path, e))?,
                None => json!({}),
            };
            let root = doc
                .as_object_mut()
                .ok_or_else(|| unreadable(path, "it is not a JSON object"))?;
            let servers = root
                .entry(client.servers_key())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or_else(|| {
                    unreadable(path, format!("{} is not an object", client.servers_key()))
                })?;
            servers.insert(entry.name.clone(), json_entry(client, entry));
            Ok(serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n")
        }
    }
}

/// The file's new text without the entry `name`, and whether it was there.
pub fn remove(
    client: McpClient,
    path: &str,
    old: &str,
    name: &str,
) -> Result<(String, bool), String> {
    match client {
        McpClient::Codex => {
            let mut doc: toml_edit::DocumentMut = old.parse().map_err(|e| unreadable(path, e))?;
            let removed = doc
                .get_mut("mcp_servers")
                .and_then(|s| s.as_table_like_mut())
                .and_then(|s| s.remove(name))
                .is_some();
            Ok((doc.to_string(), removed))
        }
        _ => {
            let mut doc: Value = serde_json::from_str(old).map_err(|e| unreadable(path, e))?;
            let removed = doc
                .get_mut(client.servers_key())
                .and_then(Value::as_object_mut)
                .and_then(|s| s.remove(name))
                .is_some();
            Ok((
                serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n",
                removed,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ProxyEntry {
        ProxyEntry::new(
            "mcp-example-com".into(),
            Path::new("/opt/pb/patchbay"),
            "https://mcp.example.com/mcp",
        )
    }

    #[test]
    fn paths_follow_each_clients_documentation() {
        let home = Path::new("/home/u");
        let none = |_: &str| None;
        assert_eq!(
            McpClient::ClaudeCode.config_path(home, none),
            home.join(".claude.json")
        );
        assert_eq!(
            McpClient::Cursor.config_path(home, none),
            home.join(".cursor/mcp.json")
        );
        assert_eq!(
            McpClient::Codex.config_path(home, none),
            home.join(".codex/config.toml")
        );
        let codex_home = |k: &str| (k == "CODEX_HOME").then(|| "/c".to_owned());
        assert_eq!(
            McpClient::Codex.config_path(home, codex_home),
            Path::new("/c/config.toml")
        );
        if !cfg!(target_os = "macos") {
            assert_eq!(
                McpClient::Vscode.config_path(home, none),
                home.join(".config/Code/User/mcp.json")
            );
            assert_eq!(
                McpClient::ClaudeDesktop.config_path(home, none),
                home.join(".config/Claude/claude_desktop_config.json")
            );
        }
        assert_eq!(
            default_name("https://MCP.example.com:8443/mcp"),
            "mcp-example-com-8443"
        );
        assert!(check_name("a_b-1").is_ok());
        assert!(check_name("a b").is_err());
    }

    #[test]
    fn json_entries_keep_everything_else() {
        let old = r#"{"theme": "dark", "mcpServers": {"other": {"command": "x"}}, "projects": {}}"#;
        let new = add(McpClient::ClaudeCode, "f", Some(old), &entry()).unwrap();
        let v: Value = serde_json::from_str(&new).unwrap();
        assert_eq!(v["theme"], "dark");
        assert_eq!(v["mcpServers"]["other"]["command"], "x");
        let e = &v["mcpServers"]["mcp-example-com"];
        assert_eq!(e["type"], "stdio");
        assert_eq!(e["command"], "/opt/pb/patchbay");
        assert_eq!(
            e["args"],
            json!(["mcp", "proxy", "https://mcp.example.com/mcp"])
        );
        // Keys keep their order.
        assert!(new.find("theme").unwrap() < new.find("projects").unwrap());
        let (back, removed) = remove(McpClient::ClaudeCode, "f", &new, "mcp-example-com").unwrap();
        assert!(removed);
        let v: Value = serde_json::from_str(&back).unwrap();
        assert!(v["mcpServers"].get("mcp-example-com").is_none());
        assert_eq!(v["mcpServers"]["other"]["command"], "x");

        let vs = add(McpClient::Vscode, "f", None, &entry()).unwrap();
        let v: Value = serde_json::from_str(&vs).unwrap();
        assert_eq!(v["servers"]["mcp-example-com"]["type"], "stdio");
        let cursor = add(McpClient::Cursor, "f", None, &entry()).unwrap();
        assert!(
            serde_json::from_str::<Value>(&cursor).unwrap()["mcpServers"]["mcp-example-com"]
                .get("type")
                .is_none()
        );
        let err = add(
            McpClient::Cursor,
            "/x/mcp.json",
            Some("{ // comment\n}"),
            &entry(),
        )
        .unwrap_err();
        assert!(err.contains("will not overwrite"), "{err}");
        assert!(add(McpClient::Cursor, "f", Some("[1]"), &entry()).is_err());
    }

    #[test]
    fn codex_toml_keeps_comments_and_other_servers() {
        let old = "# my settings\nmodel = \"o3\"\n\n[mcp_servers.docs]\ncommand = \"npx\"\nargs = [\"docs\"]\n";
        let new = add(McpClient::Codex, "f", Some(old), &entry()).unwrap();
        assert!(new.starts_with("# my settings\nmodel = \"o3\""), "{new}");
        assert!(new.contains("[mcp_servers.docs]"), "{new}");
        assert!(new.contains("[mcp_servers.mcp-example-com]"), "{new}");
        assert!(
            new.contains(r#"args = ["mcp", "proxy", "https://mcp.example.com/mcp"]"#),
            "{new}"
        );
        let (back, removed) = remove(McpClient::Codex, "f", &new, "mcp-example-com").unwrap();
        assert!(removed);
        assert_eq!(back, old);
        let shown = render(McpClient::Codex, &entry());
        assert!(shown.contains("command = \"/opt/pb/patchbay\""), "{shown}");
        assert!(add(McpClient::Codex, "f", Some("mcp_servers = 1"), &entry()).is_err());
    }
}
