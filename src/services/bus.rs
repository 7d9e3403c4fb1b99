//! The bus: how this instance, and every instance on the same PostgreSQL, hears that something
//! changed — events written to the log, a session ended, an account's role or password changed,
//! an API key revoked, the category tree changed. On PostgreSQL, triggers notify the channel
//! `bazaar` as the change commits (the `bus` migration) and each instance's listener thread,
//! on a connection of its own, hears every instance's changes; this instance's own event writes
//! are also told at once, in-process. On SQLite (one instance) the bus is in-process only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
#[cfg(feature = "postgres")]
use std::time::{Duration, Instant};
#[cfg(feature = "postgres")]
use std::{
    collections::HashMap,
    sync::{Condvar, Mutex, Weak},
};

use tokio::sync::broadcast;

#[cfg(feature = "postgres")]
use crate::db::listener::Listener;
use crate::domain::ids::AccountId;

/// The channel the triggers notify.
pub const CHANNEL: &str = "bazaar";

/// Something that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The event log holds events up to this position.
    EventsWritten(i64),
    /// A session ended (logout, revocation).
    SessionEnded(i64),
    /// An account's role or password changed, or it was removed: its sessions must be looked
    /// up again.
    AccountChanged(AccountId),
    /// An API key was revoked or removed.
    KeyRevoked(i64),
    /// A category was created, changed, moved or removed.
    CategoriesChanged,
    /// The listener (re)connected and may have missed notifications: every cache drops
    /// everything and every reader of the log catches up.
    Resync,
}

impl Signal {
    /// Whether the change may end someone's authority (a session, a role, a key) or changes
    /// what every instance must show at once (the category tree).
    pub fn changes_authority(self) -> bool {
        matches!(
            self,
            Self::SessionEnded(_)
                | Self::AccountChanged(_)
                | Self::KeyRevoked(_)
                | Self::CategoriesChanged
        )
    }

    /// The signal a notification's payload carries (`events:42`, `session:7`, `account:3`,
    /// `key:5`, `categories`); `None` for anything else.
    pub fn parse(payload: &str) -> Option<Self> {
        let (kind, argument) = match payload.split_once(':') {
            Some((kind, argument)) => (kind, Some(argument)),
            None => (payload, None),
        };
        let id = || argument?.parse::<i64>().ok();
        Some(match kind {
            "events" => Self::EventsWritten(id()?),
            "session" => Self::SessionEnded(id()?),
            "account" => Self::AccountChanged(AccountId(id()?)),
            "key" => Self::KeyRevoked(id()?),
            "categories" if argument.is_none() => Self::CategoriesChanged,
            _ => return None,
        })
    }
}

/// What a part of the server does on a signal, at once, on the thread that delivers it (keep it
/// short: drop a cache entry, wake a task).
type Handler = Box<dyn Fn(Signal) + Send + Sync>;

/// Signals in, to handlers and subscribers out.
pub struct Bus {
    handlers: RwLock<Vec<Handler>>,
    subscribers: broadcast::Sender<Signal>,
    /// Bumped by each change made here that ends someone's authority or changes the category
    /// tree: a request that made one waits for every instance to hear it before it answers.
    authority_changes: AtomicU64,
    /// The listening connection while it is up (PostgreSQL): the listener thread waits on it,
    /// and [`Bus::catch_up`] reads what has already arrived.
    #[cfg(feature = "postgres")]
    listener: Mutex<Option<Listener>>,
    /// Whether other instances may share the database (a listener was started), so that this
    /// instance hears their changes only through the listening connection.
    #[cfg(feature = "postgres")]
    shared: std::sync::atomic::AtomicBool,
    /// Acknowledgements counted per [`Bus::settle_everywhere`] under way.
    #[cfg(feature = "postgres")]
    acks: Mutex<HashMap<u64, usize>>,
    #[cfg(feature = "postgres")]
    acked: Condvar,
}

/// Signals a slow subscriber may fall behind by before it is told it lagged (and catches up
/// from the log).
const SUBSCRIBER_BACKLOG: usize = 1024;

