//! `cargo xtask docs`: README.md as the HTML page the dashboard's "How to set it up" links
//! open (`docs.html#<section>`), on whatever origin serves the dashboard (the helper's
//! `--dashboard-dir`, the edge's Static Assets, `trunk serve`). A browser shows a `.md` file
//! as plain text and cannot jump to a section of it; this page has the sections' anchors,
//! named as a forge names them, so `docs.html#run-at-login` and the repository's
//! `README.md#run-at-login` are the same place.
//!
//! The README's pictures (all in `docs/`) are copied beside the page, to
//! `target/docs/docs/`, which app/index.html copies to `dist/docs/`: the page's relative
//! `docs/…` sources then load on every origin that serves it, as they do on a forge.
//!
//! Trunk runs this as a `pre_build` hook (Trunk.toml), next to `logos`.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

use crate::tools::{Result, root, write_if_changed};

/// Where the page goes: outside the folders `trunk serve` watches (Trunk.toml).
pub const PAGE: &str = "target/docs/docs.html";

/// The one folder of the repository the README's pictures may come from; the page's folder
/// gets a copy of it under the same name (app/index.html's `copy-dir`).
const PICTURES: &str = "docs/";

pub fn docs() -> Result {
    let readme = root().join("README.md");
    let markdown = std::fs::read_to_string(&readme)
        .map_err(|e| format!("cannot read {} ({e})", readme.display()))?;
    let page_path = root().join(PAGE);
    let beside_page = page_path.parent().expect("the page has a folder");
    // The folder exists even when the README shows no picture: index.html copies it.
    std::fs::create_dir_all(beside_page.join(PICTURES))
        .map_err(|e| format!("create {}: {e}", beside_page.display()))?;
    for picture in pictures(&markdown)? {
        let from = root().join(&picture);
        let to = beside_page.join(&picture);
        let bytes = std::fs::read(&from).map_err(|e| {
            format!("README.md shows {picture}, which cannot be read ({e}): add the file or fix the link")
        })?;
        if std::fs::read(&to).ok().as_deref() != Some(&bytes[..]) {
            std::fs::write(&to, &bytes).map_err(|e| format!("write {}: {e}", to.display()))?;
        }
    }
    write_if_changed(&page_path, &page(&markdown))
}

/// The relative sources of the README's pictures; each must be inside `docs/`, since that is
/// the only folder the page gets a copy of.
fn pictures(markdown: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        let Event::Start(Tag::Image { dest_url, .. }) = event else {
            continue;
        };
        if dest_url.contains("://") || dest_url.starts_with("data:") {
            continue;
        }
        let path = dest_url.to_string();
        let inside = path
            .strip_prefix(PICTURES)
            .is_some_and(|name| !name.is_empty() && !name.contains('/') && !name.contains(".."));
        if !inside {
            return Err(format!(
                "README.md shows {path}: put the picture directly in {PICTURES} so docs.html can show it too"
            ));
        }
        found.push(path);
    }
    Ok(found)
}

/// The whole HTML document for `markdown`, every heading with its forge-style anchor.
fn page(markdown: &str) -> String {
    let mut body = String::new();
    html::push_html(&mut body, with_anchors(markdown).into_iter());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <title>Patchbay: README</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <p><a href=\"./\">Back to the dashboard</a></p>\n{body}</body>\n</html>\n"
    )
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;\
padding:0 1rem}pre,code{font-family:ui-monospace,monospace;font-size:.9em}pre{overflow-x:auto;\
padding:.75rem;border:1px solid #8884}table{border-collapse:collapse}td,th{border:1px solid \
#8884;padding:.25rem .5rem;vertical-align:top}";

/// The README's events, with an `id` on every heading (the first of a name plain, the
/// next ones `-1`, `-2`, … as on a forge).
fn with_anchors(markdown: &str) -> Vec<Event<'_>> {
    let mut events: Vec<Event> = Parser::new_ext(markdown, Options::ENABLE_TABLES).collect();
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut i = 0;
    while i < events.len() {
        if matches!(events[i], Event::Start(Tag::Heading { .. })) {
            let mut text = String::new();
            for event in &events[i + 1..] {
                match event {
                    Event::End(TagEnd::Heading(_)) => break,
                    Event::Text(t) | Event::Code(t) => text.push_str(t),
                    _ => {}
                }
            }
            let base = slug(&text);
            let count = seen.entry(base.clone()).or_default();
            let anchor = match *count {
                0 => base,
                n => format!("{base}-{n}"),
            };
            *count += 1;
            if let Event::Start(Tag::Heading { id, .. }) = &mut events[i] {
                *id = Some(CowStr::from(anchor));
            }
        }
        i += 1;
    }
    events
}

/// A heading's anchor as GitHub and most forges make it: lower case, letters, digits, `-`
/// and `_` kept, spaces turned into `-`, everything else dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_named_as_a_forge_names_them() {
        assert_eq!(slug("Run at login"), "run-at-login");
        assert_eq!(slug("`patchbay mcp` flags"), "patchbay-mcp-flags");
        assert_eq!(
            slug("Using Patchbay from Claude Code, Cursor, VS Code and Codex"),
            "using-patchbay-from-claude-code-cursor-vs-code-and-codex"
        );
        assert_eq!(
            slug("Your own Google or Microsoft client"),
            "your-own-google-or-microsoft-client"
        );
    }

    #[test]
    fn every_heading_gets_its_anchor_and_repeats_are_numbered() {
        let html =
            page("# Patchbay\n\n## Run it\n\ntext `code`\n\n## Run it\n\n| a |\n|---|\n| b |\n");
        assert!(html.contains("<h1 id=\"patchbay\">Patchbay</h1>"), "{html}");
        assert!(html.contains("<h2 id=\"run-it\">Run it</h2>"), "{html}");
        assert!(html.contains("<h2 id=\"run-it-1\">Run it</h2>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.starts_with("<!DOCTYPE html>"));
    }

    #[test]
    fn pictures_are_the_relative_ones_and_must_be_in_docs() {
        let found = pictures(
            "![a](docs/a.png) ![b](https://example.com/b.png) | ![c](docs/c.png) |\n|---|\n",
        )
        .unwrap();
        assert_eq!(found, ["docs/a.png", "docs/c.png"]);
        for outside in [
            "![x](img/x.png)",
            "![x](docs/sub/x.png)",
            "![x](docs/../x.png)",
        ] {
            let error = pictures(outside).unwrap_err();
            assert!(
                error.contains("put the picture directly in docs/"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_readmes_pictures_exist() {
        let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
        let found = pictures(&readme).unwrap();
        assert!(!found.is_empty(), "the README shows the dashboard");
        for picture in found {
            assert!(root().join(&picture).is_file(), "{picture}");
        }
    }

    #[test]
    fn the_sections_the_setup_notes_link_to_exist_in_the_readme() {
        let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
        let html = page(&readme);
        // The anchors `helper/src/connectors/overview.rs` sends as `SetupNeeded::docs`.
        for anchor in [
            "your-own-google-or-microsoft-client",
            "deploying-the-edge-to-cloudflare",
        ] {
            assert!(html.contains(&format!("id=\"{anchor}\"")), "{anchor}");
        }
    }
}
