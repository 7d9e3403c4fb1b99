//! GraphQL over HTTP (the GraphQL-over-HTTP specification): reading GraphQL parameters from a GET
//! query string or a JSON POST body, content negotiation between
//! `application/graphql-response+json` and `application/json`, and the status code of each
//! outcome. Pure functions; the handler wires them up.

use actix_web::http::StatusCode;
use serde_json::{Map, Value};

/// The media type of a GraphQL response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: status codes tell request errors apart.
    GraphQLResponse,
    /// `application/json`: the legacy type; well-formed requests always get 200.
    Json,
}

impl MediaType {
    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from an `Accept` header: the most preferred acceptable type
/// (`q` values are honoured; `q=0` refuses; on a tie the first wins). No header, `*/*` and
/// `application/*` mean `application/json`, as the specification asks for legacy clients.
/// `None` when nothing acceptable is offered (406).
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut quality = 1.0_f32;
        let mut charset_ok = true;
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => quality = value.parse().unwrap_or(0.0),
                "charset" => charset_ok = value.eq_ignore_ascii_case("utf-8"),
                _ => {}
            }
        }
        let media = match essence.as_str() {
            "application/graphql-response+json" => MediaType::GraphQLResponse,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        if quality <= 0.0 || !charset_ok {
            continue;
        }
        if best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, media));
        }
    }
    best.map(|(_, media)| media)
}

/// Why a POST body cannot be read as GraphQL: the status and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// For the client.
    pub message: String,
    /// `extensions.code`.
    pub code: &'static str,
}

impl Refusal {
    /// A refusal with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            code,
        }
    }

    /// The response body: one error with the message and `extensions.code`.
    pub fn body(&self) -> String {
        serde_json::json!({
            "errors": [{ "message": self.message, "extensions": { "code": self.code } }]
        })
        .to_string()
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }
}

/// Accepts only `application/json` POST bodies (UTF-8). Anything else — no content type,
/// `text/plain`, forms — is refused with 415 before it is read: this is the CSRF guard, since
/// browsers send those cross-site without a preflight.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), Refusal> {
    let unsupported = |message: &str| {
        Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            message,
        )
    };
    let Some(content_type) = content_type else {
        return Err(unsupported("a POST needs `Content-Type: application/json`"));
    };
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(unsupported(
            "only `application/json` request bodies are accepted",
        ));
    }
    for parameter in parts {
        if let Some((name, value)) = parameter.split_once('=')
            && name.trim().eq_ignore_ascii_case("charset")
            && !value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        {
            return Err(unsupported("request bodies must be UTF-8"));
        }
    }
    Ok(())
}

pub use crate::graphql::pipeline::Params;

/// One request or, when batching is on, several.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A single request (a JSON object).
    Single(Params),
    /// A JSON array of requests.
    Batch(Vec<Params>),
}

/// Reads a JSON POST body: an object, or an array of at most `max_batch` objects (`0` turns
/// batching off). Wrongly typed parameters are 400.
pub fn parse_body(bytes: &[u8], max_batch: usize) -> Result<Body, Refusal> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Refusal::bad_request(format!("the body is not valid JSON: {e}")))?;
    match value {
        Value::Object(object) => Ok(Body::Single(params_from_object(object)?)),
        Value::Array(items) => {
            if max_batch == 0 {
                return Err(Refusal::bad_request("batched requests are not accepted"));
            }
            if items.is_empty() || items.len() > max_batch {
                return Err(Refusal::bad_request(format!(
                    "a batch holds 1 to {max_batch} requests"
                )));
            }
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(object) => params_from_object(object),
                    _ => Err(Refusal::bad_request(
                        "each batched request is a JSON object",
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Body::Batch)
        }
        _ => Err(Refusal::bad_request("the body must be a JSON object")),
    }
}

fn params_from_object(mut object: Map<String, Value>) -> Result<Params, Refusal> {
    let query = match object.remove("query") {
        None | Some(Value::Null) => None,
        Some(Value::String(query)) => Some(query),
        Some(_) => return Err(Refusal::bad_request("`query` must be a string")),
    };
    let operation_name = match object.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err(Refusal::bad_request("`operationName` must be a string")),
    };
    Ok(Params {
        query,
        operation_name,
        variables: object_param(object.remove("variables"), "variables")?,
        extensions: object_param(object.remove("extensions"), "extensions")?,
    })
}

fn object_param(value: Option<Value>, name: &str) -> Result<Option<Map<String, Value>>, Refusal> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(Refusal::bad_request(format!("`{name}` must be an object"))),
    }
}

