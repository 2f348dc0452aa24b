//! The parties of a run over TCP: one connection per pair, framed messages.
//!
//! Setting up ([`TcpTransport::connect`]): every party listens on its own address;
//! party `i` dials every party `j < i` and accepts every `j > i`, so each pair has
//! exactly one connection whoever starts first. A dialer retries (50 ms, doubling up to
//! 500 ms) until the config's `connect_timeout_s`; right after connecting it sends
//! [`PREAMBLE_MAGIC`] and its party id, so the acceptor knows who called. Once a party
//! has all its connections it sends its [`Hello`] to every peer and checks theirs, so
//! that a party running another program stops every party before any input is shared.
//!
//! With TLS (the config's default), each connection then runs a TLS 1.3 handshake
//! ([`super::tls`]) right after the preamble, the dialer as client: both sides present
//! their certificates and each accepts only the one configured for the other's party,
//! so the preamble's claim is checked before anything else is read. The hellos and
//! every message after them travel inside TLS. Timeouts stay on the sockets.
//!
//! Messages: a frame is a `u32` little-endian length and that many bytes. A length
//! above the limit ([`MAX_FRAME`], or [`MAX_HELLO_LEN`] during the handshake) is
//! refused before anything is allocated for it.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::config::PartiesConfig;
use super::local::check_outgoing;
use super::tls::{self, Identity, TlsReader};
use super::{seconds, BufferPool, Hello, PeerStats, MAX_HELLO_LEN};
use crate::{Transport, VmError};

/// The largest message a party accepts from a peer: 1 GiB.
pub const MAX_FRAME: u32 = 1 << 30;

/// A length prefix no message can have: it announces that the sender stops because
/// another party failed, named by the 4 bytes after it. A party that loses a peer tells
/// the others, so that they name the party that failed rather than the messenger.
const ABORT: u32 = u32::MAX;

/// How long a failing party tries to deliver its abort notice to each other peer.
const ABORT_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The first bytes a dialer sends, before its party id (`u32` little-endian).
pub const PREAMBLE_MAGIC: [u8; 4] = *b"MPCV";

/// Messages up to this size are written by the calling thread. In lockstep exchanges a
/// peer has at most one unread message from us, and the kernel's socket buffers (128 KiB
/// and more on Linux) hold one this small, so the write cannot block on a peer that is
/// itself blocked writing to us. Larger messages get a thread each (see `exchange`).
const INLINE_WRITE_LIMIT: usize = 32 << 10;

/// How long a party that has sent only small messages checks its connections for the
/// replies before it sleeps in `read`. Waking a sleeping process takes longer than a
/// round of small messages between parties on one machine or a fast network: 1,000
/// dependent multiplications took 23 µs a round sleeping, 12 µs checking (three
/// parties on two cores). Between checks the party gives way to other processes, and
/// after this long it sleeps, so that waiting for a peer's long computation costs no
/// processor time.
const CHECK_BEFORE_SLEEPING: Duration = Duration::from_micros(50);

/// Each connection reads through a buffer this large, so that a small message and its
/// header arrive in one system call.
const READ_BUFFER: usize = 64 << 10;

/// Bodies at least this large are read on threads of their own when a round brings
/// several: reading 8 MB takes milliseconds, starting a thread microseconds.
const PARALLEL_READ: usize = 1 << 20;

/// Reserved up front for an incoming message; a larger one grows as its bytes arrive,
/// so a peer's length prefix alone never makes us allocate more than this.
const PREALLOCATE_LIMIT: usize = 16 << 20;

const DIAL_FIRST_BACKOFF: Duration = Duration::from_millis(50);
const DIAL_MAX_BACKOFF: Duration = Duration::from_millis(500);
/// How often an accepting party looks for a new connection.
const ACCEPT_POLL: Duration = Duration::from_millis(5);
/// How long an accepted connection has to send its preamble: a real party sends it
/// right after connecting, and a stray connection must not hold up the others for long.
const PREAMBLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an accepted connection has to complete its TLS handshake: the dialer
/// starts it right after the preamble and answers at once.
const ACCEPT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why reading a frame failed.
#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection between messages.
    Closed,
    /// The connection closed, or stopped delivering, in the middle of a message.
    Truncated {
        /// Bytes of the frame (header included) received.
        got: u64,
        /// Bytes the frame should have (header included), when the header was read.
        expected: Option<u64>,
        /// Whether the connection stopped delivering (timed out) rather than closed.
        timed_out: bool,
    },
    /// No message arrived within the read timeout.
    TimedOut,
    /// The peer stopped because another party failed: an abort notice.
    Aborted {
        /// The party the peer says failed.
        culprit: u32,
    },
    /// The length prefix is above the limit.
    TooLarge {
        /// The length the peer announced.
        len: u32,
        /// The limit.
        limit: u32,
    },
    /// Another I/O error.
    Io(io::Error),
}

