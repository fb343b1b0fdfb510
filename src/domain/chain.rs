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

/// A document of the chain: its canonical form and its link. Sealing and verifying are the
/// same for every kind.
pub trait Document {
    /// The canonical text the hash covers (docs/protocol.md).
    fn canonical(&self) -> String;
    /// The stored link: `(prev_hash, hash)`.
    fn link(&self) -> (&str, &str);
    /// Stores a new link.
    fn set_link(&mut self, prev_hash: String, hash: String);

    /// `hex(sha256(prev_hash + "\n" + canonical))`.
    fn compute_hash(&self, prev_hash: &str) -> String {
        chain_hash(prev_hash, &self.canonical())
    }

    /// Links this document to the till's previous one.
    fn seal(&mut self, prev_hash: &str) {
        let hash = self.compute_hash(prev_hash);
        self.set_link(prev_hash.to_string(), hash);
    }

    /// True when the stored hash matches the content and the given previous hash.
    fn verify(&self, prev_hash: &str) -> bool {
        let (prev, hash) = self.link();
        prev == prev_hash && hash == self.compute_hash(prev_hash)
    }
}
