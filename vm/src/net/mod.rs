//! Transports: how one party's messages reach the others.
//!
//! - [`local`]: in-memory channels between threads of one process, for simulation and
//!   tests.
//! - [`tcp`]: one TCP connection per pair of parties, set up from a `parties.toml`
//!   ([`config`]), with a handshake ([`Hello`]) that refuses a peer running another
//!   program, protocol or party count before any input is shared.
//! - [`tls`]: TLS 1.3 over those connections, each party pinned to the certificate the
//!   config lists for it.
//!
//! Both implement [`crate::Transport`] and count what they carry per peer
//! ([`PeerStats`]); the TCP transport reuses message buffers ([`BufferPool`]).

pub mod config;
pub mod local;
pub mod tcp;
pub mod tls;

use std::fmt::Write as _;

use crate::VmError;

/// What one transport carried to and from one peer. Bytes are message payloads: the
/// framing (4 bytes a message over TCP) and the handshake are not counted, so the
/// figures are what the protocol sent and compare directly with its cost model.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Payload bytes sent to the peer.
    pub bytes_sent: u64,
    /// Payload bytes received from the peer.
    pub bytes_received: u64,
    /// Exchanges with the peer (each sends one message and receives one).
    pub messages: u64,
}

impl PeerStats {
    /// The sum over `stats`, e.g. over every peer of a transport.
    pub fn total(stats: &[PeerStats]) -> PeerStats {
        stats.iter().fold(PeerStats::default(), |sum, s| PeerStats {
            bytes_sent: sum.bytes_sent + s.bytes_sent,
            bytes_received: sum.bytes_received + s.bytes_received,
            messages: sum.messages + s.messages,
        })
    }

    pub(crate) fn count(&mut self, sent: usize, received: usize) {
        self.bytes_sent += sent as u64;
        self.bytes_received += received as u64;
        self.messages += 1;
    }
}

/// Message buffers kept for reuse. A large message in fresh memory costs its page
/// faults, about as much again as computing it, so a transport reads into (and a
/// protocol writes its messages in) the buffers of earlier messages, such as those of
/// input sharing, when they are large enough.
#[derive(Debug, Default)]
pub struct BufferPool {
    spare: Vec<Vec<u8>>,
}

impl BufferPool {
    /// The most buffers kept: a round's two messages out and two in.
    const KEEP: usize = 4;
    /// Buffers smaller than this are not kept: the allocator reuses their memory anyway.
    const SMALL: usize = 64 << 10;

    /// An empty buffer for `len` bytes: the smallest kept one that holds them, else a new
    /// one with room for `len` bytes but no more than `fresh_limit` (none for no bytes).
    pub fn take(&mut self, len: usize, fresh_limit: usize) -> Vec<u8> {
        if len == 0 {
            return Vec::new();
        }
        let fits = self
            .spare
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        match fits {
            Some(i) => self.spare.swap_remove(i),
            None => Vec::with_capacity(len.min(fresh_limit)),
        }
    }

    /// Keeps `buffer` for a later [`BufferPool::take`], if it is large enough to be worth
    /// it; beyond `BufferPool::KEEP` buffers, the smallest goes.
    pub fn give(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() < Self::SMALL {
            return;
        }
        buffer.clear();
        self.spare.push(buffer);
        if self.spare.len() > Self::KEEP {
            if let Some((i, _)) = self
                .spare
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.capacity())
            {
                self.spare.swap_remove(i);
            }
        }
    }
}

/// What two parties must agree on before they share anything: each sends its own and
/// checks the peer's with [`Hello::check_peer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The protocol's name (`rep3`).
    pub protocol: String,
    /// The version of the protocol's messages; parties of different versions cannot
    /// understand each other even when the protocol's name is the same.
    pub protocol_version: u32,
    /// The number of parties in the run.
    pub parties: u32,
    /// The sender's party id.
    pub party: u32,
    /// The hash of the program's body (`Header::body_hash`).
    pub program_hash: [u8; 32],
}

/// Starts every encoded [`Hello`], so that a party that reaches something other than an
/// `mpcvm` (or an `mpcvm` with another handshake) says so instead of misreading it.
const HELLO_MAGIC: [u8; 4] = *b"MPCH";
/// The layout of an encoded [`Hello`]; bump it when the fields change.
const HELLO_FORMAT: u16 = 1;
/// A protocol name is short; the bound keeps a hello small and its decoding trivial.
pub const MAX_PROTOCOL_NAME: usize = 64;
/// An encoded hello is never longer than this, so a peer's handshake frame is read
/// under this limit rather than the (much larger) message limit.
pub const MAX_HELLO_LEN: u32 = (4 + 2 + 1 + MAX_PROTOCOL_NAME + 4 + 4 + 4 + 32) as u32;

