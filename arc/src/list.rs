//! A slab of entries threaded on four intrusive LRU lists.
//!
//! Every ARC operation on a list (push at the MRU end, unlink from anywhere,
//! move to another list, look at the LRU end) is O(1). Entries live in one
//! `Vec` and refer to each other by index, so there is no pointer juggling and
//! no allocation per operation. Removal swaps the last entry into the hole
//! and tells the caller, who owns the key-to-index map, which index moved.

/// The "no entry" index.
pub(crate) const NIL: u32 = u32::MAX;

/// The four ARC lists: resident recency and frequency lists (T1, T2) and
/// their ghost lists (B1, B2), which remember keys and weights only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListId {
    /// Resident, seen once (recency).
    T1 = 0,
    /// Resident, seen at least twice (frequency).
    T2 = 1,
    /// Ghost of T1.
    B1 = 2,
    /// Ghost of T2.
    B2 = 3,
}

impl ListId {
    /// Whether entries of this list hold their value.
    pub(crate) fn is_resident(self) -> bool {
        matches!(self, ListId::T1 | ListId::T2)
    }
}

#[derive(Clone, Copy, Debug)]
struct Head {
    /// Most recently used end.
    mru: u32,
    /// Least recently used end.
    lru: u32,
    len: usize,
    bytes: u64,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            mru: NIL,
            lru: NIL,
            len: 0,
            bytes: 0,
        }
    }
}

struct Entry<T> {
    /// Toward the MRU end.
    prev: u32,
    /// Toward the LRU end.
    next: u32,
    list: ListId,
    weight: u64,
    item: T,
}

/// Entries on four lists, addressed by `u32` index.
pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    heads: [Head; 4],
}

impl<T> Slab<T> {
    /// An empty slab.
    pub(crate) fn new() -> Self {
        Slab {
            entries: Vec::new(),
            heads: [Head::default(); 4],
        }
    }

    /// Number of entries on `list`.
    pub(crate) fn len(&self, list: ListId) -> usize {
        self.heads[list as usize].len
    }

    /// Sum of the weights of the entries on `list`.
    pub(crate) fn bytes(&self, list: ListId) -> u64 {
        self.heads[list as usize].bytes
    }

    /// The least recently used entry of `list`, or `NIL`.
    pub(crate) fn lru(&self, list: ListId) -> u32 {
        self.heads[list as usize].lru
    }

    /// The neighbour of `idx` one step toward the MRU end, or `NIL`.
    pub(crate) fn toward_mru(&self, idx: u32) -> u32 {
        self.entries[idx as usize].prev
    }

    /// The list `idx` is on.
    pub(crate) fn list(&self, idx: u32) -> ListId {
        self.entries[idx as usize].list
    }

    /// The weight `idx` is charged.
    pub(crate) fn weight(&self, idx: u32) -> u64 {
        self.entries[idx as usize].weight
    }

    /// The payload of `idx`.
    pub(crate) fn item(&self, idx: u32) -> &T {
        &self.entries[idx as usize].item
    }

    /// The payload of `idx`, mutably.
    pub(crate) fn item_mut(&mut self, idx: u32) -> &mut T {
        &mut self.entries[idx as usize].item
    }

    /// Changes the weight of `idx`, keeping its list's byte count right.
    pub(crate) fn set_weight(&mut self, idx: u32, weight: u64) {
        let e = &mut self.entries[idx as usize];
        let head = &mut self.heads[e.list as usize];
        head.bytes = head.bytes - e.weight + weight;
        e.weight = weight;
    }

    /// Adds a new entry at the MRU end of `list` and returns its index.
    pub(crate) fn push(&mut self, list: ListId, weight: u64, item: T) -> u32 {
        let idx = u32::try_from(self.entries.len())
            .ok()
            .filter(|&i| i != NIL)
            .unwrap_or_else(|| panic!("ARC slab is full: more than {} entries", NIL - 1));
        self.entries.push(Entry {
            prev: NIL,
            next: NIL,
            list,
            weight,
            item,
        });
        self.link_mru(idx, list);
        idx
    }

    /// Moves `idx` to the MRU end of `list` (which may be its own list).
    pub(crate) fn move_to_mru(&mut self, idx: u32, list: ListId) {
        if self.entries[idx as usize].list == list && self.heads[list as usize].mru == idx {
            // Already there: a hot block hit again writes nothing.
            return;
        }
        self.unlink(idx);
        self.link_mru(idx, list);
    }

