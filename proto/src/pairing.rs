//! How the dashboard learns where the helper is and which token it accepts.
//!
//! `patchbay serve` prints `<dashboard>/#helper=<url>&token=<token>`. The pair travels in
//! the URL *fragment*, which browsers never send to a server and never put in a Referer, so
//! the token does not land in any access log. The dashboard reads it once, keeps it for the
//! browser session, and removes the fragment from the address bar.

use crate::secret::{Secret, random_urlsafe};

/// Bytes of entropy in a generated pairing token (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// A fresh pairing token.
pub fn new_pairing_token() -> Secret {
    Secret::new(random_urlsafe(TOKEN_BYTES))
}

/// What the dashboard needs to talk to a helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    /// The helper's origin, e.g. `http://127.0.0.1:7878` (no trailing slash).
    pub helper: String,
    pub token: Secret,
}

impl Pairing {
    /// The fragment (without `#`) that carries this pairing.
    pub fn to_fragment(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("helper", &self.helper)
            .append_pair("token", self.token.expose())
            .finish()
    }

    /// The full dashboard link: `dashboard` (an origin or URL without fragment) plus the
    /// pairing fragment.
    pub fn dashboard_link(&self, dashboard: &str) -> String {
        let base = dashboard.split('#').next().unwrap_or(dashboard);
        let base = if base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        };
        format!("{base}#{}", self.to_fragment())
    }

    /// Reads a pairing from a location fragment (with or without the leading `#`).
    /// Returns `None` unless both a plausible helper origin and a token are present.
    pub fn from_fragment(fragment: &str) -> Option<Self> {
        let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
        let mut helper = None;
        let mut token = None;
        for (k, v) in form_urlencoded::parse(fragment.as_bytes()) {
            match k.as_ref() {
                "helper" => helper = Some(v.trim_end_matches('/').to_owned()),
                "token" => token = Some(v.into_owned()),
                _ => {}
            }
        }
        let helper = helper.filter(|h| is_http_origin(h))?;
        let token = token.filter(|t| !t.is_empty())?;
        Some(Self {
            helper,
            token: Secret::new(token),
        })
    }
}

/// `http://host:port` or `https://host[:port]` with nothing after the authority.
fn is_http_origin(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    matches!(rest, Some(authority) if !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_round_trips_with_awkward_characters() {
        let p = Pairing {
            helper: "http://127.0.0.1:7878".into(),
            token: Secret::new("a+b/c=d&e"),
        };
        let link = p.dashboard_link("http://127.0.0.1:8080");
        assert!(
            link.starts_with("http://127.0.0.1:8080/#helper=http%3A%2F%2F127.0.0.1%3A7878&token=")
        );
        let fragment = link.split_once('#').unwrap().1;
        assert_eq!(Pairing::from_fragment(fragment), Some(p.clone()));
        assert_eq!(Pairing::from_fragment(&format!("#{fragment}")), Some(p));
    }

    #[test]
    fn incomplete_or_odd_fragments_are_refused() {
        assert_eq!(Pairing::from_fragment(""), None);
        assert_eq!(Pairing::from_fragment("token=abc"), None);
        assert_eq!(
            Pairing::from_fragment("helper=http%3A%2F%2F127.0.0.1%3A1"),
            None
        );
        assert_eq!(
            Pairing::from_fragment("helper=javascript%3Aalert(1)&token=x"),
            None
        );
        assert_eq!(
            Pairing::from_fragment("helper=http%3A%2F%2Fevil%40127.0.0.1&token=x"),
            None
        );
        assert_eq!(
            Pairing::from_fragment("helper=http%3A%2F%2F127.0.0.1%3A1&token="),
            None
        );
    }

    #[test]
    fn trailing_slash_on_helper_is_dropped() {
        let p = Pairing::from_fragment("helper=http%3A%2F%2F127.0.0.1%3A9%2F&token=t").unwrap();
        assert_eq!(p.helper, "http://127.0.0.1:9");
    }

    #[test]
    fn generated_tokens_are_long_and_unique() {
        let a = new_pairing_token();
        assert_ne!(a, new_pairing_token());
        assert!(a.expose().len() >= 43);
    }
}
