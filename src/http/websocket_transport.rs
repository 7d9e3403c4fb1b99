//! A WebSocket on the raw connection (TCP, or TLS over it) once the HTTP upgrade is answered:
//! frames read and written with actix-http's codec, and no buffer of ours held while the socket
//! is idle. An HTTP connection keeps an 8 KiB read and an 8 KiB write buffer for its whole life;
//! thousands of idle subscription sockets need neither, so bytes are read into a buffer on the
//! stack only when the connection has some, and a frame is encoded into a buffer of its own
//! size that is dropped once written.

use std::io;
use std::pin::Pin;
use std::task::{Poll, ready};
use std::time::Duration;

use actix_codec::{Decoder as _, Encoder as _};
use actix_http::ws::{CloseReason, Codec, Frame, Item, Message};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

/// Longest wait for a slow client to take a frame before the socket is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes read from the socket per readiness, on the stack.
const READ_CHUNK: usize = 4096;

/// A message from the client, continuation frames joined.
#[derive(Debug)]
pub enum Incoming {
    Text(String),
    Binary,
    Ping(Bytes),
    Pong,
    Close,
}

/// The reading end of an upgraded connection.
pub type ReadEnd = Box<dyn AsyncRead + Unpin>;

/// The writing end of an upgraded connection.
pub type WriteEnd = Box<dyn AsyncWrite + Unpin>;

/// A connection a WebSocket can take over from the HTTP layer: the bare TCP stream, or a TLS
/// stream over it (`http::tls`). A TLS stream keeps what it has not yet sent in a buffer of its
/// own, so every write here is flushed.
pub trait Upgraded: AsyncRead + AsyncWrite + Unpin + 'static {
    /// The connection's two ends, so that one task can wait for a frame while it writes others.
    fn into_ends(self) -> (ReadEnd, WriteEnd);
}

impl Upgraded for TcpStream {
    fn into_ends(self) -> (ReadEnd, WriteEnd) {
        let (read, write) = self.into_split();
        (Box::new(read), Box::new(write))
    }
}

/// Splits an upgraded connection into its reading and writing ends. `already_read` is what the
/// HTTP layer read past the upgrade request (the client's first frames, if it sent them at
/// once); messages are at most `max_message` bytes.
pub fn split(
    stream: impl Upgraded,
    already_read: BytesMut,
    max_message: usize,
) -> (FrameReader, FrameWriter) {
    let (read, write) = stream.into_ends();
    let codec = Codec::new().max_size(max_message);
    (
        FrameReader {
            stream: read,
            codec: codec.clone(),
            pending: already_read,
            partial: None,
            max_message,
        },
        FrameWriter {
            stream: write,
            codec,
        },
    )
}

/// A message begun by a first fragment, waiting for its last.
struct Partial {
    text: bool,
    bytes: BytesMut,
}

/// The reading end: whole messages.
pub struct FrameReader {
    stream: ReadEnd,
    codec: Codec,
    /// Bytes read but not yet a whole frame; empty (no allocation) between frames.
    pending: BytesMut,
    partial: Option<Partial>,
    max_message: usize,
}

