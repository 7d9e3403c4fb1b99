//! `FakeStripe`: the parts of Stripe's API Bazaar uses (PaymentIntents, Refunds), served on
//! loopback with Stripe's documented behaviour (bearer keys, idempotency keys replayed or in
//! use, test payment methods, 402 card errors, refund limits), a ledger of the money that moved,
//! faults a test can inject at any time, and signed webhook events to deliver to Bazaar.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bazaar::services::payments::stripe::{STRIPE_VERSION, StripeConfig, sign_webhook};
use rand::Rng as _;
use serde_json::{Value, json};

/// The only secret key the fake takes.
pub const SECRET_KEY: &str = "sk_test_fake";

/// The secret the fake signs its webhook events with.
pub const WEBHOOK_SECRET: &str = "whsec_test_fake";

/// Stripe's test payment methods the fake knows; any other is `resource_missing`.
pub mod payment_methods {
    /// Charged.
    pub const VISA: &str = "pm_card_visa";
    /// Declined (`generic_decline`): 402, the intent left in `requires_payment_method`.
    pub const DECLINED: &str = "pm_card_chargeDeclined";
    /// Declined (`insufficient_funds`).
    pub const INSUFFICIENT_FUNDS: &str = "pm_card_chargeDeclinedInsufficientFunds";
    /// 3-D Secure: the intent waits in `requires_action` until
    /// [`FakeStripe::complete_action`](super::FakeStripe::complete_action) or
    /// [`FakeStripe::fail_action`](super::FakeStripe::fail_action).
    pub const THREE_D_SECURE: &str = "pm_card_threeDSecure2Required";
}

/// Something going wrong with one request (after its key was checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 before doing anything: nothing happens and nothing is remembered for its key (as a
    /// failure in front of Stripe's API).
    ServerError,
    /// Holds the request this long (its idempotency key in use), then does it.
    Slow(Duration),
    /// Does the work and remembers the answer for its key, then waits this long before sending
    /// it (longer than the client's timeout: the client sees a timeout, the money moved).
    ProcessThenTimeout(Duration),
    /// Does the work and remembers the answer for its key, then answers 500 instead.
    ProcessThenServerError,
}

/// The webhook events [`FakeStripe::event_for`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `payment_intent.succeeded`, with the intent.
    PaymentIntentSucceeded,
    /// `payment_intent.payment_failed`, with the intent.
    PaymentIntentPaymentFailed,
    /// `charge.refunded`, with the intent's charge.
    ChargeRefunded,
}

