//! The Merkle root of a seal. Leaves are the players with at least one posting, in
//! ascending order of player id; a leaf is `SHA-256(0x00 ‖ player id ‖ "\n" ‖ postings ‖
//! "\n" ‖ head)`, a node `SHA-256(0x01 ‖ left ‖ right)`, and a node without a partner
//! moves up a level as it is. The prefixes keep a leaf from passing for a node. With no
//! leaf the root is `SHA-256` of nothing.
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf(player_id: &str, postings: i64, head: &str) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(player_id.as_bytes());
    hasher.update(b"\n");
    hasher.update(postings.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(head.as_bytes());
    hasher.finalize().into()
}

/// What a seal signs about its leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The Merkle root, hex.
    pub root: String,
    pub players: i64,
    /// The postings of every player, summed.
    pub postings: i64,
}

/// The summary of `(player id, postings, head)` leaves given in ascending player id.
pub fn summarise<'a>(leaves: impl Iterator<Item = (&'a str, i64, &'a str)>) -> Summary {
    let mut hashes = Vec::new();
    let mut postings = 0;
    for (player_id, count, head) in leaves {
        postings += count;
        hashes.push(leaf(player_id, count, head));
    }
    Summary {
        players: hashes.len() as i64,
        postings,
        root: root(hashes),
    }
}

/// The root over `leaves` in the order given, hex.
pub fn root(mut level: Vec<Hash>) -> String {
    if level.is_empty() {
        return hex::encode(Sha256::digest([]));
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    let mut hasher = Sha256::new();
                    hasher.update([1u8]);
                    hasher.update(left);
                    hasher.update(right);
                    hasher.finalize().into()
                }
                [alone] => *alone,
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    hex::encode(level[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_changes_with_any_leaf_and_their_order() {
        let leaves = vec![leaf("a", 1, "x"), leaf("b", 2, "y"), leaf("c", 3, "z")];
        let base = root(leaves.clone());
        assert_eq!(base.len(), 64);
        assert_eq!(base, root(leaves.clone()));
        let mut changed = leaves.clone();
        changed[2] = leaf("c", 4, "z");
        assert_ne!(base, root(changed));
        let mut swapped = leaves.clone();
        swapped.swap(0, 1);
        assert_ne!(base, root(swapped));
        assert_ne!(base, root(leaves[..2].to_vec()));
        assert_ne!(root(Vec::new()), root(vec![leaf("a", 1, "x")]));
    }
}
