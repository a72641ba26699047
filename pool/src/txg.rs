//! Transaction groups: every change joins the open txg through a hold; the
//! sync thread closes it (quiesce: waits for its holds to drop), opens the
//! next one, and syncs the closed one while new changes gather in the next.
//!
//! Dirty data is counted here too: a txg is synced early when it holds a
//! fifth of the dirty limit, and writers wait when all txgs together reach
//! the limit (the write throttle).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Default interval between syncs when nothing forces one.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct State {
    open: u64,
    holds: BTreeMap<u64, usize>,
    dirty: BTreeMap<u64, u64>,
    quiescing: Option<u64>,
    syncing: Option<u64>,
    synced: u64,
    wanted: u64,
    last_sync: Instant,
    shutdown: bool,
    failed: Option<String>,
}

/// The txg state machine of a pool.
pub struct TxgState {
    st: Mutex<State>,
    cv: Condvar,
    dirty_max: u64,
    interval: Mutex<Duration>,
}

/// A hold on an open txg: the txg cannot sync until it is dropped.
pub struct TxgHold<'a> {
    state: &'a TxgState,
    txg: u64,
}

impl TxgHold<'_> {
    /// The held txg.
    pub fn txg(&self) -> u64 {
        self.txg
    }
}

impl Drop for TxgHold<'_> {
    fn drop(&mut self) {
        self.state.release(self.txg);
    }
}

impl TxgState {
    /// A state whose last synced txg is `synced` (the open one is next).
    pub fn new(synced: u64, dirty_max: u64) -> TxgState {
        TxgState {
            st: Mutex::new(State {
                open: synced + 1,
                holds: BTreeMap::new(),
                dirty: BTreeMap::new(),
                quiescing: None,
                syncing: None,
                synced,
                wanted: 0,
                last_sync: Instant::now(),
                shutdown: false,
                failed: None,
            }),
            cv: Condvar::new(),
            dirty_max: dirty_max.max(16 << 20),
            interval: Mutex::new(DEFAULT_SYNC_INTERVAL),
        }
    }

    /// Sets the interval between syncs.
    pub fn set_interval(&self, d: Duration) {
        *self.interval.lock() = d;
        self.cv.notify_all();
    }