/// A request as the fake received it (the `Authorization` header is left out).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `GET`, `POST`.
    pub method: String,
    /// `/v1/payment_intents`.
    pub path: String,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The `Stripe-Version` header.
    pub stripe_version: Option<String>,
    /// The form body, in order.
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The value of `key` in the form body.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A Stripe API on `127.0.0.1`, on a thread of its own; stopped when dropped.
pub struct FakeStripe {
    state: Arc<Mutex<State>>,
    address: SocketAddr,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        drop(self.server.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FakeStripe {
    /// Starts a fake with no data.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::from(Arc::clone(&state));
        let (started, running) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(web::PayloadConfig::new(64 * 1024))
                        .default_service(web::to(handle))
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(0)
                .bind(("127.0.0.1", 0))
                .expect("bind the fake Stripe");
                let address = server.addrs()[0];
                let server = server.run();
                started
                    .send((address, server.handle()))
                    .expect("report the address");
                let _ = server.await;
            });
        });
        let (address, server) = running.recv().expect("the fake Stripe started");
        Self {
            state,
            address,
            server,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Settings for a `StripeGateway` of this fake, with the fake's keys and `timeout`.
    pub fn config(&self, timeout: Duration) -> StripeConfig {
        StripeConfig {
            secret_key: SECRET_KEY.to_owned(),
            api_base: self.url(),
            webhook_secret: Some(WEBHOOK_SECRET.to_owned()),
            timeout,
        }
    }

    /// The next `n` requests (with the right key) meet `fault`, after any already planned.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.state().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Refunds a succeeded PaymentIntent in full behind the shop's back, as someone in Stripe's
    /// dashboard would: every refund the shop asks for afterwards is refused.
    pub fn refund_in_dashboard(&self, pi_id: &str) {
        let form = [("payment_intent".to_owned(), pi_id.to_owned())];
        let answer = self.state().create_refund(&form);
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "the intent could be refunded"
        );
    }

    /// Every capture: each PaymentIntent that reached `succeeded`, with its amount.
    pub fn captured(&self) -> Vec<(String, i64)> {
        self.state().captured.clone()
    }

    /// Every refund that succeeded: the PaymentIntent and the amount.
    pub fn refunded(&self) -> Vec<(String, i64)> {
        self.state().refunded.clone()
    }

    /// The PaymentIntents (as Stripe shows them) whose `metadata.order_id` is `order_id`.
    pub fn intents_for_order(&self, order_id: i64) -> Vec<Value> {
        let order_id = order_id.to_string();
        self.state()
            .intents
            .iter()
            .filter(|intent| intent.metadata.get("order_id") == Some(&order_id))
            .map(Intent::to_json)
            .collect()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// The customer completes 3-D Secure: the intent `pi_id` (in `requires_action`) succeeds.
    pub fn complete_action(&self, pi_id: &str) {
        let mut state = self.state();
        let intent = state.intent_mut(pi_id);
        assert_eq!(intent.status, "requires_action", "{pi_id} awaits no action");
        intent.succeed();
        let capture = (intent.id.clone(), intent.amount);
        state.captured.push(capture);
    }

    /// The customer fails 3-D Secure: the intent `pi_id` goes back to `requires_payment_method`.
    pub fn fail_action(&self, pi_id: &str) {
        let mut state = self.state();
        let intent = state.intent_mut(pi_id);
        assert_eq!(intent.status, "requires_action", "{pi_id} awaits no action");
        intent.status = "requires_payment_method".to_owned();
        intent.last_payment_error = Some(json!({
            "type": "card_error",
            "code": "payment_intent_authentication_failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide \
                        payment_method_data or a new PaymentMethod to attempt to fulfill this \
                        PaymentIntent again.",
        }));
    }

    /// A webhook event of `kind` about the intent `pi_id` as it is now, signed now with
    /// [`WEBHOOK_SECRET`]: the body and its `Stripe-Signature` header.
    pub fn event_for(&self, pi_id: &str, kind: EventKind) -> (String, String) {
        self.event_for_at(pi_id, kind, now())
    }

    /// [`FakeStripe::event_for`], signed at `timestamp` (Unix seconds).
    pub fn event_for_at(&self, pi_id: &str, kind: EventKind, timestamp: i64) -> (String, String) {
        let state = self.state();
        let intent = state
            .intents
            .iter()
            .find(|intent| intent.id == pi_id)
            .unwrap_or_else(|| panic!("no PaymentIntent {pi_id}"));
        let (kind, object) = match kind {
            EventKind::PaymentIntentSucceeded => ("payment_intent.succeeded", intent.to_json()),
            EventKind::PaymentIntentPaymentFailed => {
                ("payment_intent.payment_failed", intent.to_json())
            }
            EventKind::ChargeRefunded => ("charge.refunded", intent.charge_json()),
        };
        let body = json!({
            "id": random_id("evt"),
            "object": "event",
            "api_version": STRIPE_VERSION,
            "created": timestamp,
            "livemode": false,
            "pending_webhooks": 1,
            "type": kind,
            "data": { "object": object },
        })
        .to_string();
        let signature = sign_webhook(WEBHOOK_SECRET, body.as_bytes(), timestamp);
        (body, signature)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `prefix_` and 24 random letters and digits, as Stripe's ids.
fn random_id(prefix: &str) -> String {
    let tail: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}_{tail}")
}

#[derive(Default)]
struct State {
    intents: Vec<Intent>,
    refunds: Vec<Refund>,
    captured: Vec<(String, i64)>,
    refunded: Vec<(String, i64)>,
    idempotency: HashMap<String, Idempotent>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
}

/// What an idempotency key stands for.
enum Idempotent {
    /// Its first request is still running.
    InFlight,
    /// Its first request's answer, and what that request was.
    Done { fingerprint: String, answer: Answer },
}

#[derive(Clone)]
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
        }
    }

    /// Stripe's error object.
    fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Self {
        let mut error = json!({ "type": kind, "message": message });
        if let Some(code) = code {
            error["code"] = json!(code);
        }
        Self {
            status: StatusCode::from_u16(status).expect("a status"),
            body: json!({ "error": error }),
        }
    }

    fn server_error() -> Self {
        Self::error(
            500,
            "api_error",
            None,
            "An unknown error occurred (the fake Stripe was told to fail).",
        )
    }

    fn respond(self, replayed: bool) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header(("Request-Id", random_id("req")));
        if replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        response.json(self.body)
    }
}

