//! The I/O engine of one leaf device: a scheduler queue drained by either an
//! io_uring worker or, where io_uring is refused (or for in-memory devices),
//! a few threads issuing plain positioned reads and writes.
//!
//! A flush is a barrier: it runs once everything submitted before it has
//! completed, and what is submitted after it waits until it is done.
//!
//! A thread that submits many writes in a row can [`plug`] first, as the
//! Linux block layer does: its writes are queued at once but the engine
//! is woken once per device when the plug drops, not once per write.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::buf::AlignedBuf;
use super::device::BlockDevice;
use super::inject::{Decision, FaultInjector};
use super::queue::{IoClass, IoScheduler};

/// What an I/O does.
pub enum IoOp {
    /// Read `len` bytes at `offset`.
    Read {
        /// Byte offset on the device.
        offset: u64,
        /// Length in bytes.
        len: usize,
    },
    /// Write all of `buf` at `offset`.
    Write {
        /// Byte offset on the device.
        offset: u64,
        /// The bytes (shared between the sides of a mirror).
        buf: Arc<AlignedBuf>,
    },
    /// Make every earlier write durable.
    Flush,
}

/// What a finished I/O yields.
pub enum IoOutcome {
    /// The bytes read.
    Read(AlignedBuf),
    /// A write or flush finished.
    Done,
}

/// Called once with the result of an I/O, on the engine's thread: keep it short.
pub type IoCallback = Box<dyn FnOnce(io::Result<IoOutcome>) + Send>;

/// One queued I/O.
pub struct IoRequest {
    /// What to do.
    pub op: IoOp,
    /// Its priority class.
    pub class: IoClass,
    /// The tenant it is done for.
    pub tenant: u64,
    /// The tenant's weight.
    pub weight: u32,
    /// Where the result goes.
    pub done: IoCallback,
}

/// Counters of one device.
#[derive(Default, Debug)]
pub struct IoCounters {
    /// Reads completed.
    pub reads: AtomicU64,
    /// Writes completed.
    pub writes: AtomicU64,
    /// Bytes read.
    pub read_bytes: AtomicU64,
    /// Bytes written.
    pub write_bytes: AtomicU64,
    /// Flushes completed.
    pub flushes: AtomicU64,
}

struct State {
    sched: IoScheduler<IoRequest>,
    /// Flushes waiting for the I/O before them, each with what came after it.
    barriers: VecDeque<(IoRequest, Vec<IoRequest>)>,
    flushing: bool,
    shutdown: bool,
}

impl State {
    fn enqueue(&mut self, req: IoRequest) {
        if matches!(req.op, IoOp::Flush) {
            self.barriers.push_back((req, Vec::new()));
        } else if let Some((_, held)) = self.barriers.back_mut() {
            held.push(req);
        } else {
            let cost = match &req.op {
                IoOp::Read { len, .. } => *len as u64,
                IoOp::Write { buf, .. } => buf.len() as u64,
                IoOp::Flush => 0,
            };
            self.sched
                .push(req.class, req.tenant, req.weight, cost, req);
        }
    }

    /// The next I/O to start: `Some((None, flush))` for a flush.
    fn next(&mut self) -> Option<(Option<IoClass>, IoRequest)> {
        if self.flushing {
            return None;
        }
        if let Some((class, req)) = self.sched.pop() {
            return Some((Some(class), req));
        }
        if self.sched.queued() == 0 && self.sched.active() == 0 {
            if let Some((flush, held)) = self.barriers.pop_front() {
                self.flushing = true;
                // What waited behind this flush now waits behind the next one,
                // or goes to the scheduler once the flush is done.
                self.barriers.push_front((noop_request(), held));
                return Some((None, flush));
            }
        }
        None
    }

    fn finish(&mut self, class: Option<IoClass>) {
        match class {
            Some(c) => self.sched.complete(c),
            None => {
                self.flushing = false;
                if let Some((_, held)) = self.barriers.pop_front() {
                    for r in held {
                        self.enqueue(r);
                    }
                }
            }
        }
    }

