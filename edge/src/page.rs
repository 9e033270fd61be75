//! The edge's few HTML pages (the authorize page): one shell, with a CSP that allows no
//! script, no subresource and no framing, and text that is always escaped.

use crate::http::EdgeResponse;

/// `<!doctype html>` around `body_html`, which the caller builds from [`escape`]d text.
/// `refresh_secs` adds a `<meta http-equiv="refresh">`: the page re-checks without a script.
pub fn html(status: u16, title: &str, body_html: &str, refresh_secs: Option<u32>) -> EdgeResponse {
    let refresh = refresh_secs
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    let title = escape(title);
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">{refresh}\
         <title>{title} · Patchbay</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem}}</style>\
         </head><body><h1>{title}</h1>{body_html}</body></html>\n"
    );
    EdgeResponse {
        status,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".into()),
            ("cache-control", "no-store".into()),
            (
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
                 form-action 'none'; frame-ancestors 'none'"
                    .into(),
            ),
            ("referrer-policy", "no-referrer".into()),
            ("x-content-type-options", "nosniff".into()),
            ("x-frame-options", "DENY".into()),
        ],
        body: body.into_bytes(),
    }
}

/// Text made safe for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_no_script_is_allowed() {
        assert_eq!(
            escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        let page = html(200, "<b>", "<p>x</p>", Some(3));
        let body = String::from_utf8(page.body).unwrap();
        assert!(body.contains("<title>&lt;b&gt; · Patchbay</title>"));
        assert!(body.contains("http-equiv=\"refresh\" content=\"3\""));
        let csp = page
            .headers
            .iter()
            .find(|(k, _)| *k == "content-security-policy");
        assert!(csp.unwrap().1.starts_with("default-src 'none'"));
        assert!(!csp.unwrap().1.contains("script"));
    }
}
