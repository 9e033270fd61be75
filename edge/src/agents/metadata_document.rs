//! Clients identified by a Client ID Metadata Document: the `client_id` is an https URL, and
//! the document there says the client's name and redirect URIs. The edge fetches it when
//! the client first asks to authorize, and again when its cached copy is over an hour old.
//!
//! Only `https` URLs, except loopback ones while the edge itself runs on loopback (`wrangler
//! dev`, tests); no IP literal of a private, link-local or unspecified network (Workers'
//! `fetch` reaches only the public internet, so names that resolve there are no way in
//! either); at most 5 KiB, within 5 s; and the document's `client_id` must be its own URL
//! exactly.

use std::net::IpAddr;

use patchbay_proto::agents::check_redirect_uri;
use patchbay_proto::mcp::client::is_metadata_document_url;
use patchbay_proto::oauth::{ClientMetadataDocument, HttpUrl};

use super::db::{self, Client};
use super::register::client_name;
use crate::Edge;
use crate::error::ApiError;
use crate::http::EdgeRequest;
use crate::store::Store;
use crate::upstream::{Upstream, UpstreamRequest, send_within};

const MAX_DOCUMENT: usize = 5 * 1024;
/// How long the edge waits for a document: the person is looking at a page that waits on it.
const FETCH_MS: u32 = 5_000;
/// How long a fetched document is trusted before it is fetched again.
pub const CACHE_SECS: u64 = 3600;

/// Why a metadata-document client cannot be used; each says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentProblem {
    NotAllowedUrl,
    Unreachable,
    TimedOut,
    TooLarge,
    Invalid,
    WrongClientId,
    BadRedirect,
}

impl DocumentProblem {
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotAllowedUrl => {
                "The app's client_id is a URL the workspace does not fetch (only public https \
                 addresses)."
            }
            Self::Unreachable => "The app's metadata document could not be fetched; try again.",
            Self::TimedOut => {
                "The app's metadata document did not arrive within 5 seconds; try again, or ask \
                 the app's maker to serve it faster."
            }
            Self::TooLarge => "The app's metadata document is larger than 5 KiB.",
            Self::Invalid => "The app's metadata document is not a valid client metadata document.",
            Self::WrongClientId => {
                "The app's metadata document names another client_id than its own URL."
            }
            Self::BadRedirect => {
                "The app's metadata document lists a redirect URI that is neither https nor \
                 loopback."
            }
        }
    }
}

/// Whether the edge may fetch `url` as a client's metadata document.
pub fn fetchable(url: &str, edge_on_loopback: bool) -> bool {
    let Some(u) = HttpUrl::parse(url).filter(|_| is_metadata_document_url(url)) else {
        return false;
    };
    let host = u.host();
    let ip = host.parse::<IpAddr>().ok();
    let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_some_and(|i| i.is_loopback());
    if loopback {
        return edge_on_loopback;
    }
    if !u.is_https() {
        return false;
    }
    !ip.is_some_and(|ip| match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    })
}

/// The client a metadata-document `client_id` names, fetched (or from the cache) and stored
/// as a client row. `Ok(None)`: `client_id` is no URL at all.
pub async fn client<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    req: &EdgeRequest,
    client_id: &str,
) -> Result<Option<Result<Client, DocumentProblem>>, ApiError> {
    if !client_id.starts_with("https://") && !client_id.starts_with("http://") {
        return Ok(None);
    }
    let edge_on_loopback =
        HttpUrl::parse(&super::issuer(edge.config, req)).is_some_and(|u| u.is_loopback());
    if !fetchable(client_id, edge_on_loopback) {
        return Ok(Some(Err(DocumentProblem::NotAllowedUrl)));
    }
    let cached = db::cached_document(edge, client_id, edge.now.saturating_sub(CACHE_SECS)).await?;
    let body = match cached {
        Some(body) => body,
        None => {
            let r = match send_within(
                edge.upstream,
                UpstreamRequest::get(client_id.into()),
                FETCH_MS,
            )
            .await
            {
                None => return Ok(Some(Err(DocumentProblem::TimedOut))),
                Some(Err(_)) => return Ok(Some(Err(DocumentProblem::Unreachable))),
                Some(Ok(r)) => r,
            };
            if r.status != 200 {
                return Ok(Some(Err(DocumentProblem::Unreachable)));
            }
            if r.body.len() > MAX_DOCUMENT {
                return Ok(Some(Err(DocumentProblem::TooLarge)));
            }
            String::from_utf8(r.body).unwrap_or_default()
        }
    };
    let Ok(doc) = serde_json::from_str::<ClientMetadataDocument>(&body) else {
        return Ok(Some(Err(DocumentProblem::Invalid)));
    };
    if doc.client_id != client_id {
        return Ok(Some(Err(DocumentProblem::WrongClientId)));
    }
    if doc.redirect_uris.is_empty()
        || doc
            .redirect_uris
            .iter()
            .any(|u| check_redirect_uri(u).is_err())
    {
        return Ok(Some(Err(DocumentProblem::BadRedirect)));
    }
    db::cache_document(edge, client_id, &body).await?;
    let client = Client {
        client_id: client_id.to_owned(),
        client_name: client_name(Some(&doc.client_name)),
        redirect_uris: doc.redirect_uris,
        source: "cimd",
    };
    db::save_client(edge, &client).await?;
    Ok(Some(Ok(client)))
}

#[cfg(test)]
mod tests {
    use super::fetchable;

    #[test]
    fn only_public_https_or_loopback_from_a_loopback_edge() {
        assert!(fetchable("https://app.example/oauth/client.json", false));
        assert!(!fetchable("http://app.example/oauth/client.json", false));
        assert!(!fetchable("https://app.example", false), "no path");
        assert!(!fetchable("https://app.example/c.json?x=1", false));
        assert!(fetchable("http://127.0.0.1:9/c.json", true));
        assert!(!fetchable("http://127.0.0.1:9/c.json", false));
        for private in [
            "https://10.0.0.1/c.json",
            "https://192.168.1.1/c.json",
            "https://172.16.0.1/c.json",
            "https://169.254.169.254/c.json",
            "https://100.64.0.1/c.json",
            "https://0.0.0.0/c.json",
            "https://[fd00::1]/c.json",
            "https://[fe80::1]/c.json",
        ] {
            assert!(!fetchable(private, false), "{private}");
        }
    }
}