    fn idle(&self) -> bool {
        self.sched.queued() == 0
            && self.sched.active() == 0
            && self.barriers.is_empty()
            && !self.flushing
    }
}

/// A placeholder that is never executed (it only carries the held list).
fn noop_request() -> IoRequest {
    IoRequest {
        op: IoOp::Flush,
        class: IoClass::SyncWrite,
        tenant: 0,
        weight: 1,
        done: Box::new(|_| {}),
    }
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    eventfd: Option<RawFd>,
    counters: IoCounters,
    /// How long the last read or write took, in nanoseconds (threads
    /// engine only; see [`HELP_FROM`]).
    last_io_ns: AtomicU64,
}

impl Shared {
    fn kick(&self) {
        match self.eventfd {
            Some(fd) => {
                let one: u64 = 1;
                // SAFETY: writes 8 bytes from a live u64 to an eventfd we own.
                unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
            }
            None => {
                // One new request: one idle thread is enough (a thread that
                // finishes an I/O looks for more before it sleeps). Costs
                // nothing when no thread sleeps.
                self.wake.notify_one();
            }
        }
    }

    fn count(&self, op: &IoOp, ok: bool) {
        if !ok {
            return;
        }
        let c = &self.counters;
        match op {
            IoOp::Read { len, .. } => {
                c.reads.fetch_add(1, Ordering::Relaxed);
                c.read_bytes.fetch_add(*len as u64, Ordering::Relaxed);
            }
            IoOp::Write { buf, .. } => {
                c.writes.fetch_add(1, Ordering::Relaxed);
                c.write_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
            }
            IoOp::Flush => {
                c.flushes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The I/O engine of one device.
pub struct IoEngine {
    dev: Arc<dyn BlockDevice>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    uses_uring: bool,
    faults: Arc<FaultInjector>,
}

/// Queue depth of the io_uring worker.
const URING_DEPTH: usize = 32;
/// Threads of the fallback worker.
const SYNC_THREADS: usize = 4;
/// A thread of the fallback worker that takes a request while more are
/// queued wakes another thread for them only if the device's last I/O
/// took at least this long. Waking a thread costs both threads a few
/// microseconds of CPU (more in a virtual machine): a device that serves
/// an I/O in less (memory, or a device that drops what it is given) is
/// drained sooner and cheaper by the thread at hand, which takes the next
/// request as soon as it is done. One slow read or write (a disk) turns
/// the helpers back on for what follows it; a new engine starts with them
/// on.
const HELP_FROM: Duration = Duration::from_micros(20);

impl IoEngine {
    /// Starts the engine of `dev`, with io_uring if `try_uring` and the
    /// device and kernel allow it.
    pub fn start(dev: Arc<dyn BlockDevice>, try_uring: bool) -> IoEngine {
        let uring_disabled = std::env::var_os("BASIN_NO_URING").is_some();
        if try_uring && !uring_disabled {
            if let Some(fd) = dev.uring_fd() {
                if let Ok(ring) = io_uring::IoUring::new((URING_DEPTH * 2) as u32) {
                    // SAFETY: eventfd has no memory-safety preconditions.
                    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
                    if efd >= 0 {
                        let shared = Self::shared(Some(efd), URING_DEPTH);
                        let s = shared.clone();
                        let name = format!("basin-uring {}", short(dev.path()));
                        let t = std::thread::Builder::new()
                            .name(name)
                            .spawn(move || uring::run(s, fd, ring))
                            .expect("spawn io thread");
                        return IoEngine {
                            dev,
                            shared,
                            threads: vec![t],
                            uses_uring: true,
                            faults: Arc::default(),
                        };
                    }
                }
            }
        }
        let shared = Self::shared(None, SYNC_THREADS);
        let threads = (0..SYNC_THREADS)
            .map(|i| {
                let s = shared.clone();
                let d = dev.clone();
                std::thread::Builder::new()
                    .name(format!("basin-io{i} {}", short(dev.path())))
                    .spawn(move || sync_worker(s, d))
                    .expect("spawn io thread")
            })
            .collect();
        IoEngine {
            dev,
            shared,
            threads,
            uses_uring: false,
            faults: Arc::default(),
        }
    }

    fn shared(eventfd: Option<RawFd>, depth: usize) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                sched: IoScheduler::new(depth),
                barriers: VecDeque::new(),
                flushing: false,
                shutdown: false,
            }),
            wake: Condvar::new(),
            eventfd,
            counters: IoCounters::default(),
            // Until an I/O says otherwise, the device is taken to be slow.
            last_io_ns: AtomicU64::new(u64::MAX),
        })
    }

    /// The device.
    pub fn device(&self) -> &Arc<dyn BlockDevice> {
        &self.dev
    }

    /// True when io_uring serves this device.
    pub fn uses_uring(&self) -> bool {
        self.uses_uring
    }

    /// The device's counters.
    pub fn counters(&self) -> &IoCounters {
        &self.shared.counters
    }

    /// The fault injector of this device (see [`super::inject`]).
    pub fn faults(&self) -> &Arc<FaultInjector> {
        &self.faults
    }

    /// Queues an I/O.
    pub fn submit(&self, mut req: IoRequest) {
        let write = match &req.op {
            IoOp::Read { .. } => Some(false),
            IoOp::Write { .. } => Some(true),
            IoOp::Flush => None,
        };
        if let Some(write) = write {
            match self.faults.decide(write) {
                Decision::Pass => {}
                Decision::Fail(errno) => {
                    (req.done)(Err(io::Error::from_raw_os_error(errno)));
                    return;
                }
                Decision::Corrupt => {
                    let faults = self.faults.clone();
                    let done = req.done;
                    req.done = Box::new(move |r| {
                        done(r.map(|o| match o {
                            IoOutcome::Read(mut b) => {
                                faults.corrupt(&mut b);
                                IoOutcome::Read(b)
                            }
                            other => other,
                        }))
                    });
                }
            }
        }
        // Only writes wait for a plug to drop: a reader waits for its data.
        let deferrable = matches!(req.op, IoOp::Write { .. });
        {
            let mut st = self.shared.state.lock();
            if st.shutdown {
                drop(st);
                (req.done)(Err(io::Error::other("device closed")));
                return;
            }
            st.enqueue(req);
        }
        if !(deferrable && plugged(&self.shared)) {
            self.shared.kick();
        }
    }

    /// Reads and waits.
    pub fn read(&self, offset: u64, len: usize, class: IoClass) -> io::Result<AlignedBuf> {
        match self.wait(IoOp::Read { offset, len }, class)? {
            IoOutcome::Read(b) => Ok(b),
            IoOutcome::Done => Err(io::Error::other("read returned no data")),
        }
    }

    /// Writes and waits.
    pub fn write(&self, offset: u64, buf: Arc<AlignedBuf>, class: IoClass) -> io::Result<()> {
        self.wait(IoOp::Write { offset, buf }, class).map(|_| ())
    }

    /// Flushes and waits.
    pub fn flush(&self) -> io::Result<()> {
        self.wait(IoOp::Flush, IoClass::SyncWrite).map(|_| ())
    }

    fn wait(&self, op: IoOp, class: IoClass) -> io::Result<IoOutcome> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(IoRequest {
            op,
            class,
            tenant: super::queue::DEFAULT_TENANT,
            weight: super::queue::DEFAULT_WEIGHT,
            done: Box::new(move |r| {
                let _ = tx.send(r);
            }),
        });
        // Never sleep on an I/O whose engine was not woken.
        kick_plugged();
        rx.recv()
            .unwrap_or_else(|_| Err(io::Error::other("I/O engine stopped")))
    }
}

