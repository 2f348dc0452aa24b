//! In-memory transports between threads of one process: one channel per ordered pair of
//! parties. For simulating every party in one process and for tests.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::{seconds, PeerStats};
use crate::{Transport, VmError};

/// How long [`LocalTransport::exchange`] waits for a peer's message by default. Generous:
/// a peer may be computing a large round; the bound is there so that a peer that
/// stalled (a bug) is an error rather than a hang.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// One party's end of an in-memory mesh (see [`local_mesh`]). Movable to its own thread.
#[derive(Debug)]
pub struct LocalTransport {
    party: u32,
    parties: u32,
    /// `to[p]` carries this party's messages to `p`; `None` for this party.
    to: Vec<Option<Sender<Vec<u8>>>>,
    /// `from[p]` carries `p`'s messages to this party; `None` for this party.
    from: Vec<Option<Receiver<Vec<u8>>>>,
    timeout: Duration,
    stats: Vec<PeerStats>,
    /// The first error: later exchanges repeat it, since a half-done exchange leaves the
    /// peers out of step for good.
    failed: Option<VmError>,
}

/// Transports for `parties` parties that talk through in-memory channels; element `p` is
/// party `p`'s. A party whose transport is dropped (its thread ended or panicked) makes
/// the others' exchanges fail with [`VmError::Peer`] instead of waiting forever.
pub fn local_mesh(parties: u32) -> Vec<LocalTransport> {
    let n = parties as usize;
    // senders[i][j] / receivers[j][i]: the channel from party i to party j.
    let mut senders: Vec<Vec<Option<Sender<Vec<u8>>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    let mut receivers: Vec<Vec<Option<Receiver<Vec<u8>>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let (tx, rx) = channel();
                senders[i][j] = Some(tx);
                receivers[j][i] = Some(rx);
            }
        }
    }
    senders
        .into_iter()
        .zip(receivers)
        .enumerate()
        .map(|(party, (to, from))| LocalTransport {
            party: party as u32,
            parties,
            to,
            from,
            timeout: DEFAULT_TIMEOUT,
            stats: vec![PeerStats::default(); n],
            failed: None,
        })
        .collect()
}

impl LocalTransport {
    /// Sets how long an exchange waits for each peer's message.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// What this transport carried to and from each party, indexed by party id (this
    /// party's own entry stays zero).
    pub fn stats(&self) -> Vec<PeerStats> {
        self.stats.clone()
    }

    fn try_exchange(&mut self, outgoing: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, VmError> {
        check_outgoing(outgoing, self.parties)?;
        let closed = |party| VmError::Peer {
            party,
            reason: "connection closed".to_string(),
        };
        // Channels are unbounded, so sending never blocks: all sends first, then all
        // receives, cannot deadlock.
        for (peer, to) in self.to.iter().enumerate() {
            if let Some(to) = to {
                to.send(outgoing[peer].clone())
                    .map_err(|_| closed(peer as u32))?;
            }
        }
        let mut incoming = vec![Vec::new(); self.parties as usize];
        for (peer, from) in self.from.iter().enumerate() {
            let Some(from) = from else { continue };
            incoming[peer] = from.recv_timeout(self.timeout).map_err(|e| match e {
                RecvTimeoutError::Disconnected => closed(peer as u32),
                RecvTimeoutError::Timeout => VmError::Peer {
                    party: peer as u32,
                    reason: format!("no message within {}", seconds(self.timeout)),
                },
            })?;
        }
        for (peer, stats) in self.stats.iter_mut().enumerate() {
            if peer != self.party as usize {
                stats.count(outgoing[peer].len(), incoming[peer].len());
            }
        }
        Ok(incoming)
    }
}

/// An exchange needs one message slot per party; anything else is a protocol's bug.
pub(crate) fn check_outgoing(outgoing: &[Vec<u8>], parties: u32) -> Result<(), VmError> {
    if outgoing.len() == parties as usize {
        Ok(())
    } else {
        Err(VmError::Protocol {
            protocol: "transport",
            reason: format!(
                "an exchange got {} messages for {parties} parties",
                outgoing.len()
            ),
        })
    }
}

impl Transport for LocalTransport {
    fn party(&self) -> u32 {
        self.party
    }

