//! The bus: how this instance, and every instance on the same PostgreSQL, hears that something
//! changed — events written to the log, a session ended, an account's role or password changed,
//! an API key revoked, the category tree changed. On PostgreSQL, triggers notify the channel
//! `bazaar` as the change commits (the `bus` migration) and each instance's listener thread,
//! on a connection of its own, hears every instance's changes; this instance's own event writes
//! are also told at once, in-process. On SQLite (one instance) the bus is in-process only.

use std::sync::{Arc, PoisonError, RwLock};
#[cfg(feature = "postgres")]
use std::sync::{Mutex, Weak};
#[cfg(feature = "postgres")]
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

#[cfg(feature = "postgres")]
use crate::db::listener::Listener;
use crate::domain::ids::AccountId;

/// The channel the triggers notify.
pub const CHANNEL: &str = "bazaar";

/// The payload of [`Bus::sync`]'s marker.
#[cfg(feature = "postgres")]
const SYNC: &str = "sync";

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
    /// The listening connection while it is up (PostgreSQL): the listener thread waits on it,
    /// and [`Bus::catch_up`] reads what has already arrived.
    #[cfg(feature = "postgres")]
    listener: Mutex<Option<Listener>>,
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
            #[cfg(feature = "postgres")]
            listener: Mutex::default(),
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

    /// Delivers every notification that has reached this instance but not yet been read, so
    /// that a cache about to answer from memory has heard every change committed before the
    /// request came in (PostgreSQL signals the listeners as a change commits, before the writer
    /// hears back). A non-blocking read of the listening socket; nothing to do on SQLite.
    pub fn catch_up(&self) {
        #[cfg(feature = "postgres")]
        {
            let mut listener = self.lock_listener();
            if let Some(connection) = listener.as_mut() {
                // A failure is the listener thread's to notice and repair.
                if let Ok(payloads) = connection.take() {
                    self.deliver_payloads(payloads);
                }
            }
        }
    }

    /// Sends a marker through PostgreSQL on the listening connection and delivers everything
    /// up to it: when this returns, every change committed anywhere before the call has been
    /// heard here, and PostgreSQL has signalled every other instance's listener of it. A round
    /// trip outside the pool (blocking); nothing to do on SQLite.
    pub fn sync(&self) {
        #[cfg(feature = "postgres")]
        {
            let mut listener = self.lock_listener();
            if let Some(connection) = listener.as_mut() {
                let marked = connection.execute(&format!("NOTIFY {CHANNEL}, '{SYNC}'"));
                if let (Ok(()), Ok(payloads)) = (marked, connection.take()) {
                    self.deliver_payloads(payloads);
                }
            }
        }
    }

    #[cfg(feature = "postgres")]
    fn deliver_payloads(&self, payloads: Vec<String>) {
        for payload in payloads.into_iter().filter(|p| p != SYNC) {
            match Signal::parse(&payload) {
                Some(signal) => self.deliver(signal),
                None => tracing::warn!(%payload, "an unknown notification on the bus"),
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
/// The longest pause between two attempts to reconnect.
#[cfg(feature = "postgres")]
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Listens on PostgreSQL at `url` on a thread of its own for as long as `bus` lives,
/// reconnecting by itself. Each (re)connection delivers [`Signal::Resync`].
#[cfg(feature = "postgres")]
pub fn spawn_listener(bus: &Arc<Bus>, url: String) -> std::io::Result<()> {
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
        let connection = match Listener::connect(url, CHANNEL) {
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
        *live.lock_listener() = Some(connection);
        live.deliver(Signal::Resync);
        drop(live);
        let Some(lost) = serve(bus) else { return };
        tracing::error!(error = %lost, "the bus lost its PostgreSQL connection; reconnecting");
        // Failed attempts to reconnect are not logged again, only the success.
        failing = true;
    }
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
            let payloads = connection.take()?;
            if checked_at.elapsed() >= CHECK_EVERY {
                connection.execute("SELECT 1")?;
                checked_at = Instant::now();
            }
            Ok(payloads)
        });
        match result {
            Ok(payloads) => live.deliver_payloads(payloads),
            Err(error) => {
                *listener = None;
                return Some(error);
            }
        }
    }
}

#[cfg(feature = "postgres")]
impl Bus {
    fn lock_listener(&self) -> std::sync::MutexGuard<'_, Option<Listener>> {
        self.listener.lock().unwrap_or_else(PoisonError::into_inner)
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
}
