//! GraphQL over WebSocket at `/graphql`, in the graphql-transport-ws protocol of the `graphql-ws`
//! library: the handshake, `connection_init` carrying the credentials, operations run through
//! the shared pipeline, ping and pong, `complete` from either side, the protocol's close codes,
//! limits per client address, per caller and per socket, and closing the sockets whose session
//! or key ends (4403) or when the server shuts down (1001).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_codec::Framed;
use actix_http::body::BodySize;
use actix_http::header::{self, HeaderValue};
use actix_http::ws::{self, CloseCode, CloseReason};
use actix_http::{Request, Response, StatusCode, h1};
use actix_web::web;
use async_graphql::ServerError;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};

use super::AppState;
use super::client_address;
use super::over_http::Refusal;
use super::websocket_transport::{self, FrameReader, FrameWriter, Incoming, Upgraded};
use crate::domain::accounts::Principal;
use crate::domain::ids::AccountId;
use crate::graphql::pipeline::{
    Caller, Params, ResponseBody, apply_error_policy, is_request_error, server_error,
};
use crate::services::bus::Signal;

/// The subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// The protocol's close codes.
mod close {
    pub const INVALID_MESSAGE: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const SUBSCRIBER_EXISTS: u16 = 4409;
    pub const TOO_MANY_INIT: u16 = 4429;
    /// WebSocket's own: the server is going away.
    pub const GOING_AWAY: u16 = 1001;
    /// WebSocket's own: try again later (too many sockets for this caller).
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// How a socket ends: a close code and its reason.
type Closing = (u16, String);

/// Limits of the WebSocket transport.
#[derive(Debug, Clone, Copy)]
pub struct SocketLimits {
    /// Time to send `connection_init`.
    pub init_timeout: Duration,
    /// Sockets per caller (session or API key).
    pub per_caller: u32,
    /// Sockets per client address.
    pub per_address: u32,
    /// Operations running at once on one socket.
    pub operations: u32,
    /// Time between the server's pings.
    pub keepalive: Duration,
    /// Largest message, in bytes.
    pub message_bytes: usize,
}

/// The credential a socket was opened with, to find it when that credential ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Credential {
    Session { session_id: i64, account: AccountId },
    Key(i64),
}

impl Credential {
    fn of(principal: &Principal) -> Option<Self> {
        match principal {
            Principal::Anonymous => None,
            Principal::Account(account) => Some(Self::Session {
                session_id: account.session_id,
                account: account.account_id,
            }),
            Principal::Partner(partner) => Some(Self::Key(partner.key_id)),
        }
    }

    /// Whether `signal` may have ended this credential.
    fn affected_by(self, signal: Signal) -> bool {
        match (self, signal) {
            (_, Signal::Resync) => true,
            (Self::Session { session_id, .. }, Signal::SessionEnded(ended)) => session_id == ended,
            (Self::Session { account, .. }, Signal::AccountChanged(changed)) => account == changed,
            (Self::Key(key), Signal::KeyRevoked(revoked)) => key == revoked,
            _ => false,
        }
    }
}

/// What the registry tells a socket.
#[derive(Debug, Clone, Copy)]
enum Control {
    /// Its credential may have ended: check it again.
    Recheck,
}

struct Entry {
    address: String,
    credential: Option<Credential>,
    control: mpsc::UnboundedSender<Control>,
}

#[derive(Default)]
struct Registry {
    sockets: HashMap<u64, Entry>,
    per_address: HashMap<String, u32>,
    per_credential: HashMap<Credential, u32>,
}

/// The open sockets of this instance: counted per address and per caller, told when their
/// credential may have ended, and closed when the server shuts down.
pub struct Sockets {
    limits: SocketLimits,
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    shutting_down: watch::Sender<bool>,
}

/// A socket's place in the registry; leaving it when dropped.
struct Registered {
    sockets: Arc<Sockets>,
    id: u64,
}

