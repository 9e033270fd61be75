//! `cargo xtask logos`: the providers' logos, from maintained icon packages in node_modules
//! (installed by `npm ci` from package.json), as one SVG sprite that Trunk inlines into
//! index.html. Cards draw them with `<use href="#logo-gdrive">`: nothing is fetched at run
//! time, and the marks cost the wasm nothing.
//!
//! Trunk runs this as a `pre_build` hook (Trunk.toml), so every `trunk build` and `trunk
//! serve` has a current sprite. Where each mark comes from, and its license:
//! - Google Drive, GitHub, Vercel, MCP: `simple-icons` (CC0-1.0), in the brand colour from
//!   its data file (near-black marks follow the text colour, so they show in dark mode too).
//! - OneDrive: `@iconify-json/logos` (CC0-1.0): simple-icons removed Microsoft's marks.
//! - Manus: `@lobehub/icons-static-svg` (MIT, notice in public/third-party-icons.txt).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::tools::{Result, root, write_if_changed};

/// Where the sprite goes: outside the folders `trunk serve` watches (Trunk.toml).
pub const SPRITE: &str = "target/logos/logos.svg";

/// A connector's logo and where it comes from.
enum Source {
    /// `simple-icons/icons/<slug>.svg`, coloured with the slug's brand hex.
    SimpleIcons(&'static str),
    /// An icon of an Iconify JSON set: `@iconify-json/<set>/icons.json`.
    Iconify(&'static str, &'static str),
    /// `@lobehub/icons-static-svg/icons/<name>.svg`.
    Lobehub(&'static str),
}

const LOGOS: [(&str, Source); 7] = [
    ("gdrive", Source::SimpleIcons("googledrive")),
    ("onedrive", Source::Iconify("logos", "microsoft-onedrive")),
    ("github", Source::SimpleIcons("github")),
    ("vercel", Source::SimpleIcons("vercel")),
    ("manus", Source::Lobehub("manus")),
    ("mcp", Source::SimpleIcons("modelcontextprotocol")),
    // Hosted agents reach the workspace as MCP clients: no brand of their own.
    ("agents", Source::SimpleIcons("modelcontextprotocol")),
];

pub fn logos() -> Result {
    let modules = root().join("node_modules");
    let mut symbols = Vec::new();
    for (id, source) in &LOGOS {
        let symbol = match source {
            Source::SimpleIcons(slug) => {
                let svg = read(&modules.join(format!("simple-icons/icons/{slug}.svg")))?;
                symbol(id, &svg, Some(&brand_colour(&modules, slug)?))
            }
            Source::Iconify(set, name) => {
                let json = read(&modules.join(format!("@iconify-json/{set}/icons.json")))?;
                symbol(id, &iconify_svg(&json, name)?, None)
            }
            Source::Lobehub(name) => {
                let svg =
                    read(&modules.join(format!("@lobehub/icons-static-svg/icons/{name}.svg")))?;
                symbol(id, &svg, None)
            }
        };
        symbols.push(symbol.map_err(|e| format!("the {id} logo: {e}"))?);
    }
    write_if_changed(&root().join(SPRITE), &sprite(&symbols))
}

fn read(path: &PathBuf) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {} ({e}): the icon packages come from package.json; run `cargo xtask \
             setup` (it runs npm ci)",
            path.display()
        )
    })
}

/// The brand colour simple-icons gives `slug`, as `#RRGGBB`.
fn brand_colour(modules: &Path, slug: &str) -> Result<String> {
    let data = read(&modules.join("simple-icons/data/simple-icons.json"))?;
    let icons: Vec<serde_json::Value> =
        serde_json::from_str(&data).map_err(|e| format!("simple-icons.json: {e}"))?;
    icons
        .iter()
        .find(|i| i["slug"] == slug)
        .and_then(|i| i["hex"].as_str())
        .map(|hex| format!("#{hex}"))
        .ok_or_else(|| format!("simple-icons has no {slug}"))
}

/// One icon of an Iconify JSON set, as a standalone SVG document.
fn iconify_svg(json: &str, name: &str) -> Result<String> {
    let set: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let icon = &set["icons"][name];
    let body = icon["body"]
        .as_str()
        .ok_or_else(|| format!("no icon {name} in the {} set", set["prefix"]))?;
    let size = |key: &str| icon[key].as_u64().or(set[key].as_u64()).unwrap_or(16);
    Ok(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}">{body}</svg>"#,
        size("width"),
        size("height")
    ))
}

