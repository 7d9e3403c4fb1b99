//! The Stripe provider: [`StripeGateway`] charges through Stripe's PaymentIntents API (created,
//! confirmed and captured in one call) and refunds through its Refunds API, over HTTPS with
//! form-encoded bodies, a pinned [`STRIPE_VERSION`] and an `Idempotency-Key` on every call that
//! moves money; [`verify_webhook`] checks and reads the events Stripe's webhooks deliver.
//!
//! How Stripe's answers become the [`PaymentGateway`]'s:
//! - a PaymentIntent: `succeeded` → [`ChargeStatus::Succeeded`]; `requires_action` →
//!   [`ChargeStatus::RequiresAction`] with its `client_secret`; `processing` (and
//!   `requires_confirmation` / `requires_capture`, which these parameters never leave an intent
//!   in) → [`ChargeStatus::Processing`]; `requires_payment_method` / `canceled` →
//!   [`ChargeStatus::Declined`];
//! - HTTP 402 with a `card_error` → [`ChargeStatus::Declined`] with Stripe's message, the
//!   reference being the declined PaymentIntent (empty when Stripe sent none);
//! - any other 4xx but 408, 409 and 429 → [`GatewayError::Refused`]: Stripe did nothing;
//! - 408, 409 (the same key still running), 429, 5xx, a timeout, a connection lost after the
//!   request may have gone out, a success body that cannot be read → [`GatewayError::Unknown`];
//! - a connection that was never made → [`GatewayError::Refused`].
//!
//! No error text carries the secret key.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac as _};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use super::{
    ChargeRequest, ChargeState, ChargeStatus, GatewayError, GatewayResult, PaymentGateway,
    ProviderEvent, ProviderEventKind, RefundState, RefundStatus,
};

/// Stripe's API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// The API version every request is pinned to (the `Stripe-Version` header), so that an
/// account upgrade on Stripe's side cannot change the shapes read here.
pub const STRIPE_VERSION: &str = "2024-06-20";

/// How long one call may take, whole, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long establishing a connection may take (at most half the call's timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How far a webhook's signed timestamp may be from now, either way, as Stripe's libraries
/// allow by default.
pub const DEFAULT_WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// The longest idempotency key Stripe takes.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// The longest id accepted in a URL path.
const MAX_ID_LEN: usize = 255;

/// Settings of the Stripe provider. Its `Debug` hides both secrets.
#[derive(Clone)]
pub struct StripeConfig {
    /// The account's secret API key (`sk_live_…` / `sk_test_…`).
    pub secret_key: String,
    /// Where the API is: [`DEFAULT_API_BASE`], or a fake in tests.
    pub api_base: String,
    /// The webhook endpoint's signing secret (`whsec_…`); without it webhooks are refused.
    pub webhook_secret: Option<String>,
    /// How long one call may take, whole ([`DEFAULT_TIMEOUT`] is a good value).
    pub timeout: Duration,
}

impl StripeConfig {
    /// Settings for Stripe itself with `secret_key`, no webhook secret and the default timeout.
    pub fn new(secret_key: impl Into<String>) -> Self {
        Self {
            secret_key: secret_key.into(),
            api_base: DEFAULT_API_BASE.to_owned(),
            webhook_secret: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"[redacted]")
            .field("api_base", &self.api_base)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Stripe as a [`PaymentGateway`]: one HTTP client, built once, shared by every call.
pub struct StripeGateway {
    client: Arc<Client>,
    webhook_secret: Option<String>,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway")
            .field("api_base", &self.client.api_base)
            .finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// The provider over `config`; fails on an empty secret key, an API base that is not an
    /// `http(s)` URL, or a zero timeout.
    pub fn new(config: StripeConfig) -> anyhow::Result<Self> {
        let secret_key = config.secret_key.trim();
        anyhow::ensure!(!secret_key.is_empty(), "the Stripe secret key is empty");
        let api_base = config.api_base.trim().trim_end_matches('/');
        let url = reqwest::Url::parse(api_base)
            .with_context(|| format!("the Stripe API base {api_base:?} is not a URL"))?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https") && url.host().is_some(),
            "the Stripe API base {api_base:?} is not an http(s) URL"
        );
        anyhow::ensure!(!config.timeout.is_zero(), "the Stripe timeout is zero");
        // The key is left out of the error: it must not reach a log.
        let mut authorization = HeaderValue::from_str(&format!("Bearer {secret_key}"))
            .map_err(|_| anyhow::anyhow!("the Stripe secret key has characters a key never has"))?;
        authorization.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(config.timeout / 2))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("bazaar/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("build the Stripe HTTP client")?;
        Ok(Self {
            client: Arc::new(Client {
                http,
                api_base: api_base.to_owned(),
                authorization,
                secret_key: secret_key.to_owned(),
            }),
            webhook_secret: config
                .webhook_secret
                .map(|secret| secret.trim().to_owned())
                .filter(|secret| !secret.is_empty()),
        })
    }

    /// The webhook signing secret, for [`verify_webhook`]; `None` when webhooks are off.
    pub fn webhook_secret(&self) -> Option<&str> {
        self.webhook_secret.as_deref()
    }
}

impl PaymentGateway for StripeGateway {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn moves_real_money(&self) -> bool {
        true
    }

