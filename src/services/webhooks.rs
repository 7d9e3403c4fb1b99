//! Signed webhooks: partner apps subscribe URLs to kinds of events; a worker in every instance
//! fans new events of the log out into deliveries (each subscription claimed by one instance at
//! a time) and sends due deliveries (each claimed under a lease), signed, retried with back-off
//! and jitter, dead after [`MAX_ATTEMPTS`] tries, which pauses the subscription.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use futures_util::future::join_all;
use serde_json::json;

use crate::db::models::event::{self, EventRow};
use crate::db::models::webhook::{
    self, Attempt, Delivery, NewAttempt, NewDelivery, NewSubscription, Subscription,
};
use crate::db::{Db, write_transaction};
use crate::domain::accounts::{Principal, Role};
use crate::domain::events::EventType;
use crate::domain::ids::global_id;
use crate::domain::partners::{Scope, Scopes};
use crate::domain::rejection::RejectionCode;
use crate::domain::webhooks::{
    DeliveryStatus, DestinationPolicy, MAX_ATTEMPTS, SubscriptionStatus, check_url, retry_after,
    signature,
};
use crate::error::{AppError, AppResult};
use crate::services::background::Background;
use crate::services::events::Event;
use crate::services::jobs;
use crate::services::tokens::SecretToken;
use crate::telemetry::metrics::{Metrics, WebhookAttempt};

/// Subscriptions an app may hold.
pub const MAX_SUBSCRIPTIONS_PER_APP: i64 = 10;
/// Subscriptions fanned out per round, and events per subscription per round.
const FAN_OUT_SUBSCRIPTIONS: i64 = 50;
const FAN_OUT_EVENTS: i64 = 500;
/// Deliveries sent per round (at once).
const SEND_BATCH: i64 = 20;
/// Prefix of signing secrets.
const SECRET_PREFIX: &str = "whsec_";

/// How webhooks are sent.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Where they may go.
    pub policy: DestinationPolicy,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// The wait before the first retry (later ones are multiples of it).
    pub first_retry: Duration,
    /// How often each instance looks for new events and due deliveries.
    pub poll_every: Duration,
    /// Where attempts are counted.
    pub metrics: Metrics,
}

/// The webhook service: settings and the HTTP client that sends.
pub struct Webhooks {
    settings: WebhookSettings,
    client: reqwest::Client,
    /// Deliveries this instance has claimed and not yet recorded an attempt at, with the lease
    /// they were claimed until: what [`Webhooks::hand_back`] gives back when the server stops.
    claimed: Mutex<Vec<Claim>>,
}

/// Deliveries claimed in one round, until `lease_until`.
#[derive(Debug, Clone, PartialEq)]
struct Claim {
    deliveries: Vec<i64>,
    lease_until: NaiveDateTime,
}