    /// Holds the open txg.
    pub fn hold(&self) -> TxgHold<'_> {
        let mut st = self.st.lock();
        let txg = st.open;
        *st.holds.entry(txg).or_default() += 1;
        TxgHold { state: self, txg }
    }

    /// Holds the open txg without a guard; pair with [`TxgState::release`].
    pub fn hold_raw(&self) -> u64 {
        let mut st = self.st.lock();
        let txg = st.open;
        *st.holds.entry(txg).or_default() += 1;
        txg
    }

    /// Holds `txg`, which must still be the open txg (log replay joins
    /// every change to one txg this way).
    pub fn hold_txg(&self, txg: u64) -> Result<(), String> {
        let mut st = self.st.lock();
        if st.open != txg {
            return Err(format!("txg {txg} is not open (txg {} is)", st.open));
        }
        *st.holds.entry(txg).or_default() += 1;
        Ok(())
    }

    /// Releases a hold taken with [`TxgState::hold_raw`].
    pub fn release(&self, txg: u64) {
        let mut st = self.st.lock();
        if let Some(n) = st.holds.get_mut(&txg) {
            *n -= 1;
            if *n == 0 {
                st.holds.remove(&txg);
                // Only the sync thread, quiescing this txg, waits for its
                // last hold to go: waking everyone on each release costs a
                // context switch per change.
                if st.quiescing == Some(txg) {
                    self.cv.notify_all();
                }
            }
        }
    }

    /// The open txg.
    pub fn open_txg(&self) -> u64 {
        self.st.lock().open
    }

    /// The last synced txg.
    pub fn synced_txg(&self) -> u64 {
        self.st.lock().synced
    }

    /// Counts `bytes` of dirty data in `txg`; kicks a sync when the txg is
    /// big enough.
    pub fn add_dirty(&self, txg: u64, bytes: u64) {
        let mut st = self.st.lock();
        let d = st.dirty.entry(txg).or_default();
        *d += bytes;
        if *d >= self.dirty_max / 5 && st.wanted < txg {
            st.wanted = txg;
            self.cv.notify_all();
        }
    }

    /// Dirty bytes of every txg not yet synced.
    pub fn dirty_total(&self) -> u64 {
        self.st.lock().dirty.values().sum()
    }

    /// Waits while dirty data is at the limit (the write throttle).
    pub fn throttle(&self) {
        let mut st = self.st.lock();
        while st.dirty.values().sum::<u64>() >= self.dirty_max
            && !st.shutdown
            && st.failed.is_none()
        {
            let open = st.open;
            if st.wanted < open {
                st.wanted = open;
            }
            self.cv.notify_all();
            self.cv.wait_for(&mut st, Duration::from_millis(100));
        }
    }

    /// Asks for `txg` (0: the open one) to be synced without waiting.
    pub fn kick(&self, txg: u64) {
        let mut st = self.st.lock();
        let t = if txg == 0 { st.open } else { txg };
        if st.wanted < t {
            st.wanted = t;
        }
        self.cv.notify_all();
    }

    /// Waits until `txg` (0: the currently open one) has synced. Fails if a
    /// sync failed or the pool is closing before that.
    pub fn wait_synced(&self, txg: u64) -> Result<(), String> {
        let mut st = self.st.lock();
        let t = if txg == 0 { st.open } else { txg };
        if st.wanted < t {
            st.wanted = t;
        }
        self.cv.notify_all();
        while st.synced < t {
            if let Some(f) = &st.failed {
                return Err(f.clone());
            }
            if st.shutdown && st.syncing.is_none() && st.quiescing.is_none() {
                return Err("pool is closing".into());
            }
            self.cv.wait_for(&mut st, Duration::from_millis(200));
        }
        Ok(())
    }

    /// For the sync thread: waits until a txg should sync, closes it and
    /// waits for its holds. Returns `None` on shutdown (after the last txgs
    /// were handed out, if `drain`).
    pub fn next_to_sync(&self) -> Option<u64> {
        let mut st = self.st.lock();
        loop {
            if st.failed.is_some() {
                return None;
            }
            let open = st.open;
            let due = st.last_sync.elapsed() >= *self.interval.lock();
            let has_work =
                st.dirty.get(&open).copied().unwrap_or(0) > 0 || st.holds.contains_key(&open);
            if st.wanted >= open || (due && has_work) {
                break;
            }
            if st.shutdown {
                return None;
            }
            let wait = self
                .interval
                .lock()
                .saturating_sub(st.last_sync.elapsed())
                .max(Duration::from_millis(10));
            self.cv.wait_for(&mut st, wait);
            if st.last_sync.elapsed() >= *self.interval.lock() && !has_work {
                // Nothing happened: restart the interval.
                st.last_sync = Instant::now();
            }
        }
        let txg = st.open;
        st.open += 1;
        st.quiescing = Some(txg);
        while st.holds.contains_key(&txg) {
            self.cv.wait(&mut st);
        }
        st.quiescing = None;
        st.syncing = Some(txg);
        Some(txg)
    }

    /// For the sync thread: `txg` has synced.
    pub fn done(&self, txg: u64) {
        let mut st = self.st.lock();
        st.syncing = None;
        st.synced = txg;
        st.dirty.remove(&txg);
        st.last_sync = Instant::now();
        self.cv.notify_all();
    }

    /// For the sync thread: the sync of `txg` failed; the pool is suspended.
    pub fn fail(&self, txg: u64, why: String) {
        let mut st = self.st.lock();
        st.syncing = None;
        st.failed = Some(format!("sync of txg {txg} failed: {why}"));
        self.cv.notify_all();
    }

    /// The failure that suspended the pool, if any.
    pub fn failure(&self) -> Option<String> {
        self.st.lock().failed.clone()
    }

    /// True once [`TxgState::shutdown`] or [`TxgState::abort`] was called:
    /// the pool is being closed.
    pub fn is_shutting_down(&self) -> bool {
        self.st.lock().shutdown
    }

    /// Asks the sync thread to sync what is open and stop.
    pub fn shutdown(&self) {
        let mut st = self.st.lock();
        st.shutdown = true;
        let open = st.open;
        st.wanted = st.wanted.max(open);
        self.cv.notify_all();
    }

    /// Stops without syncing what is open.
    pub fn abort(&self) {
        let mut st = self.st.lock();
        st.shutdown = true;
        st.wanted = 0;
        st.failed
            .get_or_insert_with(|| "pool closed without syncing".into());
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn holds_keep_a_txg_from_syncing() {
        let t = Arc::new(TxgState::new(3, 1 << 30));
        let h = t.hold_raw();
        assert_eq!(h, 4);
        t.kick(0);
        let t2 = t.clone();
        let syncer = std::thread::spawn(move || {
            let txg = t2.next_to_sync().unwrap();
            t2.done(txg);
            txg
        });
        std::thread::sleep(Duration::from_millis(50));
        // The sync thread has closed txg 4 but waits for our hold.
        assert_eq!(t.open_txg(), 5);
        assert_eq!(t.synced_txg(), 3);
        t.release(h);
        assert_eq!(syncer.join().unwrap(), 4);
        t.wait_synced(4).unwrap();
    }

    #[test]
    fn wait_synced_reports_failure() {
        let t = Arc::new(TxgState::new(0, 1 << 30));
        let t2 = t.clone();
        std::thread::spawn(move || {
            let txg = t2.next_to_sync().unwrap();
            t2.fail(txg, "disk gone".into());
        });
        let e = t.wait_synced(0).unwrap_err();
        assert!(e.contains("disk gone"));
    }
}