impl Sockets {
    /// No sockets yet.
    pub fn new(limits: SocketLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            registry: Mutex::default(),
            next_id: AtomicU64::new(1),
            shutting_down: watch::channel(false).0,
        })
    }

    /// Tells the sockets whose credential `signal` may have ended to check it again.
    pub fn hear(&self, signal: Signal) {
        let registry = self.lock();
        for entry in registry.sockets.values() {
            if entry.credential.is_some_and(|c| c.affected_by(signal)) {
                let _ = entry.control.send(Control::Recheck);
            }
        }
    }

    /// Closes every socket (1001): the server is shutting down.
    pub fn shut_down(&self) {
        self.shutting_down.send_replace(true);
    }

    /// How many sockets are open.
    pub fn open_count(&self) -> usize {
        self.lock().sockets.len()
    }

    fn open(
        self: &Arc<Self>,
        address: String,
        control: mpsc::UnboundedSender<Control>,
    ) -> Option<Registered> {
        let mut registry = self.lock();
        let count = registry.per_address.entry(address.clone()).or_default();
        if *count >= self.limits.per_address {
            return None;
        }
        *count += 1;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        registry.sockets.insert(
            id,
            Entry {
                address,
                credential: None,
                control,
            },
        );
        Some(Registered {
            sockets: self.clone(),
            id,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Registered {
    /// Records the socket's credential; `false` when its caller already has as many sockets
    /// as allowed.
    fn identify(&self, credential: Option<Credential>) -> bool {
        let mut registry = self.sockets.lock();
        if let Some(credential) = credential {
            let count = registry.per_credential.entry(credential).or_default();
            if *count >= self.sockets.limits.per_caller {
                return false;
            }
            *count += 1;
        }
        if let Some(entry) = registry.sockets.get_mut(&self.id) {
            entry.credential = credential;
        }
        true
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut registry = self.sockets.lock();
        let Some(entry) = registry.sockets.remove(&self.id) else {
            return;
        };
        decrement(&mut registry.per_address, &entry.address);
        if let Some(credential) = entry.credential {
            decrement(&mut registry.per_credential, &credential);
        }
    }
}

fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: &K) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

/// A connection handed over by the HTTP layer after a request asking to upgrade to a WebSocket
/// (any path): `GET /graphql` is answered 101 and served until it closes on a task of its own,
/// holding the connection (TCP, or TLS over it) without the HTTP layer's buffers; anything else
/// gets its HTTP error.
pub async fn take_over(
    state: web::Data<AppState>,
    request: Request,
    framed: Framed<impl Upgraded, h1::Codec>,
) -> Result<(), actix_web::Error> {
    if let Err(error) = upgrade_or_refuse(state, &request, framed).await {
        tracing::debug!(%error, "a WebSocket upgrade was cut short");
    }
    Ok(())
}

async fn upgrade_or_refuse(
    state: web::Data<AppState>,
    request: &Request,
    framed: Framed<impl Upgraded, h1::Codec>,
) -> std::io::Result<()> {
    let parts = framed.into_parts();
    let (mut stream, mut codec) = (parts.io, parts.codec);
    let head = request.head();
    if head.uri.path() != "/graphql" {
        return answer(
            &mut stream,
            &mut codec,
            refusal(&Refusal::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no WebSocket here: use /graphql",
            )),
        )
        .await;
    }
    let mut handshake = match ws::handshake(head) {
        Ok(handshake) => handshake,
        Err(error) => {
            let refused = refusal(&Refusal::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                error.to_string(),
            ));
            return answer(&mut stream, &mut codec, refused).await;
        }
    };
    let speaks_protocol = head
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|p| p.trim() == PROTOCOL));
    let address = client_address::of_request(head.peer_addr, &head.headers, &state.trusted_proxies);
    let (control, controls) = mpsc::unbounded_channel();
    let Some(registered) = state
        .sockets
        .open(address.clone().unwrap_or_default(), control)
    else {
        let mut refused = refusal(&Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many WebSockets from this address",
        ));
        refused
            .0
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        return answer(&mut stream, &mut codec, refused).await;
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = handshake.finish().drop_body();
    let headers = response.headers_mut();
    if speaks_protocol {
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(PROTOCOL),
        );
    }
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert(header::HeaderName::from_static("x-request-id"), id);
    }
    answer(&mut stream, &mut codec, (response, Bytes::new())).await?;
    let (reader, writer) =
        websocket_transport::split(stream, parts.read_buf, state.sockets.limits.message_bytes);
    let connection = Connection {
        shutting_down: state.sockets.shutting_down.subscribe(),
        state,
        writer,
        registered,
        client_address: address,
        request_id,
        init_received: false,
        caller: None,
        operations: HashMap::new(),
    };
    actix_web::rt::spawn(connection.serve(reader, controls, speaks_protocol));
    Ok(())
}