impl FrameError {
    /// The error as the reason of a [`VmError::Peer`]; `timeout` is the read timeout in
    /// force.
    pub fn reason(&self, timeout: Duration) -> String {
        match self {
            FrameError::Closed => "connection closed".to_string(),
            FrameError::Truncated {
                got,
                expected,
                timed_out,
            } => {
                let how = if *timed_out {
                    format!("stalled for {}", seconds(timeout))
                } else {
                    "connection closed".to_string()
                };
                match expected {
                    Some(n) => format!("{how} in the middle of a message ({got} of {n} bytes)"),
                    None => format!("{how} in the middle of a message header ({got} of 4 bytes)"),
                }
            }
            FrameError::TimedOut => format!("no message within {}", seconds(timeout)),
            FrameError::Aborted { culprit } => format!("stopped because party {culprit} failed"),
            FrameError::TooLarge { len, limit } => {
                format!("sent a frame of {len} bytes, which exceeds the limit of {limit}")
            }
            FrameError::Io(e) => format!("receiving failed: {e}"),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Whether the peer on `socket` has closed it, as far as can be told without reading:
/// nothing waits to be read and the peer's end is closed.
fn closed_by_peer(socket: &TcpStream) -> io::Result<bool> {
    socket.set_nonblocking(true)?;
    let peeked = socket.peek(&mut [0u8; 1]);
    socket.set_nonblocking(false)?;
    match peeked {
        Ok(n) => Ok(n == 0),
        Err(e) if is_closed(&e) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads one frame of at most `limit` bytes.
pub fn read_frame(r: &mut impl Read, limit: u32) -> Result<Vec<u8>, FrameError> {
    read_frame_into(r, limit, &mut BufferPool::default())
}

/// Reads one frame of at most `limit` bytes into a buffer from `pool`.
fn read_frame_into(
    r: &mut impl Read,
    limit: u32,
    pool: &mut BufferPool,
) -> Result<Vec<u8>, FrameError> {
    let len = read_frame_header(r, limit)?;
    read_frame_body(r, len, pool.take(len, PREALLOCATE_LIMIT))
}

/// Reads a frame's length prefix: the length of its body, at most `limit`.
fn read_frame_header(r: &mut impl Read, limit: u32) -> Result<usize, FrameError> {
    let mut header = [0u8; 4];
    let mut filled = 0;
    while filled < header.len() {
        match r.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => {
                return Err(FrameError::Truncated {
                    got: filled as u64,
                    expected: None,
                    timed_out: false,
                })
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if filled == 0 && is_timeout(&e) => return Err(FrameError::TimedOut),
            Err(e) if filled == 0 && is_closed(&e) => return Err(FrameError::Closed),
            Err(e) if is_timeout(&e) || is_closed(&e) => {
                return Err(FrameError::Truncated {
                    got: filled as u64,
                    expected: None,
                    timed_out: is_timeout(&e),
                })
            }
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let len = u32::from_le_bytes(header);
    if len == ABORT {
        let mut culprit = [0u8; 4];
        // Anything but a whole notice is a frame that is too large, as it claims.
        return Err(match r.read_exact(&mut culprit) {
            Ok(()) => FrameError::Aborted {
                culprit: u32::from_le_bytes(culprit),
            },
            Err(_) => FrameError::TooLarge { len, limit },
        });
    }
    if len > limit {
        return Err(FrameError::TooLarge { len, limit });
    }
    Ok(len as usize)
}

/// Reads a frame's body of `len` bytes into `body`, an empty buffer.
fn read_frame_body(
    r: &mut impl Read,
    len: usize,
    mut body: Vec<u8>,
) -> Result<Vec<u8>, FrameError> {
    // `read_to_end` keeps what it read before an error, so a cut message can say how
    // much of it arrived.
    let result = r.take(len as u64).read_to_end(&mut body);
    let truncated = |timed_out| FrameError::Truncated {
        got: 4 + body.len() as u64,
        expected: Some(4 + len as u64),
        timed_out,
    };
    match result {
        Ok(_) if body.len() == len => Ok(body),
        Ok(_) => Err(truncated(false)),
        Err(e) if is_timeout(&e) || is_closed(&e) => Err(truncated(is_timeout(&e))),
        Err(e) => Err(FrameError::Io(e)),
    }
}

/// Returns once `reader` has bytes to give or at `deadline`, checking its socket without
/// sleeping. The socket is non-blocking meanwhile, which would fail a write on it from
/// another thread: no other thread may use it.
fn wait_readable_until(reader: &BufReader<LinkReader>, deadline: Instant) {
    if !reader.buffer().is_empty() || reader.get_ref().has_buffered() {
        return;
    }
    let socket = reader.get_ref().socket();
    if socket.set_nonblocking(true).is_err() {
        return;
    }
    let mut byte = [0u8; 1];
    // Data, the end of the stream or an error: the read that follows sees them.
    while matches!(socket.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
        && Instant::now() < deadline
    {
        thread::yield_now();
    }
    // Should this fail, the read that follows fails as if it had timed out.
    let _ = socket.set_nonblocking(false);
}

/// Writes `message` as one frame. A message above [`MAX_FRAME`] is an `InvalidInput`
/// error: no peer would accept it.
pub fn write_frame(w: &mut impl Write, message: &[u8]) -> io::Result<()> {
    let len = frame_len(message.len())?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(message)
}

/// The length prefix of a message of `len` bytes, if a peer would accept it.
fn frame_len(len: usize) -> io::Result<u32> {
    u32::try_from(len)
        .ok()
        .filter(|&n| n <= MAX_FRAME)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a message of {len} bytes exceeds the frame limit of {MAX_FRAME}"),
            )
        })
}

/// Why writing to a peer failed, as a [`VmError::Peer`] reason.
fn write_reason(e: &io::Error, timeout: Duration) -> String {
    if is_timeout(e) {
        format!(
            "could not send within {} (the party stopped reading)",
            seconds(timeout)
        )
    } else if is_closed(e) {
        "connection closed".to_string()
    } else {
        format!("sending failed: {e}")
    }
}

/// The writing side of a connection to one peer: the socket, and the TLS state when the
/// connection is encrypted (shared with the connection's [`LinkReader`]).
#[derive(Debug)]
struct Link {
    socket: TcpStream,
    tls: Option<Arc<Mutex<rustls::Connection>>>,
}

impl Link {
    /// The link to `peer` over `stream`: TLS, after a handshake this party starts when it
    /// `dialed`, when there is an identity; plain otherwise.
    fn new(
        mut stream: TcpStream,
        identity: Option<&Identity>,
        peer: u32,
        dialed: bool,
        wait: Duration,
    ) -> Result<Link, VmError> {
        let tls = identity
            .map(|id| tls::handshake(id, peer, dialed, &mut stream, wait))
            .transpose()
            .map_err(|reason| VmError::Peer {
                party: peer,
                reason,
            })?;
        Ok(Link {
            socket: stream,
            tls: tls.map(|c| Arc::new(Mutex::new(c))),
        })
    }

    /// Writes `parts` one after the other, as one write where possible.
    fn write_parts(&self, parts: &[&[u8]]) -> io::Result<()> {
        match &self.tls {
            Some(conn) => tls::write_all(conn, &self.socket, parts),
            None => parts
                .iter()
                .try_for_each(|part| (&mut &self.socket).write_all(part)),
        }
    }

    /// Writes `message` as one frame.
    fn write_frame(&self, message: &[u8]) -> io::Result<()> {
        let len = frame_len(message.len())?;
        self.write_parts(&[&len.to_le_bytes(), message])
    }

    /// The reading side: a second handle on the socket.
    fn reader(&self) -> io::Result<LinkReader> {
        let socket = self.socket.try_clone()?;
        Ok(match &self.tls {
            Some(conn) => LinkReader::Tls(TlsReader::new(socket, conn.clone())),
            None => LinkReader::Plain(socket),
        })
    }
}

/// The reading side of a connection to one peer.
enum LinkReader {
    Plain(TcpStream),
    Tls(TlsReader),
}

impl fmt::Debug for LinkReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkReader::Plain(s) => f.debug_tuple("Plain").field(s).finish(),
            LinkReader::Tls(r) => f.debug_tuple("Tls").field(r.socket()).finish(),
        }
    }
}

impl LinkReader {
    fn socket(&self) -> &TcpStream {
        match self {
            LinkReader::Plain(s) => s,
            LinkReader::Tls(r) => r.socket(),
        }
    }

    /// Whether a read may return bytes this side already holds, without the socket.
    fn has_buffered(&self) -> bool {
        match self {
            LinkReader::Plain(_) => false,
            LinkReader::Tls(r) => r.has_buffered(),
        }
    }
}

impl Read for LinkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            LinkReader::Plain(s) => s.read(buf),
            LinkReader::Tls(r) => r.read(buf),
        }
    }
}

