//! hyper's own refusals, in the helper's JSON shape.
//!
//! When a request head cannot be parsed (too large, a URI too long, not HTTP at all), hyper
//! answers by itself before any service runs, with an empty body:
//! `HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0…`.
//! It is always the last thing written on that connection. [`Answers::rewrite`] finds such a
//! head at the end of what hyper writes and puts the same status with the helper's
//! `{"ok": false, "error", "message"}` body in its place, so every refusal reads alike.

use axum::http::StatusCode;

use crate::ApiError;

/// The JSON answers that replace hyper's empty ones, serialised once per server.
#[derive(Debug, Clone)]
pub struct Answers {
    bad_request: Vec<u8>,
    uri_too_long: Vec<u8>,
    headers_too_large: Vec<u8>,
}

impl Answers {
    pub fn new(max_header_bytes: usize, max_uri_bytes: usize) -> Self {
        Self {
            bad_request: raw_response(&ApiError::bad_request(
                "This is not a well-formed HTTP/1.1 request (its request line or a header \
                 could not be read). Send a standard HTTP request.",
            )),
            uri_too_long: raw_response(&uri_too_long(max_uri_bytes)),
            headers_too_large: raw_response(&headers_too_large(max_header_bytes)),
        }
    }

    /// `written` with hyper's empty refusal at its end replaced by the JSON one; `None`
    /// when it holds no such refusal (every ordinary response).
    pub fn rewrite(&self, written: &[u8]) -> Option<Vec<u8>> {
        if !written.ends_with(b"\r\n\r\n") {
            return None;
        }
        // A refusal may follow the tail of an earlier (pipelined) response in one write.
        let start = find_all(written, b"HTTP/1.").find(
            |&at| matches!(parse_refusal(&written[at..]), Some(n) if at + n == written.len()),
        )?;
        let status = parse_status(&written[start..])?;
        let answer = match status {
            400 => &self.bad_request,
            414 => &self.uri_too_long,
            431 => &self.headers_too_large,
            _ => return None,
        };
        let mut out = written[..start].to_vec();
        out.extend_from_slice(answer);
        Some(out)
    }
}

/// The 414 the helper gives for an address longer than `max` bytes (the edge's words too).
pub fn uri_too_long(max: usize) -> ApiError {
    ApiError::uri_too_long(patchbay_proto::error::uri_too_long_message(max))
}

/// The 431 the helper gives for headers larger than `max` bytes (the edge's words too).
pub fn headers_too_large(max: usize) -> ApiError {
    ApiError::headers_too_large(patchbay_proto::error::headers_too_large_message(max))
}

/// A whole HTTP/1.1 response carrying `error`'s JSON body, for the places where there is
/// no service to answer (hyper's own refusals).
pub fn raw_response(error: &ApiError) -> Vec<u8> {
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = error.json_body();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

fn find_all<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

/// The length of `bytes`' head if it is a complete response head of an empty-bodied 4xx
/// refusal (`content-length: 0`, no other body framing).
fn parse_refusal(bytes: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 8];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(len) = response.parse(bytes).ok()? else {
        return None;
    };
    let empty = response
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("content-length") && h.value == b"0");
    let framed = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("content-type")
            || h.name.eq_ignore_ascii_case("transfer-encoding")
    });
    (empty && !framed && matches!(response.code, Some(400..=499))).then_some(len)
}

fn parse_status(bytes: &[u8]) -> Option<u16> {
    let mut headers = [httparse::EMPTY_HEADER; 8];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(bytes).ok()?;
    response.code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> Answers {
        Answers::new(16 * 1024, 8 * 1024)
    }

    fn hyper_refusal(status: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: 0\r\ndate: Tue, 01 Dec \
             2026 12:58:46 GMT\r\n\r\n"
        )
        .into_bytes()
    }

    fn body_of(response: &[u8]) -> serde_json::Value {
        let text = std::str::from_utf8(response).unwrap();
        serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap()
    }

    #[test]
    fn hypers_empty_refusals_become_the_json_shape() {
        for (status, code) in [
            ("431 Request Header Fields Too Large", "headers_too_large"),
            ("414 URI Too Long", "uri_too_long"),
            ("400 Bad Request", "bad_request"),
        ] {
            let out = answers().rewrite(&hyper_refusal(status)).unwrap();
            let text = String::from_utf8_lossy(&out);
            assert!(
                text.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{text}"
            );
            assert!(
                text.contains("content-type: application/json\r\n"),
                "{text}"
            );
            let body = body_of(&out);
            assert_eq!(body["ok"], false);
            assert_eq!(body["error"], code);
            assert!(body["message"].as_str().unwrap().ends_with('.'));
            let length: usize = text
                .split("content-length: ")
                .nth(1)
                .and_then(|r| r.split("\r\n").next())
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(length, text.split_once("\r\n\r\n").unwrap().1.len());
        }
    }

    #[test]
    fn a_refusal_after_a_pipelined_response_keeps_that_response() {
        let first = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}";
        let mut written = first.to_vec();
        written.extend(hyper_refusal("431 Request Header Fields Too Large"));
        let out = answers().rewrite(&written).unwrap();
        assert!(out.starts_with(first));
        assert_eq!(body_of(&out[first.len()..])["error"], "headers_too_large");
    }

    #[test]
    fn ordinary_responses_pass_untouched() {
        let a = answers();
        for ordinary in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\nmore",
            b"{\"text\": \"HTTP/1.1 431 \"}",
            b"",
        ] {
            assert_eq!(a.rewrite(ordinary), None, "{}", String::from_utf8_lossy(ordinary));
        }
    }
}