impl Drop for IoEngine {
    fn drop(&mut self) {
        self.shared.state.lock().shutdown = true;
        self.shared.kick();
        self.shared.wake.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(fd) = self.shared.eventfd {
            // SAFETY: the worker has exited; nobody uses the fd any more.
            unsafe { libc::close(fd) };
        }
    }
}

thread_local! {
    /// The engines this thread queued I/O on while plugged, not yet woken
    /// (`None` when not plugged).
    static PLUGGED: RefCell<Option<Vec<Arc<Shared>>>> = const { RefCell::new(None) };
}

/// While alive, the I/O this thread submits is queued without waking the
/// engines; dropping it wakes each engine once. See [`plug`].
pub struct Plug {
    /// Whether this guard started the plug (an inner one leaves it to the
    /// outer one).
    outer: bool,
    /// Tied to the thread whose queue it holds.
    _thread: PhantomData<*const ()>,
}

/// Plugs this thread's writes until the guard drops: they are queued, and
/// each engine is woken once when the guard drops. Reads and flushes are
/// never held back, and [`IoEngine::write`] (which waits) wakes the
/// engines first; a caller that submits a write under a plug and waits for
/// it some other way must drop the plug first.
pub fn plug() -> Plug {
    let outer = PLUGGED.with(|p| {
        let mut p = p.borrow_mut();
        let outer = p.is_none();
        if outer {
            *p = Some(Vec::new());
        }
        outer
    });
    Plug {
        outer,
        _thread: PhantomData,
    }
}