impl Hello {
    /// The bytes sent over the wire: magic, format, name (length byte + UTF-8), version,
    /// party count, party id (little-endian `u32`s), hash.
    pub fn encode(&self) -> Vec<u8> {
        // A longer name is cut rather than refused: it is ours, and the peer compares
        // names anyway, so a cut name still fails to match a different one.
        let mut cut = self.protocol.len().min(MAX_PROTOCOL_NAME);
        while !self.protocol.is_char_boundary(cut) {
            cut -= 1;
        }
        let name = &self.protocol.as_bytes()[..cut];
        let mut out = Vec::with_capacity(MAX_HELLO_LEN as usize);
        out.extend_from_slice(&HELLO_MAGIC);
        out.extend_from_slice(&HELLO_FORMAT.to_le_bytes());
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&self.protocol_version.to_le_bytes());
        out.extend_from_slice(&self.parties.to_le_bytes());
        out.extend_from_slice(&self.party.to_le_bytes());
        out.extend_from_slice(&self.program_hash);
        out
    }

    /// Reads what [`Hello::encode`] wrote. The error says what is wrong, for a
    /// [`VmError::Peer`] reason.
    pub fn decode(bytes: &[u8]) -> Result<Hello, String> {
        let not_mpcvm = || "sent a handshake that is not an mpcvm hello".to_string();
        let mut r = Reader(bytes);
        if r.take(4).ok_or_else(not_mpcvm)? != HELLO_MAGIC {
            return Err(not_mpcvm());
        }
        let format = r.u16().ok_or_else(not_mpcvm)?;
        if format != HELLO_FORMAT {
            return Err(format!(
                "speaks handshake format {format}, but this party speaks {HELLO_FORMAT} \
                 (different mpcvm versions?)"
            ));
        }
        let truncated = || "sent a truncated hello".to_string();
        let name_len = r.take(1).ok_or_else(truncated)?[0] as usize;
        let name = r.take(name_len).ok_or_else(truncated)?;
        let protocol = std::str::from_utf8(name)
            .map_err(|_| "sent a protocol name that is not UTF-8".to_string())?
            .to_string();
        let protocol_version = r.u32().ok_or_else(truncated)?;
        let parties = r.u32().ok_or_else(truncated)?;
        let party = r.u32().ok_or_else(truncated)?;
        let program_hash = r
            .take(32)
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
            .ok_or_else(truncated)?;
        if !r.0.is_empty() {
            return Err(format!("sent {} bytes after its hello", r.0.len()));
        }
        Ok(Hello {
            protocol,
            protocol_version,
            parties,
            party,
            program_hash,
        })
    }

    /// Checks the hello `theirs` received from party `peer` against this party's own
    /// (`self`). Every difference is named, e.g. `party 2: runs program 0a1b2c3d4e5f…,
    /// but this party runs 9f8e7d6c5b4a…`.
    pub fn check_peer(&self, peer: u32, theirs: &Hello) -> Result<(), VmError> {
        let mut differences = Vec::new();
        if theirs.party != peer {
            differences.push(format!("says it is party {}", theirs.party));
        }
        if theirs.protocol != self.protocol {
            differences.push(format!(
                "runs protocol `{}`, but this party runs `{}`",
                theirs.protocol, self.protocol
            ));
        } else if theirs.protocol_version != self.protocol_version {
            differences.push(format!(
                "runs {} version {}, but this party runs version {}",
                self.protocol, theirs.protocol_version, self.protocol_version
            ));
        }
        if theirs.parties != self.parties {
            differences.push(format!(
                "expects {} parties, but this party expects {}",
                theirs.parties, self.parties
            ));
        }
        if theirs.program_hash != self.program_hash {
            differences.push(format!(
                "runs program {}, but this party runs {}",
                short_hash(&theirs.program_hash),
                short_hash(&self.program_hash)
            ));
        }
        if differences.is_empty() {
            Ok(())
        } else {
            Err(VmError::Peer {
                party: peer,
                reason: differences.join("; "),
            })
        }
    }
}

