//! The page a person lands on after approving a sign-in somewhere else: the MCP listener's
//! (`helper`), the edge's `/callback`. One look for all of them: "Patchbay" above what
//! happened, then what to do next.
//!
//! The text is `&'static str` on purpose: nothing that arrived with a request can reach a
//! result page. The headers a page goes out with are [`RESULT_PAGE_HEADERS`] plus
//! [`result_page_csp`], whose `style-src` allows exactly the page's own stylesheet (by its
//! hash), no script and nothing else.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The page's only style: readable on light and dark system themes.
const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;\
padding:0 1rem}.brand{font-weight:600;letter-spacing:.02em;opacity:.7;margin:0}\
h1{font-size:1.5rem;margin:.25rem 0 1rem}";

/// A result page: the brand, `title` as the heading, then `next`, one paragraph.
pub fn result_page(title: &'static str, next: &'static str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title} · Patchbay</title><style>{STYLE}</style></head>\
         <body><p class=\"brand\">Patchbay</p><h1>{title}</h1><p>{next}</p></body></html>\n"
    )
}

/// The page's `Content-Security-Policy`: its own stylesheet and nothing else; no framing.
pub fn result_page_csp() -> String {
    let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!("default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'")
}

/// The other headers of a result page: HTML, never cached, no referrer to the next page.
pub const RESULT_PAGE_HEADERS: [(&str, &str); 4] = [
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_names_patchbay_says_what_happened_and_what_to_do() {
        let page = result_page("Vercel is connected", "Go back to the dashboard.");
        assert!(page.contains("<p class=\"brand\">Patchbay</p><h1>Vercel is connected</h1>"));
        assert!(page.contains("<p>Go back to the dashboard.</p>"));
        assert!(page.contains("<title>Vercel is connected · Patchbay</title>"));
        assert!(!page.contains("<script"));
    }

    #[test]
    fn the_policy_allows_the_pages_own_style_only() {
        let csp = result_page_csp();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-"),
            "{csp}"
        );
        // The hash is of the exact text between <style> and </style>.
        let page = result_page("t", "n");
        let style = page
            .split("<style>")
            .nth(1)
            .unwrap()
            .split("</style>")
            .next();
        let hash = STANDARD.encode(Sha256::digest(style.unwrap().as_bytes()));
        assert!(csp.contains(&hash));
        assert!(!csp.contains("unsafe"));
    }
}
