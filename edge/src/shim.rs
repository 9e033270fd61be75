//! The Worker entry point: adapt, call the router, adapt back. No logic lives here: the two
//! seams below only move bytes between workers-rs and the router's types.

use wasm_bindgen::JsValue;
use worker::{
    Context, D1Database, Date, Env, Fetch, Headers, Method, Request, RequestInit, Response, Result,
    event,
};

use crate::Edge;
use crate::config::{EdgeConfig, EdgeSecrets};
use crate::error::ApiError;
use crate::http::EdgeRequest;
use crate::router;
use crate::store::{Row, SqlValue, Store, StoreError};
use crate::upstream::{Upstream, UpstreamError, UpstreamRequest, UpstreamResponse};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // However the adaptation fails, the answer is the one JSON error shape, never the
    // runtime's plain-text 500.
    match serve(req, env).await {
        Ok(response) => Ok(response),
        Err(e) => {
            let out = ApiError::internal(format!(
                "The edge could not handle this request ({e}); try again, and check \
                 `npx wrangler tail` if it keeps failing."
            ))
            .into_response();
            let headers = Headers::new();
            headers.set("content-type", "application/json")?;
            Ok(Response::from_bytes(out.body)?
                .with_status(out.status)
                .with_headers(headers))
        }
    }
}

async fn serve(mut req: Request, env: Env) -> Result<Response> {
    let lookup = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let config = EdgeConfig::from_vars(lookup);
    let secrets = EdgeSecrets::from_vars(lookup);
    let url = req.url()?;
    let edge_request = EdgeRequest {
        method: req.method().to_string(),
        origin: url.origin().ascii_serialization(),
        path: url.path().to_owned(),
        query: url.query().unwrap_or("").to_owned(),
        authorization: req.headers().get("authorization")?,
        headers: req
            .headers()
            .entries()
            .filter(|(k, _)| k != "authorization" && k != "cookie")
            .collect(),
        header_bytes: req
            .headers()
            .entries()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum(),
        body: req.bytes().await.unwrap_or_default(),
    };
    let store = D1(env.d1("DB").ok());
    let edge = Edge {
        config: &config,
        secrets: &secrets,
        store: &store,
        upstream: &WorkerFetch,
        now: Date::now().as_millis() / 1000,
    };
    let out = router::route(&edge_request, &edge).await;
    let mut response = Response::from_bytes(out.body)?.with_status(out.status);
    for (name, value) in &out.headers {
        response.headers_mut().set(name, value)?;
    }
    Ok(response)
}

/// [`Store`] on the `DB` D1 binding (missing binding: every statement fails, clearly).
struct D1(Option<D1Database>);

impl D1 {
    async fn run(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> std::result::Result<worker::D1Result, StoreError> {
        let db = self
            .0
            .as_ref()
            .ok_or_else(|| StoreError("no D1 binding named DB".into()))?;
        let values: Vec<JsValue> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => JsValue::NULL,
                SqlValue::Integer(i) => JsValue::from_f64(*i as f64),
                SqlValue::Text(s) => JsValue::from_str(s),
            })
            .collect();
        let err = |e: worker::Error| StoreError(e.to_string());
        db.prepare(sql)
            .bind(&values)
            .map_err(err)?
            .all()
            .await
            .map_err(err)
    }
}

impl Store for D1 {
    async fn execute(&self, sql: &str, params: &[SqlValue]) -> std::result::Result<(), StoreError> {
        self.run(sql, params).await.map(|_| ())
    }

    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> std::result::Result<Vec<Row>, StoreError> {
        let result = self.run(sql, params).await?;
        result
            .results::<serde_json::Map<String, serde_json::Value>>()
            .map(|rows| rows.into_iter().map(Row).collect())
            .map_err(|e| StoreError(e.to_string()))
    }
}

/// [`Upstream`] on the Workers `fetch`.
struct WorkerFetch;

impl Upstream for WorkerFetch {
    async fn send(
        &self,
        req: UpstreamRequest,
    ) -> std::result::Result<UpstreamResponse, UpstreamError> {
        let err = |e: worker::Error| UpstreamError(e.to_string());
        let headers = Headers::new();
        for (name, value) in &req.headers {
            headers.set(name, value).map_err(err)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(req.method.to_owned()))
            .with_headers(headers);
        if let Some(body) = req.body {
            init.with_body(Some(
                worker::js_sys::Uint8Array::from(body.as_slice()).into(),
            ));
        }
        let request = Request::new_with_init(&req.url, &init).map_err(err)?;
        let mut res = Fetch::Request(request).send().await.map_err(err)?;
        Ok(UpstreamResponse {
            status: res.status_code(),
            body: res.bytes().await.map_err(err)?,
        })
    }

    async fn delay(&self, ms: u32) {
        worker::Delay::from(std::time::Duration::from_millis(ms.into())).await;
    }
}
