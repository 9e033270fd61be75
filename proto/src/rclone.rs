//! rclone's configuration file, read without running rclone.
//!
//! rclone owns `rclone.conf` (it writes every remote); Patchbay only reads it, to list
//! remotes without spawning a process per request.

use serde::{Deserialize, Serialize};

/// One `[section]` of rclone.conf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Remote {
    pub name: String,
    /// rclone's backend name: `drive`, `onedrive`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// As whom the remote is signed in (an email, or the account's name), when the helper
    /// learnt it at sign-in. Not in rclone.conf: the helper keeps it beside its own files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// The remotes in an rclone.conf text, in file order. Follows rclone's own reader: `#` and
/// `;` start comment lines, keys and values are trimmed, a section without `type` is skipped.
pub fn parse_remotes(conf: &str) -> Vec<Remote> {
    let mut remotes = Vec::new();
    let mut current: Option<(String, Option<String>)> = None;
    let flush = |current: &mut Option<(String, Option<String>)>, out: &mut Vec<Remote>| {
        if let Some((name, Some(kind))) = current.take() {
            out.push(Remote {
                name,
                kind,
                account: None,
            });
        }
    };
    for line in conf.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            flush(&mut current, &mut remotes);
            current = Some((name.trim().to_owned(), None));
        } else if let Some((key, value)) = line.split_once('=')
            && key.trim() == "type"
            && let Some((_, kind)) = current.as_mut()
        {
            *kind = Some(value.trim().to_owned());
        }
    }
    flush(&mut current, &mut remotes);
    remotes
}

/// Why a remote name is refused.
pub const REMOTE_NAME_RULE: &str =
    "a remote name is 1 to 32 characters: lowercase letters, digits, '-' and '_'";

/// `^[a-z0-9_-]{1,32}$`, the contract's `validate_remote_name`.
pub fn is_valid_remote_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// An option `upsert_section` will not write: its key or value could not stay one
/// `key = value` line of its own section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnwritableOption {
    pub key: String,
}

impl UnwritableOption {
    pub fn message(&self) -> String {
        format!(
            "its option {} holds a line break or another control character (or \
             its name is not a plain word), so it could add lines to other remotes; Patchbay \
             did not write it. Sign in again; if it keeps happening, report it.",
            crate::text::quote(&self.key, 40)
        )
    }
}

/// `conf` with the section `[name]` replaced by (or, when absent, followed by) a section
/// holding `options` in order. Every other section, comment and blank line is kept as is.
/// Values come from outside (a token, a Graph drive id): one with a line break could write
/// a section of its own, so any control character refuses the whole edit.
pub fn upsert_section(
    conf: &str,
    name: &str,
    options: &[(&str, &str)],
) -> Result<String, UnwritableOption> {
    let plain_key = |k: &str| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if let Some((key, _)) = options
        .iter()
        .find(|(k, v)| !plain_key(k) || v.chars().any(char::is_control))
    {
        return Err(UnwritableOption {
            key: (*key).to_owned(),
        });
    }
    let (mut out, _) = remove_section(conf, name);
    if !out.is_empty() && !out.ends_with("\n\n") {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!("[{name}]\n"));
    for (key, value) in options {
        out.push_str(&format!("{key} = {value}\n"));
    }
    Ok(out)
}

/// The `key = value` options of section `[name]`, in file order (empty when absent).
pub fn section_options(conf: &str, name: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in conf.lines() {
        let line = line.trim();
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == name;
        } else if inside
            && !line.starts_with('#')
            && !line.starts_with(';')
            && let Some((k, v)) = line.split_once('=')
        {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

/// `conf` without the section `[name]`, and whether it was there.
pub fn remove_section(conf: &str, name: &str) -> (String, bool) {
    let mut out = String::with_capacity(conf.len());
    let mut skipping = false;
    let mut found = false;
    for line in conf.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(section) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            skipping = section.trim() == name;
            found |= skipping;
        }
        if !skipping {
            out.push_str(line);
        }
    }
    (out, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_with_types() {
        let conf = "\
# comment
[personal]
type = drive
token = {\"access_token\":\"x\"}

[work]
type=onedrive
drive_type = personal
[broken]
scope = drive
";
        assert_eq!(
            parse_remotes(conf),
            vec![
                Remote {
                    name: "personal".into(),
                    kind: "drive".into(),
                    account: None,
                },
                Remote {
                    name: "work".into(),
                    kind: "onedrive".into(),
                    account: None,
                },
            ]
        );
        assert!(parse_remotes("").is_empty());
    }

    #[test]
    fn sections_are_replaced_appended_and_removed_in_place() {
        let conf = "# mine\n[a]\ntype = drive\ntoken = old\n\n[b]\ntype = onedrive\n";
        let replaced = upsert_section(conf, "a", &[("type", "drive"), ("token", "new")]).unwrap();
        assert!(
            replaced.starts_with("# mine\n[b]\ntype = onedrive\n"),
            "{replaced}"
        );
        assert!(
            replaced.ends_with("\n\n[a]\ntype = drive\ntoken = new\n"),
            "{replaced}"
        );
        assert_eq!(parse_remotes(&replaced).len(), 2);
        let added = upsert_section("", "c", &[("type", "drive")]).unwrap();
        assert_eq!(added, "[c]\ntype = drive\n");
        let (removed, found) = remove_section(conf, "a");
        assert!(found);
        assert_eq!(removed, "# mine\n[b]\ntype = onedrive\n");
        assert_eq!(remove_section(conf, "zzz"), (conf.to_owned(), false));
        assert_eq!(
            section_options(conf, "a"),
            [
                ("type".to_owned(), "drive".to_owned()),
                ("token".to_owned(), "old".to_owned())
            ]
        );
    }

    #[test]
    fn remote_names_follow_the_contract() {
        for ok in ["personal", "a", "work_2", "my-drive", &"x".repeat(32)] {
            assert!(is_valid_remote_name(ok), "{ok}");
        }
        for bad in ["", "Personal", "a b", "a/b", "ä", &"x".repeat(33), "../x"] {
            assert!(!is_valid_remote_name(bad), "{bad}");
        }
    }
}