/// An HTTP answer (head and body) to a request that cannot become a WebSocket.
type HttpAnswer = (Response<()>, Bytes);

fn refusal(refused: &Refusal) -> HttpAnswer {
    let mut response = Response::with_body(refused.status, ());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (response, Bytes::from(refused.body()))
}

/// Writes `answer` on the stream with the HTTP/1.1 codec the connection was read with.
async fn answer(
    stream: &mut impl Upgraded,
    codec: &mut h1::Codec,
    (response, body): HttpAnswer,
) -> Result<(), std::io::Error> {
    use actix_codec::Encoder as _;
    use tokio::io::AsyncWriteExt as _;
    let mut bytes = BytesMut::new();
    let size = if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        BodySize::None
    } else {
        BodySize::Sized(body.len() as u64)
    };
    codec.encode(h1::Message::Item((response, size)), &mut bytes)?;
    bytes.extend_from_slice(&body);
    stream.write_all(&bytes).await?;
    stream.flush().await
}

/// A message from the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Map<String, Value>>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Map<String, Value>>,
    },
    Pong {
        #[serde(default, rename = "payload")]
        _payload: Option<Map<String, Value>>,
    },
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

/// A `subscribe` message's payload: a GraphQL request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Map<String, Value>>,
    #[serde(default)]
    extensions: Option<Map<String, Value>>,
}

/// What an operation's task hands the socket.
enum Outgoing {
    Text(String),
    /// The operation finished on its own.
    Done(String),
}

/// One socket's state.
struct Connection {
    state: web::Data<AppState>,
    writer: FrameWriter,
    registered: Registered,
    client_address: Option<String>,
    request_id: String,
    shutting_down: watch::Receiver<bool>,
    init_received: bool,
    /// The caller and the credential they proved, once acknowledged.
    caller: Option<(Caller, Option<String>)>,
    operations: HashMap<String, actix_web::rt::task::JoinHandle<()>>,
}

/// Messages an operation may have waiting for a slow client before it waits too.
const OUTGOING_BACKLOG: usize = 64;

impl Connection {
    async fn serve(
        mut self,
        mut messages: FrameReader,
        mut controls: mpsc::UnboundedReceiver<Control>,
        speaks_protocol: bool,
    ) {
        if !speaks_protocol {
            return self
                .close(Some((
                    close::SUBPROTOCOL_NOT_ACCEPTABLE,
                    "Subprotocol not acceptable".into(),
                )))
                .await;
        }
        let limits = self.state.sockets.limits;
        let (outgoing, mut outbox) = mpsc::channel::<Outgoing>(OUTGOING_BACKLOG);
        let init_deadline = actix_web::rt::time::sleep(limits.init_timeout);
        tokio::pin!(init_deadline);
        let mut keepalive = actix_web::rt::time::interval(limits.keepalive);
        keepalive.tick().await;
        let mut heard_at = Instant::now();
        let closing = loop {
            tokio::select! {
                message = messages.recv() => {
                    heard_at = Instant::now();
                    let step = match message {
                        None | Some(Ok(Incoming::Close)) => break None,
                        Some(Err(error)) => Err((close::INVALID_MESSAGE, error)),
                        Some(Ok(Incoming::Text(text))) => self.on_text(&text, &outgoing).await,
                        Some(Ok(Incoming::Binary)) => Err((
                            close::INVALID_MESSAGE,
                            "messages are JSON text".into(),
                        )),
                        Some(Ok(Incoming::Ping(bytes))) => {
                            self.writer.pong(bytes).await.map_err(|_| gone())
                        }
                        Some(Ok(Incoming::Pong)) => Ok(()),
                    };
                    if let Err(closing) = step {
                        break Some(closing);
                    }
                }
                Some(out) = outbox.recv() => match out {
                    Outgoing::Text(text) => {
                        if self.writer.text(text).await.is_err() {
                            break None;
                        }
                    }
                    Outgoing::Done(id) => {
                        self.operations.remove(&id);
                    }
                },
                Some(Control::Recheck) = controls.recv() => {
                    if let Err(closing) = self.recheck().await {
                        break Some(closing);
                    }
                }
                () = &mut init_deadline, if !self.init_received => {
                    break Some((close::INIT_TIMEOUT, "Connection initialisation timeout".into()));
                }
                _ = self.shutting_down.changed() => {
                    break Some((close::GOING_AWAY, "the server is shutting down".into()));
                }
                _ = keepalive.tick() => {
                    if heard_at.elapsed() > limits.keepalive * 3 {
                        break Some((close::GOING_AWAY, "no answer to pings".into()));
                    }
                    if self.writer.ping().await.is_err() {
                        break None;
                    }
                }
            }
        };
        self.close(closing).await;
    }