struct Intent {
    id: String,
    amount: i64,
    currency: String,
    status: String,
    payment_method: String,
    capture_method: String,
    metadata: BTreeMap<String, String>,
    client_secret: String,
    last_payment_error: Option<Value>,
    latest_charge: Option<String>,
    amount_refunded: i64,
    created: i64,
}

impl Intent {
    fn succeed(&mut self) {
        self.status = "succeeded".to_owned();
        self.last_payment_error = None;
        self.latest_charge = Some(random_id("ch"));
    }

    fn to_json(&self) -> Value {
        let next_action = (self.status == "requires_action").then(|| {
            json!({ "type": "use_stripe_sdk", "use_stripe_sdk": { "type": "three_d_secure_redirect" } })
        });
        json!({
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_received": if self.status == "succeeded" { self.amount } else { 0 },
            "automatic_payment_methods": { "enabled": true, "allow_redirects": "never" },
            "capture_method": self.capture_method,
            "client_secret": self.client_secret,
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": false,
            "metadata": self.metadata,
            "next_action": next_action,
            "payment_method": self.payment_method,
            "status": self.status,
        })
    }

    /// The intent's charge, as `charge.refunded` carries it.
    fn charge_json(&self) -> Value {
        json!({
            "id": self.latest_charge,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": if self.status == "succeeded" { self.amount } else { 0 },
            "amount_refunded": self.amount_refunded,
            "captured": self.status == "succeeded",
            "currency": self.currency,
            "metadata": self.metadata,
            "paid": self.status == "succeeded",
            "payment_intent": self.id,
            "refunded": self.amount_refunded == self.amount,
            "status": "succeeded",
        })
    }
}

struct Refund {
    id: String,
    payment_intent: String,
    charge: Option<String>,
    amount: i64,
    currency: String,
    created: i64,
}

impl Refund {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "failure_reason": null,
            "metadata": {},
            "payment_intent": self.payment_intent,
            "status": "succeeded",
        })
    }
}

/// Every request: authentication, faults, idempotency, then the endpoint.
async fn handle(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let method = request.method().clone();
    let path = request.path().to_owned();
    let key = header("Idempotency-Key").filter(|_| method == Method::POST);
    lock(&state).requests.push(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        idempotency_key: key.clone(),
        stripe_version: header("Stripe-Version"),
        form: form.clone(),
    });

    let authorization = header("Authorization").unwrap_or_default();
    if authorization != format!("Bearer {SECRET_KEY}") {
        let given = authorization.trim_start_matches("Bearer ");
        let shown = given
            .get(given.len().saturating_sub(4)..)
            .unwrap_or_default();
        let message = format!("Invalid API Key provided: sk_test_****{shown}");
        return Answer::error(401, "invalid_request_error", None, &message).respond(false);
    }
    let fault = lock(&state).faults.pop_front();
    if fault == Some(Fault::ServerError) {
        return Answer::server_error().respond(false);
    }

    // The work runs on a task of its own: it goes on if the client hangs up, as Stripe's does.
    let work = actix_web::rt::spawn(async move {
        let mut sorted = form.clone();
        sorted.sort();
        let fingerprint = format!("{method} {path} {sorted:?}");
        if let Some(key) = &key {
            let mut state = lock(&state);
            match state.idempotency.get(key) {
                Some(Idempotent::Done {
                    fingerprint: first,
                    answer,
                }) => {
                    if *first == fingerprint {
                        return (answer.clone(), true);
                    }
                    let message = format!(
                        "Keys for idempotent requests can only be used with the same parameters \
                         they were first used with. Try using a key other than '{key}' if you \
                         meant to execute a different request."
                    );
                    return (
                        Answer::error(400, "idempotency_error", None, &message),
                        false,
                    );
                }
                Some(Idempotent::InFlight) => {
                    let message = format!(
                        "There is currently another in-progress request using this Stripe \
                         token (probably the same idempotency key: '{key}'). Please try again \
                         later."
                    );
                    return (
                        Answer::error(
                            409,
                            "idempotency_error",
                            Some("idempotency_key_in_use"),
                            &message,
                        ),
                        false,
                    );
                }
                None => {
                    state.idempotency.insert(key.clone(), Idempotent::InFlight);
                }
            }
        }
        if let Some(Fault::Slow(delay)) = fault {
            actix_web::rt::time::sleep(delay).await;
        }
        let mut state = lock(&state);
        let answer = state.endpoint(&method, &path, &form);
        if let Some(key) = key {
            // As Stripe: a request whose parameters were refused saves nothing for its key.
            if answer.status == StatusCode::BAD_REQUEST {
                state.idempotency.remove(&key);
            } else {
                let answer = answer.clone();
                state.idempotency.insert(
                    key,
                    Idempotent::Done {
                        fingerprint,
                        answer,
                    },
                );
            }
        }
        (answer, false)
    });
    let Ok((answer, replayed)) = work.await else {
        return Answer::server_error().respond(false);
    };
    match fault {
        Some(Fault::ProcessThenTimeout(delay)) => {
            actix_web::rt::time::sleep(delay).await;
            answer.respond(replayed)
        }
        Some(Fault::ProcessThenServerError) => Answer::server_error().respond(false),
        _ => answer.respond(replayed),
    }
}

