//! The GraphQL endpoint over HTTP: reads the request as GraphQL over HTTP prescribes, hands it
//! to the pipeline (`graphql::pipeline`, shared with the WebSocket transport), and answers with
//! the status code, media type and headers the response deserves.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use async_graphql::Value;
use futures_util::StreamExt as _;
use tracing_actix_web::RequestId;

use super::AppState;
use super::over_http::{self, Body, MediaType, Params, Refusal};
use crate::db::Db;
use crate::domain::accounts::Principal;
use crate::error::AppResult;
use crate::graphql::pipeline::{Allowed, ResponseBody, first_error_extension, is_request_error};
use crate::telemetry::requests::RequestSummary;

/// `GET /graphql?query=…`: queries only. (The upgrade to a WebSocket, on the same URL, never
/// reaches the app: the HTTP layer hands it to `websocket::take_over`.)
pub async fn graphql_get(
    state: web::Data<AppState>,
    http: HttpRequest,
    request_id: RequestId,
) -> HttpResponse {
    let Some(media) = negotiate(&http) else {
        return not_acceptable();
    };
    let params = match over_http::parse_query_string(http.query_string()) {
        Ok(params) => params,
        Err(refusal) => return refused(media, &refusal),
    };
    let answer = run_one(&state, &http, &request_id, media, params, Allowed::Queries).await;
    let mut response = finish(media, answer);
    // A GET answer may be cached (APQ over a CDN): it differs by caller and by media type, and
    // a signed-in caller's is theirs alone.
    let headers = response.headers_mut();
    headers.append(
        header::VARY,
        header::HeaderValue::from_static("Authorization, Accept"),
    );
    if http.headers().contains_key(header::AUTHORIZATION) {
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

/// `POST /graphql` with a JSON body: one request, or a batch when batching is on.
pub async fn graphql_post(
    state: web::Data<AppState>,
    http: HttpRequest,
    request_id: RequestId,
    payload: web::Payload,
) -> HttpResponse {
    let Some(media) = negotiate(&http) else {
        return not_acceptable();
    };
    let content_type = http
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if let Err(refusal) = over_http::check_content_type(content_type) {
        return refused(media, &refusal);
    }
    let bytes = match read_body(payload, state.body_limit).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refused(media, &refusal),
    };
    match over_http::parse_body(&bytes, state.max_batch) {
        Err(refusal) => refused(media, &refusal),
        Ok(Body::Single(params)) => {
            let answer = run_one(
                &state,
                &http,
                &request_id,
                media,
                params,
                Allowed::QueriesAndMutations,
            )
            .await;
            finish(media, answer)
        }
        Ok(Body::Batch(batch)) => {
            let mut body = Vec::from(*b"[");
            for (index, params) in batch.into_iter().enumerate() {
                if index > 0 {
                    body.push(b',');
                }
                let answer = run_one(
                    &state,
                    &http,
                    &request_id,
                    media,
                    params,
                    Allowed::QueriesAndMutations,
                )
                .await;
                body.extend_from_slice(&answer.body);
            }
            body.push(b']');
            finish(media, Answer::new(StatusCode::OK, body))
        }
    }
}

fn negotiate(http: &HttpRequest) -> Option<MediaType> {
    over_http::negotiate(
        http.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Reads the body, refusing (413) as soon as it grows past `limit`.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the body is larger than {limit} bytes"),
        )
    };
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => too_large(),
            other => Refusal::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("the body could not be read: {other}"),
            ),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A GraphQL response ready to send: status, JSON body and when to retry, if throttled.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    retry_after: Option<u64>,
}

impl Answer {
    fn new(status: StatusCode, body: Vec<u8>) -> Self {
        Self {
            status,
            body,
            retry_after: None,
        }
    }
}

/// Runs one GraphQL request; the status it deserves and the JSON body.
async fn run_one(
    state: &AppState,
    http: &HttpRequest,
    request_id: &RequestId,
    media: MediaType,
    params: Params,
    allowed: Allowed,
) -> Answer {
    let (response, summary) = state
        .pipeline
        .execute(
            authorization(http),
            client_address(state, http),
            params,
            allowed,
            &request_id.to_string(),
        )
        .await;
    // For the request's log line (`super::RequestLog`).
    let mut extensions = http.extensions_mut();
    if let Some(earlier) = extensions.get_mut::<RequestSummary>() {
        earlier.merge(summary);
    } else {
        extensions.insert(summary);
    }
    drop(extensions);
    let first_code = match first_error_extension(&response, "code") {
        Some(Value::String(code)) => Some(code.clone()),
        _ => None,
    };
    let retry_after = match first_error_extension(&response, "retryAfter") {
        Some(Value::Number(seconds)) => seconds.as_u64(),
        _ => None,
    };
    Answer {
        status: over_http::status_for(media, is_request_error(&response), first_code.as_deref()),
        body: serde_json::to_vec(&ResponseBody::of(&response)).unwrap_or_else(|error| {
            tracing::error!(%error, "a response could not be serialised");
            br#"{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#
                .to_vec()
        }),
        retry_after,
    }
}

/// The `Authorization` header's value (an unreadable one as empty, which no token matches).
fn authorization(http: &HttpRequest) -> Option<&str> {
    http.headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default())
}

/// The caller the `Authorization: Bearer` header proves; anonymous without one (see
/// [`Pipeline::authenticate`](crate::graphql::pipeline::Pipeline::authenticate)).
pub(super) async fn authenticate(
    state: &AppState,
    db: &Db,
    http: &HttpRequest,
) -> AppResult<Principal> {
    state.pipeline.authenticate(db, authorization(http)).await
}

/// The client's address: the peer, or the proxy-reported one when configured to trust it.
fn client_address(state: &AppState, http: &HttpRequest) -> Option<String> {
    super::client_address::of_request(http.peer_addr(), http.headers(), &state.trusted_proxies)
}

/// The HTTP response for a GraphQL answer.
fn finish(media: MediaType, answer: Answer) -> HttpResponse {
    let mut response = HttpResponse::build(answer.status);
    response.content_type(media.content_type());
    if answer.status == StatusCode::METHOD_NOT_ALLOWED {
        response.insert_header((header::ALLOW, "POST"));
    }
    if let Some(retry) = answer.retry_after {
        response.insert_header((header::RETRY_AFTER, retry.to_string()));
    }
    response.body(answer.body)
}

/// The response to a request that is not GraphQL over HTTP.
pub(super) fn refused(media: MediaType, refusal: &Refusal) -> HttpResponse {
    finish(
        media,
        Answer::new(refusal.status, refusal.body().into_bytes()),
    )
}

fn not_acceptable() -> HttpResponse {
    let refusal = Refusal::new(
        StatusCode::NOT_ACCEPTABLE,
        "NOT_ACCEPTABLE",
        "accept application/graphql-response+json or application/json",
    );
    refused(MediaType::Json, &refusal)
}

/// The schema in SDL, when introspection is enabled.
pub async fn sdl(state: web::Data<AppState>) -> HttpResponse {
    if !state.introspection {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(state.pipeline.schema.sdl())
}