impl Drop for Plug {
    fn drop(&mut self) {
        if self.outer {
            kick_plugged();
            PLUGGED.with(|p| *p.borrow_mut() = None);
        }
    }
}

/// True when this thread is plugged; notes `shared` for the wake-up.
fn plugged(shared: &Arc<Shared>) -> bool {
    PLUGGED.with(|p| match p.borrow_mut().as_mut() {
        Some(list) => {
            if !list.iter().any(|s| Arc::ptr_eq(s, shared)) {
                list.push(shared.clone());
            }
            true
        }
        None => false,
    })
}

/// Wakes the engines this thread queued I/O on while plugged.
fn kick_plugged() {
    let list = PLUGGED.with(|p| p.borrow_mut().as_mut().map(std::mem::take));
    for s in list.into_iter().flatten() {
        s.kick();
    }
}

fn short(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn sync_worker(shared: Arc<Shared>, dev: Arc<dyn BlockDevice>) {
    loop {
        let (class, req) = {
            let mut st = shared.state.lock();
            loop {
                if let Some(x) = st.next() {
                    // What is left goes to an idle thread now (a burst
                    // wakes the threads one after the other), unless the
                    // device is quicker than a wake-up (see HELP_FROM).
                    if st.sched.queued() > 0
                        && shared.last_io_ns.load(Ordering::Relaxed) >= HELP_FROM.as_nanos() as u64
                    {
                        shared.wake.notify_one();
                    }
                    break x;
                }
                if st.shutdown && st.idle() {
                    return;
                }
                shared.wake.wait(&mut st);
            }
        };
        let started = Instant::now();
        let result = match &req.op {
            IoOp::Read { offset, len } => {
                let mut b = AlignedBuf::for_overwrite(*len);
                dev.read_at(*offset, &mut b).map(|_| IoOutcome::Read(b))
            }
            IoOp::Write { offset, buf } => dev.write_at(*offset, buf).map(|_| IoOutcome::Done),
            IoOp::Flush => dev.flush().map(|_| IoOutcome::Done),
        };
        if class.is_some() {
            let ns = started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
            shared.last_io_ns.store(ns, Ordering::Relaxed);
        }
        shared.count(&req.op, result.is_ok());
        (req.done)(result);
        let mut st = shared.state.lock();
        st.finish(class);
        // This thread looks for more work itself; the others are woken
        // for everything a flush held back, or for the exit.
        if class.is_none() || st.shutdown {
            shared.wake.notify_all();
        }
    }
}

mod uring {
    //! The io_uring worker.

    use super::*;
    use io_uring::{opcode, types, IoUring};

    const EVENT_TOKEN: u64 = u64::MAX;

    struct InFlight {
        class: Option<IoClass>,
        req: IoRequest,
        /// Read buffer (reads only).
        rbuf: Option<AlignedBuf>,
        /// Bytes transferred so far.
        done: usize,
    }

    pub(super) fn run(shared: Arc<Shared>, fd: RawFd, mut ring: IoUring) {
        let efd = shared.eventfd.expect("uring worker has an eventfd");
        let mut slots: Vec<Option<InFlight>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut event_buf: Box<u64> = Box::new(0);
        let mut event_armed = false;
        let mut in_ring = 0usize;
        loop {
            let mut exit = false;
            {
                let mut st = shared.state.lock();
                while in_ring < URING_DEPTH {
                    let Some((class, req)) = st.next() else { break };
                    let slot = free.pop().unwrap_or_else(|| {
                        slots.push(None);
                        slots.len() - 1
                    });
                    let rbuf = match &req.op {
                        IoOp::Read { len, .. } => Some(AlignedBuf::for_overwrite(*len)),
                        _ => None,
                    };
                    slots[slot] = Some(InFlight {
                        class,
                        req,
                        rbuf,
                        done: 0,
                    });
                    push_op(&mut ring, fd, slot, slots[slot].as_mut().expect("just set"));
                    in_ring += 1;
                }
                if st.shutdown && st.idle() && in_ring == 0 {
                    exit = true;
                }
            }
            if exit && !event_armed {
                return;
            }
            if !event_armed && !exit {
                let e = opcode::Read::new(types::Fd(efd), (&mut *event_buf as *mut u64).cast(), 8)
                    .build()
                    .user_data(EVENT_TOKEN);
                // SAFETY: event_buf is a boxed u64 that outlives the request:
                // we never return while the read is armed.
                unsafe { push(&mut ring, &e) };
                event_armed = true;
            }
            if exit {
                // Complete our own armed read so that we can leave safely.
                shared.kick();
            }
            if let Err(e) = ring.submit_and_wait(1) {
                if e.raw_os_error() != Some(libc::EINTR) {
                    // The ring is broken: fail what is queued rather than hang.
                    fail_all(&shared, &mut slots, &e);
                    in_ring = 0;
                }
                continue;
            }
            let cqes: Vec<(u64, i32)> = ring
                .completion()
                .map(|c| (c.user_data(), c.result()))
                .collect();
            let mut finished = Vec::new();
            for (token, res) in cqes {
                if token == EVENT_TOKEN {
                    event_armed = false;
                    continue;
                }
                let slot = token as usize;
                let Some(inflight) = slots[slot].as_mut() else {
                    continue;
                };
                if res == -libc::EINTR || res == -libc::EAGAIN {
                    push_op(&mut ring, fd, slot, inflight);
                    continue;
                }
                let total = match &inflight.req.op {
                    IoOp::Read { len, .. } => *len,
                    IoOp::Write { buf, .. } => buf.len(),
                    IoOp::Flush => 0,
                };
                let outcome = if res < 0 {
                    Some(Err(io::Error::from_raw_os_error(-res)))
                } else if matches!(inflight.req.op, IoOp::Flush) {
                    Some(Ok(()))
                } else if res == 0 && total > 0 {
                    Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "I/O beyond the end of the device",
                    )))
                } else {
                    inflight.done += res as usize;
                    if inflight.done < total {
                        push_op(&mut ring, fd, slot, inflight);
                        None
                    } else {
                        Some(Ok(()))
                    }
                };
                if let Some(r) = outcome {
                    let f = slots[slot].take().expect("in flight");
                    free.push(slot);
                    in_ring -= 1;
                    finished.push((f, r));
                }
            }
            if !finished.is_empty() {
                let mut classes = Vec::with_capacity(finished.len());
                for (f, r) in finished {
                    let result = r.map(|_| match f.rbuf {
                        Some(b) => IoOutcome::Read(b),
                        None => IoOutcome::Done,
                    });
                    shared.count(&f.req.op, result.is_ok());
                    (f.req.done)(result);
                    classes.push(f.class);
                }
                let mut st = shared.state.lock();
                for c in classes {
                    st.finish(c);
                }
            }
        }
    }

    fn push_op(ring: &mut IoUring, fd: RawFd, slot: usize, f: &mut InFlight) {
        let entry = match &f.req.op {
            IoOp::Read { offset, len } => {
                let b = f.rbuf.as_mut().expect("read buffer");
                opcode::Read::new(
                    types::Fd(fd),
                    // SAFETY (pointer arithmetic): done < len == b.len().
                    unsafe { b.as_mut_ptr().add(f.done) },
                    (*len - f.done) as u32,
                )
                .offset(*offset + f.done as u64)
                .build()
            }
            IoOp::Write { offset, buf } => opcode::Write::new(
                types::Fd(fd),
                // SAFETY (pointer arithmetic): done < buf.len().
                unsafe { buf.as_ptr().add(f.done) },
                (buf.len() - f.done) as u32,
            )
            .offset(*offset + f.done as u64)
            .build(),
            IoOp::Flush => opcode::Fsync::new(types::Fd(fd))
                .flags(types::FsyncFlags::DATASYNC)
                .build(),
        };
        // SAFETY: the buffers live in `f`, which stays in its slot (and is not
        // moved: slots only grow by pushing None, and a Vec reallocation moves
        // the InFlight but not the heap buffers it owns) until the completion
        // of this entry has been reaped.
        unsafe { push(ring, &entry.user_data(slot as u64)) };
    }

    /// Pushes an entry, submitting first if the submission queue is full.
    ///
    /// # Safety
    /// The caller guarantees the buffers the entry points at stay valid until
    /// its completion is reaped.
    unsafe fn push(ring: &mut IoUring, e: &io_uring::squeue::Entry) {
        loop {
            // SAFETY: forwarded from the caller.
            if unsafe { ring.submission().push(e) }.is_ok() {
                return;
            }
            let _ = ring.submit();
        }
    }

    fn fail_all(shared: &Shared, slots: &mut [Option<InFlight>], e: &io::Error) {
        let mut st = shared.state.lock();
        for s in slots.iter_mut() {
            if let Some(f) = s.take() {
                (f.req.done)(Err(io::Error::new(e.kind(), e.to_string())));
                st.finish(f.class);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vdev::mem::MemDevice;

    fn engines() -> Vec<IoEngine> {
        let mut v = vec![IoEngine::start(
            Arc::new(MemDevice::new("m", 1 << 24)),
            false,
        )];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(1 << 24)
            .unwrap();
        let mode = crate::vdev::file::OpenMode {
            writable: true,
            direct: true,
        };
        let f = crate::vdev::file::FileDevice::open(&path, mode).unwrap();
        v.push(IoEngine::start(Arc::new(f), true));
        let f2 = crate::vdev::file::FileDevice::open(&dir.path().join("f"), mode);
        assert!(f2.is_err(), "second exclusive open must be refused");
        v
    }

    #[test]
    fn writes_reads_and_flushes_round_trip() {
        for e in engines() {
            let mut pending = Vec::new();
            for i in 0..64u64 {
                let buf = Arc::new(AlignedBuf::from_slice_padded(&[i as u8; 8192], 8192));
                let (tx, rx) = crossbeam_channel::bounded(1);
                e.submit(IoRequest {
                    op: IoOp::Write {
                        offset: i * 8192,
                        buf,
                    },
                    class: IoClass::AsyncWrite,
                    tenant: 0,
                    weight: 100,
                    done: Box::new(move |r| {
                        tx.send(r.is_ok()).unwrap();
                    }),
                });
                pending.push(rx);
            }
            e.flush().unwrap();
            // The flush waited for every earlier write.
            for rx in &pending {
                assert_eq!(rx.try_recv(), Ok(true));
            }
            for i in 0..64u64 {
                let b = e.read(i * 8192, 8192, IoClass::SyncRead).unwrap();
                assert!(b.iter().all(|&x| x == i as u8));
            }
            assert!(e.read((1 << 24) - 4096, 8192, IoClass::SyncRead).is_err());
            assert_eq!(e.counters().writes.load(Ordering::Relaxed), 64);
        }
    }

    /// Queues a write of 4 KiB of `fill` at block `i`, whose success goes
    /// to `tx`.
    fn submit_block_write(e: &IoEngine, i: u64, fill: u8, tx: &crossbeam_channel::Sender<bool>) {
        let tx = tx.clone();
        e.submit(IoRequest {
            op: IoOp::Write {
                offset: i * 4096,
                buf: Arc::new(AlignedBuf::from_slice_padded(&[fill; 4096], 4096)),
            },
            class: IoClass::AsyncWrite,
            tenant: 0,
            weight: 100,
            done: Box::new(move |r| tx.send(r.is_ok()).unwrap()),
        });
    }

    #[test]
    fn plugged_writes_complete_and_reads_are_not_held_back() {
        for e in engines() {
            let (tx, rx) = crossbeam_channel::unbounded();
            {
                let _outer = plug();
                let _inner = plug();
                for i in 0..8u64 {
                    submit_block_write(&e, i, 1 + i as u8, &tx);
                }
                // Waiting under the plug neither deadlocks nor loses the writes.
                e.read(1 << 20, 4096, IoClass::SyncRead).unwrap();
                e.flush().unwrap();
            }
            for _ in 0..8 {
                assert_eq!(
                    rx.recv_timeout(std::time::Duration::from_secs(30)),
                    Ok(true)
                );
            }
            let b = e.read(0, 8 * 4096, IoClass::SyncRead).unwrap();
            for i in 0..8 {
                assert!(b[i * 4096..(i + 1) * 4096]
                    .iter()
                    .all(|&x| x == 1 + i as u8));
            }
        }
    }

    /// A device whose writes take a while, and that notes how many it
    /// served at once.
    struct SlowDevice {
        busy: AtomicU64,
        most: AtomicU64,
    }

    impl BlockDevice for SlowDevice {
        fn path(&self) -> &str {
            "slow"
        }
        fn size(&self) -> u64 {
            1 << 24
        }
        fn read_at(&self, _offset: u64, buf: &mut [u8]) -> io::Result<()> {
            buf.fill(0);
            Ok(())
        }
        fn write_at(&self, _offset: u64, _buf: &[u8]) -> io::Result<()> {
            let now = self.busy.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            self.busy.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_burst_on_a_slow_device_is_served_by_several_threads() {
        let dev = Arc::new(SlowDevice {
            busy: AtomicU64::new(0),
            most: AtomicU64::new(0),
        });
        let e = IoEngine::start(dev.clone(), false);
        // A quick I/O first: the engine learns the device is fast, and
        // serves what follows from one thread, until a slow write shows
        // otherwise.
        e.read(0, 4096, IoClass::SyncRead).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        {
            let _plug = plug();
            for i in 0..8u64 {
                submit_block_write(&e, i, 0, &tx);
            }
        }
        for _ in 0..8 {
            assert_eq!(
                rx.recv_timeout(std::time::Duration::from_secs(30)),
                Ok(true)
            );
        }
        assert!(
            dev.most.load(Ordering::SeqCst) >= 2,
            "slow writes were served one at a time"
        );
    }
}