    fn charge(&self, request: &ChargeRequest) -> BoxFuture<'static, GatewayResult<ChargeState>> {
        let client = Arc::clone(&self.client);
        let form = vec![
            ("amount", request.amount.to_string()),
            ("currency", request.currency.to_ascii_lowercase()),
            ("payment_method", request.payment_method.clone()),
            ("confirm", "true".to_owned()),
            ("capture_method", "automatic".to_owned()),
            ("automatic_payment_methods[enabled]", "true".to_owned()),
            (
                "automatic_payment_methods[allow_redirects]",
                "never".to_owned(),
            ),
            ("metadata[order_id]", request.order_id.to_string()),
            ("metadata[payment_id]", request.payment_id.to_string()),
        ];
        let key = idempotency_key(&request.idempotency_key);
        Box::pin(async move {
            let (status, body) = client
                .send(
                    Method::POST,
                    "/v1/payment_intents",
                    Some(&form),
                    Some(&key?),
                )
                .await?;
            client.charge_answer(status, &body)
        })
    }

    fn charge_status(&self, reference: &str) -> BoxFuture<'static, GatewayResult<ChargeState>> {
        let client = Arc::clone(&self.client);
        let path =
            path_id("PaymentIntent", reference).map(|id| format!("/v1/payment_intents/{id}"));
        Box::pin(async move {
            let (status, body) = client.send(Method::GET, &path?, None, None).await?;
            client.charge_answer(status, &body)
        })
    }

    fn refund(
        &self,
        charge_reference: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> BoxFuture<'static, GatewayResult<RefundState>> {
        let client = Arc::clone(&self.client);
        let form = path_id("PaymentIntent", charge_reference).map(|intent| {
            vec![
                ("payment_intent", intent.to_owned()),
                ("amount", amount.to_string()),
            ]
        });
        let key = self::idempotency_key(idempotency_key);
        Box::pin(async move {
            let (status, body) = client
                .send(Method::POST, "/v1/refunds", Some(&form?), Some(&key?))
                .await?;
            client.refund_answer(status, &body)
        })
    }

    fn refund_status(&self, reference: &str) -> BoxFuture<'static, GatewayResult<RefundState>> {
        let client = Arc::clone(&self.client);
        let path = path_id("refund", reference).map(|id| format!("/v1/refunds/{id}"));
        Box::pin(async move {
            let (status, body) = client.send(Method::GET, &path?, None, None).await?;
            client.refund_answer(status, &body)
        })
    }
}

/// What every call shares.
struct Client {
    http: reqwest::Client,
    /// Without a trailing `/`.
    api_base: String,
    /// `Bearer <secret key>`, marked sensitive.
    authorization: HeaderValue,
    /// Only to scrub it from error texts.
    secret_key: String,
}

