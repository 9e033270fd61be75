//! Scopes as sets (RFC 6749 §3.3: space-separated, order carries no meaning): the union a
//! step-up asks for, what a grant still lacks, and `offline_access`.

/// The scope that asks an OpenID-style server for a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The scope tokens of `scope`, each once, in their first order.
pub fn scope_tokens(scope: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for t in scope.split_ascii_whitespace() {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Every scope of `a` and of `b`, each once (`a`'s first): a step-up never asks for fewer
/// than the grant had.
pub fn scope_union(a: &str, b: &str) -> String {
    let mut all = scope_tokens(a);
    for t in scope_tokens(b) {
        if !all.contains(&t) {
            all.push(t);
        }
    }
    all.join(" ")
}

/// The scopes of `wanted` that `granted` lacks.
pub fn missing_scopes(granted: &str, wanted: &str) -> Vec<String> {
    let have = scope_tokens(granted);
    scope_tokens(wanted)
        .into_iter()
        .filter(|t| !have.contains(t))
        .map(str::to_owned)
        .collect()
}

/// `scope` plus `offline_access` when the authorization server lists it (MCP: a client MAY
/// add it then). An empty scope stays empty: asking for `offline_access` alone would replace
/// the server's default scope with nothing but a refresh token.
pub fn with_offline_access(scope: &str, server_scopes: &[String]) -> String {
    if scope.trim().is_empty() || !server_scopes.iter().any(|s| s == OFFLINE_ACCESS) {
        return scope_tokens(scope).join(" ");
    }
    scope_union(scope, OFFLINE_ACCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_keep_every_scope_once() {
        assert_eq!(scope_union("a b", "b c"), "a b c");
        assert_eq!(scope_union("", "c"), "c");
        assert_eq!(scope_union("a  a", ""), "a");
        assert_eq!(missing_scopes("a b", "b c d"), ["c", "d"]);
        assert!(missing_scopes("a b c", "c a").is_empty());
    }

    #[test]
    fn offline_access_only_when_listed_and_never_alone() {
        let listed = vec!["mcp".to_owned(), OFFLINE_ACCESS.to_owned()];
        assert_eq!(with_offline_access("mcp", &listed), "mcp offline_access");
        assert_eq!(with_offline_access("mcp", &[]), "mcp");
        assert_eq!(with_offline_access("", &listed), "");
        assert_eq!(
            with_offline_access("offline_access mcp", &listed),
            "offline_access mcp"
        );
    }
}