    fn parties(&self) -> u32 {
        self.parties
    }

    fn exchange(&mut self, outgoing: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, VmError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.try_exchange(outgoing);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            // Hang up, so that the peers fail at once instead of at their timeout.
            self.to.iter_mut().for_each(|t| *t = None);
            self.from.iter_mut().for_each(|f| *f = None);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// Party `p` sends `[p, q, round]` repeated `p + q + 1` times to party `q`.
    fn message(p: usize, q: usize, round: u8) -> Vec<u8> {
        [p as u8, q as u8, round].repeat(p + q + 1)
    }

    #[test]
    fn every_party_receives_what_each_peer_sent_it() {
        let handles: Vec<_> = local_mesh(3)
            .into_iter()
            .map(|mut t| {
                std::thread::spawn(move || {
                    let me = t.party() as usize;
                    for round in 0..4u8 {
                        let out: Vec<_> = (0..3).map(|q| message(me, q, round)).collect();
                        let got = t.exchange(&out).unwrap();
                        for (p, msg) in got.iter().enumerate() {
                            let expected = if p == me {
                                Vec::new()
                            } else {
                                message(p, me, round)
                            };
                            assert_eq!(*msg, expected, "party {me} from {p}, round {round}");
                        }
                    }
                    t.stats()
                })
            })
            .collect();
        let stats: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // Party 0 sent 4 rounds of message(0, 1) (6 bytes) to party 1 and received
        // 4 of message(1, 0), also 6 bytes.
        assert_eq!(
            stats[0][1],
            PeerStats {
                bytes_sent: 24,
                bytes_received: 24,
                messages: 4
            }
        );
        assert_eq!(stats[0][0], PeerStats::default());
        assert_eq!(stats[2][1].bytes_sent, 4 * 12);
    }

    #[test]
    fn a_dropped_peer_is_an_error_not_a_hang() {
        let mut mesh = local_mesh(3);
        let gone = mesh.pop().unwrap();
        drop(gone);
        let start = Instant::now();
        let mut t0 = mesh.remove(0);
        let err = t0.exchange(&[vec![], vec![1], vec![2]]).unwrap_err();
        assert_eq!(err.to_string(), "party 2: connection closed");
        assert!(start.elapsed() < Duration::from_secs(5));
        // The transport stays failed.
        assert_eq!(t0.exchange(&[vec![], vec![], vec![]]), Err(err));
    }

    #[test]
    fn a_peer_that_finished_its_last_exchange_still_delivers_it() {
        let mut mesh = local_mesh(2);
        let mut t1 = mesh.pop().unwrap();
        let mut t0 = mesh.pop().unwrap();
        let peer = std::thread::spawn(move || t1.exchange(&[vec![7], vec![]]).map(|_| ()));
        // t1 may end (and drop its transport) before t0 even sends.
        std::thread::sleep(Duration::from_millis(20));
        let got = t0.exchange(&[vec![], vec![8]]).unwrap();
        assert_eq!(got, vec![vec![], vec![7]]);
        peer.join().unwrap().unwrap();
    }

    #[test]
    fn a_stalled_peer_times_out() {
        let mut mesh = local_mesh(2);
        let _stalled = mesh.pop().unwrap();
        let mut t0 = mesh.pop().unwrap();
        t0.set_timeout(Duration::from_millis(50));
        let err = t0.exchange(&[vec![], vec![1]]).unwrap_err();
        assert_eq!(err.to_string(), "party 1: no message within 0.05 s");
    }

    #[test]
    fn the_wrong_number_of_messages_is_a_bug_report() {
        let mut t0 = local_mesh(2).swap_remove(0);
        let err = t0.exchange(&[vec![]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "internal error in protocol `transport`: an exchange got 1 messages for 2 parties"
        );
    }
}