impl Client {
    /// Sends one request; the status and body of whatever answer came, or the transport error
    /// mapped.
    async fn send(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, String)]>,
        idempotency_key: Option<&str>,
    ) -> GatewayResult<(StatusCode, Vec<u8>)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api_base))
            .header(AUTHORIZATION, self.authorization.clone())
            .header("Stripe-Version", STRIPE_VERSION);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.transport_error(&error))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| self.transport_error(&error))?;
        Ok((status, body.to_vec()))
    }

    /// A PaymentIntent answer (creation or look-up) as a charge.
    fn charge_answer(&self, status: StatusCode, body: &[u8]) -> GatewayResult<ChargeState> {
        if status.is_success() {
            return self.read::<PaymentIntent>(status, body)?.into_state();
        }
        let error = ApiError::read(body);
        if status == StatusCode::PAYMENT_REQUIRED && error.kind.as_deref() == Some("card_error") {
            // Stripe created the intent and the card refused it; no money moved.
            let message = error
                .message
                .clone()
                .unwrap_or_else(|| DEFAULT_DECLINE_MESSAGE.to_owned());
            return Ok(ChargeState {
                reference: error
                    .payment_intent
                    .map(|intent| intent.id)
                    .unwrap_or_default(),
                status: ChargeStatus::Declined {
                    message: self.scrub(&message),
                },
            });
        }
        Err(self.api_error(status, &error))
    }

    /// A Refund answer (creation or look-up).
    fn refund_answer(&self, status: StatusCode, body: &[u8]) -> GatewayResult<RefundState> {
        if status.is_success() {
            let refund = self.read::<Refund>(status, body)?;
            let status = match refund.status {
                RefundWireStatus::Succeeded => RefundStatus::Succeeded,
                RefundWireStatus::Pending | RefundWireStatus::RequiresAction => {
                    RefundStatus::Pending
                }
                RefundWireStatus::Failed => RefundStatus::Failed {
                    message: refund
                        .failure_reason
                        .unwrap_or_else(|| "the refund failed".to_owned()),
                },
                RefundWireStatus::Canceled => RefundStatus::Failed {
                    message: refund
                        .failure_reason
                        .unwrap_or_else(|| "the refund was canceled".to_owned()),
                },
                RefundWireStatus::Other => {
                    return Err(GatewayError::Unknown(format!(
                        "Stripe's refund {} is in a status this version does not know",
                        refund.id
                    )));
                }
            };
            return Ok(RefundState {
                reference: refund.id,
                status,
            });
        }
        Err(self.api_error(status, &ApiError::read(body)))
    }

    /// A success body read as `T`; one that cannot be read leaves the outcome unknown.
    fn read<T: DeserializeOwned>(&self, status: StatusCode, body: &[u8]) -> GatewayResult<T> {
        serde_json::from_slice(body).map_err(|error| {
            GatewayError::Unknown(format!(
                "Stripe answered {status} with a body that could not be read: {error}"
            ))
        })
    }

    /// A Stripe error answer (other than a card decline) as a gateway error.
    fn api_error(&self, status: StatusCode, error: &ApiError) -> GatewayError {
        let text = self.scrub(&format!("Stripe answered {status}{}", error.describe()));
        match status.as_u16() {
            408 | 409 | 429 => GatewayError::Unknown(text),
            400..=499 => GatewayError::Refused(text),
            _ => GatewayError::Unknown(text),
        }
    }

    /// A request that got no answer: refused when no connection was made (nothing was sent),
    /// unknown otherwise.
    fn transport_error(&self, error: &reqwest::Error) -> GatewayError {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        let text = self.scrub(&text);
        if error.is_builder() || error.is_connect() {
            GatewayError::Refused(format!("could not reach Stripe: {text}"))
        } else if error.is_timeout() {
            GatewayError::Unknown(format!("Stripe did not answer in time: {text}"))
        } else {
            GatewayError::Unknown(format!("the exchange with Stripe broke off: {text}"))
        }
    }

    /// `text` with the secret key blanked out, wherever it came from.
    fn scrub(&self, text: &str) -> String {
        text.replace(&self.secret_key, "[redacted]")
    }
}

/// The message of a decline that came without one.
const DEFAULT_DECLINE_MESSAGE: &str = "the payment was declined";

/// A PaymentIntent, as far as it is read.
#[derive(Debug, Deserialize)]
struct PaymentIntent {
    id: String,
    status: IntentStatus,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    last_payment_error: Option<LastPaymentError>,
    #[serde(default)]
    cancellation_reason: Option<String>,
}