    /// Removes `idx` and returns its payload. If another entry had to move
    /// into the freed index, returns the index it moved from (it now lives at
    /// `idx`), so the caller can update its key map.
    pub(crate) fn remove(&mut self, idx: u32) -> (T, Option<u32>) {
        self.unlink(idx);
        let last = (self.entries.len() - 1) as u32;
        if idx != last {
            // Re-point the neighbours of `last` at its new home, `idx`.
            let (prev, next, list) = {
                let e = &self.entries[last as usize];
                (e.prev, e.next, e.list)
            };
            match prev {
                NIL => self.heads[list as usize].mru = idx,
                p => self.entries[p as usize].next = idx,
            }
            match next {
                NIL => self.heads[list as usize].lru = idx,
                n => self.entries[n as usize].prev = idx,
            }
        }
        let entry = self.entries.swap_remove(idx as usize);
        (entry.item, (idx != last).then_some(last))
    }

    fn link_mru(&mut self, idx: u32, list: ListId) {
        let head = &mut self.heads[list as usize];
        let old = head.mru;
        head.mru = idx;
        if old == NIL {
            head.lru = idx;
        }
        head.len += 1;
        let e = &mut self.entries[idx as usize];
        head.bytes += e.weight;
        e.list = list;
        e.prev = NIL;
        e.next = old;
        if old != NIL {
            self.entries[old as usize].prev = idx;
        }
    }

    fn unlink(&mut self, idx: u32) {
        let (prev, next, list, weight) = {
            let e = &self.entries[idx as usize];
            (e.prev, e.next, e.list, e.weight)
        };
        let head = &mut self.heads[list as usize];
        head.len -= 1;
        head.bytes -= weight;
        match prev {
            NIL => head.mru = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => head.lru = prev,
            n => self.entries[n as usize].prev = prev,
        }
        let e = &mut self.entries[idx as usize];
        e.prev = NIL;
        e.next = NIL;
    }

    /// The payloads of `list` from MRU to LRU (for tests and debugging).
    #[cfg(test)]
    pub(crate) fn items_mru_first(&self, list: ListId) -> Vec<&T> {
        let mut out = Vec::new();
        let mut idx = self.heads[list as usize].mru;
        while idx != NIL {
            out.push(&self.entries[idx as usize].item);
            idx = self.entries[idx as usize].next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(s: &Slab<char>, l: ListId) -> String {
        s.items_mru_first(l).into_iter().collect()
    }

    #[test]
    fn push_move_and_remove_keep_lists_consistent() {
        let mut s = Slab::new();
        let a = s.push(ListId::T1, 1, 'a');
        let b = s.push(ListId::T1, 2, 'b');
        let c = s.push(ListId::T1, 3, 'c');
        assert_eq!(order(&s, ListId::T1), "cba");
        assert_eq!(s.bytes(ListId::T1), 6);
        assert_eq!(*s.item(s.lru(ListId::T1)), 'a');

        s.move_to_mru(a, ListId::T2);
        assert_eq!(order(&s, ListId::T1), "cb");
        assert_eq!(order(&s, ListId::T2), "a");
        assert_eq!((s.bytes(ListId::T1), s.bytes(ListId::T2)), (5, 1));
        assert_eq!(s.list(a), ListId::T2);

        // Removing the first entry moves the last one (c) into its slot.
        let (item, moved) = s.remove(a);
        assert_eq!(item, 'a');
        assert_eq!(moved, Some(c));
        assert_eq!(*s.item(a), 'c');
        assert_eq!(order(&s, ListId::T1), "cb");
        assert_eq!(s.len(ListId::T2), 0);
        assert_eq!(s.lru(ListId::T2), NIL);

        // The moved entry is still fully linked: move it and walk the list.
        s.move_to_mru(a, ListId::B1);
        assert_eq!(order(&s, ListId::T1), "b");
        assert_eq!(s.toward_mru(b), NIL);
        let (item, moved) = s.remove(b);
        assert_eq!((item, moved), ('b', None));
        assert_eq!(order(&s, ListId::B1), "c");
        s.set_weight(a, 10);
        assert_eq!(s.bytes(ListId::B1), 10);
    }

    #[test]
    fn walking_from_lru_visits_every_entry() {
        let mut s = Slab::new();
        for ch in "abcdef".chars() {
            s.push(ListId::T2, 1, ch);
        }
        let mut seen = String::new();
        let mut idx = s.lru(ListId::T2);
        while idx != NIL {
            seen.push(*s.item(idx));
            idx = s.toward_mru(idx);
        }
        assert_eq!(seen, "abcdef");
    }
}