/// Reads GET parameters from a URL query string; `variables` and `extensions` are JSON texts.
pub fn parse_query_string(query_string: &str) -> Result<Params, Refusal> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string)
        .map_err(|e| Refusal::bad_request(format!("the query string is malformed: {e}")))?;
    let mut params = Params::default();
    for (name, value) in pairs {
        match name.as_str() {
            "query" => params.query = Some(value),
            "operationName" => params.operation_name = Some(value),
            "variables" | "extensions" => {
                let parsed: Value = serde_json::from_str(&value)
                    .map_err(|_| Refusal::bad_request(format!("`{name}` must be a JSON object")))?;
                let object = object_param(Some(parsed), &name)?;
                if name == "variables" {
                    params.variables = object;
                } else {
                    params.extensions = object;
                }
            }
            _ => {}
        }
    }
    Ok(params)
}

/// The status of a GraphQL response. `request_error` means nothing was executed (the document
/// did not parse or validate, or the request was refused first). With `application/json` every
/// such outcome is 200, as the specification asks; with `application/graphql-response+json` a
/// request error is 4xx. Limits and availability keep their own status either way.
pub fn status_for(media: MediaType, request_error: bool, code: Option<&str>) -> StatusCode {
    match code {
        Some("THROTTLED" | "RATE_LIMITED") => return StatusCode::TOO_MANY_REQUESTS,
        Some("METHOD_NOT_ALLOWED") => return StatusCode::METHOD_NOT_ALLOWED,
        _ => {}
    }
    if !request_error || media == MediaType::Json {
        return StatusCode::OK;
    }
    match code {
        Some("UNAUTHENTICATED") => StatusCode::UNAUTHORIZED,
        Some("FORBIDDEN" | "OPERATION_NOT_ALLOWED") => StatusCode::FORBIDDEN,
        Some("SERVICE_UNAVAILABLE") => StatusCode::SERVICE_UNAVAILABLE,
        Some("TIMEOUT") => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_the_response_type() {
        use MediaType::{GraphQLResponse, Json};
        assert_eq!(negotiate(None), Some(Json));
        assert_eq!(negotiate(Some("*/*")), Some(Json));
        assert_eq!(negotiate(Some("application/json")), Some(Json));
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json; charset=utf-8, application/json; charset=utf-8"
            )),
            Some(GraphQLResponse)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Json)
        );
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(
            negotiate(Some("application/json; charset=iso-8859-1")),
            None
        );
    }

    #[test]
    fn only_json_posts_are_read() {
        assert!(check_content_type(Some("application/json")).is_ok());
        assert!(check_content_type(Some("Application/JSON; charset=UTF-8")).is_ok());
        for refused in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/json; charset=latin1"),
        ] {
            let refusal = check_content_type(refused).unwrap_err();
            assert_eq!(
                refusal.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{refused:?}"
            );
        }
    }

    #[test]
    fn parameters_are_type_checked() {
        let body = parse_body(
            br#"{"query":"{ a }","operationName":null,"variables":{"x":1}}"#,
            0,
        )
        .unwrap();
        let Body::Single(params) = body else {
            panic!("a single request")
        };
        assert_eq!(params.query.as_deref(), Some("{ a }"));
        assert_eq!(params.variables.unwrap()["x"], 1);
        for bad in [
            r#"{"query":1}"#,
            r#"{"query":{}}"#,
            r#"{"query":"{ a }","operationName":2}"#,
            r#"{"query":"{ a }","variables":"{}"}"#,
            r#"{"query":"{ a }","extensions":[]}"#,
            r#"[{"query":"{ a }"}]"#,
            r#""{ a }""#,
            "not json",
        ] {
            let refusal = parse_body(bad.as_bytes(), 0).unwrap_err();
            assert_eq!(refusal.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        let batch = parse_body(br#"[{"query":"{ a }"},{"query":"{ b }"}]"#, 2).unwrap();
        assert!(matches!(batch, Body::Batch(items) if items.len() == 2));
        assert!(parse_body(br#"[{"query":"{ a }"},{"query":"{ b }"}]"#, 1).is_err());
    }

    #[test]
    fn get_parameters_come_from_the_query_string() {
        let params =
            parse_query_string("query=%7B%20a%20%7D&operationName=A&variables=%7B%22x%22%3A1%7D")
                .unwrap();
        assert_eq!(params.query.as_deref(), Some("{ a }"));
        assert_eq!(params.operation_name.as_deref(), Some("A"));
        assert!(parse_query_string("query=x&variables=%5B%5D").is_err());
    }

    #[test]
    fn request_errors_are_4xx_only_for_graphql_response_json() {
        use MediaType::{GraphQLResponse, Json};
        assert_eq!(
            status_for(GraphQLResponse, true, Some("BAD_USER_INPUT")),
            400
        );
        assert_eq!(status_for(Json, true, Some("BAD_USER_INPUT")), 200);
        assert_eq!(status_for(GraphQLResponse, false, Some("NOT_FOUND")), 200);
        assert_eq!(
            status_for(GraphQLResponse, true, Some("UNAUTHENTICATED")),
            401
        );
        assert_eq!(status_for(Json, true, Some("THROTTLED")), 429);
        assert_eq!(status_for(Json, true, Some("METHOD_NOT_ALLOWED")), 405);
    }
}
