//! Notices of changes the rest of the server must hear of (the bus), collected by the model
//! functions that make them on the thread that runs the database call, and handed to the
//! [`Db`](super::Db)'s hook once the call is over: this instance hears its own changes at once,
//! on either backend. They are the payloads PostgreSQL's bus triggers send to every instance
//! (the `bus` migration): `events:<last position>`, `session:<id>`, `account:<id>`,
//! `key:<id>`, `categories`. A notice of work that rolled back is harmless: hearers re-read.

use std::cell::RefCell;

thread_local! {
    static PENDING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Records a notice for the end of the current database call.
pub fn push(payload: String) {
    PENDING.with(|pending| pending.borrow_mut().push(payload));
}

/// The notices recorded on this thread since the last call, and forgets them.
pub(super) fn take() -> Vec<String> {
    PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut()))
}
