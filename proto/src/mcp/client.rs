//! Who Patchbay is at an authorization server, chosen in the MCP specification's order
//! (2026-07-28, "Client Registration"): a client the person registered by hand, else
//! Patchbay's Client ID Metadata Document when the server fetches those, else a client it
//! registered dynamically before, else a new dynamic registration, else an error that says
//! how to register by hand.

use crate::oauth::{
    AuthorizationServerMetadata, ClientMetadataDocument, ClientRegistrationRequest,
    DEVICE_CODE_GRANT, MetadataProblem, check_url,
};

/// What authorization servers show the person on their consent page.
pub const CLIENT_NAME: &str = "Patchbay";
/// The listener's default port (the one Patchbay's metadata document lists).
pub const DEFAULT_CALLBACK_PORT: u16 = 53682;
/// The listener's default address; registered with every authorization server.
pub const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";
/// Where the edge serves Patchbay's Client ID Metadata Document.
pub const CLIENT_METADATA_PATH: &str = "/oauth/client-metadata.json";

/// The loopback redirect URI for a listener on `port` (RFC 8252 §7.3).
pub fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

/// Patchbay's Client ID Metadata Document, served at `client_id` (its own URL): a public
/// native client whose redirects go to the listener on this machine.
pub fn client_metadata_document(client_id: &str) -> ClientMetadataDocument {
    ClientMetadataDocument {
        client_id: client_id.to_owned(),
        client_name: CLIENT_NAME.into(),
        client_uri: None,
        redirect_uris: vec![
            REDIRECT_URI.into(),
            format!("http://localhost:{DEFAULT_CALLBACK_PORT}/callback"),
        ],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "none".into(),
        application_type: Some("native".into()),
    }
}

/// Whether `url` may be a CIMD `client_id`: https (or http to this machine, for tests and
/// `wrangler dev`) with a path.
pub fn is_metadata_document_url(url: &str) -> bool {
    check_url(url).is_ok_and(|u| !u.path.trim_matches('/').is_empty() && u.query.is_none())
}

/// The Dynamic Client Registration request: a public native client with the loopback
/// redirect (and the device grant when the sign-in uses it).
pub fn registration_request(
    scope: &str,
    redirect_uri: &str,
    device: bool,
) -> ClientRegistrationRequest {
    let mut r = ClientRegistrationRequest::authorization_code(CLIENT_NAME, redirect_uri, scope);
    r.token_endpoint_auth_method = "none".into();
    r.application_type = Some("native".into());
    if device {
        r.grant_types.push(DEVICE_CODE_GRANT.into());
    }
    r
}

/// What Patchbay knows that could identify it at one authorization server.
#[derive(Debug, Clone, Copy, Default)]
pub struct KnownClients<'a> {
    /// `--client-id`, or one the person gave before for this issuer.
    pub pre_registered: Option<&'a str>,
    /// The URL of Patchbay's metadata document, when one is configured.
    pub metadata_document: Option<&'a str>,
    /// A client id this issuer gave Patchbay by dynamic registration earlier, and the
    /// redirect URI it was registered with.
    pub registered: Option<(&'a str, &'a str)>,
}

/// The identity to sign in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientChoice {
    PreRegistered(String),
    MetadataDocument(String),
    Registered(String),
    /// Register now at this endpoint.
    Register(String),
}

impl ClientChoice {
    /// The client id, unless a registration must happen first.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            ClientChoice::PreRegistered(id)
            | ClientChoice::MetadataDocument(id)
            | ClientChoice::Registered(id) => Some(id),
            ClientChoice::Register(_) => None,
        }
    }
}

