//! How a message quotes text that came from outside (a provider's error description, a
//! metadata document's issuer, a child process's output line).
//!
//! Messages reach terminals, log lines and pages. A control character in one can rewrite a
//! terminal (`ESC [2J`), forge a log line (`\n`), or reorder what a reader sees (the
//! bidirectional overrides), so none survives quoting, and the quote is bounded.

/// Whether `c` must never appear in a message: C0/C1 controls, line and paragraph
/// separators, zero-width characters and the bidirectional embedding, override and isolate
/// characters.
pub fn is_unsafe_in_messages(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `text` without unsafe characters, at most `max` characters long (`…` marks a cut).
pub fn quote(text: &str, max: usize) -> String {
    let mut kept = text.chars().filter(|c| !is_unsafe_in_messages(*c));
    let mut out: String = kept.by_ref().take(max).collect();
    if kept.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_safe_and_bounded() {
        assert_eq!(quote("access denied", 60), "access denied");
        assert_eq!(quote("a\u{1b}[2J\r\nb\u{202e}c\u{2028}d", 60), "a[2Jbcd");
        assert_eq!(quote("déjà vu — 日本", 60), "déjà vu — 日本");
        assert_eq!(quote(&"x".repeat(100), 10), format!("{}…", "x".repeat(10)));
        assert!(is_unsafe_in_messages('\u{85}'));
        assert!(!is_unsafe_in_messages('é'));
    }
}