impl PaymentIntent {
    fn into_state(self) -> GatewayResult<ChargeState> {
        let status = match self.status {
            IntentStatus::Succeeded => ChargeStatus::Succeeded,
            IntentStatus::RequiresAction => match self.client_secret {
                Some(client_secret) => ChargeStatus::RequiresAction { client_secret },
                None => {
                    return Err(GatewayError::Unknown(format!(
                        "Stripe's PaymentIntent {} requires an action but came without its \
                         client secret",
                        self.id
                    )));
                }
            },
            // `confirm=true` with `capture_method=automatic` never leaves an intent waiting for
            // confirmation or capture; should one, Stripe is still at work.
            IntentStatus::Processing
            | IntentStatus::RequiresConfirmation
            | IntentStatus::RequiresCapture => ChargeStatus::Processing,
            IntentStatus::RequiresPaymentMethod => ChargeStatus::Declined {
                message: self
                    .last_payment_error
                    .and_then(|error| error.message)
                    .unwrap_or_else(|| DEFAULT_DECLINE_MESSAGE.to_owned()),
            },
            IntentStatus::Canceled => ChargeStatus::Declined {
                message: self
                    .last_payment_error
                    .and_then(|error| error.message)
                    .or_else(|| {
                        self.cancellation_reason
                            .map(|reason| format!("the payment was canceled ({reason})"))
                    })
                    .unwrap_or_else(|| "the payment was canceled".to_owned()),
            },
            IntentStatus::Other => {
                return Err(GatewayError::Unknown(format!(
                    "Stripe's PaymentIntent {} is in a status this version does not know",
                    self.id
                )));
            }
        };
        Ok(ChargeState {
            reference: self.id,
            status,
        })
    }
}

/// A PaymentIntent's `status`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum IntentStatus {
    Succeeded,
    RequiresAction,
    Processing,
    RequiresPaymentMethod,
    Canceled,
    RequiresConfirmation,
    RequiresCapture,
    #[serde(other)]
    Other,
}

/// A PaymentIntent's `last_payment_error`.
#[derive(Debug, Deserialize)]
struct LastPaymentError {
    #[serde(default)]
    message: Option<String>,
}

/// A Refund, as far as it is read.
#[derive(Debug, Deserialize)]
struct Refund {
    id: String,
    status: RefundWireStatus,
    #[serde(default)]
    failure_reason: Option<String>,
}

/// A Refund's `status`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RefundWireStatus {
    Succeeded,
    Pending,
    RequiresAction,
    Failed,
    Canceled,
    #[serde(other)]
    Other,
}

/// Stripe's error object (`{"error": {…}}`), as far as it is read.
#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    payment_intent: Option<ErrorIntent>,
}

/// The PaymentIntent an error names.
#[derive(Debug, Deserialize)]
struct ErrorIntent {
    id: String,
}

impl ApiError {
    /// The error in `body`; an empty one when the body is not Stripe's error object.
    fn read(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: ApiError,
        }
        serde_json::from_slice::<Envelope>(body)
            .map(|envelope| envelope.error)
            .unwrap_or_default()
    }

    /// `" (type/code/decline code): message"`, with what is known.
    fn describe(&self) -> String {
        let tags: Vec<&str> = [&self.kind, &self.code, &self.decline_code]
            .into_iter()
            .filter_map(|tag| tag.as_deref())
            .collect();
        let mut text = String::new();
        if !tags.is_empty() {
            text = format!(" ({})", tags.join("/"));
        }
        if let Some(message) = &self.message {
            text.push_str(": ");
            text.push_str(message);
        }
        text
    }
}

/// `id` when it is safe in a URL path (only `[A-Za-z0-9_]`, as Stripe's ids are).
fn path_id<'a>(what: &str, id: &'a str) -> GatewayResult<&'a str> {
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(id)
    } else {
        let shown: String = id.chars().take(64).collect();
        Err(GatewayError::Refused(format!(
            "{shown:?} is not a Stripe {what} id"
        )))
    }
}