/// One party's connections to all the others. Movable to its own thread.
#[derive(Debug)]
pub struct TcpTransport {
    party: u32,
    parties: u32,
    /// `links[p]` is the connection to party `p`, for writing; `None` for this party.
    links: Vec<Option<Link>>,
    /// `readers[p]` reads the same connection (a second handle on the socket, so that
    /// writing threads and the reading thread do not share a borrow).
    readers: Vec<Option<BufReader<LinkReader>>>,
    timeout: Duration,
    stats: Vec<PeerStats>,
    /// The first error: later exchanges repeat it, since a half-done exchange leaves the
    /// peers out of step for good.
    failed: Option<VmError>,
    /// Header and body of a small message, so that it goes out in one write (one
    /// segment, since Nagle's algorithm is off).
    scratch: Vec<u8>,
    /// Buffers of messages the protocol is done with.
    pool: BufferPool,
}

impl TcpTransport {
    /// Connects party `party` to every other party of `config` and checks their
    /// [`Hello`]s against `hello` (this party's own). Listens on the party's address in
    /// `config`. With TLS, reads the certificates and this party's key named in
    /// `config` ([`Identity::load`]).
    pub fn connect(
        config: &PartiesConfig,
        party: u32,
        hello: &Hello,
    ) -> Result<TcpTransport, VmError> {
        let identity = Identity::load(config, party).map_err(VmError::Tls)?;
        Self::connect_with(config, party, hello, None, identity.as_ref())
    }

    /// Like [`TcpTransport::connect`], but accepts the other parties on `listener`, which
    /// the caller bound (e.g. to port 0, then wrote the port it got into `config`).
    pub fn connect_with_listener(
        config: &PartiesConfig,
        party: u32,
        hello: &Hello,
        listener: TcpListener,
    ) -> Result<TcpTransport, VmError> {
        let identity = Identity::load(config, party).map_err(VmError::Tls)?;
        Self::connect_with(config, party, hello, Some(listener), identity.as_ref())
    }