    async fn close(mut self, closing: Option<Closing>) {
        for (_, operation) in self.operations.drain() {
            operation.abort();
        }
        let reason = closing.map(|(code, description)| CloseReason {
            code: CloseCode::Other(code),
            description: Some(fit_close_frame(description)),
        });
        let _ = self.writer.close(reason).await;
    }

    async fn on_text(
        &mut self,
        text: &str,
        outgoing: &mpsc::Sender<Outgoing>,
    ) -> Result<(), Closing> {
        let message: ClientMessage = serde_json::from_str(text)
            .map_err(|error| (close::INVALID_MESSAGE, format!("invalid message: {error}")))?;
        match message {
            ClientMessage::ConnectionInit { payload } => self.on_init(payload).await,
            ClientMessage::Ping { payload } => {
                let pong = match payload {
                    Some(payload) => json!({ "type": "pong", "payload": payload }),
                    None => json!({ "type": "pong" }),
                };
                self.send(pong).await
            }
            ClientMessage::Pong { .. } => Ok(()),
            ClientMessage::Subscribe { id, payload } => {
                self.on_subscribe(id, payload, outgoing).await
            }
            ClientMessage::Complete { id } => {
                if let Some(operation) = self.operations.remove(&id) {
                    operation.abort();
                }
                Ok(())
            }
        }
    }

    async fn on_init(&mut self, payload: Option<Map<String, Value>>) -> Result<(), Closing> {
        if std::mem::replace(&mut self.init_received, true) {
            return Err((
                close::TOO_MANY_INIT,
                "Too many initialisation requests".into(),
            ));
        }
        let authorization = payload.as_ref().and_then(authorization_in);
        let principal = self
            .state
            .pipeline
            .authenticate(&self.state.db, authorization.as_deref())
            .await
            .map_err(|error| {
                (
                    close::FORBIDDEN,
                    format!("Forbidden: {}", server_error(error).message),
                )
            })?;
        if !self.registered.identify(Credential::of(&principal)) {
            return Err((
                close::TRY_AGAIN_LATER,
                "too many WebSockets for this caller".into(),
            ));
        }
        self.caller = Some((
            Caller {
                principal,
                client_address: self.client_address.clone(),
            },
            authorization,
        ));
        self.send(json!({ "type": "connection_ack" })).await
    }