impl Bus {
    /// A bus with nobody listening yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            handlers: RwLock::default(),
            subscribers: broadcast::channel(SUBSCRIBER_BACKLOG).0,
            authority_changes: AtomicU64::new(0),
            #[cfg(feature = "postgres")]
            listener: Mutex::default(),
            #[cfg(feature = "postgres")]
            shared: std::sync::atomic::AtomicBool::new(false),
            #[cfg(feature = "postgres")]
            acks: Mutex::default(),
            #[cfg(feature = "postgres")]
            acked: Condvar::new(),
        })
    }

    /// Calls `handler` on every signal from now on.
    pub fn on(&self, handler: impl Fn(Signal) + Send + Sync + 'static) {
        self.handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(handler));
    }

    /// Every signal from now on, for async consumers.
    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.subscribers.subscribe()
    }

    /// Hands `signal` to every handler, then to every subscriber.
    pub fn deliver(&self, signal: Signal) {
        for handler in self
            .handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            handler(signal);
        }
        // No subscriber is not an error.
        let _ = self.subscribers.send(signal);
    }

    /// Delivers this instance's own notices (see `db::notices`) as soon as the database call
    /// that made them is over.
    pub fn deliver_local(&self, notices: Vec<String>) {
        for notice in notices {
            match Signal::parse(&notice) {
                Some(signal) => {
                    if signal.changes_authority() {
                        self.authority_changes.fetch_add(1, Ordering::Relaxed);
                    }
                    self.deliver(signal);
                }
                None => tracing::warn!(%notice, "an unknown notice"),
            }
        }
    }

    /// Whether this instance hears every other instance's changes now: always with one
    /// instance; with several, while its listening connection is up.
    pub fn hears_everyone(&self) -> bool {
        #[cfg(feature = "postgres")]
        if self.shared.load(Ordering::Relaxed) {
            return self.lock_listener().is_some();
        }
        true
    }

    /// How many changes of authority this instance has made so far (see
    /// [`settle_everywhere`](Self::settle_everywhere)).
    pub fn authority_changes(&self) -> u64 {
        self.authority_changes.load(Ordering::Relaxed)
    }

    /// Delivers every notification that has reached this instance but not yet been read, so
    /// that a cache about to answer from memory has heard every change whose notification
    /// arrived before the request. A non-blocking read of the listening socket; nothing to do
    /// on SQLite. Whether this instance has heard every other instance's changes: always with
    /// one instance; with several, only while the listening connection is up and reads cleanly
    /// (a cache must not answer from memory while changes could be missed).
    pub fn catch_up(&self) -> bool {
        #[cfg(feature = "postgres")]
        if self.shared.load(Ordering::Relaxed) {
            let mut listener = self.lock_listener();
            // A failure is the listener thread's to notice and repair.
            return listener
                .as_mut()
                .is_some_and(|connection| self.pump(connection).is_ok());
        }
        true
    }

    /// Waits until every instance listening on this database has heard every change committed
    /// before the call (at most [`SETTLE_WITHIN`]): each instance answers an acknowledgement
    /// request once it has delivered everything notified before it, in order. So a logout or a
    /// demotion holds on every instance before the caller is told it is done. Blocking (a
    /// round trip and the answers); nothing to wait for on SQLite (one instance). Whether every
    /// instance answered in time.
    pub fn settle_everywhere(&self) -> bool {
        #[cfg(feature = "postgres")]
        {
            let nonce: u64 = rand::random();
            self.lock_acks().insert(nonce, 0);
            let expected = self.ask_for_acknowledgements(nonce);
            let deadline = Instant::now() + SETTLE_WITHIN;
            let mut acks = self.lock_acks();
            let settled = loop {
                let Some(expected) = expected else {
                    break false;
                };
                if acks
                    .get(&nonce)
                    .is_some_and(|answered| *answered >= expected)
                {
                    break true;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    tracing::warn!(expected, "not every instance acknowledged a change in time");
                    break false;
                }
                acks = self
                    .acked
                    .wait_timeout(acks, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            };
            acks.remove(&nonce);
            settled
        }
        #[cfg(not(feature = "postgres"))]
        {
            true
        }
    }
}

