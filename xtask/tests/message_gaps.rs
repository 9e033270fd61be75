//! Messages for people are long string literals broken over lines with `\` continuations.
//! A continuation that loses its backslash keeps the next line's indentation inside the
//! message ("…`npx wrangler secret put PATCHBAY_EDGE_TOKEN`              in edge/…"), or
//! a line break and the indentation when the line break stayed. This test reads every string
//! literal of the crates whose strings reach people (helper, edge, app, proto) and fails on
//! either gap.

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::Lit;

/// The crates whose `src/` is read.
const CRATES: [&str; 4] = ["helper", "edge", "app", "proto"];

/// Literals that hold such a gap on purpose, as (path from the workspace root, the gap's
/// context as reported). Empty so far: every run of spaces found was a lost continuation.
const ALLOWED: &[(&str, &str)] = &[];

/// What is wrong with one literal, in its context, or `None`. Raw strings have no
/// continuations to lose (they hold data such as JSON), so only the others are read.
fn gap(source: &str, value: &str) -> Option<String> {
    if is_raw(source) {
        return None;
    }
    // A line break in the source (not a `\n` escape) that no `\` swallowed, then indentation.
    if let Some(at) = unescaped_line_break(source) {
        return Some(format!("line break without `\\`: {}", context(source, at)));
    }
    // A run of three or more spaces after a word: indentation left behind by a continuation.
    let bytes = value.as_bytes();
    (1..bytes.len()).find_map(|i| {
        let run = bytes[i..].iter().take_while(|b| **b == b' ').count();
        (run >= 3 && !bytes[i - 1].is_ascii_whitespace())
            .then(|| format!("{run} spaces: {}", context(value, i)))
    })
}

/// `r"…"` or `r#"…"#` (byte and C strings are not `LitStr`s, so never reach here).
fn is_raw(source: &str) -> bool {
    source.starts_with('r')
}

/// The byte offset of the first line break inside a (non-raw) literal's source that is not
/// a `\` continuation and is followed by indentation.
fn unescaped_line_break(source: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' if matches!(bytes.get(i + 1), Some(b' ' | b'\t')) => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Up to 30 characters each side of `at`, on one line.
fn context(s: &str, at: usize) -> String {
    let start = (0..=at.saturating_sub(30))
        .rev()
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0);
    let end = (at + 30..=s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    format!("«{}»", s[start..end].replace('\n', "⏎"))
}

/// Every string literal's (source, value) in a token stream, doc comments left out.
fn string_literals(tokens: TokenStream, out: &mut Vec<(String, String)>) {
    for tree in tokens {
        match tree {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket && is_doc(&g.stream()) => {}
            TokenTree::Group(g) => string_literals(g.stream(), out),
            TokenTree::Literal(l) => {
                let source = l.to_string();
                if let Lit::Str(s) = Lit::new(l) {
                    out.push((source, s.value()));
                }
            }
            _ => {}
        }
    }
}

/// `doc = "…"`: the inside of `#[doc = "…"]`, which is what `///` and `//!` become.
fn is_doc(attribute: &TokenStream) -> bool {
    let mut it = attribute.clone().into_iter();
    matches!(
        (it.next(), it.next()),
        (Some(TokenTree::Ident(i)), Some(TokenTree::Punct(p))) if i == "doc" && p.as_char() == '='
    )
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Every gap in the given source file's string literals, reported with `name`.
fn gaps_in(name: &str, text: &str) -> Vec<String> {
    let tokens =
        TokenStream::from_str(text).unwrap_or_else(|e| panic!("{name} does not lex as Rust: {e}"));
    let mut literals = Vec::new();
    string_literals(tokens, &mut literals);
    literals
        .iter()
        .filter_map(|(source, value)| gap(source, value))
        .filter(|found| {
            !ALLOWED
                .iter()
                .any(|(n, c)| *n == name && found.ends_with(c))
        })
        .map(|found| format!("{name}: {found}"))
        .collect()
}

#[test]
fn no_message_has_a_gap_left_by_a_lost_line_continuation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for krate in CRATES {
        rust_files(&root.join(krate).join("src"), &mut files);
    }
    assert!(
        files.len() > 40,
        "found only {} files under {CRATES:?}",
        files.len()
    );
    let found: Vec<String> = files
        .iter()
        .flat_map(|path| {
            let name = path.strip_prefix(root).unwrap().display().to_string();
            gaps_in(&name, &fs::read_to_string(path).unwrap())
        })
        .collect();
    assert!(
        found.is_empty(),
        "{} string literal(s) hold the indentation of a line that lost its `\\` continuation; \
         end the line before the gap with `\\` (or, if the spaces are meant, add the literal \
         to ALLOWED in xtask/tests/message_gaps.rs with the reason):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_check_finds_lost_continuations_and_passes_kept_ones() {
    let broken_on_one_line = r#"fn f() -> &'static str {
        "run `npx wrangler secret put PATCHBAY_EDGE_TOKEN`              in edge/."
    }"#;
    let found = gaps_in("a.rs", broken_on_one_line);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("a.rs: 14 spaces: «"), "{found:?}");

    let broken_with_line_break =
        "const M: &str = \"Start the sign-in again\n    from the dashboard.\";";
    let found = gaps_in("b.rs", broken_with_line_break);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("line break without"), "{found:?}");

    let kept = "/// A doc   comment is not a message.\n\
                const M: &str = \"Start the sign-in again \\\n    from the dashboard.\";\n\
                const N: &str = \"two  spaces\\n  and an indented line are meant\";\n\
                const R: &str = r#\"{\"raw\":\n  \"json\",   \"aligned\": 1}\"#;\n\
                const D: &str = \"[data]\ntype = drive\n\";\n\
                const C: char = ' ';";
    assert_eq!(gaps_in("c.rs", kept), Vec::<String>::new());
}