impl State {
    fn endpoint(&mut self, method: &Method, path: &str, form: &[(String, String)]) -> Answer {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "payment_intents"]) => self.create_intent(form),
            ("GET", ["v1", "payment_intents", id]) => {
                match self.intents.iter().find(|i| i.id == *id) {
                    Some(intent) => Answer::ok(intent.to_json()),
                    None => missing("payment_intent", id, "intent", 404),
                }
            }
            ("POST", ["v1", "refunds"]) => self.create_refund(form),
            ("GET", ["v1", "refunds", id]) => match self.refunds.iter().find(|r| r.id == *id) {
                Some(refund) => Answer::ok(refund.to_json()),
                None => missing("refund", id, "refund", 404),
            },
            _ => Answer::error(
                404,
                "invalid_request_error",
                None,
                &format!("Unrecognized request URL ({method}: {path})."),
            ),
        }
    }

    fn intent_mut(&mut self, id: &str) -> &mut Intent {
        self.intents
            .iter_mut()
            .find(|intent| intent.id == id)
            .unwrap_or_else(|| panic!("no PaymentIntent {id}"))
    }

    fn create_intent(&mut self, form: &[(String, String)]) -> Answer {
        let param = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let Some(amount) = param("amount")
            .and_then(|a| a.parse::<i64>().ok())
            .filter(|a| *a > 0)
        else {
            return invalid(
                "amount",
                "parameter_invalid_integer",
                "Invalid positive integer",
            );
        };
        let currency = param("currency").unwrap_or_default();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return invalid("currency", "parameter_invalid_string", "Invalid currency");
        }
        let Some(payment_method) = param("payment_method") else {
            return invalid(
                "payment_method",
                "parameter_missing",
                "Missing required param: payment_method.",
            );
        };
        let known = [
            payment_methods::VISA,
            payment_methods::DECLINED,
            payment_methods::INSUFFICIENT_FUNDS,
            payment_methods::THREE_D_SECURE,
        ];
        if !known.contains(&payment_method) {
            return missing("PaymentMethod", payment_method, "payment_method", 400);
        }
        let capture_method = param("capture_method").unwrap_or("automatic");
        let id = random_id("pi");
        let mut intent = Intent {
            client_secret: format!("{id}_secret_{}", random_id("s").trim_start_matches("s_")),
            id,
            amount,
            currency: currency.to_owned(),
            status: "requires_confirmation".to_owned(),
            payment_method: payment_method.to_owned(),
            capture_method: capture_method.to_owned(),
            metadata: form
                .iter()
                .filter_map(|(k, v)| {
                    let name = k.strip_prefix("metadata[")?.strip_suffix(']')?;
                    Some((name.to_owned(), v.clone()))
                })
                .collect(),
            last_payment_error: None,
            latest_charge: None,
            amount_refunded: 0,
            created: now(),
        };
        if param("confirm") != Some("true") {
            let answer = Answer::ok(intent.to_json());
            self.intents.push(intent);
            return answer;
        }
        let decline = match payment_method {
            payment_methods::DECLINED => Some(("generic_decline", "Your card was declined.")),
            payment_methods::INSUFFICIENT_FUNDS => {
                Some(("insufficient_funds", "Your card has insufficient funds."))
            }
            _ => None,
        };
        let answer = if let Some((decline_code, message)) = decline {
            let charge = random_id("ch");
            intent.status = "requires_payment_method".to_owned();
            intent.latest_charge = Some(charge.clone());
            let error = json!({
                "type": "card_error",
                "code": "card_declined",
                "decline_code": decline_code,
                "message": message,
                "charge": charge,
            });
            intent.last_payment_error = Some(error.clone());
            let mut error = error;
            error["payment_intent"] = intent.to_json();
            Answer {
                status: StatusCode::PAYMENT_REQUIRED,
                body: json!({ "error": error }),
            }
        } else if payment_method == payment_methods::THREE_D_SECURE {
            intent.status = "requires_action".to_owned();
            Answer::ok(intent.to_json())
        } else if capture_method == "manual" {
            intent.status = "requires_capture".to_owned();
            Answer::ok(intent.to_json())
        } else {
            intent.succeed();
            self.captured.push((intent.id.clone(), amount));
            Answer::ok(intent.to_json())
        };
        self.intents.push(intent);
        answer
    }

    fn create_refund(&mut self, form: &[(String, String)]) -> Answer {
        let param = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let Some(pi_id) = param("payment_intent") else {
            return invalid(
                "payment_intent",
                "parameter_missing",
                "One of the following params should be provided for this request: payment_intent \
                 or charge.",
            );
        };
        let Some(intent) = self.intents.iter_mut().find(|intent| intent.id == pi_id) else {
            return missing("payment_intent", pi_id, "payment_intent", 400);
        };
        if intent.status != "succeeded" {
            return Answer::error(
                400,
                "invalid_request_error",
                Some("charge_not_refundable"),
                &format!(
                    "This PaymentIntent ({pi_id}) does not have a successful charge to refund."
                ),
            );
        }
        let left = intent.amount - intent.amount_refunded;
        let amount = match param("amount").map(str::parse::<i64>) {
            None => left,
            Some(Ok(amount)) if amount > 0 => amount,
            Some(_) => {
                return invalid(
                    "amount",
                    "parameter_invalid_integer",
                    "Invalid positive integer",
                );
            }
        };
        let charge = intent.latest_charge.clone();
        if left == 0 {
            return Answer::error(
                400,
                "invalid_request_error",
                Some("charge_already_refunded"),
                &format!(
                    "Charge {} has already been refunded.",
                    charge.as_deref().unwrap_or_default()
                ),
            );
        }
        if amount > left {
            return Answer::error(
                400,
                "invalid_request_error",
                Some("amount_too_large"),
                &format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
                ),
            );
        }
        intent.amount_refunded += amount;
        let refund = Refund {
            id: random_id("re"),
            payment_intent: pi_id.to_owned(),
            charge,
            amount,
            currency: intent.currency.clone(),
            created: now(),
        };
        self.refunded.push((pi_id.to_owned(), amount));
        let answer = Answer::ok(refund.to_json());
        self.refunds.push(refund);
        answer
    }
}

/// 400 `invalid_request_error` about `param`.
fn invalid(param: &str, code: &str, message: &str) -> Answer {
    let mut answer = Answer::error(400, "invalid_request_error", Some(code), message);
    answer.body["error"]["param"] = json!(param);
    answer
}

/// `resource_missing`: 404 for the object of a URL, 400 for one named in a parameter.
fn missing(what: &str, id: &str, param: &str, status: u16) -> Answer {
    let message = format!("No such {what}: '{id}'");
    let mut answer = Answer::error(
        status,
        "invalid_request_error",
        Some("resource_missing"),
        &message,
    );
    answer.body["error"]["param"] = json!(param);
    answer
}
