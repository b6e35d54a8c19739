//! Per-file state keyed by file identity (`Origin::fid`), for the stages that look a tailed file
//! up once per record: the acknowledgement tracker and the lines seen (ls-roll, ls-watch).
//!
//! Consecutive records mostly come from one file, so the entry found last is compared before
//! the map is hashed. Entries are never removed, and are addressed by a stable index.

use std::collections::HashMap;

#[derive(Debug)]
pub struct FidTable<V> {
    entries: Vec<(String, V)>,
    by_fid: HashMap<String, usize>,
    /// The entry found last.
    last: Option<usize>,
}

impl<V> Default for FidTable<V> {
    fn default() -> Self {
        FidTable {
            entries: Vec::new(),
            by_fid: HashMap::new(),
            last: None,
        }
    }
}

impl<V: Default> FidTable<V> {
    /// The index of the entry of `fid`, added with a default value if new.
    pub fn index(&mut self, fid: &str) -> usize {
        let index = match self.last {
            Some(i) if self.entries[i].0 == fid => i,
            _ => match self.by_fid.get(fid) {
                Some(&i) => i,
                None => {
                    self.entries.push((fid.to_string(), V::default()));
                    self.by_fid.insert(fid.to_string(), self.entries.len() - 1);
                    self.entries.len() - 1
                }
            },
        };
        self.last = Some(index);
        index
    }
}

impl<V> FidTable<V> {
    pub fn get(&self, index: usize) -> Option<&V> {
        self.entries.get(index).map(|(_, value)| value)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut V> {
        self.entries.get_mut(index).map(|(_, value)| value)
    }

    /// Every entry, with its file identity, in the order they were added.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut V)> {
        self.entries
            .iter_mut()
            .map(|(fid, value)| (fid.as_str(), value))
    }

    /// The file identities, in the order they were added.
    pub fn fids(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(fid, _)| fid.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_keeps_its_index() {
        let mut table: FidTable<u32> = FidTable::default();
        let a = table.index("a");
        let b = table.index("b");
        assert_ne!(a, b);
        assert_eq!(table.index("a"), a);
        assert_eq!(table.index("a"), a);
        *table.get_mut(b).unwrap() += 2;
        assert_eq!(table.index("b"), b);
        assert_eq!(table.get(b), Some(&2));
        assert_eq!(table.fids().collect::<Vec<_>>(), ["a", "b"]);
    }
}
