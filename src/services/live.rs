//! Live events for subscriptions: one reader per instance follows the event log as the bus says
//! it grows and fans every new event out to this instance's subscriptions (it reads nothing while
//! there are none); a subscription that starts from a cursor, falls behind, or finds a gap in
//! what it is handed reads what it missed from the log, so it sees every event once, in commit
//! order (committed positions have no holes: see `db::models::event::append`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::Notify;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::db::models::event::{self, EventRow};
use crate::db::{Db, DbConnection};
use crate::domain::events::EventType;
use crate::error::AppResult;
use crate::services::bus::{Bus, Signal};

/// New events this instance has read from the log, for its subscriptions.
pub struct LiveEvents {
    db: Db,
    fanout: broadcast::Sender<Arc<EventRow>>,
    /// The last position the reader has handed out; `None` while there is nobody to read for
    /// (the first subscription sets it to the log's position when it starts).
    position: Mutex<Option<i64>>,
    /// Wakes the reader when a subscription starts.
    wake: Notify,
}

/// Events a subscription may fall behind by before it reads the log instead.
const FANOUT_BACKLOG: usize = 4096;
/// Events read per statement.
const PAGE: i64 = 500;
/// How often the reader looks at the log even when the bus said nothing.
const LOOK_EVERY: Duration = Duration::from_secs(10);

impl LiveEvents {
    /// Starts the reader (on the current actix runtime): while there are subscriptions, it
    /// reads new events whenever the bus says the log grew; it stops when the bus is gone.
    pub fn start(db: Db, bus: &Bus) -> Arc<Self> {
        let live = Arc::new(Self {
            db: db.detached(),
            fanout: broadcast::channel(FANOUT_BACKLOG).0,
            position: Mutex::new(None),
            wake: Notify::new(),
        });
        let mut signals = bus.subscribe();
        let reader = live.clone();
        // Ends when the bus is gone (the server stopped).
        actix_web::rt::spawn(async move {
            let live = reader;
            loop {
                let last = *live.lock_position();
                tokio::select! {
                    signal = signals.recv() => match signal {
                        Ok(Signal::EventsWritten(position))
                            if last.is_some_and(|last| position <= last) => continue,
                        Ok(Signal::EventsWritten(_) | Signal::Resync)
                        | Err(RecvError::Lagged(_)) => {}
                        Ok(_) => continue,
                        Err(RecvError::Closed) => return,
                    },
                    () = live.wake.notified() => {}
                    () = actix_web::rt::time::sleep(LOOK_EVERY) => {}
                }
                if live.fanout.receiver_count() == 0 {
                    // Subscriptions that come later start from the log's position then.
                    *live.lock_position() = None;
                    continue;
                }
                let Some(last) = *live.lock_position() else {
                    continue;
                };
                match read_new(&live.db, &live.fanout, last).await {
                    Ok(now) => *live.lock_position() = Some(now),
                    Err(error) => tracing::warn!(?error, "live events: cannot read the log"),
                }
            }
        });
        live
    }

    /// Every event after position `after` (`None`: from now on), oldest first: read from the
    /// log up to the present, then as they are written. A subscription that falls behind, or
    /// is handed an event that does not follow its last one, reads the log again from its last
    /// event; none is missed, none is seen twice.
    pub async fn follow(
        self: &Arc<Self>,
        after: Option<i64>,
    ) -> AppResult<impl Stream<Item = AppResult<Arc<EventRow>>> + Send + use<>> {
        let events = self.fanout.subscribe();
        let now = self.db.run(durable_last_position).await?;
        self.lock_position().get_or_insert(now);
        self.wake.notify_one();
        let follower = Follower {
            db: self.db.clone(),
            events,
            last: after.unwrap_or(now),
            reading_log: after.is_some(),
            backlog: VecDeque::new(),
            failed: false,
        };
        Ok(futures_util::stream::unfold(
            follower,
            |mut follower| async move {
                let next = follower.next().await?;
                Some((next, follower))
            },
        ))
    }

    fn lock_position(&self) -> std::sync::MutexGuard<'_, Option<i64>> {
        self.position.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads the events after `last` and hands them to the subscriptions; where the reader stands
/// afterwards. Far behind (a full page), it jumps to the log's position instead: subscriptions
/// read the gap from the log themselves.
async fn read_new(db: &Db, fanout: &broadcast::Sender<Arc<EventRow>>, last: i64) -> AppResult<i64> {
    let rows = read_after(db, last).await?;
    if rows.len() == PAGE as usize {
        return db.run(durable_last_position).await;
    }
    let mut now = last;
    for row in rows {
        now = row.id;
        // No subscriber is not an error.
        let _ = fanout.send(Arc::new(row));
    }
    Ok(now)
}

/// One subscription's place in the log.
struct Follower {
    db: Db,
    events: broadcast::Receiver<Arc<EventRow>>,
    /// The last event handed out (0: none yet).
    last: i64,
    /// Reading the log until it has caught up with the fan-out.
    reading_log: bool,
    backlog: VecDeque<Arc<EventRow>>,
    failed: bool,
}

impl Follower {
    async fn next(&mut self) -> Option<AppResult<Arc<EventRow>>> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(row) = self.backlog.pop_front() {
                self.last = row.id;
                return Some(Ok(row));
            }
            if self.reading_log {
                match read_after(&self.db, self.last).await {
                    Ok(rows) => {
                        self.reading_log = rows.len() == PAGE as usize;
                        self.backlog.extend(rows.into_iter().map(Arc::new));
                        continue;
                    }
                    Err(error) => {
                        self.failed = true;
                        return Some(Err(error));
                    }
                }
            }
            match self.events.recv().await {
                Ok(row) if row.id <= self.last => {}
                Ok(row) if row.id == self.last + 1 => {
                    self.last = row.id;
                    return Some(Ok(row));
                }
                // A gap (the reader jumped, or started after this subscription), or fell behind.
                Ok(_) | Err(RecvError::Lagged(_)) => self.reading_log = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Up to [`PAGE`] events after `after`, oldest first, once they are on disk.
async fn read_after(db: &Db, after: i64) -> AppResult<Vec<EventRow>> {
    let kinds: Vec<&'static str> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
    db.run(move |conn| {
        let rows = event::window(conn, Some(after), None, &kinds, PAGE, false)?;
        event::wait_until_durable(conn)?;
        Ok(rows)
    })
    .await
}

/// The log's position, once it is on disk.
fn durable_last_position(conn: &mut DbConnection) -> AppResult<i64> {
    let position = event::last_position(conn)?;
    event::wait_until_durable(conn)?;
    Ok(position)
}