/// The longest a request waits for the other instances to acknowledge its change.
#[cfg(feature = "postgres")]
const SETTLE_WITHIN: Duration = Duration::from_secs(1);
/// Payload prefixes of the acknowledgement protocol: a request, and an instance's answer.
#[cfg(feature = "postgres")]
const ACK_REQUEST: &str = "ack?";
#[cfg(feature = "postgres")]
const ACK_ANSWER: &str = "ack!";
/// The `application_name` of every listening connection: how an instance counts the others.
#[cfg(feature = "postgres")]
const LISTENER_NAME: &str = "bazaar-bus";

#[cfg(feature = "postgres")]
impl Bus {
    fn lock_listener(&self) -> std::sync::MutexGuard<'_, Option<Listener>> {
        self.listener.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_acks(&self) -> std::sync::MutexGuard<'_, HashMap<u64, usize>> {
        self.acks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the listening instances and asks each for an acknowledgement of `nonce`; how many
    /// answers to expect (`None`: no listening connection, or it failed).
    fn ask_for_acknowledgements(&self, nonce: u64) -> Option<usize> {
        let mut listener = self.lock_listener();
        let connection = listener.as_mut()?;
        let listeners = connection
            .query(&format!(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = '{LISTENER_NAME}' AND datname = current_database()"
            ))
            .ok()??
            .parse::<usize>()
            .ok()?;
        connection
            .execute(&format!("NOTIFY {CHANNEL}, '{ACK_REQUEST}{nonce}'"))
            .ok()?;
        // This instance's own request is already back: answer it with the rest.
        self.pump(connection).ok()?;
        Some(listeners.max(1))
    }

    /// Reads and handles every notification that has arrived, until none is left (answering
    /// an acknowledgement request sends a notification, which may bring more).
    fn pump(&self, connection: &mut Listener) -> anyhow::Result<()> {
        loop {
            let payloads = connection.take()?;
            if payloads.is_empty() {
                return Ok(());
            }
            for payload in payloads {
                if let Some(nonce) = payload.strip_prefix(ACK_REQUEST) {
                    // Everything notified before the request has been delivered: answer it.
                    if let Ok(nonce) = nonce.parse::<u64>() {
                        connection.execute(&format!("NOTIFY {CHANNEL}, '{ACK_ANSWER}{nonce}'"))?;
                    }
                } else if let Some(nonce) = payload.strip_prefix(ACK_ANSWER) {
                    let mut acks = self.lock_acks();
                    if let Some(answered) = nonce.parse().ok().and_then(|n: u64| acks.get_mut(&n)) {
                        *answered += 1;
                        self.acked.notify_all();
                    }
                } else {
                    match Signal::parse(&payload) {
                        Some(signal) => self.deliver(signal),
                        None => tracing::warn!(%payload, "an unknown notification on the bus"),
                    }
                }
            }
        }
    }
}

/// How long the listener waits on its socket before checking that the bus is still wanted.
#[cfg(feature = "postgres")]
const WAIT_SLICE: Duration = Duration::from_millis(500);
/// How often an idle listener checks its connection with a round trip.
#[cfg(feature = "postgres")]
const CHECK_EVERY: Duration = Duration::from_secs(30);
/// The longest pause between two attempts to reconnect (the instance is not ready meanwhile).
#[cfg(feature = "postgres")]
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Listens on PostgreSQL at `url` on a thread of its own for as long as `bus` lives,
/// reconnecting by itself. Each (re)connection delivers [`Signal::Resync`].
#[cfg(feature = "postgres")]
pub fn spawn_listener(bus: &Arc<Bus>, url: String) -> std::io::Result<()> {
    bus.shared.store(true, Ordering::Relaxed);
    let bus = Arc::downgrade(bus);
    std::thread::Builder::new()
        .name("bazaar-bus".into())
        .spawn(move || listen(&bus, &url))
        .map(drop)
}