    /// [`TcpTransport::connect`] with everything given: the listener (bound to this
    /// party's address when `None`) and, when `config.tls` is set, this party's TLS
    /// identity (which must then be given).
    pub fn connect_with(
        config: &PartiesConfig,
        party: u32,
        hello: &Hello,
        listener: Option<TcpListener>,
        identity: Option<&Identity>,
    ) -> Result<TcpTransport, VmError> {
        check_identity(config, party, hello, identity)?;
        let listener = match listener {
            Some(l) => l,
            None => {
                let address = &config.parties[party as usize].address;
                TcpListener::bind(address.as_str()).map_err(|e| VmError::Peer {
                    party,
                    reason: format!("cannot listen on {address} (this party's address): {e}"),
                })?
            }
        };
        let deadline = Instant::now() + config.connect_timeout;
        let n = config.parties();
        let mut links: Vec<Option<Link>> = (0..n).map(|_| None).collect();
        for peer in 0..party {
            let address = &config.parties[peer as usize].address;
            let mut stream = dial(address, peer, deadline, config.connect_timeout)?;
            let mut preamble = PREAMBLE_MAGIC.to_vec();
            preamble.extend_from_slice(&party.to_le_bytes());
            stream.write_all(&preamble).map_err(|e| VmError::Peer {
                party: peer,
                reason: format!("connected, then {}", write_reason(&e, config.timeout)),
            })?;
            // The peer answers once it is done dialing the parties below it, which may
            // take until the deadline.
            let wait = deadline.saturating_duration_since(Instant::now()) + config.timeout;
            links[peer as usize] = Some(Link::new(stream, identity, peer, true, wait)?);
        }
        accept(&listener, config, party, &mut links, deadline, identity)?;
        drop(listener);

        let readers = links
            .iter()
            .enumerate()
            .map(|(peer, link)| {
                link.as_ref()
                    .map(|link| {
                        link.reader()
                            .map(|r| BufReader::with_capacity(READ_BUFFER, r))
                            .map_err(|e| VmError::Peer {
                                party: peer as u32,
                                reason: format!("cannot configure the connection: {e}"),
                            })
                    })
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut transport = TcpTransport {
            party,
            parties: n,
            links,
            readers,
            timeout: config.timeout,
            stats: vec![PeerStats::default(); n as usize],
            failed: None,
            scratch: Vec::new(),
            pool: BufferPool::default(),
        };
        for (peer, stream) in transport.peers() {
            let setup = stream
                .set_nodelay(true)
                .and_then(|()| stream.set_write_timeout(Some(config.timeout)));
            setup.map_err(|e| VmError::Peer {
                party: peer,
                reason: format!("cannot configure the connection: {e}"),
            })?;
        }
        // A peer sends its hello once it has all of its own connections, which may take
        // until the connect deadline; the slack covers a peer that gets there just then.
        let hello_wait = deadline.saturating_duration_since(Instant::now()) + config.timeout;
        if let Err(e) = transport.handshake(hello, hello_wait) {
            // Peers still waiting for this party's hello learn at once that it gave up.
            hang_up(&transport.links);
            return Err(e);
        }
        for (peer, stream) in transport.peers() {
            stream
                .set_read_timeout(Some(config.timeout))
                .map_err(|e| VmError::Peer {
                    party: peer,
                    reason: format!("cannot configure the connection: {e}"),
                })?;
        }
        Ok(transport)
    }

    /// What this transport carried to and from each party, indexed by party id (this
    /// party's own entry stays zero). The handshake is not counted.
    pub fn stats(&self) -> Vec<PeerStats> {
        self.stats.clone()
    }

    /// The peers' ids and connections.
    fn peers(&self) -> impl Iterator<Item = (u32, &TcpStream)> {
        self.links
            .iter()
            .enumerate()
            .filter_map(|(p, l)| l.as_ref().map(|l| (p as u32, &l.socket)))
    }

    fn handshake(&mut self, hello: &Hello, wait: Duration) -> Result<(), VmError> {
        let mine = hello.encode();
        // Every hello goes out before any is read, so that both sides of a mismatch see
        // the other's hello and each reports it.
        for peer in 0..self.parties {
            if peer != self.party {
                self.write_small(peer, &mine)?;
            }
        }
        // Every hello is read before any is judged: a peer that hangs up on a mismatch
        // of its own has sent its hello first, and a difference it shows says more than
        // "connection closed" from another peer does.
        let mut received = Vec::new();
        for (peer, reader) in self.readers.iter_mut().enumerate() {
            let Some(reader) = reader else { continue };
            let peer = peer as u32;
            let fail = |reason: String| VmError::Peer {
                party: peer,
                reason: format!("handshake: {reason}"),
            };
            let theirs = reader
                .get_ref()
                .socket()
                .set_read_timeout(Some(wait))
                .map_err(|e| fail(format!("cannot configure the connection: {e}")))
                .and_then(|()| {
                    read_frame(reader, MAX_HELLO_LEN).map_err(|e| match e {
                        // A TLS record starts 0x16 0x03: a peer that talks TLS to a
                        // party that does not.
                        FrameError::TooLarge { len, .. } if len & 0xffff == 0x0316 => fail(
                            "answered with TLS, but this party's parties.toml says \
                             `tls = false`"
                                .into(),
                        ),
                        FrameError::TooLarge { .. } => {
                            fail("did not answer like an mpcvm party".into())
                        }
                        e => fail(e.reason(wait)),
                    })
                })
                .and_then(|bytes| Hello::decode(&bytes).map_err(fail));
            received.push((peer, theirs));
        }
        for (peer, theirs) in &received {
            if let Ok(theirs) = theirs {
                hello.check_peer(*peer, theirs)?;
            }
        }
        match received.into_iter().find_map(|(_, r)| r.err()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Writes a small message to `peer` in one write.
    fn write_small(&mut self, peer: u32, message: &[u8]) -> Result<(), VmError> {
        let Some(link) = self.links[peer as usize].as_ref() else {
            return Ok(());
        };
        self.scratch.clear();
        self.scratch
            .extend_from_slice(&(message.len() as u32).to_le_bytes());
        self.scratch.extend_from_slice(message);
        link.write_parts(&[&self.scratch])
            .map_err(|e| VmError::Peer {
                party: peer,
                reason: write_reason(&e, self.timeout),
            })
    }

    /// Reads one message from every peer (an empty one for this party): the lengths in
    /// id order, then the bodies, each of several large ones on a thread of its own so
    /// that a peer's message does not wait in its socket, and its sender with it, while
    /// another's is read (and TLS decrypts them side by side). On the first failure, in
    /// id order, tells the other peers who failed through `notify` when given
    /// ([`notify_abort`]) before returning: see [`explain_silence`] for why that should
    /// not wait. Not given while other threads write to the links, as a notice must not
    /// land in the middle of a frame.
    fn read_all(
        notify: Option<&[Option<Link>]>,
        readers: &mut [Option<BufReader<LinkReader>>],
        pool: &mut BufferPool,
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>, Stop> {
        let parties = readers.len() as u32;
        let stop = |reader: &mut BufReader<LinkReader>, peer: usize, e: FrameError| {
            let peer = peer as u32;
            let error = match e {
                FrameError::TimedOut => {
                    if let Some(links) = notify {
                        notify_abort(links, peer);
                    }
                    explain_silence(reader, peer, parties, timeout)
                }
                e => {
                    let error = read_error(e, peer, parties, timeout);
                    if let (Some(links), VmError::Peer { party, .. }) = (notify, &error) {
                        notify_abort(links, *party);
                    }
                    error
                }
            };
            Stop {
                error,
                peers_told: notify.is_some(),
            }
        };
        let mut lens = vec![0; readers.len()];
        for (peer, reader) in readers.iter_mut().enumerate() {
            if let Some(reader) = reader {
                lens[peer] =
                    read_frame_header(reader, MAX_FRAME).map_err(|e| stop(reader, peer, e))?;
            }
        }
        let mut bodies: Vec<Vec<u8>> = lens
            .iter()
            .map(|&len| pool.take(len, PREALLOCATE_LIMIT))
            .collect();
        let large = |len: usize| len >= PARALLEL_READ;
        let read =
            |(reader, (&len, body)): (&mut BufReader<LinkReader>, (&usize, &mut Vec<u8>))| {
                read_frame_body(reader, len, std::mem::take(body)).map(|full| *body = full)
            };
        let frames = readers.iter_mut().zip(lens.iter().zip(bodies.iter_mut()));
        if lens.iter().filter(|&&len| large(len)).count() < 2 {
            // One after the other, up to the first failure.
            for (peer, (reader, frame)) in frames.enumerate() {
                if let Some(reader) = reader {
                    read((reader, frame)).map_err(|e| stop(reader, peer, e))?;
                }
            }
            return Ok(bodies);
        }
        let results: Vec<Result<(), FrameError>> = thread::scope(|scope| {
            let reads: Vec<_> = frames
                .map(|(reader, frame)| {
                    let Some(reader) = reader else {
                        return Ok(Ok(()));
                    };
                    if large(*frame.0) {
                        Err(scope.spawn(move || read((reader, frame))))
                    } else {
                        Ok(read((reader, frame)))
                    }
                })
                .collect();
            reads
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|thread| {
                        thread.join().unwrap_or_else(|_| {
                            Err(FrameError::Io(io::Error::other(
                                "the reading thread panicked",
                            )))
                        })
                    })
                })
                .collect()
        });
        for (peer, result) in results.into_iter().enumerate() {
            if let (Err(e), Some(reader)) = (result, &mut readers[peer]) {
                return Err(stop(reader, peer, e));
            }
        }
        Ok(bodies)
    }

    fn try_exchange(&mut self, outgoing: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Stop> {
        check_outgoing(outgoing, self.parties)?;
        let me = self.party as usize;
        for (peer, message) in outgoing.iter().enumerate() {
            if peer != me {
                frame_len(message.len()).map_err(|e| VmError::Protocol {
                    protocol: "transport",
                    reason: format!("to party {peer}: {e}"),
                })?;
            }
        }
        let is_large = |peer: usize| peer != me && outgoing[peer].len() > INLINE_WRITE_LIMIT;
        let incoming = if (0..outgoing.len()).any(is_large) {
            self.exchange_large(outgoing, is_large)?
        } else {
            for (peer, message) in outgoing.iter().enumerate() {
                if peer != me {
                    self.write_small(peer as u32, message)?;
                }
            }
            // The writes are done, so nothing else uses the sockets while they are
            // checked.
            let deadline = Instant::now() + CHECK_BEFORE_SLEEPING;
            for reader in self.readers.iter().flatten() {
                wait_readable_until(reader, deadline);
            }
            Self::read_all(
                Some(&self.links),
                &mut self.readers,
                &mut self.pool,
                self.timeout,
            )?
        };
        for (peer, stats) in self.stats.iter_mut().enumerate() {
            if peer != me {
                stats.count(outgoing[peer].len(), incoming[peer].len());
            }
        }
        Ok(incoming)
    }

    /// An exchange in which some messages are too large to write inline: each goes out
    /// on a thread of its own while this thread writes the small ones and reads, so that
    /// parties that all send large messages at once do not all block writing.
    fn exchange_large(
        &mut self,
        outgoing: &[Vec<u8>],
        is_large: impl Fn(usize) -> bool,
    ) -> Result<Vec<Vec<u8>>, Stop> {
        for (peer, message) in outgoing.iter().enumerate() {
            if peer != self.party as usize && !is_large(peer) {
                self.write_small(peer as u32, message)?;
            }
        }
        // Disjoint borrows: the writing threads share the write handles while this
        // thread reads through the buffered read handles.
        let (links, readers, pool) = (&self.links, &mut self.readers, &mut self.pool);
        let timeout = self.timeout;
        thread::scope(|scope| {
            let mut writers: VecDeque<_> = links
                .iter()
                .enumerate()
                .filter(|(peer, _)| is_large(*peer))
                .filter_map(|(peer, link)| {
                    let (link, message) = (link.as_ref()?, &outgoing[peer]);
                    Some((peer, scope.spawn(move || link.write_frame(message))))
                })
                .collect();
            // After a failure, unblocks the writers stuck on a peer that will never read
            // by closing their connections. The others stay open, so that the abort
            // notice can follow the whole frames that went out on them.
            let stop_unfinished = |writers: &VecDeque<(usize, thread::ScopedJoinHandle<_>)>| {
                for (peer, writer) in writers {
                    if let (false, Some(link)) = (writer.is_finished(), &links[*peer]) {
                        let _ = link.socket.shutdown(Shutdown::Both);
                    }
                }
            };
            let incoming = Self::read_all(None, readers, pool, timeout);
            if incoming.is_err() {
                stop_unfinished(&writers);
            }
            let mut first_error = incoming.as_ref().err().map(|stop| stop.error.clone());
            while let Some((peer, writer)) = writers.pop_front() {
                let result = writer
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("the writing thread panicked")));
                if let (Err(e), None) = (result, &first_error) {
                    stop_unfinished(&writers);
                    first_error = Some(VmError::Peer {
                        party: peer as u32,
                        reason: write_reason(&e, timeout),
                    });
                }
            }
            match first_error {
                Some(e) => Err(e.into()),
                None => incoming,
            }
        })
    }
}

/// Tells every peer but `culprit` that this party stops because `culprit` failed (best
/// effort: a peer that does not read within [`ABORT_WRITE_TIMEOUT`] learns it from the
/// closed connection instead).
fn notify_abort(links: &[Option<Link>], culprit: u32) {
    let mut notice = ABORT.to_le_bytes().to_vec();
    notice.extend_from_slice(&culprit.to_le_bytes());
    for (peer, link) in links.iter().enumerate() {
        if let Some(link) = link.as_ref().filter(|_| peer as u32 != culprit) {
            let _ = link.socket.set_write_timeout(Some(ABORT_WRITE_TIMEOUT));
            let _ = link.write_parts(&[&notice]);
        }
    }
}

/// How long a party that heard nothing from a peer within the timeout keeps listening
/// to it for an abort notice. The peer may itself be waiting on a third party that
/// failed; it then times out at about the same moment and sends its notice at once, so
/// this only has to cover the network's latency.
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// The error for `peer` having sent nothing within `timeout`, unless a notice arriving
/// within [`ABORT_GRACE`] says that it stopped because another party failed: in a chain
/// of waiting parties every party but the first would otherwise blame its neighbour, a
/// coin toss between timers that fire microseconds apart.
fn explain_silence(
    reader: &mut BufReader<LinkReader>,
    peer: u32,
    parties: u32,
    timeout: Duration,
) -> VmError {
    let grace = reader
        .get_ref()
        .socket()
        .set_read_timeout(Some(ABORT_GRACE));
    match grace.map(|()| read_frame(reader, MAX_FRAME)) {
        Ok(Err(notice @ FrameError::Aborted { .. })) => read_error(notice, peer, parties, timeout),
        _ => read_error(FrameError::TimedOut, peer, parties, timeout),
    }
}

/// A failure to read `peer`'s message as the error to report.
fn read_error(error: FrameError, peer: u32, parties: u32, timeout: Duration) -> VmError {
    match error {
        // The notice blames another party: name that one, as the messenger is only
        // stopping because of it.
        FrameError::Aborted { culprit } if culprit < parties && culprit != peer => VmError::Peer {
            party: culprit,
            reason: format!("failed (party {peer} stopped because of it)"),
        },
        FrameError::Aborted { culprit } => VmError::Peer {
            party: peer,
            reason: format!(
                "sent an abort notice naming party {culprit}, which cannot have failed"
            ),
        },
        e => VmError::Peer {
            party: peer,
            reason: e.reason(timeout),
        },
    }
}

/// Why an exchange stopped, and whether the other peers have been told already.
struct Stop {
    error: VmError,
    peers_told: bool,
}

impl From<VmError> for Stop {
    fn from(error: VmError) -> Stop {
        Stop {
            error,
            peers_told: false,
        }
    }
}

/// Closes every connection, so that peers blocked on this party fail at once rather
/// than at their timeout, and so do this party's own blocked writers.
fn hang_up(links: &[Option<Link>]) {
    for link in links.iter().flatten() {
        // Already closed is fine: this is a best effort on the way out.
        let _ = link.socket.shutdown(Shutdown::Both);
    }
}

impl Transport for TcpTransport {
    fn party(&self) -> u32 {
        self.party
    }

