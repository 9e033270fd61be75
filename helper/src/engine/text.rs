//! Words for people: how messages quote what a request sent, and how they count.

/// The most characters of request input a message quotes.
pub const QUOTE_MAX: usize = 64;

/// What a message may quote of request input (an id, a name, an address): printable ASCII
/// and spaces only, at most [`QUOTE_MAX`] characters. No control character reaches a log
/// line, a terminal or a page, and a megabyte of input does not come back in the answer.
pub fn quote_input(input: &str) -> String {
    input
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(QUOTE_MAX)
        .collect()
}

/// `1 remote`, `2 remotes`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Text on one line: every run of whitespace (a newline between two sentences, a tool's
/// wrapped description) becomes one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_lines_and_trims() {
        assert_eq!(
            one_line("The sign-in expired.\nStarting a new sign-in.  "),
            "The sign-in expired. Starting a new sign-in."
        );
    }

    #[test]
    fn quotes_drop_control_characters_and_stop_at_the_bound() {
        assert_eq!(quote_input("my drive-2"), "my drive-2");
        assert_eq!(quote_input("a\u{1b}[31mb\r\nc\u{0}d\u{202e}e"), "a[31mbcde");
        assert_eq!(quote_input(&"x".repeat(10_000)).len(), QUOTE_MAX);
    }

    #[test]
    fn counts() {
        assert_eq!(plural(1, "server"), "1 server");
        assert_eq!(plural(3, "server"), "3 servers");
        assert_eq!(plural(0, "remote"), "0 remotes");
    }
}