#[cfg(feature = "postgres")]
fn listen(bus: &Weak<Bus>, url: &str) {
    let mut backoff = Duration::from_millis(100);
    let mut failing = false;
    while let Some(live) = bus.upgrade() {
        let connection = match Listener::connect(&named(url), CHANNEL) {
            Ok(connection) => connection,
            Err(error) => {
                if !failing {
                    tracing::error!(%error, "the bus cannot listen on PostgreSQL; retrying");
                    failing = true;
                }
                drop(live);
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if failing {
            tracing::info!("the bus listens on PostgreSQL again");
        }
        backoff = Duration::from_millis(100);
        // Everything is dropped before the connection counts as listening (readiness, caches
        // answering from memory): what was remembered before it listened cannot be trusted, and
        // what is remembered from now on is dropped by the notifications it now receives.
        live.deliver(Signal::Resync);
        *live.lock_listener() = Some(connection);
        drop(live);
        let Some(lost) = serve(bus) else { return };
        tracing::error!(error = %lost, "the bus lost its PostgreSQL connection; reconnecting");
        // Failed attempts to reconnect are not logged again, only the success.
        failing = true;
    }
}

/// `url` with the listener's `application_name`.
#[cfg(feature = "postgres")]
fn named(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={LISTENER_NAME}")
}

/// Delivers notifications until the connection fails (its error) or the bus is gone (`None`).
#[cfg(feature = "postgres")]
fn serve(bus: &Weak<Bus>) -> Option<anyhow::Error> {
    let mut checked_at = Instant::now();
    loop {
        let live = bus.upgrade()?;
        let socket = live.lock_listener().as_ref().map(Listener::socket);
        drop(live);
        let waited = match socket {
            Some(Ok(socket)) => Listener::wait_readable(socket, WAIT_SLICE),
            Some(Err(error)) => Err(error),
            None => Err(anyhow::anyhow!("the listening connection is gone")),
        };
        let live = bus.upgrade()?;
        let mut listener = live.lock_listener();
        let result = waited.and_then(|()| {
            let connection = listener.as_mut().expect("only this thread removes it");
            if checked_at.elapsed() >= CHECK_EVERY {
                connection.execute("SELECT 1")?;
                checked_at = Instant::now();
            }
            live.pump(connection)
        });
        if let Err(error) = result {
            *listener = None;
            return Some(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn reads_the_payloads_the_triggers_send() {
        assert_eq!(Signal::parse("events:42"), Some(Signal::EventsWritten(42)));
        assert_eq!(Signal::parse("session:7"), Some(Signal::SessionEnded(7)));
        assert_eq!(
            Signal::parse("account:3"),
            Some(Signal::AccountChanged(AccountId(3)))
        );
        assert_eq!(Signal::parse("key:5"), Some(Signal::KeyRevoked(5)));
        assert_eq!(Signal::parse("categories"), Some(Signal::CategoriesChanged));
        for unknown in [
            "",
            "events",
            "events:x",
            "categories:1",
            "other:1",
            "session:",
        ] {
            assert_eq!(Signal::parse(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn hands_each_signal_to_handlers_then_subscribers() {
        let bus = Bus::new();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = heard.clone();
        bus.on(move |signal| sink.lock().unwrap().push(signal));
        let mut subscriber = bus.subscribe();
        bus.deliver(Signal::SessionEnded(1));
        bus.deliver(Signal::CategoriesChanged);
        assert_eq!(
            *heard.lock().unwrap(),
            [Signal::SessionEnded(1), Signal::CategoriesChanged]
        );
        assert_eq!(subscriber.try_recv().unwrap(), Signal::SessionEnded(1));
        assert_eq!(subscriber.try_recv().unwrap(), Signal::CategoriesChanged);
    }

    #[test]
    fn one_instance_always_hears_everything() {
        let bus = Bus::new();
        assert!(bus.hears_everyone());
        assert!(bus.catch_up());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn a_shared_bus_without_its_listening_connection_hears_nothing() {
        let bus = Bus::new();
        // What `spawn_listener` marks before its thread first connects (or after it lost the
        // connection): other instances' changes may be missed, so no cache may answer.
        bus.shared.store(true, Ordering::Relaxed);
        assert!(!bus.hears_everyone());
        assert!(!bus.catch_up());
    }
}