/// A duration as messages print it: `60 s`, `0.5 s`.
pub(crate) fn seconds(d: std::time::Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// The first 12 hex digits of a hash: enough to tell programs apart in a message.
fn short_hash(hash: &[u8; 32]) -> String {
    let mut s = String::with_capacity(13);
    for byte in &hash[..6] {
        let _ = write!(s, "{byte:02x}");
    }
    s.push('…');
    s
}

/// A cursor over a peer's bytes that never reads past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_lends_the_smallest_buffer_that_fits_and_keeps_a_few_large_ones() {
        const MB: usize = 1 << 20;
        let mut pool = BufferPool::default();
        // Nothing kept yet: a new buffer, no larger than the limit.
        assert_eq!(pool.take(8 * MB, MB).capacity(), MB);
        pool.give(vec![0; 1000]);
        assert!(pool.spare.is_empty(), "small buffers are not worth keeping");
        for size in [4, 1, 2, 8, 16] {
            pool.give(vec![7; size * MB]);
        }
        let mut kept: Vec<usize> = pool.spare.iter().map(Vec::capacity).collect();
        kept.sort();
        assert_eq!(kept, [2 * MB, 4 * MB, 8 * MB, 16 * MB], "the smallest went");
        let lent = pool.take(3 * MB, 0);
        assert_eq!((lent.capacity(), lent.len()), (4 * MB, 0));
        assert_eq!(pool.take(17 * MB, 0).capacity(), 0, "none fits: a new one");
        assert_eq!(pool.spare.len(), 3);
    }

    fn hello(party: u32) -> Hello {
        Hello {
            protocol: "rep3".into(),
            protocol_version: 1,
            parties: 3,
            party,
            program_hash: [0xab; 32],
        }
    }

    #[test]
    fn a_hello_survives_encoding() {
        let h = hello(2);
        let bytes = h.encode();
        assert!(bytes.len() <= MAX_HELLO_LEN as usize);
        assert_eq!(Hello::decode(&bytes), Ok(h));
    }

    #[test]
    fn malformed_hellos_are_errors_not_panics() {
        let bytes = hello(1).encode();
        for cut in 0..bytes.len() {
            assert!(Hello::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(
            Hello::decode(b"GET / HTTP/1.1\r\n").unwrap_err(),
            "sent a handshake that is not an mpcvm hello"
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Hello::decode(&longer).unwrap_err(),
            "sent 1 bytes after its hello"
        );
        let mut future = bytes.clone();
        future[4] = 9;
        assert_eq!(
            Hello::decode(&future).unwrap_err(),
            "speaks handshake format 9, but this party speaks 1 (different mpcvm versions?)"
        );
        let mut bad_name = bytes;
        bad_name[7] = 0xff;
        assert_eq!(
            Hello::decode(&bad_name).unwrap_err(),
            "sent a protocol name that is not UTF-8"
        );
    }

    #[test]
    fn a_long_protocol_name_is_cut_not_a_panic() {
        let mut h = hello(0);
        h.protocol = "x".repeat(200);
        let decoded = Hello::decode(&h.encode()).unwrap();
        assert_eq!(decoded.protocol.len(), MAX_PROTOCOL_NAME);
        // Cut on a character boundary, so the name stays UTF-8.
        h.protocol = "é".repeat(100);
        let decoded = Hello::decode(&h.encode()).unwrap();
        assert_eq!(decoded.protocol, "é".repeat(MAX_PROTOCOL_NAME / 2));
    }

    #[test]
    fn mismatches_name_the_party_and_what_differs() {
        let mine = hello(0);
        assert_eq!(mine.check_peer(2, &hello(2)), Ok(()));

        let mut other = hello(2);
        other.program_hash = [0x9f; 32];
        assert_eq!(
            mine.check_peer(2, &other).unwrap_err().to_string(),
            "party 2: runs program 9f9f9f9f9f9f…, but this party runs abababababab…"
        );
        assert_eq!(
            mine.check_peer(1, &hello(2)).unwrap_err().to_string(),
            "party 1: says it is party 2"
        );

        let mut other = hello(1);
        other.protocol = "clear".into();
        other.parties = 4;
        assert_eq!(
            mine.check_peer(1, &other).unwrap_err().to_string(),
            "party 1: runs protocol `clear`, but this party runs `rep3`; \
             expects 4 parties, but this party expects 3"
        );
        let mut other = hello(1);
        other.protocol_version = 2;
        assert_eq!(
            mine.check_peer(1, &other).unwrap_err().to_string(),
            "party 1: runs rep3 version 2, but this party runs version 1"
        );
    }

    #[test]
    fn stats_add_up() {
        let mut a = PeerStats::default();
        a.count(10, 20);
        a.count(1, 2);
        let b = PeerStats {
            bytes_sent: 5,
            bytes_received: 6,
            messages: 1,
        };
        assert_eq!(
            PeerStats::total(&[a, b]),
            PeerStats {
                bytes_sent: 16,
                bytes_received: 28,
                messages: 3
            }
        );
    }
}
