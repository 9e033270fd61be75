//! `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata of this deployment's
//! authorization server. Public and briefly cacheable.

use patchbay_proto::agents::SCOPES;
use patchbay_proto::oauth::AuthorizationServerMetadata;
use patchbay_proto::pkce::CHALLENGE_METHOD;

use super::{AUTHORIZE_PATH, REGISTER_PATH, REVOKE_PATH, TOKEN_PATH, issuer};
use crate::config::EdgeConfig;
use crate::error::wrong_method;
use crate::http::{EdgeRequest, EdgeResponse};

pub const PATH: &str = "/.well-known/oauth-authorization-server";

pub fn document(config: &EdgeConfig, req: &EdgeRequest) -> AuthorizationServerMetadata {
    let base = issuer(config, req);
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    AuthorizationServerMetadata {
        authorization_endpoint: format!("{base}{AUTHORIZE_PATH}"),
        token_endpoint: format!("{base}{TOKEN_PATH}"),
        registration_endpoint: Some(format!("{base}{REGISTER_PATH}")),
        revocation_endpoint: Some(format!("{base}{REVOKE_PATH}")),
        device_authorization_endpoint: None,
        scopes_supported: strings(&SCOPES),
        code_challenge_methods_supported: strings(&[CHALLENGE_METHOD]),
        authorization_response_iss_parameter_supported: true,
        client_id_metadata_document_supported: true,
        token_endpoint_auth_methods_supported: strings(&["none"]),
        response_types_supported: strings(&["code"]),
        grant_types_supported: strings(&["authorization_code", "refresh_token"]),
        issuer: base,
    }
}

pub fn serve(req: &EdgeRequest, config: &EdgeConfig) -> EdgeResponse {
    if !matches!(req.method.as_str(), "GET" | "HEAD") {
        return wrong_method(req, "GET, HEAD");
    }
    EdgeResponse::public_json(&document(config, req), 300)
}