    fn parties(&self) -> u32 {
        self.parties
    }

    fn buffer(&mut self, len: usize) -> Vec<u8> {
        self.pool.take(len, usize::MAX)
    }

    fn recycle(&mut self, buffer: Vec<u8>) {
        self.pool.give(buffer);
    }

    fn exchange(&mut self, outgoing: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, VmError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.try_exchange(outgoing).map_err(|stop| {
            if let (false, VmError::Peer { party, .. }) = (stop.peers_told, &stop.error) {
                notify_abort(&self.links, *party);
            }
            hang_up(&self.links);
            self.failed = Some(stop.error.clone());
            stop.error
        })
    }
}

/// Checks that a TLS identity is given exactly when `config` asks for TLS, that `party`
/// is in it, and that `hello` and `identity` speak for that party.
fn check_identity(
    config: &PartiesConfig,
    party: u32,
    hello: &Hello,
    identity: Option<&Identity>,
) -> Result<(), VmError> {
    match identity {
        None if config.tls => {
            return Err(VmError::Tls(
                "the config asks for TLS, but no identity was given".into(),
            ))
        }
        Some(_) if !config.tls => {
            return Err(VmError::Tls(
                "a TLS identity was given for a config with `tls = false`".into(),
            ))
        }
        Some(id) if id.party() != party => {
            return Err(VmError::Tls(format!(
                "the TLS identity is party {}'s, but this is party {party}",
                id.party()
            )))
        }
        _ => {}
    }
    let n = config.parties();
    if party >= n {
        return Err(VmError::PartyOutOfRange {
            item: "--party".to_string(),
            party,
            parties: n,
        });
    }
    if hello.party != party || hello.parties != n {
        return Err(VmError::Protocol {
            protocol: "transport",
            reason: format!(
                "the hello says party {} of {}, but the transport is party {party} of {n}",
                hello.party, hello.parties
            ),
        });
    }
    Ok(())
}

/// Dials `peer` at `address` until it answers or `deadline` passes.
fn dial(
    address: &str,
    peer: u32,
    deadline: Instant,
    connect_timeout: Duration,
) -> Result<TcpStream, VmError> {
    let mut backoff = DIAL_FIRST_BACKOFF;
    loop {
        // Resolved on every attempt: a host name may start resolving once its machine is
        // up, like its port starts answering.
        let error = match address.to_socket_addrs() {
            Ok(addrs) => {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                for addr in addrs {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match TcpStream::connect_timeout(&addr, left.max(Duration::from_millis(1))) {
                        Ok(stream) if !is_self_connected(&stream) => return Ok(stream),
                        Ok(_) => {
                            last = io::Error::new(
                                io::ErrorKind::ConnectionRefused,
                                "nothing listens there yet",
                            )
                        }
                        Err(e) => last = e,
                    }
                }
                last
            }
            Err(e) => e,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(VmError::Peer {
                party: peer,
                reason: format!(
                    "could not reach party {peer} at {address} within {} (last attempt: {error})",
                    seconds(connect_timeout)
                ),
            });
        }
        thread::sleep(backoff.min(left));
        backoff = (backoff * 2).min(DIAL_MAX_BACKOFF);
    }
}

/// Whether TCP connected a socket to itself: dialing a free local port can pick that
/// same port as the source (a "simultaneous open" with itself). The port stays taken
/// while the socket lives, so the party meant to listen there could not start.
fn is_self_connected(stream: &TcpStream) -> bool {
    matches!((stream.local_addr(), stream.peer_addr()), (Ok(a), Ok(b)) if a == b)
}

/// Accepts the parties above `party` on `listener` until each has connected once, or
/// fails at `deadline` naming the ones that did not. A connection that does not
/// identify as one of them is dropped (it may be a port scan or a stale party) and
/// mentioned if the wait fails.
fn accept(
    listener: &TcpListener,
    config: &PartiesConfig,
    party: u32,
    links: &mut [Option<Link>],
    deadline: Instant,
    identity: Option<&Identity>,
) -> Result<(), VmError> {
    let n = config.parties();
    if party + 1 >= n {
        return Ok(());
    }
    let listen_error = |e: io::Error| VmError::Peer {
        party,
        reason: format!("cannot accept connections: {e}"),
    };
    // Non-blocking, so that the wait can end at the deadline.
    listener.set_nonblocking(true).map_err(listen_error)?;
    let mut refused: Vec<String> = Vec::new();
    loop {
        let missing: Vec<u32> = (party + 1..n)
            .filter(|&p| links[p as usize].is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        match listener.accept() {
            Ok((stream, from)) => match identify(&stream, from, party, n, deadline) {
                Ok(peer) if links[peer as usize].is_none() => {
                    // A failed TLS handshake ends the run: the dialer said it was `peer`,
                    // and a party with the wrong certificate will not get a better one
                    // by waiting.
                    let link = Link::new(stream, identity, peer, false, ACCEPT_HANDSHAKE_TIMEOUT)?;
                    links[peer as usize] = Some(link);
                }
                Ok(peer) => refused.push(format!(
                    "{from} said it was party {peer}, which had already connected"
                )),
                Err(why) => refused.push(why),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // A party this one dialed that gives up (refusing a third party's
                // certificate, say) will not dial back: no use waiting for the deadline.
                for (peer, link) in links.iter().enumerate() {
                    let Some(link) = link else { continue };
                    let reason = match closed_by_peer(&link.socket) {
                        Ok(false) => continue,
                        Ok(true) => format!(
                            "closed the connection while the parties were connecting (it \
                             stopped: its own output says why), before party {} connected \
                             to this party",
                            missing[0]
                        ),
                        Err(e) => format!("cannot check the connection: {e}"),
                    };
                    return Err(VmError::Peer {
                        party: peer as u32,
                        reason,
                    });
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(not_connected(config, party, &missing, &refused));
                }
                thread::sleep(ACCEPT_POLL.min(left));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A connection reset before we accepted it is that connection's problem.
            Err(e) if is_closed(&e) => {}
            Err(e) => return Err(listen_error(e)),
        }
    }
}

/// Reads an accepted connection's preamble: the id of the party that dialed.
fn identify(
    stream: &TcpStream,
    from: SocketAddr,
    party: u32,
    parties: u32,
    deadline: Instant,
) -> Result<u32, String> {
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .clamp(Duration::from_millis(10), PREAMBLE_TIMEOUT);
    let mut preamble = [0u8; 8];
    stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(wait)))
        .and_then(|()| (&mut &*stream).read_exact(&mut preamble))
        .map_err(|e| format!("{from} did not identify as a party ({e})"))?;
    if preamble[..4] != PREAMBLE_MAGIC {
        return Err(format!("{from} is not an mpcvm party"));
    }
    let peer = u32::from_le_bytes([preamble[4], preamble[5], preamble[6], preamble[7]]);
    if peer <= party || peer >= parties {
        return Err(format!(
            "{from} said it was party {peer}, but only parties {} to {} dial party {party}",
            party + 1,
            parties - 1
        ));
    }
    Ok(peer)
}

fn not_connected(
    config: &PartiesConfig,
    party: u32,
    missing: &[u32],
    refused: &[String],
) -> VmError {
    let address = &config.parties[party as usize].address;
    let mut reason = format!(
        "did not connect to this party ({address}) within {}",
        seconds(config.connect_timeout)
    );
    if let [_, others @ ..] = missing {
        if !others.is_empty() {
            let others: Vec<String> = others.iter().map(u32::to_string).collect();
            reason += &format!(
                "; neither did part{} {}",
                if others.len() == 1 { "y" } else { "ies" },
                others.join(", ")
            );
        }
    }
    if !refused.is_empty() {
        reason += &format!("; refused: {}", refused.join("; "));
    }
    VmError::Peer {
        party: missing[0],
        reason,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn frame(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, bytes).unwrap();
        out
    }

    fn reason(bytes: &[u8], limit: u32) -> String {
        read_frame(&mut Cursor::new(bytes), limit)
            .unwrap_err()
            .reason(Duration::from_secs(60))
    }

    #[test]
    fn frames_round_trip() {
        let mut stream = Cursor::new([frame(b"abc"), frame(b""), frame(&[7; 100])].concat());
        assert_eq!(read_frame(&mut stream, 100).unwrap(), b"abc");
        assert_eq!(read_frame(&mut stream, 100).unwrap(), b"");
        assert_eq!(read_frame(&mut stream, 100).unwrap(), vec![7; 100]);
        assert!(matches!(
            read_frame(&mut stream, 100),
            Err(FrameError::Closed)
        ));
    }

    #[test]
    fn a_frame_above_the_limit_is_refused_before_allocating() {
        // u32::MAX announced, nothing sent: refused from the header alone.
        assert_eq!(
            reason(&u32::MAX.to_le_bytes(), MAX_FRAME),
            "sent a frame of 4294967295 bytes, which exceeds the limit of 1073741824"
        );
        assert_eq!(
            reason(&frame(&[0; 11]), 10),
            "sent a frame of 11 bytes, which exceeds the limit of 10"
        );
    }

    #[test]
    fn an_abort_notice_names_the_party_that_failed() {
        let notice = [ABORT.to_le_bytes(), 2u32.to_le_bytes()].concat();
        assert!(matches!(
            read_frame(&mut Cursor::new(&notice), MAX_FRAME),
            Err(FrameError::Aborted { culprit: 2 })
        ));
        // Cut short, it is only a frame that claims too much.
        assert!(matches!(
            read_frame(&mut Cursor::new(&notice[..6]), MAX_FRAME),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_cut_frame_says_how_much_arrived() {
        let whole = frame(&[1; 10]);
        assert_eq!(
            reason(&whole[..2], 100),
            "connection closed in the middle of a message header (2 of 4 bytes)"
        );
        assert_eq!(
            reason(&whole[..9], 100),
            "connection closed in the middle of a message (9 of 14 bytes)"
        );
        assert_eq!(reason(b"", 100), "connection closed");
        // Announcing a large message and sending little of it allocates only what
        // arrived plus the capped reservation.
        let mut lie = (MAX_FRAME).to_le_bytes().to_vec();
        lie.extend_from_slice(&[0; 5]);
        assert_eq!(
            reason(&lie, MAX_FRAME),
            "connection closed in the middle of a message (9 of 1073741828 bytes)"
        );
    }

    #[test]
    fn our_own_oversized_message_is_refused() {
        assert_eq!(frame_len(MAX_FRAME as usize).unwrap(), MAX_FRAME);
        let err = frame_len(MAX_FRAME as usize + 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            "a message of 1073741825 bytes exceeds the frame limit of 1073741824"
        );
    }

    /// A listener on a free loopback port, and its address.
    fn listener() -> (TcpListener, String) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap().to_string();
        (l, a)
    }

    fn hello(party: u32) -> Hello {
        Hello {
            protocol: "rep3".into(),
            protocol_version: 1,
            parties: 2,
            party,
            program_hash: [3; 32],
        }
    }

    /// Party 1 of two, with a fake party 0 driven by `fake` on the other end.
    fn against_fake_party_0(fake: impl FnOnce(TcpStream) + Send + 'static) -> VmError {
        let (l0, a0) = listener();
        let (l1, a1) = listener();
        let mut config = PartiesConfig::plain([a0, a1]);
        config.connect_timeout = Duration::from_secs(2);
        config.timeout = Duration::from_millis(300);
        let fake = thread::spawn(move || {
            let (mut s, _) = l0.accept().unwrap();
            let mut preamble = [0; 8];
            s.read_exact(&mut preamble).unwrap();
            write_frame(&mut s, &hello(0).encode()).unwrap();
            let _theirs = read_frame(&mut s, MAX_HELLO_LEN).unwrap();
            fake(s);
        });
        let result = TcpTransport::connect_with_listener(&config, 1, &hello(1), l1)
            .and_then(|mut t| t.exchange(&[vec![1, 2, 3], vec![]]));
        fake.join().unwrap();
        result.unwrap_err()
    }

    #[test]
    fn a_peer_announcing_a_huge_frame_is_refused() {
        let err = against_fake_party_0(|mut s| {
            s.write_all(&u32::MAX.to_le_bytes()).unwrap();
            thread::sleep(Duration::from_millis(100));
        });
        assert_eq!(
            err.to_string(),
            "party 0: sent a frame of 4294967295 bytes, which exceeds the limit of 1073741824"
        );
    }

    #[test]
    fn a_peer_that_hangs_up_or_stalls_is_named() {
        let err = against_fake_party_0(drop);
        assert_eq!(err.to_string(), "party 0: connection closed");
        let err = against_fake_party_0(|s| {
            // Holds the connection open but never answers, until after the timeout.
            thread::sleep(Duration::from_millis(600));
            drop(s);
        });
        assert_eq!(err.to_string(), "party 0: no message within 0.3 s");
        let err = against_fake_party_0(|mut s| {
            s.write_all(&10u32.to_le_bytes()).unwrap();
            s.write_all(&[1, 2]).unwrap();
            thread::sleep(Duration::from_millis(600));
        });
        assert_eq!(
            err.to_string(),
            "party 0: stalled for 0.3 s in the middle of a message (6 of 14 bytes)"
        );
    }

    /// Party 0 of three, real, against fake parties 1 and 2 that dial it, exchange
    /// hellos and then do `fake` with their connections (`[party 1's, party 2's]`).
    fn party_0_against_fakes(
        timeout: Duration,
        fake: impl FnOnce([TcpStream; 2]) + Send + 'static,
    ) -> VmError {
        party_0_sending_to_fakes(vec![vec![], vec![1], vec![2]], timeout, fake)
    }

    /// Party 0's error in a run against two fake peers that get `outgoing` in its first
    /// exchange, and which `fake` plays once connected.
    fn party_0_sending_to_fakes(
        outgoing: Vec<Vec<u8>>,
        timeout: Duration,
        fake: impl FnOnce([TcpStream; 2]) + Send + 'static,
    ) -> VmError {
        let (l0, a0) = listener();
        let mut config = PartiesConfig::plain([a0.clone(), "unused:1".into(), "unused:2".into()]);
        config.connect_timeout = Duration::from_secs(2);
        config.timeout = timeout;
        let hello = |party| Hello {
            parties: 3,
            ..hello(party)
        };
        let fakes = thread::spawn(move || {
            let dial = |party: u32| {
                let mut s = TcpStream::connect(&a0).unwrap();
                s.write_all(&[&PREAMBLE_MAGIC[..], &party.to_le_bytes()].concat())
                    .unwrap();
                write_frame(&mut s, &hello(party).encode()).unwrap();
                s
            };
            let mut streams = [dial(1), dial(2)];
            for s in &mut streams {
                read_frame(s, MAX_HELLO_LEN).unwrap();
            }
            fake(streams);
        });
        let result = TcpTransport::connect_with_listener(&config, 0, &hello(0), l0)
            .and_then(|mut t| t.exchange(&outgoing));
        fakes.join().unwrap();
        result.unwrap_err()
    }

    #[test]
    fn a_silent_peer_that_then_blames_another_party_is_believed() {
        let timeout = Duration::from_millis(300);
        let err = party_0_against_fakes(timeout, move |[mut p1, mut p2]| {
            write_frame(&mut p2, b"on time").unwrap();
            // Party 1 waited on party 2 a little longer than party 0 waited on party 1,
            // then gave up: its notice arrives just after party 0's timeout.
            thread::sleep(timeout + Duration::from_millis(200));
            p1.write_all(&[ABORT.to_le_bytes(), 2u32.to_le_bytes()].concat())
                .unwrap();
            // Party 0 told party 2 at its own timeout, before listening for the notice.
            assert_eq!(read_frame(&mut p2, MAX_FRAME).unwrap(), [2]);
            assert!(matches!(
                read_frame(&mut p2, MAX_FRAME),
                Err(FrameError::Aborted { culprit: 1 })
            ));
        });
        assert_eq!(
            err.to_string(),
            "party 2: failed (party 1 stopped because of it)"
        );
        // A notice later than the grace period is not waited for.
        let err = party_0_against_fakes(timeout, move |[p1, mut p2]| {
            write_frame(&mut p2, b"on time").unwrap();
            thread::sleep(timeout + ABORT_GRACE + Duration::from_millis(300));
            drop(p1);
        });
        assert_eq!(err.to_string(), "party 1: no message within 0.3 s");
    }

    #[test]
    fn the_abort_notice_follows_a_large_message_that_went_out_whole() {
        let large = vec![7u8; 1 << 20];
        let outgoing = vec![vec![], large.clone(), large.clone()];
        let err =
            party_0_sending_to_fakes(outgoing, Duration::from_secs(5), move |[mut p1, mut p2]| {
                assert_eq!(read_frame(&mut p2, MAX_FRAME).unwrap(), large);
                assert_eq!(read_frame(&mut p1, MAX_FRAME).unwrap(), large);
                // Party 0 has written both messages; party 1 then sends it garbage.
                thread::sleep(Duration::from_millis(50));
                p1.write_all(&(MAX_FRAME + 1).to_le_bytes()).unwrap();
                // Party 2 learns that party 1 is to blame, not that party 0 hung up.
                assert!(matches!(
                    read_frame(&mut p2, MAX_FRAME),
                    Err(FrameError::Aborted { culprit: 1 })
                ));
            });
        assert!(err.to_string().starts_with("party 1: "), "{err}");
    }

    #[test]
    fn a_peer_that_is_not_an_mpcvm_is_named() {
        let (l0, a0) = listener();
        let (l1, a1) = listener();
        let mut config = PartiesConfig::plain([a0, a1]);
        config.connect_timeout = Duration::from_secs(2);
        let fake = thread::spawn(move || {
            let (mut s, _) = l0.accept().unwrap();
            s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
            thread::sleep(Duration::from_millis(100));
        });
        let err = TcpTransport::connect_with_listener(&config, 1, &hello(1), l1).unwrap_err();
        fake.join().unwrap();
        assert_eq!(
            err.to_string(),
            "party 0: handshake: did not answer like an mpcvm party"
        );
    }

    #[test]
    fn a_stray_connection_is_dropped_and_mentioned() {
        let (l0, a0) = listener();
        let (_l1, a1) = listener();
        let mut config = PartiesConfig::plain([a0.clone(), a1]);
        config.connect_timeout = Duration::from_millis(300);
        let stray = thread::spawn(move || {
            let mut s = TcpStream::connect(&a0).unwrap();
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            thread::sleep(Duration::from_millis(500));
        });
        let err = TcpTransport::connect_with_listener(&config, 0, &hello(0), l0).unwrap_err();
        stray.join().unwrap();
        let message = err.to_string();
        assert!(
            message.starts_with("party 1: did not connect to this party (127.0.0.1:"),
            "{message}"
        );
        assert!(
            message.contains(") within 0.3 s; refused: 127.0.0.1:"),
            "{message}"
        );
        assert!(message.ends_with(" is not an mpcvm party"), "{message}");
    }
}
