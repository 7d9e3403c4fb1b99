//! A PostgreSQL connection that only listens (`LISTEN`), outside the pool: it blocks on its
//! socket until notifications arrive and hands over their payloads. Written straight on libpq
//! (the library diesel's connection wraps), because diesel offers no blocking wait: its
//! `notifications_iter` only returns what has already arrived.

use std::ffi::{CStr, CString, c_void};
use std::os::fd::{BorrowedFd, RawFd};
use std::ptr::NonNull;
use std::time::Duration;

use anyhow::{anyhow, bail};
use pq_sys::{
    ConnStatusType, ExecStatusType, PGconn, PQclear, PQconnectdb, PQconsumeInput, PQerrorMessage,
    PQexec, PQfinish, PQfreemem, PQgetvalue, PQnotifies, PQntuples, PQresultStatus, PQsocket,
    PQstatus,
};
use rustix::event::{PollFd, PollFlags, Timespec};

/// One listening connection; closed when dropped.
pub struct Listener {
    conn: NonNull<PGconn>,
}

// SAFETY: a libpq connection may be used from any thread, one thread at a time; every method
// takes `&mut self` or `&self` on an owned, unshared value.
unsafe impl Send for Listener {}

impl Listener {
    /// Connects to `url` and listens on `channel` (a plain identifier).
    pub fn connect(url: &str, channel: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            channel
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "a channel name is a plain identifier"
        );
        let url = CString::new(url)?;
        // SAFETY: `url` is a valid C string; libpq returns a connection object (possibly in a
        // failed state) or null when out of memory.
        let conn = NonNull::new(unsafe { PQconnectdb(url.as_ptr()) })
            .ok_or_else(|| anyhow!("libpq could not allocate a connection"))?;
        let listener = Self { conn };
        // SAFETY: `conn` is a live connection object.
        if unsafe { PQstatus(conn.as_ptr()) } != ConnStatusType::CONNECTION_OK {
            bail!(listener.last_error());
        }
        listener.execute(&format!("LISTEN {channel}"))?;
        Ok(listener)
    }

    /// Runs one statement that returns nothing of interest (`LISTEN`, `NOTIFY`, `SELECT 1`).
    pub fn execute(&self, sql: &str) -> anyhow::Result<()> {
        self.query(sql).map(drop)
    }

    /// Runs one statement and returns the first column of its first row, as text (`None`
    /// when it returns no row).
    pub fn query(&self, sql: &str) -> anyhow::Result<Option<String>> {
        let sql = CString::new(sql)?;
        // SAFETY: live connection, valid C string; the result (possibly null) is cleared below.
        let result = unsafe { PQexec(self.conn.as_ptr(), sql.as_ptr()) };
        let ok = !result.is_null()
            && matches!(
                // SAFETY: `result` is not null.
                unsafe { PQresultStatus(result) },
                ExecStatusType::PGRES_COMMAND_OK | ExecStatusType::PGRES_TUPLES_OK
            );
        // SAFETY: `result` is not null when `ok`; the value is a NUL-terminated string owned
        // by the result, copied before the result is cleared.
        let value = (ok && unsafe { PQntuples(result) } > 0).then(|| {
            unsafe { CStr::from_ptr(PQgetvalue(result, 0, 0)) }
                .to_string_lossy()
                .into_owned()
        });
        // SAFETY: `PQclear` accepts null and any result of this connection.
        unsafe { PQclear(result) };
        if ok {
            Ok(value)
        } else {
            bail!(self.last_error())
        }
    }

    /// Waits up to `timeout` for the socket to have something to read (or to fail). Holds no
    /// lock of the caller's: [`take`](Self::take) reads it afterwards.
    pub fn wait_readable(socket: RawFd, timeout: Duration) -> anyhow::Result<()> {
        // SAFETY: the caller keeps the connection, and so the socket, open during the call.
        let socket = unsafe { BorrowedFd::borrow_raw(socket) };
        let mut fds = [PollFd::from_borrowed_fd(socket, PollFlags::IN)];
        let timeout = Timespec::try_from(timeout)?;
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(error) => bail!("waiting for notifications failed: {error}"),
        }
    }

    /// The connection's socket, to wait on.
    pub fn socket(&self) -> anyhow::Result<RawFd> {
        // SAFETY: live connection.
        let fd = unsafe { PQsocket(self.conn.as_ptr()) };
        if fd < 0 {
            bail!("the listening connection has no socket");
        }
        Ok(fd)
    }

    /// Reads what the socket holds, without blocking, and returns the payloads of the
    /// notifications received so far. An error means the connection is lost.
    pub fn take(&mut self) -> anyhow::Result<Vec<String>> {
        // SAFETY: live connection.
        if unsafe { PQconsumeInput(self.conn.as_ptr()) } == 0 {
            bail!(self.last_error());
        }
        let mut payloads = Vec::new();
        loop {
            // SAFETY: live connection; a non-null notification is ours to free.
            let notification = unsafe { PQnotifies(self.conn.as_ptr()) };
            if notification.is_null() {
                return Ok(payloads);
            }
            // SAFETY: libpq fills `extra` with a NUL-terminated payload (empty when none).
            let payload = unsafe { CStr::from_ptr((*notification).extra) };
            payloads.push(payload.to_string_lossy().into_owned());
            // SAFETY: freed once, with libpq's allocator.
            unsafe { PQfreemem(notification.cast::<c_void>()) };
        }
    }

    fn last_error(&self) -> String {
        // SAFETY: live connection; the message is a NUL-terminated string owned by it.
        let message = unsafe { CStr::from_ptr(PQerrorMessage(self.conn.as_ptr())) };
        let message = super::connection::one_line(&super::redact(&message.to_string_lossy()));
        if message.is_empty() {
            "the listening connection failed".to_owned()
        } else {
            message
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // SAFETY: finished once; `self.conn` is not used afterwards.
        unsafe { PQfinish(self.conn.as_ptr()) };
    }
}
