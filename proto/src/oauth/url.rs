//! The URLs OAuth endpoints may have: https, or plain http to this machine (local
//! development). Parsed into the parts discovery needs, without guessing at anything odd.

/// An http(s) URL split into the parts discovery needs. Only what RFC 3986 allows in the
/// URLs we meet; anything odd is refused rather than guessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl<'a> {
    pub scheme: &'a str,
    /// `host[:port]`, as written.
    pub authority: &'a str,
    /// Starts with `/`, or is empty.
    pub path: &'a str,
    pub query: Option<&'a str>,
}

impl<'a> HttpUrl<'a> {
    pub fn parse(s: &'a str) -> Option<HttpUrl<'a>> {
        let (scheme, rest) = s.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        if s.contains('#') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (tail, None),
        };
        Some(HttpUrl {
            scheme,
            authority,
            path,
            query,
        })
    }

    /// `scheme://authority`, lower-cased.
    pub fn origin(&self) -> String {
        format!(
            "{}://{}",
            self.scheme.to_ascii_lowercase(),
            self.authority.to_ascii_lowercase()
        )
    }

    /// The host without port or IPv6 brackets.
    pub fn host(&self) -> &str {
        let a = self.authority;
        if let Some(rest) = a.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        a.rsplit_once(':').map(|(h, _)| h).unwrap_or(a)
    }

    /// The name `localhost` or a loopback IP address (127.0.0.0/8, `::1`). Only what
    /// parses as an address counts: `127.evil.example` is anyone's host name.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    pub fn is_https(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("https")
    }
}

/// Why a URL may not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    NotHttpUrl,
    /// Plain http to anything but this machine would send tokens in the clear.
    InsecureHttp,
}

/// Checks a server or endpoint URL: https, or http to loopback (local development).
pub fn check_url(s: &str) -> Result<HttpUrl<'_>, UrlError> {
    let u = HttpUrl::parse(s).ok_or(UrlError::NotHttpUrl)?;
    if !u.is_https() && !u.is_loopback() {
        return Err(UrlError::InsecureHttp);
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_checked() {
        let u = HttpUrl::parse("HTTPS://As.Example:8443/t1?x=1").unwrap();
        assert_eq!(u.origin(), "https://as.example:8443");
        assert_eq!(
            (u.host(), u.path, u.query),
            ("As.Example", "/t1", Some("x=1"))
        );
        assert!(HttpUrl::parse("http://[::1]:9/x").unwrap().is_loopback());
        assert_eq!(check_url("http://127.0.0.1:9/t").map(|u| u.path), Ok("/t"));
        assert_eq!(
            check_url("http://as.example/t"),
            Err(UrlError::InsecureHttp)
        );
        for bad in [
            "ftp://x/y",
            "https://u:p@x/y",
            "https://x/#f",
            "https:///p",
            "https://x/a b",
        ] {
            assert_eq!(check_url(bad), Err(UrlError::NotHttpUrl), "{bad}");
        }
    }
}