/// Picks the identity in the specification's order. A stored registration is reused only
/// for the redirect URI it was made with (a new `--callback-port` registers again), and a
/// metadata document only when its redirect URIs hold `redirect_uri`.
pub fn choose_client(
    known: KnownClients<'_>,
    metadata: &AuthorizationServerMetadata,
    redirect_uri: &str,
) -> Result<ClientChoice, MetadataProblem> {
    if let Some(id) = known.pre_registered {
        return Ok(ClientChoice::PreRegistered(id.to_owned()));
    }
    if metadata.client_id_metadata_document_supported
        && let Some(url) = known
            .metadata_document
            .filter(|u| is_metadata_document_url(u))
        && client_metadata_document(url)
            .redirect_uris
            .iter()
            .any(|r| r == redirect_uri)
    {
        return Ok(ClientChoice::MetadataDocument(url.to_owned()));
    }
    if let Some((id, registered_for)) = known.registered
        && registered_for == redirect_uri
    {
        return Ok(ClientChoice::Registered(id.to_owned()));
    }
    match &metadata.registration_endpoint {
        Some(endpoint) => Ok(ClientChoice::Register(endpoint.clone())),
        None => Err(MetadataProblem::NoRegistration {
            issuer: metadata.issuer.clone(),
            redirect_uri: redirect_uri.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(cimd: bool, dcr: bool) -> AuthorizationServerMetadata {
        let mut v = serde_json::json!({
            "issuer": "https://as.example",
            "authorization_endpoint": "https://as.example/authorize",
            "token_endpoint": "https://as.example/token",
            "code_challenge_methods_supported": ["S256"],
            "client_id_metadata_document_supported": cimd,
        });
        if dcr {
            v["registration_endpoint"] = "https://as.example/register".into();
        }
        serde_json::from_value(v).unwrap()
    }

    const DOC: &str = "https://pb.example/oauth/client-metadata.json";

    #[test]
    fn identity_follows_the_specifications_order() {
        let all = KnownClients {
            pre_registered: Some("given"),
            metadata_document: Some(DOC),
            registered: Some(("dcr-1", REDIRECT_URI)),
        };
        let pick = |k, cimd, dcr| choose_client(k, &meta(cimd, dcr), REDIRECT_URI);
        assert_eq!(
            pick(all, true, true),
            Ok(ClientChoice::PreRegistered("given".into()))
        );
        let no_given = KnownClients {
            pre_registered: None,
            ..all
        };
        assert_eq!(
            pick(no_given, true, true),
            Ok(ClientChoice::MetadataDocument(DOC.into()))
        );
        assert_eq!(
            pick(no_given, false, true),
            Ok(ClientChoice::Registered("dcr-1".into()))
        );
        let nothing = KnownClients::default();
        assert_eq!(
            pick(nothing, true, true),
            Ok(ClientChoice::Register("https://as.example/register".into()))
        );
        let err = pick(nothing, true, false).unwrap_err();
        assert!(err.message().contains("--client-id"), "{}", err.message());
        assert!(err.message().contains(REDIRECT_URI), "{}", err.message());
    }

    #[test]
    fn another_port_needs_its_own_registration_and_no_document() {
        let known = KnownClients {
            pre_registered: None,
            metadata_document: Some(DOC),
            registered: Some(("dcr-1", REDIRECT_URI)),
        };
        let other = redirect_uri(8123);
        assert_eq!(
            choose_client(known, &meta(true, true), &other),
            Ok(ClientChoice::Register("https://as.example/register".into()))
        );
    }

    #[test]
    fn documents_and_registrations_describe_a_native_loopback_client() {
        let d = client_metadata_document(DOC);
        assert_eq!(d.client_id, DOC);
        assert!(d.redirect_uris.contains(&REDIRECT_URI.to_owned()));
        assert_eq!(d.token_endpoint_auth_method, "none");
        assert!(is_metadata_document_url(DOC));
        assert!(!is_metadata_document_url("https://pb.example/"));
        assert!(!is_metadata_document_url("http://pb.example/doc.json"));
        let r = registration_request("read", REDIRECT_URI, true);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["application_type"], "native");
        assert_eq!(v["token_endpoint_auth_method"], "none");
        assert_eq!(v["grant_types"][2], DEVICE_CODE_GRANT);
        assert_eq!(redirect_uri(9), "http://127.0.0.1:9/callback");
    }
}
