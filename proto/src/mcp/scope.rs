//! Which scope a sign-in asks for (MCP 2026-07-28, "Scope Selection Strategy" and "Step-Up
//! Authorization Flow").

use crate::oauth::{scope_tokens, scope_union};

/// The scope of a first sign-in: what the 401 challenge named, else every scope the
/// protected resource lists, else nothing (the parameter is then omitted).
pub fn choose_scope(challenge: Option<&str>, resource_scopes: &[String]) -> String {
    match challenge.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => scope_tokens(s).join(" "),
        None => resource_scopes.join(" "),
    }
}

/// The scope a step-up asks for after a 403 `insufficient_scope`: everything asked for and
/// granted before, plus what the challenge names — never fewer, so no other operation loses
/// the permission it had.
pub fn step_up_scope(requested: &str, granted: &str, challenged: &str) -> String {
    scope_union(&scope_union(requested, granted), challenged)
}

/// How many times one operation may sign in again for more scope before Patchbay gives up
/// (a server that keeps answering 403 must not loop).
pub const STEP_UP_ATTEMPTS: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_wins_then_the_resource_then_nothing() {
        assert_eq!(choose_scope(Some("a b"), &["c".into()]), "a b");
        assert_eq!(choose_scope(None, &["c".into(), "d".into()]), "c d");
        assert_eq!(choose_scope(Some(" "), &[]), "");
        assert_eq!(choose_scope(None, &[]), "");
    }

    #[test]
    fn a_step_up_never_asks_for_less() {
        assert_eq!(
            step_up_scope("mcp:read offline_access", "mcp:read", "mcp:write"),
            "mcp:read offline_access mcp:write"
        );
        assert_eq!(step_up_scope("", "x", "x"), "x");
    }
}
