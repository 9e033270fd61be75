//! Talking to the paired helper.

use gloo_net::http::{Request, Response};
use patchbay_proto::api::ConnectorsOverview;
use patchbay_proto::pairing::Pairing;
use patchbay_proto::{ErrorBody, Secret};
use serde::de::DeserializeOwned;

#[derive(Clone)]
pub struct HelperClient {
    base: String,
    token: Secret,
}

/// What went wrong, in terms a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiFailure {
    /// No HTTP answer at all: helper not running, or the browser blocked the request
    /// (Chrome's Local Network Access permission, CORS).
    Unreachable,
    /// The helper answered 401: the pairing is stale.
    Unpaired(String),
    /// Any other error answer, with the helper's own sentence.
    Refused { status: u16, message: String },
    /// An answer this dashboard does not understand (version mismatch).
    Garbled(String),
}

impl ApiFailure {
    pub fn explain(&self, helper: &str) -> String {
        match self {
            ApiFailure::Unreachable => format!(
                "Cannot reach the Patchbay helper at {helper}. Check that `patchbay serve` is \
                 running. If the browser asked whether this site may access devices on your \
                 local network, choose Allow, then reload."
            ),
            ApiFailure::Unpaired(m) => format!("The helper did not accept this pairing: {m}"),
            ApiFailure::Refused { message, .. } => message.clone(),
            ApiFailure::Garbled(m) => format!(
                "The helper's answer was not understood ({m}). Are the dashboard and helper \
                 the same version?"
            ),
        }
    }
}

impl HelperClient {
    pub fn new(pairing: Pairing) -> Self {
        Self {
            base: pairing.helper,
            token: pairing.token,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn overview(&self) -> Result<ConnectorsOverview, ApiFailure> {
        self.get_json("/api/connectors").await
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        let response = Request::get(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token.expose()))
            .send()
            .await
            .map_err(|_| ApiFailure::Unreachable)?;
        decode(response).await
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ApiFailure> {
    if response.ok() {
        return response
            .json::<T>()
            .await
            .map_err(|e| ApiFailure::Garbled(e.to_string()));
    }
    let status = response.status();
    let message = match response.json::<ErrorBody>().await {
        Ok(body) => body.message,
        Err(_) => format!("The helper answered with HTTP status {status}."),
    };
    Err(if status == 401 {
        ApiFailure::Unpaired(message)
    } else {
        ApiFailure::Refused { status, message }
    })
}
