//! `docs/openapi.json`, read as any OpenAPI 3.1 client reads it: find the operation for a
//! method and a path, resolve its `$ref`s, and validate bodies with a JSON Schema 2020-12
//! validator (the `jsonschema` crate). Nothing here knows Patchbay's types.

use std::sync::OnceLock;

use serde_json::{Value, json};

/// The document, read once from the committed copy.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        Spec { doc }
    })
}

pub struct Spec {
    pub doc: Value,
}

/// One operation of the document that a request reached.
pub struct Operation<'a> {
    /// Its path as the document writes it (`/api/connectors/gdrive/sessions/{session_id}`).
    pub template: &'a str,
    op: &'a Value,
}

impl Spec {
    /// The operation `method path` is, if the document has it. A literal segment beats a
    /// `{parameter}` one, as OpenAPI says.
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation<'_>> {
        let path = path.split('?').next().unwrap_or_default();
        let method = method.to_ascii_lowercase();
        let mut best: Option<(usize, Operation<'_>)> = None;
        for (template, item) in self.doc["paths"].as_object()? {
            let Some(literal) = matches(template, path) else {
                continue;
            };
            if let Some(op) = item.get(&method)
                && best.as_ref().is_none_or(|(n, _)| literal > *n)
            {
                best = Some((literal, Operation { template, op }));
            }
        }
        best.map(|(_, op)| op)
    }

    /// The methods the document lists for `path` (upper case), whatever the method asked.
    pub fn methods(&self, path: &str) -> Vec<String> {
        let path = path.split('?').next().unwrap_or_default();
        let mut methods: Vec<String> = self.doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(template, _)| matches(template, path).is_some())
            .flat_map(|(_, item)| item.as_object().into_iter().flatten())
            .map(|(m, _)| m.to_ascii_uppercase())
            .filter(|m| ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()))
            .collect();
        methods.sort();
        methods.dedup();
        methods
    }

    /// The response object `op` documents for `status`, its `$ref` resolved.
    pub fn response<'a>(&'a self, op: &Operation<'a>, status: u16) -> Option<&'a Value> {
        self.resolve(op.op["responses"].get(status.to_string())?)
    }

    /// A response the document keeps in `components.responses` for `status` (`Error404`…):
    /// what a request that reached no operation (an unknown path, a refusal before routing)
    /// gets.
    pub fn shared_response(&self, status: u16) -> Option<&Value> {
        self.doc["components"]["responses"].get(format!("Error{status}"))
    }

    /// The JSON schema of `op`'s request body, if it takes one.
    pub fn request_schema<'a>(&'a self, op: &Operation<'a>) -> Option<&'a Value> {
        self.resolve(op.op.get("requestBody")?)?["content"]["application/json"].get("schema")
    }

    /// Follows a local `$ref` (`#/components/…`) to what it names.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> Option<&'a Value> {
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            v = self.doc.pointer(r.strip_prefix('#')?)?;
        }
        Some(v)
    }

    /// Validates `instance` against `schema`, a schema of this document (its `$ref`s point
    /// into `#/components/schemas`). Every error, with where it is.
    pub fn validate(&self, schema: &Value, instance: &Value) -> Result<(), String> {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": {"schemas": self.doc["components"]["schemas"]},
            "allOf": [schema],
        });
        let validator = jsonschema::draft202012::new(&root)
            .map_err(|e| format!("the document's schema does not compile: {e}"))?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Whether `path` fits `template`; if so, how many segments matched literally.
fn matches(template: &str, path: &str) -> Option<usize> {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    if t.len() != p.len() {
        return None;
    }
    let mut literal = 0;
    for (t, p) in t.iter().zip(&p) {
        if t.starts_with('{') && t.ends_with('}') {
            if p.is_empty() {
                return None;
            }
        } else if t == p {
            literal += 1;
        } else {
            return None;
        }
    }
    Some(literal)
}

#[test]
fn the_validator_refuses_what_the_document_does_not_allow() {
    // The contract test can only fail if the document's schemas are strict enough: a body
    // with a missing field, a wrong type or a status word outside the seed's set is refused.
    let spec = spec();
    let op = spec
        .operation("GET", "/api/connectors/gdrive/sessions/gdrive-1")
        .unwrap();
    assert_eq!(op.template, "/api/connectors/gdrive/sessions/{session_id}");
    let schema = &spec.response(&op, 200).unwrap()["content"]["application/json"]["schema"];
    let good = json!({"status": "awaiting_oauth", "auth_url": "https://x", "needs_manual_code": true,
        "remote_name": "personal", "error": null});
    assert_eq!(spec.validate(schema, &good), Ok(()));
    for bad in [
        json!({"status": "cancelled", "needs_manual_code": true, "remote_name": "p"}),
        json!({"status": "pending", "needs_manual_code": "yes", "remote_name": "p"}),
        json!({"status": "pending", "needs_manual_code": true}),
    ] {
        assert!(spec.validate(schema, &bad).is_err(), "{bad}");
    }
    let error = &spec.shared_response(400).unwrap()["content"]["application/json"]["schema"];
    let error = spec.resolve(error).unwrap();
    for bad in [
        json!({"ok": true, "error": "bad_request", "message": "Say what to do."}),
        json!({"ok": false, "error": "bad_request", "message": ""}),
        json!({"ok": false, "error": "teapot", "message": "Say what to do."}),
        json!({"ok": false, "message": "Say what to do."}),
    ] {
        assert!(spec.validate(error, &bad).is_err(), "{bad}");
    }
    let device = spec
        .operation("POST", "/api/connectors/github/cli/poll")
        .unwrap();
    let schema = &spec.response(&device, 200).unwrap()["content"]["application/json"]["schema"];
    assert!(spec.validate(schema, &json!({"status": "error"})).is_err());
    assert_eq!(spec.validate(schema, &json!({"status": "expired"})), Ok(()));
    let prm = spec
        .operation("GET", "/.well-known/oauth-protected-resource")
        .unwrap();
    let schema = &spec.response(&prm, 200).unwrap()["content"]["application/json"]["schema"];
    assert!(spec.validate(schema, &json!({})).is_err(), "{schema}");
}