/// The `Idempotency-Key` header for `key`: the key itself when Stripe takes it as is (1 to 255
/// visible ASCII characters), else its SHA-256 (`sha256_<hex>`), the same for the same key. An
/// empty key is refused: it would not protect anything.
fn idempotency_key(key: &str) -> GatewayResult<String> {
    if key.is_empty() {
        return Err(GatewayError::Refused(
            "a call that moves money needs an idempotency key".to_owned(),
        ));
    }
    if key.len() <= MAX_IDEMPOTENCY_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(key.to_owned())
    } else {
        Ok(format!(
            "sha256_{}",
            hex::encode(Sha256::digest(key.as_bytes()))
        ))
    }
}

/// Why a webhook delivery was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The `Stripe-Signature` header is missing or malformed, or no `v1` signature in it is the
    /// body's with this secret: the delivery is not from Stripe (or not for this endpoint).
    #[error("the webhook signature is not valid: {0}")]
    BadSignature(&'static str),
    /// The signature is right but was made too long ago (or ahead): a replay.
    #[error("the webhook signature's timestamp is {age_secs} s away from now")]
    StaleTimestamp {
        /// Now minus the signed timestamp, in seconds.
        age_secs: i64,
    },
    /// The signed body is not a Stripe event.
    #[error("the webhook body is not a Stripe event: {0}")]
    BadBody(String),
}

type HmacSha256 = Hmac<Sha256>;