    async fn on_subscribe(
        &mut self,
        id: String,
        payload: SubscribePayload,
        outgoing: &mpsc::Sender<Outgoing>,
    ) -> Result<(), Closing> {
        let Some((caller, _)) = &self.caller else {
            return Err((close::UNAUTHORIZED, "Unauthorized".into()));
        };
        if id.is_empty() {
            return Err((
                close::INVALID_MESSAGE,
                "an operation id is not empty".into(),
            ));
        }
        if self.operations.contains_key(&id) {
            return Err((
                close::SUBSCRIBER_EXISTS,
                format!("Subscriber for {} already exists", cut(&id)),
            ));
        }
        let limit = self.state.sockets.limits.operations;
        if self.operations.len() >= limit as usize {
            let error = json!([{
                "message": format!("a WebSocket runs at most {limit} operations at once"),
                "extensions": { "code": "LIMIT_REACHED" }
            }]);
            return self
                .send(json!({ "id": id, "type": "error", "payload": error }))
                .await;
        }
        let params = Params {
            query: payload.query,
            operation_name: payload.operation_name,
            variables: payload.variables,
            extensions: payload.extensions,
        };
        let request_id = format!("{}/{}", self.request_id, cut(&id));
        let (mut tracker, started) = self
            .state
            .pipeline
            .subscribe(caller, params, request_id.clone())
            .await;
        // The operation's one log line is written when its tracker drops: when it ends, is
        // completed by the client, or its socket closes.
        tracker.log_on_drop(request_id.clone());
        let responses = match started {
            Ok(responses) => responses,
            Err(mut errors) => {
                let mut response =
                    async_graphql::Response::from_errors(std::mem::take(&mut errors));
                apply_error_policy(&mut response, &request_id);
                tracker.observe(&response);
                drop(tracker);
                return self.send(error_message(&id, &response.errors)).await;
            }
        };
        let outgoing = outgoing.clone();
        let operation_id = id.clone();
        let operation = actix_web::rt::spawn(async move {
            use futures_util::StreamExt as _;
            let mut responses = responses;
            let mut first = true;
            let mut tracker = tracker;
            while let Some(response) = responses.next().await {
                tracker.observe(&response);
                let message = if std::mem::take(&mut first) && is_request_error(&response) {
                    // Refused before it ran (validation): an error, and nothing more.
                    let _ = outgoing
                        .send(Outgoing::Text(
                            error_message(&operation_id, &response.errors).to_string(),
                        ))
                        .await;
                    let _ = outgoing.send(Outgoing::Done(operation_id)).await;
                    return;
                } else {
                    json!({ "id": operation_id, "type": "next", "payload": ResponseBody::of(&response) })
                };
                if outgoing
                    .send(Outgoing::Text(message.to_string()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let complete = json!({ "id": operation_id, "type": "complete" });
            let _ = outgoing.send(Outgoing::Text(complete.to_string())).await;
            let _ = outgoing.send(Outgoing::Done(operation_id)).await;
        });
        self.operations.insert(id, operation);
        Ok(())
    }

    /// Checks the socket's credential again: closed (4403) when it no longer proves the same
    /// caller (a session ended, a key revoked, a role changed).
    async fn recheck(&mut self) -> Result<(), Closing> {
        let Some((caller, authorization)) = &self.caller else {
            return Ok(());
        };
        let now = self
            .state
            .pipeline
            .authenticate(&self.state.db, authorization.as_deref())
            .await;
        match now {
            Ok(principal) if principal == caller.principal => Ok(()),
            _ => Err((close::FORBIDDEN, "Forbidden: the credential ended".into())),
        }
    }

    async fn send(&mut self, message: Value) -> Result<(), Closing> {
        self.writer
            .text(message.to_string())
            .await
            .map_err(|_| gone())
    }
}

/// The `Authorization` value a `connection_init` payload carries: its `Authorization` entry
/// (any case; `Bearer <token>`), or a bare `token`.
fn authorization_in(payload: &Map<String, Value>) -> Option<String> {
    payload
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.as_str().unwrap_or_default().to_owned())
        .or_else(|| {
            payload
                .get("token")
                .map(|token| format!("Bearer {}", token.as_str().unwrap_or_default()))
        })
}

fn error_message(id: &str, errors: &[ServerError]) -> Value {
    json!({ "id": id, "type": "error", "payload": errors })
}

/// An operation id as quoted in messages: at most 64 characters.
fn cut(id: &str) -> &str {
    id.char_indices().nth(64).map_or(id, |(end, _)| &id[..end])
}

/// A close reason cut to what a close frame holds (123 bytes), on a character boundary.
fn fit_close_frame(mut reason: String) -> String {
    const MAX: usize = 123;
    if reason.len() > MAX {
        let mut end = MAX;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

/// The client is gone: nothing more to send.
fn gone() -> Closing {
    (close::GOING_AWAY, String::new())
}