/// `svg` as `<symbol id="logo-{id}">`: its viewBox and drawing, without title, sizes or
/// styles. A near-black `colour` becomes the text colour.
fn symbol(id: &str, svg: &str, colour: Option<&str>) -> Result<String> {
    let doc = roxmltree::Document::parse(svg).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if root.tag_name().name() != "svg" {
        return Err("not an SVG document".into());
    }
    let view_box = root.attribute("viewBox").ok_or("no viewBox")?;
    let fill = match colour {
        Some(c) if !is_near_black(c) => c,
        // The mark's own fill (`currentColor` for a mono mark) or, when it has none, the
        // text colour: black on black would vanish in dark mode.
        _ => root.attribute("fill").unwrap_or("currentColor"),
    };
    let mut out = format!(
        r#"<symbol id="logo-{id}" viewBox="{}"><g fill="{}""#,
        escape(view_box),
        escape(fill)
    );
    if let Some(rule) = root.attribute("fill-rule") {
        write!(out, r#" fill-rule="{}""#, escape(rule)).expect("write to a String");
    }
    out.push('>');
    for child in root.children().filter(roxmltree::Node::is_element) {
        write_element(&mut out, child);
    }
    out.push_str("</g></symbol>");
    Ok(out)
}

/// Serialises a drawing element and its children; titles, descriptions and scripts are
/// dropped (they would show as tooltips, or run).
fn write_element(out: &mut String, node: roxmltree::Node) {
    let tag = node.tag_name().name();
    if matches!(tag, "title" | "desc" | "script" | "style" | "metadata") {
        return;
    }
    write!(out, "<{tag}").expect("write to a String");
    for a in node.attributes() {
        // Event handlers and links never enter the page.
        if a.name().starts_with("on") || a.name() == "href" {
            continue;
        }
        write!(out, r#" {}="{}""#, a.name(), escape(a.value())).expect("write to a String");
    }
    let children: Vec<_> = node
        .children()
        .filter(roxmltree::Node::is_element)
        .collect();
    if children.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        for c in children {
            write_element(out, c);
        }
        write!(out, "</{tag}>").expect("write to a String");
    }
}

fn is_near_black(hex: &str) -> bool {
    let hex = hex.trim_start_matches('#');
    let channel =
        |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("ff"), 16).unwrap_or(255);
    let (r, g, b) = (channel(0), channel(2), channel(4));
    // Relative luminance, roughly (sRGB weights on the raw channels).
    (0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b)) < 48.0
}

fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// The hidden sprite the page's `<use>` elements point into.
fn sprite(symbols: &[String]) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" aria-hidden=\"true\" \
         style=\"position:absolute;width:0;height:0;overflow:hidden\">{}</svg>\n",
        symbols.concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRIVE: &str = r#"<svg role="img" viewBox="0 0 24 24" xmlns="http://www.w3.org/2000/svg"><title>Google Drive</title><path d="M12 1.4z"/></svg>"#;

    #[test]
    fn a_simple_icon_becomes_a_coloured_symbol_without_its_title() {
        let s = symbol("gdrive", DRIVE, Some("#4285F4")).unwrap();
        assert_eq!(
            s,
            r##"<symbol id="logo-gdrive" viewBox="0 0 24 24"><g fill="#4285F4"><path d="M12 1.4z"/></g></symbol>"##
        );
    }

    #[test]
    fn near_black_marks_follow_the_text_colour() {
        let s = symbol("github", DRIVE, Some("#181717")).unwrap();
        assert!(s.contains(r#"<g fill="currentColor">"#), "{s}");
        assert!(!is_near_black("#4285F4"));
        assert!(is_near_black("#000000"));
    }

    #[test]
    fn multicolour_marks_keep_their_fills_and_nothing_active_gets_through() {
        let svg = iconify_svg(
            r##"{"prefix":"logos","width":256,"height":256,"icons":{"x":{"body":"<path fill=\"#0364b8\" d=\"m1 2\" onclick=\"alert(1)\"/><g><path d=\"m3 4\"/></g><script>alert(2)</script>","height":165}}}"##,
            "x",
        )
        .unwrap();
        let s = symbol("onedrive", &svg, None).unwrap();
        assert_eq!(
            s,
            r##"<symbol id="logo-onedrive" viewBox="0 0 256 165"><g fill="currentColor"><path fill="#0364b8" d="m1 2"/><g><path d="m3 4"/></g></g></symbol>"##
        );
        assert!(iconify_svg(r#"{"prefix":"logos","icons":{}}"#, "nope").is_err());
        assert!(symbol("x", "<html/>", None).is_err());
    }

    #[test]
    fn the_sprite_is_hidden_and_holds_every_symbol() {
        let s = sprite(&["<symbol id=\"a\"/>".into(), "<symbol id=\"b\"/>".into()]);
        assert!(s.starts_with("<svg ") && s.contains("width:0"), "{s}");
        assert!(s.contains("<symbol id=\"a\"/><symbol id=\"b\"/>"), "{s}");
    }
}