/// The HMAC of `"{timestamp}.{body}"` with `secret`.
fn signer(secret: &str, timestamp: i64, body: &[u8]) -> Option<HmacSha256> {
    // HMAC takes a key of any length: this never fails.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The `Stripe-Signature` header value Stripe would send with `body` at `timestamp`
/// (`t=<timestamp>,v1=<hex HMAC-SHA256>`), for tests and fakes.
pub fn sign_webhook(secret: &str, body: &[u8], timestamp: i64) -> String {
    match signer(secret, timestamp, body) {
        Some(mac) => format!(
            "t={timestamp},v1={}",
            hex::encode(mac.finalize().into_bytes())
        ),
        // Unreachable (see `signer`); a header without `v1` never verifies.
        None => format!("t={timestamp}"),
    }
}

/// Checks a webhook delivery as Stripe documents it and reads its event: `signature_header` is
/// the `Stripe-Signature` header (`t=…,v1=…[,v1=…][,v0=…]`); one `v1` must be the HMAC-SHA256,
/// keyed with the endpoint's `secret`, of `"{t}.{body}"` (compared in constant time); `t` must
/// be within `tolerance_secs` of `now_unix`, either way.
pub fn verify_webhook(
    secret: &str,
    signature_header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<ProviderEvent, WebhookError> {
    if secret.is_empty() {
        return Err(WebhookError::BadSignature(
            "no webhook secret is configured",
        ));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in signature_header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            // A value that is not hex cannot match; it is skipped.
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::BadSignature("no timestamp (t=)"))?;
    if signatures.is_empty() {
        return Err(WebhookError::BadSignature("no v1 signature"));
    }
    let mac = signer(secret, timestamp, body).ok_or(WebhookError::BadSignature(
        "the webhook secret cannot key an HMAC",
    ))?;
    if !signatures
        .iter()
        .any(|signature| mac.clone().verify_slice(signature).is_ok())
    {
        return Err(WebhookError::BadSignature("no v1 signature matches"));
    }
    let age_secs = now_unix.saturating_sub(timestamp);
    if age_secs.saturating_abs() > tolerance_secs {
        return Err(WebhookError::StaleTimestamp { age_secs });
    }
    parse_event(body)
}

/// A Stripe event (`{"id", "type", "data": {"object"}}`) as a [`ProviderEvent`].
fn parse_event(body: &[u8]) -> Result<ProviderEvent, WebhookError> {
    #[derive(Deserialize)]
    struct Event {
        id: String,
        #[serde(rename = "type")]
        kind: String,
        data: EventData,
    }
    #[derive(Deserialize)]
    struct EventData {
        object: serde_json::Value,
    }
    #[derive(Deserialize)]
    struct IntentObject {
        id: String,
        #[serde(default)]
        metadata: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(default)]
        last_payment_error: Option<LastPaymentError>,
    }
    #[derive(Deserialize)]
    struct ChargeObject {
        #[serde(default)]
        payment_intent: Option<String>,
        amount_refunded: i64,
    }
    fn object<T: DeserializeOwned>(
        kind: &str,
        object: serde_json::Value,
    ) -> Result<T, WebhookError> {
        serde_json::from_value(object)
            .map_err(|error| WebhookError::BadBody(format!("the {kind} event's object: {error}")))
    }

    let event: Event =
        serde_json::from_slice(body).map_err(|error| WebhookError::BadBody(error.to_string()))?;
    if event.id.is_empty() {
        return Err(WebhookError::BadBody("the event has no id".to_owned()));
    }
    let payment_id = |metadata: &Option<serde_json::Map<String, serde_json::Value>>| {
        metadata
            .as_ref()
            .and_then(|metadata| metadata.get("payment_id"))
            .and_then(|value| value.as_str())
            .and_then(|value| value.trim().parse::<i64>().ok())
    };
    let kind = match event.kind.as_str() {
        "payment_intent.succeeded" => {
            let intent: IntentObject = object(&event.kind, event.data.object)?;
            ProviderEventKind::ChargeSucceeded {
                payment_id: payment_id(&intent.metadata),
                reference: intent.id,
            }
        }
        "payment_intent.payment_failed" => {
            let intent: IntentObject = object(&event.kind, event.data.object)?;
            ProviderEventKind::ChargeFailed {
                payment_id: payment_id(&intent.metadata),
                message: intent
                    .last_payment_error
                    .and_then(|error| error.message)
                    .unwrap_or_else(|| DEFAULT_DECLINE_MESSAGE.to_owned()),
                reference: intent.id,
            }
        }
        "charge.refunded" => {
            let charge: ChargeObject = object(&event.kind, event.data.object)?;
            match charge.payment_intent {
                Some(reference) => ProviderEventKind::ChargeRefunded {
                    reference,
                    amount_refunded: charge.amount_refunded,
                },
                // A charge made without a PaymentIntent is none of Bazaar's.
                None => ProviderEventKind::Ignored {
                    kind: format!("{} (without a PaymentIntent)", event.kind),
                },
            }
        }
        _ => ProviderEventKind::Ignored { kind: event.kind },
    };
    Ok(ProviderEvent { id: event.id, kind })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &str = "whsec_unit";
    const NOW: i64 = 1_700_000_000;

    fn body() -> Vec<u8> {
        json!({
            "id": "evt_1",
            "type": "payment_intent.succeeded",
            "data": { "object": {
                "id": "pi_1", "object": "payment_intent", "status": "succeeded",
                "metadata": { "order_id": "7", "payment_id": "42" }
            } }
        })
        .to_string()
        .into_bytes()
    }

    fn verify(header: &str, body: &[u8]) -> Result<ProviderEvent, WebhookError> {
        verify_webhook(SECRET, header, body, NOW, DEFAULT_WEBHOOK_TOLERANCE_SECS)
    }

    #[test]
    fn a_valid_signature_is_accepted() {
        let header = sign_webhook(SECRET, &body(), NOW - 10);
        assert_eq!(
            verify(&header, &body()),
            Ok(ProviderEvent {
                id: "evt_1".into(),
                kind: ProviderEventKind::ChargeSucceeded {
                    reference: "pi_1".into(),
                    payment_id: Some(42),
                },
            })
        );
    }

    #[test]
    fn a_tampered_body_or_another_secret_is_refused() {
        let header = sign_webhook(SECRET, &body(), NOW);
        let mut tampered = body();
        tampered[10] ^= 1;
        assert!(matches!(
            verify(&header, &tampered),
            Err(WebhookError::BadSignature(_))
        ));
        let other = sign_webhook("whsec_other", &body(), NOW);
        assert!(matches!(
            verify(&other, &body()),
            Err(WebhookError::BadSignature(_))
        ));
        // The timestamp is signed too.
        let moved = header.replace(&format!("t={NOW}"), &format!("t={}", NOW - 1));
        assert!(matches!(
            verify(&moved, &body()),
            Err(WebhookError::BadSignature(_))
        ));
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        for (at, age) in [(NOW - 301, 301), (NOW + 301, -301)] {
            let header = sign_webhook(SECRET, &body(), at);
            assert_eq!(
                verify(&header, &body()),
                Err(WebhookError::StaleTimestamp { age_secs: age })
            );
        }
        for at in [NOW - 300, NOW + 300] {
            assert!(verify(&sign_webhook(SECRET, &body(), at), &body()).is_ok());
        }
    }

    #[test]
    fn a_header_without_v1_or_t_is_refused() {
        let header = sign_webhook(SECRET, &body(), NOW);
        let v0_only = header.replace("v1=", "v0=");
        for bad in ["", "garbage", &v0_only, &format!("t={NOW}"), "v1=abcd"] {
            assert!(
                matches!(verify(bad, &body()), Err(WebhookError::BadSignature(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            verify_webhook("", &header, &body(), NOW, 300),
            Err(WebhookError::BadSignature(_))
        ));
    }

    #[test]
    fn one_right_v1_among_several_is_enough() {
        let right = sign_webhook(SECRET, &body(), NOW);
        let right_v1 = right
            .split_once(",v1=")
            .map(|(_, v1)| v1)
            .unwrap_or_default();
        let wrong = sign_webhook("whsec_old", &body(), NOW);
        let wrong_v1 = wrong
            .split_once(",v1=")
            .map(|(_, v1)| v1)
            .unwrap_or_default();
        let header = format!("t={NOW},v1={wrong_v1},v1=nothex,v1={right_v1},v0={wrong_v1}");
        assert!(verify(&header, &body()).is_ok());
        let none_right = format!("t={NOW},v1={wrong_v1},v0={right_v1}");
        assert!(matches!(
            verify(&none_right, &body()),
            Err(WebhookError::BadSignature(_))
        ));
    }

    fn event(kind: &str, object: serde_json::Value) -> Result<ProviderEventKind, WebhookError> {
        let body = json!({ "id": "evt_2", "type": kind, "data": { "object": object } })
            .to_string()
            .into_bytes();
        verify(&sign_webhook(SECRET, &body, NOW), &body).map(|event| event.kind)
    }

    #[test]
    fn events_are_read_by_type() {
        assert_eq!(
            event(
                "payment_intent.payment_failed",
                json!({ "id": "pi_2", "metadata": { "payment_id": "x" },
                        "last_payment_error": { "message": "Your card was declined." } })
            ),
            Ok(ProviderEventKind::ChargeFailed {
                reference: "pi_2".into(),
                payment_id: None,
                message: "Your card was declined.".into(),
            })
        );
        assert_eq!(
            event("payment_intent.payment_failed", json!({ "id": "pi_3" })),
            Ok(ProviderEventKind::ChargeFailed {
                reference: "pi_3".into(),
                payment_id: None,
                message: DEFAULT_DECLINE_MESSAGE.into(),
            })
        );
        assert_eq!(
            event(
                "charge.refunded",
                json!({ "id": "ch_1", "object": "charge", "payment_intent": "pi_4",
                        "amount": 1000, "amount_refunded": 400 })
            ),
            Ok(ProviderEventKind::ChargeRefunded {
                reference: "pi_4".into(),
                amount_refunded: 400,
            })
        );
        assert_eq!(
            event("customer.created", json!({ "id": "cus_1" })),
            Ok(ProviderEventKind::Ignored {
                kind: "customer.created".into()
            })
        );
        assert!(matches!(
            event("payment_intent.succeeded", json!({ "no_id": true })),
            Err(WebhookError::BadBody(_))
        ));
        let body = b"not json";
        assert!(matches!(
            verify(&sign_webhook(SECRET, body, NOW), body),
            Err(WebhookError::BadBody(_))
        ));
    }

    #[test]
    fn intents_map_to_charge_states() {
        let state = |object: serde_json::Value| {
            serde_json::from_value::<PaymentIntent>(object)
                .map_err(|e| e.to_string())
                .and_then(|intent| intent.into_state().map_err(|e| e.to_string()))
        };
        let status = |s: &str| state(json!({ "id": "pi_1", "status": s })).map(|c| c.status);
        assert_eq!(status("succeeded"), Ok(ChargeStatus::Succeeded));
        assert_eq!(status("processing"), Ok(ChargeStatus::Processing));
        assert_eq!(status("requires_capture"), Ok(ChargeStatus::Processing));
        assert_eq!(
            status("requires_confirmation"),
            Ok(ChargeStatus::Processing)
        );
        assert_eq!(
            status("requires_payment_method"),
            Ok(ChargeStatus::Declined {
                message: DEFAULT_DECLINE_MESSAGE.into()
            })
        );
        assert!(matches!(
            status("canceled"),
            Ok(ChargeStatus::Declined { .. })
        ));
        assert!(status("requires_action").is_err(), "no client secret");
        assert!(status("something_new").is_err());
        assert_eq!(
            state(json!({ "id": "pi_1", "status": "requires_action", "client_secret": "s" }))
                .map(|c| c.status),
            Ok(ChargeStatus::RequiresAction {
                client_secret: "s".into()
            })
        );
    }

    #[test]
    fn ids_and_keys_are_checked() {
        assert!(path_id("refund", "re_123abc").is_ok());
        for bad in ["", "pi_1/../x", "pi 1", "pi_1?x=1", "pï"] {
            assert!(matches!(
                path_id("refund", bad),
                Err(GatewayError::Refused(_))
            ));
        }
        assert_eq!(idempotency_key("order-1:pay:k"), Ok("order-1:pay:k".into()));
        assert!(idempotency_key("").is_err());
        let hashed = idempotency_key("order-1:pay:clé");
        assert_eq!(hashed, idempotency_key("order-1:pay:clé"));
        assert!(matches!(&hashed, Ok(key) if key.starts_with("sha256_") && key.len() == 71));
        assert_ne!(hashed, idempotency_key("order-1:pay:cle"));
    }

    #[test]
    fn config_is_checked_and_secrets_never_print() {
        let config = StripeConfig {
            webhook_secret: Some("whsec_secret".into()),
            ..StripeConfig::new("sk_test_secret")
        };
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("sk_test") && !printed.contains("whsec"),
            "{printed}"
        );
        let gateway = StripeGateway::new(config.clone()).map_err(|e| e.to_string());
        assert!(gateway.is_ok());
        assert_eq!(
            gateway.as_ref().ok().and_then(|g| g.webhook_secret()),
            Some("whsec_secret")
        );
        assert!(!format!("{:?}", gateway.ok()).contains("sk_test"));
        for bad in [
            StripeConfig::new(""),
            StripeConfig {
                api_base: "ftp://api.stripe.com".into(),
                ..config.clone()
            },
            StripeConfig {
                api_base: "not a url".into(),
                ..config.clone()
            },
            StripeConfig {
                timeout: Duration::ZERO,
                ..config.clone()
            },
        ] {
            let error = StripeGateway::new(bad)
                .map(|_| ())
                .map_err(|e| format!("{e:#}"));
            assert!(
                matches!(&error, Err(text) if !text.contains("sk_test")),
                "{error:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_stripe_error_but_never_the_key() {
        let client = Client {
            http: reqwest::Client::new(),
            api_base: DEFAULT_API_BASE.into(),
            authorization: HeaderValue::from_static("Bearer sk_test_k"),
            secret_key: "sk_test_k".into(),
        };
        let body = json!({ "error": { "type": "invalid_request_error",
                                      "message": "Invalid API Key provided: sk_test_k" } });
        let body = body.to_string();
        let refused = client.charge_answer(StatusCode::UNAUTHORIZED, body.as_bytes());
        assert!(
            matches!(&refused, Err(GatewayError::Refused(text))
                if text.contains("invalid_request_error") && !text.contains("sk_test_k")),
            "{refused:?}"
        );
        for (status, unknown) in [
            (409, true),
            (429, true),
            (500, true),
            (503, true),
            (404, false),
        ] {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
            let answer = client.refund_answer(status, b"<html>");
            assert_eq!(
                matches!(answer, Err(GatewayError::Unknown(_))),
                unknown,
                "{status}: {answer:?}"
            );
        }
        let declined = json!({ "error": { "type": "card_error", "code": "card_declined",
                                          "message": "Your card was declined." } });
        assert_eq!(
            client.charge_answer(
                StatusCode::PAYMENT_REQUIRED,
                declined.to_string().as_bytes()
            ),
            Ok(ChargeState {
                reference: String::new(),
                status: ChargeStatus::Declined {
                    message: "Your card was declined.".into()
                },
            })
        );
        assert!(matches!(
            client.charge_answer(StatusCode::OK, b"{}"),
            Err(GatewayError::Unknown(_))
        ));
    }
}