impl FrameReader {
    /// The next message; `None` when the client has gone. Cancel-safe: all state is kept in
    /// `self`, and bytes are kept in the same poll that reads them.
    pub async fn recv(&mut self) -> Option<Result<Incoming, String>> {
        loop {
            match self.codec.decode(&mut self.pending) {
                Ok(Some(frame)) => match self.assemble(frame) {
                    Ok(Some(message)) => return Some(Ok(message)),
                    Ok(None) => continue,
                    Err(error) => return Some(Err(error)),
                },
                Ok(None) => {}
                Err(error) => return Some(Err(error.to_string())),
            }
            if self.pending.is_empty() {
                self.pending = BytesMut::new();
            }
            match read_available(&mut self.stream, &mut self.pending).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// A message from `frame`, or `None` while a fragmented one is incomplete.
    fn assemble(&mut self, frame: Frame) -> Result<Option<Incoming>, String> {
        let out_of_order = || "a fragment out of order".to_owned();
        match (frame, self.partial.is_some()) {
            (Frame::Ping(bytes), _) => Ok(Some(Incoming::Ping(bytes))),
            (Frame::Pong(_), _) => Ok(Some(Incoming::Pong)),
            (Frame::Close(_), _) => Ok(Some(Incoming::Close)),
            (Frame::Text(bytes), false) => text(bytes.to_vec()).map(Some),
            (Frame::Binary(_), false) => Ok(Some(Incoming::Binary)),
            (Frame::Continuation(Item::FirstText(bytes)), false) => {
                self.partial = Some(Partial {
                    text: true,
                    bytes: BytesMut::from(&bytes[..]),
                });
                Ok(None)
            }
            (Frame::Continuation(Item::FirstBinary(bytes)), false) => {
                self.partial = Some(Partial {
                    text: false,
                    bytes: BytesMut::from(&bytes[..]),
                });
                Ok(None)
            }
            (Frame::Continuation(Item::Continue(bytes)), true) => {
                self.extend(&bytes)?;
                Ok(None)
            }
            (Frame::Continuation(Item::Last(bytes)), true) => {
                self.extend(&bytes)?;
                let whole = self.partial.take().ok_or_else(out_of_order)?;
                if whole.text {
                    text(whole.bytes.to_vec()).map(Some)
                } else {
                    Ok(Some(Incoming::Binary))
                }
            }
            _ => Err(out_of_order()),
        }
    }

    fn extend(&mut self, bytes: &[u8]) -> Result<(), String> {
        let max = self.max_message;
        let partial = self
            .partial
            .as_mut()
            .ok_or_else(|| "a fragment out of order".to_owned())?;
        if partial.bytes.len() + bytes.len() > max {
            return Err(format!("a message is at most {max} bytes"));
        }
        partial.bytes.extend_from_slice(bytes);
        Ok(())
    }
}

fn text(bytes: Vec<u8>) -> Result<Incoming, String> {
    String::from_utf8(bytes)
        .map(Incoming::Text)
        .map_err(|_| "a text message that is not UTF-8".to_owned())
}

/// Waits until the connection has bytes, then reads them (one chunk at most) onto `pending`,
/// through a buffer on the stack that lives only while the read is polled: no future keeps it.
/// 0: the client has gone.
async fn read_available(stream: &mut ReadEnd, pending: &mut BytesMut) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut chunk = [0_u8; READ_CHUNK];
        let mut buf = ReadBuf::new(&mut chunk);
        ready!(Pin::new(&mut *stream).poll_read(cx, &mut buf))?;
        pending.extend_from_slice(buf.filled());
        Poll::Ready(Ok(buf.filled().len()))
    })
    .await
}

/// The writing end.
pub struct FrameWriter {
    stream: WriteEnd,
    codec: Codec,
}

impl FrameWriter {
    pub async fn text(&mut self, text: String) -> io::Result<()> {
        self.send(Message::Text(ByteString::from(text))).await
    }

    pub async fn ping(&mut self) -> io::Result<()> {
        self.send(Message::Ping(Bytes::new())).await
    }

    pub async fn pong(&mut self, payload: Bytes) -> io::Result<()> {
        self.send(Message::Pong(payload)).await
    }

    /// Sends a close frame and ends the stream.
    pub async fn close(mut self, reason: Option<CloseReason>) -> io::Result<()> {
        self.send(Message::Close(reason)).await?;
        // Over TLS, the shutdown sends a close_notify: a write like any other.
        in_time(self.stream.shutdown()).await
    }

    async fn send(&mut self, message: Message) -> io::Result<()> {
        let mut frame = BytesMut::new();
        self.codec
            .encode(message, &mut frame)
            .map_err(io::Error::other)?;
        in_time(async {
            self.stream.write_all(&frame).await?;
            self.stream.flush().await
        })
        .await
    }
}

/// `write`, given up when the client has taken nothing for [`WRITE_TIMEOUT`].
async fn in_time(write: impl Future<Output = io::Result<()>>) -> io::Result<()> {
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client takes no frames"))?
}