/// A DNS resolver that keeps only the addresses the policy allows, so that a host resolving to
/// a private address (or re-resolving to one after it was checked) is never called.
struct GuardedResolver(DestinationPolicy);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err("the host resolves to no address webhooks may be sent to".into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What a subscriber sees of its subscription once: the row and the signing secret.
pub struct Subscribed {
    pub subscription: Subscription,
    pub secret: String,
}

/// A delivery with its attempts, oldest first.
pub type DeliveryWithAttempts = (Delivery, Vec<Attempt>);

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn later(wait: Duration) -> NaiveDateTime {
    now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
}

fn rejected(field: &str, code: RejectionCode, message: impl Into<String>) -> AppError {
    AppError::rejected(crate::domain::rejection::Rejection::new(
        &[field],
        code,
        message,
    ))
}

/// The event kinds a subscription stores: names separated by spaces.
fn kinds_text(kinds: &[EventType]) -> String {
    kinds
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The kinds a stored subscription asks for.
pub fn kinds_of(subscription: &Subscription) -> Vec<EventType> {
    subscription
        .event_types
        .split_whitespace()
        .filter_map(|name| name.parse().ok())
        .collect()
}

/// The app `caller` manages webhooks for: an admin names any app; a partner key with
/// `manage_webhooks` manages its own app's. Also the scopes its subscriptions read with.
fn managed_app(caller: &Principal, app_id: Option<i64>) -> AppResult<(i64, Scopes)> {
    match caller {
        Principal::Partner(partner) if partner.scopes.has(Scope::ManageWebhooks) => {
            if app_id.is_some_and(|id| id != partner.app_id) {
                return Err(AppError::Forbidden);
            }
            Ok((partner.app_id, partner.scopes))
        }
        _ if caller.has_role(Role::Admin) => {
            let app = app_id.ok_or_else(|| {
                rejected("appId", RejectionCode::Invalid, "name the app to subscribe")
            })?;
            Ok((app, Scopes::of(Scope::ALL)))
        }
        _ => Err(AppError::Forbidden),
    }
}

/// Whether `caller` manages `subscription`.
fn may_manage(caller: &Principal, subscription: &Subscription) -> bool {
    match caller {
        Principal::Partner(partner) => {
            partner.scopes.has(Scope::ManageWebhooks) && partner.app_id == subscription.app_id
        }
        _ => caller.has_role(Role::Admin),
    }
}

impl Webhooks {
    /// The service with its client: every call times out, follows no redirect and reaches
    /// only addresses the policy allows.
    pub fn new(settings: WebhookSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Bazaar-Webhooks/1")
            .dns_resolver(Arc::new(GuardedResolver(settings.policy.clone())))
            .build()?;
        Ok(Self {
            settings,
            client,
            claimed: Mutex::new(Vec::new()),
        })
    }

    /// Checks a URL: its form, and that its host resolves only to allowed addresses now.
    async fn check_destination(&self, text: &str) -> AppResult<String> {
        let url = check_url(text).map_err(|m| rejected("url", RejectionCode::Invalid, m))?;
        let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(found) => found.collect(),
            Err(_) => Vec::new(),
        };
        if addresses.is_empty() {
            return Err(rejected(
                "url",
                RejectionCode::Invalid,
                "the URL's host does not resolve",
            ));
        }
        if !addresses
            .iter()
            .all(|a| self.settings.policy.allows(a.ip()))
        {
            return Err(rejected(
                "url",
                RejectionCode::Invalid,
                "webhooks may not be sent to loopback, private or link-local addresses",
            ));
        }
        Ok(url.to_string())
    }

    /// Subscribes `url` to `kinds` for an app (see [`managed_app`]); deliveries start with the
    /// next event. The secret is shown once.
    pub async fn subscribe(
        &self,
        db: &Db,
        caller: &Principal,
        app_id: Option<i64>,
        url: &str,
        kinds: Vec<EventType>,
    ) -> AppResult<Subscribed> {
        let (app, scopes) = managed_app(caller, app_id)?;
        let mut kinds = kinds;
        kinds.sort_by_key(|kind| kind.as_str());
        kinds.dedup();
        if kinds.is_empty() {
            return Err(rejected(
                "events",
                RejectionCode::Invalid,
                "name at least one kind of event",
            ));
        }
        if let Some(kind) = kinds.iter().find(|kind| !scopes.has(kind.scope())) {
            return Err(rejected(
                "events",
                RejectionCode::Invalid,
                format!(
                    "{} needs the {} scope",
                    kind.as_str(),
                    kind.scope().as_str()
                ),
            ));
        }
        let url = self.check_destination(url).await?;
        let secret = SecretToken::generate(SECRET_PREFIX).expose().to_owned();
        let (stored_secret, kinds) = (secret.clone(), kinds_text(&kinds));
        let subscription = db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    if !crate::db::models::partner::lock_app(conn, app)? {
                        return Err(rejected("appId", RejectionCode::NotFound, "no such app"));
                    }
                    if webhook::count_of_app(conn, app)? >= MAX_SUBSCRIPTIONS_PER_APP {
                        return Err(rejected(
                            "appId",
                            RejectionCode::LimitReached,
                            format!("an app has at most {MAX_SUBSCRIPTIONS_PER_APP} subscriptions"),
                        ));
                    }
                    let at = now();
                    let last_position = event::last_position(conn)?;
                    let id = webhook::insert(
                        conn,
                        &NewSubscription {
                            app_id: app,
                            url: &url,
                            event_types: &kinds,
                            scopes: &scopes.to_string(),
                            secret: &stored_secret,
                            status: SubscriptionStatus::Active,
                            last_position,
                            created_at: at,
                            updated_at: at,
                        },
                    )?;
                    webhook::by_ids(conn, &[id])?
                        .pop()
                        .ok_or_else(|| AppError::internal(anyhow::anyhow!("subscription vanished")))
                })
            })
            .await?;
        Ok(Subscribed {
            subscription,
            secret,
        })
    }

    /// The subscription `id`, if `caller` manages it.
    async fn managed(db: &Db, caller: &Principal, id: i64) -> AppResult<Subscription> {
        let found = db
            .run(move |conn| Ok(webhook::by_ids(conn, &[id])?.pop()))
            .await?;
        found
            .filter(|s| may_manage(caller, s))
            .ok_or_else(|| rejected("id", RejectionCode::NotFound, "no such subscription"))
    }

    /// Resumes a paused subscription: what happened meanwhile is delivered.
    pub async fn resume(db: &Db, caller: &Principal, id: i64) -> AppResult<Subscription> {
        Self::managed(db, caller, id).await?;
        db.run(move |conn| {
            webhook::set_status(conn, id, SubscriptionStatus::Active, now())?;
            webhook::by_ids(conn, &[id])?
                .pop()
                .ok_or_else(|| rejected("id", RejectionCode::NotFound, "no such subscription"))
        })
        .await
    }

    /// Deletes a subscription and its delivery log.
    pub async fn unsubscribe(db: &Db, caller: &Principal, id: i64) -> AppResult<()> {
        Self::managed(db, caller, id).await?;
        db.run(move |conn| Ok(webhook::delete(conn, id)?)).await?;
        Ok(())
    }

    /// Sends a delivery again (now, with a fresh count of tries), whatever became of it.
    pub async fn retry(db: &Db, caller: &Principal, delivery_id: i64) -> AppResult<Delivery> {
        let delivery = db
            .run(move |conn| Ok(webhook::delivery(conn, delivery_id)?))
            .await?
            .ok_or_else(|| rejected("id", RejectionCode::NotFound, "no such delivery"))?;
        Self::managed(db, caller, delivery.subscription_id)
            .await
            .map_err(|_| rejected("id", RejectionCode::NotFound, "no such delivery"))?;
        db.run(move |conn| {
            webhook::retry(conn, delivery_id, now())?;
            webhook::delivery(conn, delivery_id)?
                .ok_or_else(|| rejected("id", RejectionCode::NotFound, "no such delivery"))
        })
        .await
    }

    /// The subscriptions `caller` manages: an admin's of every app (or of `app_id`), a
    /// partner's of its own app. Newest first, at most `limit`.
    pub async fn list(
        db: &Db,
        caller: &Principal,
        app_id: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<Subscription>> {
        let app = match caller {
            Principal::Partner(_) => Some(managed_app(caller, app_id)?.0),
            _ if caller.has_role(Role::Admin) => app_id,
            _ => return Err(AppError::Forbidden),
        };
        db.run(move |conn| Ok(webhook::of_app(conn, app, limit)?))
            .await
    }

    /// The delivery log of a subscription, newest first, with each delivery's attempts: two
    /// statements after the access check.
    pub async fn deliveries(
        db: &Db,
        caller: &Principal,
        subscription: i64,
        before: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<DeliveryWithAttempts>> {
        Self::managed(db, caller, subscription).await?;
        db.run(move |conn| {
            let deliveries = webhook::deliveries_of(conn, subscription, before, limit)?;
            let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
            let mut attempts = webhook::attempts_of(conn, &ids)?;
            Ok(deliveries
                .into_iter()
                .map(|delivery| {
                    let (mine, rest) = attempts
                        .drain(..)
                        .partition(|a: &Attempt| a.delivery_id == delivery.id);
                    attempts = rest;
                    (delivery, mine)
                })
                .collect())
        })
        .await
    }

    /// One fan-out round: each active subscription behind the log (claimed by this instance)
    /// gets a delivery for each new event of its kinds. How many deliveries were made.
    pub async fn fan_out(&self, db: &Db) -> AppResult<usize> {
        db.run(|conn| {
            // Most polls find nothing: look before taking the write lock.
            let last = event::last_position(conn)?;
            if !webhook::any_behind(conn, last)? {
                return Ok(0);
            }
            write_transaction(conn, |conn| {
                let last = event::last_position(conn)?;
                let mut made = 0;
                for subscription in webhook::claim_behind(conn, last, FAN_OUT_SUBSCRIPTIONS)? {
                    let kinds: Vec<&'static str> =
                        kinds_of(&subscription).iter().map(|k| k.as_str()).collect();
                    let events = event::window(
                        conn,
                        Some(subscription.last_position),
                        Some(last + 1),
                        &kinds,
                        FAN_OUT_EVENTS,
                        false,
                    )?;
                    let reached = if events.len() < FAN_OUT_EVENTS as usize {
                        last
                    } else {
                        events.last().map_or(last, |e| e.id)
                    };
                    let scopes = Scopes::parse(&subscription.scopes).unwrap_or_default();
                    let at = now();
                    let deliveries: Vec<NewDelivery> = events
                        .into_iter()
                        .filter_map(|row| delivery_of(&subscription, scopes, row, at))
                        .collect();
                    made += deliveries.len();
                    webhook::insert_deliveries(conn, &deliveries)?;
                    webhook::advance(conn, subscription.id, reached)?;
                }
                Ok(made)
            })
        })
        .await
    }

    /// One send round: claims due deliveries, posts them at once, records each outcome. How
    /// many were sent.
    pub async fn send_due(&self, db: &Db) -> AppResult<usize> {
        let lease = later(self.settings.timeout + Duration::from_secs(30));
        let due = db
            .run(move |conn| {
                if !webhook::any_due(conn, now())? {
                    return Ok(Vec::new());
                }
                write_transaction(conn, |conn| {
                    Ok(webhook::claim_due(conn, now(), lease, SEND_BATCH)?)
                })
            })
            .await?;
        let count = due.len();
        let claim = Claim {
            deliveries: due.iter().map(|(delivery, _)| delivery.id).collect(),
            lease_until: lease,
        };
        self.lock_claimed().push(claim.clone());
        let outcomes = join_all(
            due.into_iter()
                .map(|(delivery, subscription)| self.send(delivery, subscription)),
        )
        .await;
        let first_retry = self.settings.first_retry;
        let attempts = db
            .run(move |conn| {
            write_transaction(conn, |conn| {
                let mut recorded = Vec::with_capacity(outcomes.len());
                for (delivery, subscription, outcome) in &outcomes {
                    let attempts = delivery.attempts + 1;
                    let (status, next) = if outcome.delivered() {
                        (DeliveryStatus::Delivered, now())
                    } else {
                        match retry_after(attempts, first_retry, rand::random::<f64>()) {
                            Some(wait) => (DeliveryStatus::Pending, later(wait)),
                            None => (DeliveryStatus::Dead, now()),
                        }
                    };
                    webhook::record_attempt(
                        conn,
                        &NewAttempt {
                            delivery_id: delivery.id,
                            status_code: outcome.status_code,
                            error: &outcome.error,
                            latency_ms: outcome.latency_ms,
                            attempted_at: outcome.at,
                        },
                        status,
                        next,
                    )?;
                    recorded.push(match status {
                        DeliveryStatus::Delivered => WebhookAttempt::Delivered,
                        DeliveryStatus::Dead => WebhookAttempt::Dead,
                        DeliveryStatus::Pending => WebhookAttempt::Retry,
                    });
                    if status == DeliveryStatus::Dead {
                        tracing::warn!(
                            subscription = subscription.id,
                            delivery = delivery.id,
                            "a webhook delivery failed {MAX_ATTEMPTS} times: subscription paused"
                        );
                        webhook::set_status(
                            conn,
                            subscription.id,
                            SubscriptionStatus::Paused,
                            now(),
                        )?;
                    }
                }
                Ok(recorded)
            })
        })
        .await;
        // Recorded, or left to the lease if recording failed.
        self.lock_claimed().retain(|held| *held != claim);
        let attempts = attempts?;
        // Counted once recorded: an attempt whose outcome was not written is tried again.
        for attempt in attempts {
            self.settings.metrics.webhook_attempt(attempt);
        }
        Ok(count)
    }

    fn lock_claimed(&self) -> MutexGuard<'_, Vec<Claim>> {
        self.claimed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives the deliveries this instance claimed and has not recorded an attempt at back to
    /// every instance (due now, instead of when their lease ends): for a server that stops with
    /// sends still under way. A send that does finish afterwards may then be delivered twice,
    /// which deliveries allow (at least once; partners deduplicate by event id). How many went
    /// back.
    pub async fn hand_back(&self, db: &Db) -> AppResult<usize> {
        let claims = std::mem::take(&mut *self.lock_claimed());
        if claims.is_empty() {
            return Ok(0);
        }
        db.run(move |conn| {
            write_transaction(conn, |conn| {
                let mut released = 0;
                for claim in &claims {
                    released +=
                        webhook::release(conn, &claim.deliveries, claim.lease_until, now())?;
                }
                Ok(released)
            })
        })
        .await
    }

    /// Posts one delivery, signed now.
    async fn send(
        &self,
        delivery: Delivery,
        subscription: Subscription,
    ) -> (Delivery, Subscription, Outcome) {
        let started = Instant::now();
        let at = now();
        let timestamp = Utc::now().timestamp();
        let signed = signature(&subscription.secret, delivery.body.as_bytes(), timestamp);
        let result = self.post(&subscription.url, &delivery, signed).await;
        let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let outcome = match result {
            Ok(status) if (200..300).contains(&status) => Outcome {
                status_code: Some(i32::from(status)),
                error: String::new(),
                latency_ms,
                at,
            },
            Ok(status) => Outcome {
                status_code: Some(i32::from(status)),
                error: format!("the receiver answered {status}"),
                latency_ms,
                at,
            },
            Err(error) => Outcome {
                status_code: None,
                error,
                latency_ms,
                at,
            },
        };
        (delivery, subscription, outcome)
    }

    async fn post(&self, url: &str, delivery: &Delivery, signed: String) -> Result<u16, String> {
        let url = check_url(url)?;
        // A literal address is not resolved, so the resolver cannot refuse it: check it here.
        if let Some(Ok(ip)) = url
            .host_str()
            .map(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>())
            && !self.settings.policy.allows(ip)
        {
            return Err("the address is not one webhooks may be sent to".to_owned());
        }
        let response = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Bazaar-Event-Id", global_id("Event", delivery.event_id))
            .header("Bazaar-Event-Type", &delivery.event_type)
            .header("Bazaar-Delivery-Id", delivery.id.to_string())
            .header("Bazaar-Signature", signed)
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(response.status().as_u16())
    }
}

/// A send error as the delivery log shows it (no internals).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the receiver did not answer in time".to_owned()
    } else if error.is_connect() {
        "could not connect to the receiver".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

/// What one attempt came to.
struct Outcome {
    status_code: Option<i32>,
    error: String,
    latency_ms: i32,
    at: NaiveDateTime,
}

impl Outcome {
    fn delivered(&self) -> bool {
        self.error.is_empty()
    }
}

/// The delivery of `row` to `subscription`: the body is the event as `events` gives it to the
/// subscription's scopes. `None` for a kind this version does not know.
fn delivery_of(
    subscription: &Subscription,
    scopes: Scopes,
    row: EventRow,
    at: NaiveDateTime,
) -> Option<NewDelivery> {
    let event = Event::read(row, scopes.has(Scope::ReadCustomers))?;
    let body = json!({
        "id": global_id("Event", event.position),
        "position": event.position,
        "type": event.kind.as_str(),
        "occurredAt": event.occurred_at.and_utc().to_rfc3339(),
        "subjectId": global_id(&event.subject_type, event.subject_id),
        "payload": event.payload,
    });
    Some(NewDelivery {
        subscription_id: subscription.id,
        event_id: event.position,
        event_type: event.kind,
        body: body.to_string(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: at,
        created_at: at,
        updated_at: at,
    })
}

/// Runs fan-out and sending as `background` work, every `poll_every`, until the server stops
/// (a round under way finishes; see [`Webhooks::hand_back`] for one that does not in time).
pub fn spawn(background: &Background, webhooks: Arc<Webhooks>, db: Db) {
    let stopping = background.clone();
    jobs::every(background, webhooks.settings.poll_every, move || {
        let (webhooks, db, stopping) = (webhooks.clone(), db.clone(), stopping.clone());
        async move {
            if let Err(error) = webhooks.fan_out(&db).await {
                tracing::warn!(?error, "webhook fan-out failed");
            }
            // Keep sending while full batches come back, unless the server is stopping.
            while !stopping.is_stopping() {
                match webhooks.send_due(&db).await {
                    Ok(sent) if sent == SEND_BATCH as usize => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(?error, "webhook sending failed");
                        break;
                    }
                }
            }
        }
    });
}
