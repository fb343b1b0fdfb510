//! The per-till document chain: every sale, refund and void links to the till's previous
//! document (any of the three kinds, in `seq` order) by `prev_hash` (docs/protocol.md).

use sha2::{Digest, Sha256};

/// `hex(sha256(prev_hash + "\n" + canonical))`, the hash of every document kind.
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}
