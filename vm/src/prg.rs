//! The keystreams of rep3's correlated randomness: AES-128 in counter mode (the `aes`
//! and `ctr` crates, which use the processor's AES instructions where it has them and a
//! constant-time software implementation otherwise).
//!
//! A 32-byte key from the operating system gives the AES key (its first 16 bytes) and
//! the initial counter block (the other 16). The two parties holding a key read the same
//! bytes of its stream in the same order, however they split their reads.

use aes::cipher::{KeyIvInit, StreamCipher};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Bytes of keystream computed ahead for single-word draws.
const BUFFER: usize = 512;

/// A keystream read as words or as byte blocks.
pub struct Keystream {
    cipher: Aes128Ctr,
    buffer: [u8; BUFFER],
    /// Bytes of `buffer` already read.
    used: usize,
}

impl Keystream {
    /// The stream of `seed`.
    pub fn new(seed: &[u8; 32]) -> Keystream {
        let (key, counter) = seed.split_at(16);
        Keystream {
            cipher: Aes128Ctr::new(key.into(), counter.into()),
            buffer: [0; BUFFER],
            used: BUFFER,
        }
    }

    /// The next 8 bytes of the stream, little-endian.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        if let Some(word) = self.buffer.get(self.used..self.used + 8) {
            self.used += 8;
            return u64::from_le_bytes(word.try_into().unwrap_or_default());
        }
        let mut word = [0u8; 8];
        self.fill_bytes(&mut word);
        u64::from_le_bytes(word)
    }

    /// The next `out.len()` bytes of the stream.
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        let buffered = out.len().min(BUFFER - self.used);
        out[..buffered].copy_from_slice(&self.buffer[self.used..self.used + buffered]);
        self.used += buffered;
        let rest = &mut out[buffered..];
        if rest.is_empty() {
            return;
        }
        if rest.len() >= BUFFER {
            // Large reads skip the buffer, which is empty here.
            rest.fill(0);
            self.cipher.apply_keystream(rest);
        } else {
            self.buffer.fill(0);
            self.cipher.apply_keystream(&mut self.buffer);
            rest.copy_from_slice(&self.buffer[..rest.len()]);
            self.used = rest.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole stream of `seed` up to `len` bytes, read in one piece.
    fn whole(seed: &[u8; 32], len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        Keystream::new(seed).fill_bytes(&mut out);
        out
    }

    #[test]
    fn reads_of_any_size_give_the_same_stream() {
        let seed = [9u8; 32];
        let expected = whole(&seed, 4000);
        let mut stream = Keystream::new(&seed);
        let mut got = Vec::new();
        for (i, size) in [8, 3, 600, 8, 1, 1024, 8, 8, 100, 2000].iter().enumerate() {
            if i % 3 == 0 {
                got.extend_from_slice(&stream.next_u64().to_le_bytes());
            } else {
                let mut part = vec![0; *size];
                stream.fill_bytes(&mut part);
                got.extend_from_slice(&part);
            }
        }
        assert_eq!(got, expected[..got.len()]);
    }

    #[test]
    fn the_stream_is_aes_128_ctr_of_the_seed() {
        // Block `i` of the stream is the AES encryption of the counter block plus `i`.
        use aes::cipher::{BlockEncrypt, KeyInit};
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(&(0u8..16).collect::<Vec<_>>());
        seed[31] = 5;
        let cipher = aes::Aes128::new((&seed[..16]).into());
        let mut block = aes::Block::clone_from_slice(&seed[16..]);
        cipher.encrypt_block(&mut block);
        assert_eq!(whole(&seed, 16), block.as_slice());
        // The next block uses the next counter value.
        let mut counter = seed[16..].to_vec();
        counter[15] += 1;
        let mut block = aes::Block::clone_from_slice(&counter);
        cipher.encrypt_block(&mut block);
        assert_eq!(&whole(&seed, 32)[16..], block.as_slice());
        // Different seeds, different streams.
        assert_ne!(whole(&seed, 64), whole(&[1; 32], 64));
    }
}
