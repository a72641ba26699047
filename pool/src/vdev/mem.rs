//! In-memory leaves for tests, and the crash recorder: a log of every write
//! and flush from which the image a crash at any point would leave can be
//! produced, with torn and reordered writes.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rand::Rng;

use super::device::BlockDevice;

const PAGE: usize = 4096;
const SECTOR: usize = 512;

/// Sparse page store: absent pages read as zeros.
#[derive(Clone, Default)]
pub struct PageMap {
    pages: BTreeMap<u64, Arc<Vec<u8>>>,
}

impl PageMap {
    fn read(&self, mut offset: u64, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let page = offset / PAGE as u64;
            let in_page = (offset % PAGE as u64) as usize;
            let n = (PAGE - in_page).min(buf.len() - done);
            match self.pages.get(&page) {
                Some(p) => buf[done..done + n].copy_from_slice(&p[in_page..in_page + n]),
                None => buf[done..done + n].fill(0),
            }
            done += n;
            offset += n as u64;
        }
    }

    fn write(&mut self, mut offset: u64, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let page = offset / PAGE as u64;
            let in_page = (offset % PAGE as u64) as usize;
            let n = (PAGE - in_page).min(data.len() - done);
            let p = self
                .pages
                .entry(page)
                .or_insert_with(|| Arc::new(vec![0u8; PAGE]));
            Arc::make_mut(p)[in_page..in_page + n].copy_from_slice(&data[done..done + n]);
            done += n;
            offset += n as u64;
        }
    }

    /// Bytes held in memory.
    pub fn resident(&self) -> usize {
        self.pages.len() * PAGE
    }
}

/// A device in memory, optionally recording into a [`CrashRecorder`].
pub struct MemDevice {
    name: String,
    size: u64,
    pages: RwLock<PageMap>,
    recorder: Option<(Arc<CrashRecorder>, usize)>,
    pulled: std::sync::atomic::AtomicBool,
}

impl MemDevice {
    /// A zeroed device of `size` bytes.
    pub fn new(name: &str, size: u64) -> MemDevice {
        MemDevice::with_pages(name, size, PageMap::default())
    }

    fn with_pages(name: &str, size: u64, pages: PageMap) -> MemDevice {
        MemDevice {
            name: name.to_string(),
            size,
            pages: RwLock::new(pages),
            recorder: None,
            pulled: Default::default(),
        }
    }

    /// A zeroed device whose writes and flushes are logged in `recorder`.
    pub fn recorded(name: &str, size: u64, recorder: &Arc<CrashRecorder>) -> MemDevice {
        let index = recorder.register(name, size);
        MemDevice {
            recorder: Some((recorder.clone(), index)),
            pulled: Default::default(),
            ..MemDevice::new(name, size)
        }
    }

    /// A copy of the current contents (a device that does not record).
    pub fn snapshot(&self) -> MemDevice {
        MemDevice::with_pages(&self.name, self.size, self.pages.read().clone())
    }

    /// Pulls the device (or puts it back): it reports itself gone and
    /// every I/O fails with `ENXIO`.
    pub fn set_pulled(&self, pulled: bool) {
        self.pulled
            .store(pulled, std::sync::atomic::Ordering::Relaxed);
    }

    fn check_pulled(&self) -> io::Result<()> {
        if self.pulled.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(io::Error::from_raw_os_error(libc::ENXIO));
        }
        Ok(())
    }

    /// Overwrites bytes directly, bypassing any recorder (to simulate rot).
    pub fn corrupt(&self, offset: u64, data: &[u8]) {
        self.pages.write().write(offset, data);
    }
}

impl BlockDevice for MemDevice {
    fn path(&self) -> &str {
        &self.name
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn gone(&self) -> bool {
        self.pulled.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.check_pulled()?;
        check_range(offset, buf.len(), self.size)?;
        self.pages.read().read(offset, buf);
        Ok(())
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.check_pulled()?;
        check_range(offset, buf.len(), self.size)?;
        // Log before applying, under the page lock, so the log order is the
        // order in which the writes reached the device.
        let mut pages = self.pages.write();
        if let Some((rec, index)) = &self.recorder {
            rec.log(Op::Write {
                dev: *index,
                offset,
                data: Arc::from(buf),
            });
        }
        pages.write(offset, buf);
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        if let Some((rec, index)) = &self.recorder {
            rec.log(Op::Flush { dev: *index });
        }
        Ok(())
    }
}

fn check_range(offset: u64, len: usize, size: u64) -> io::Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("I/O at {offset}+{len} beyond the device's {size} bytes"),
        )),
    }
}

/// One recorded operation.
#[derive(Clone, Debug)]
pub enum Op {
    /// A write that reached the device's volatile cache.
    Write {
        /// Device index in the recorder.
        dev: usize,
        /// Byte offset.
        offset: u64,
        /// The bytes.
        data: Arc<[u8]>,
    },
    /// A flush of one device.
    Flush {
        /// Device index in the recorder.
        dev: usize,
    },
}

/// How the writes that no flush made durable land in a crash image.
#[derive(Clone, Copy, Debug)]
pub struct CrashFaults {
    /// Probability that an unflushed write is lost.
    pub drop: f64,
    /// Probability that an unflushed write is torn (only part of it lands,
    /// at any byte, even inside a sector).
    pub tear: f64,
}

impl Default for CrashFaults {
    fn default() -> Self {
        CrashFaults {
            drop: 0.3,
            tear: 0.2,
        }
    }
}

/// A log of the writes and flushes of a set of devices.
#[derive(Default)]
pub struct CrashRecorder {
    devices: Mutex<Vec<(String, u64)>>,
    ops: Mutex<Vec<Op>>,
}

impl CrashRecorder {
    /// A new, empty recorder.
    pub fn new() -> Arc<CrashRecorder> {
        Arc::new(CrashRecorder::default())
    }

    fn register(&self, name: &str, size: u64) -> usize {
        let mut d = self.devices.lock();
        d.push((name.to_string(), size));
        d.len() - 1
    }

    fn log(&self, op: Op) {
        self.ops.lock().push(op);
    }

    /// Number of operations recorded so far.
    pub fn len(&self) -> usize {
        self.ops.lock().len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Indices of the write operations (the places a cut is interesting).
    pub fn write_indices(&self) -> Vec<usize> {
        self.ops
            .lock()
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o, Op::Write { .. }))
            .map(|(i, _)| i)
            .collect()
    }

    /// The devices as a crash just before operation `cut` would leave them:
    /// every write followed by a flush of its device before `cut` is there;
    /// each later write before `cut` is applied, lost or torn at random, in a
    /// random order.
    pub fn crash_image(
        &self,
        cut: usize,
        faults: CrashFaults,
        rng: &mut impl Rng,
    ) -> Vec<MemDevice> {
        let ops = self.ops.lock();
        let devices = self.devices.lock().clone();
        let cut = cut.min(ops.len());
        let mut last_flush = vec![None::<usize>; devices.len()];
        for (i, op) in ops[..cut].iter().enumerate() {
            if let Op::Flush { dev } = op {
                last_flush[*dev] = Some(i);
            }
        }
        let mut maps: Vec<PageMap> = vec![PageMap::default(); devices.len()];
        let mut volatile = Vec::new();
        for (i, op) in ops[..cut].iter().enumerate() {
            if let Op::Write { dev, offset, data } = op {
                if last_flush[*dev].is_some_and(|f| i < f) {
                    maps[*dev].write(*offset, data);
                } else {
                    volatile.push((*dev, *offset, data.clone()));
                }
            }
        }
        // Unflushed writes may land in any order, partly, or not at all.
        for i in (1..volatile.len()).rev() {
            volatile.swap(i, rng.gen_range(0..=i));
        }
        for (dev, offset, data) in volatile {
            let roll: f64 = rng.gen();
            if roll < faults.drop {
                continue;
            }
            if roll < faults.drop + faults.tear && !data.is_empty() {
                if rng.gen_bool(0.5) {
                    let keep = rng.gen_range(0..data.len());
                    maps[dev].write(offset, &data[..keep]);
                } else {
                    for (s, chunk) in data.chunks(SECTOR).enumerate() {
                        if rng.gen_bool(0.5) {
                            maps[dev].write(offset + (s * SECTOR) as u64, chunk);
                        }
                    }
                }
                continue;
            }
            maps[dev].write(offset, &data);
        }
        devices
            .iter()
            .zip(maps)
            .map(|((name, size), pages)| MemDevice::with_pages(name, *size, pages))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn flushed_writes_survive_and_unflushed_may_not() {
        let rec = CrashRecorder::new();
        let d = MemDevice::recorded("d", 1 << 20, &rec);
        d.write_at(0, &[1u8; 4096]).unwrap();
        d.flush().unwrap();
        d.write_at(4096, &[2u8; 4096]).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut seen_missing = false;
        let mut seen_present = false;
        for _ in 0..64 {
            let img = rec.crash_image(rec.len(), CrashFaults::default(), &mut rng);
            let mut b = [0u8; 4096];
            img[0].read_at(0, &mut b).unwrap();
            assert_eq!(b, [1u8; 4096]);
            img[0].read_at(4096, &mut b).unwrap();
            if b == [2u8; 4096] {
                seen_present = true;
            } else {
                seen_missing = true;
            }
        }
        assert!(seen_missing && seen_present);
        // A cut before the flush keeps nothing for sure.
        let img = rec.crash_image(
            1,
            CrashFaults {
                drop: 1.0,
                tear: 0.0,
            },
            &mut rng,
        );
        let mut b = [9u8; 4096];
        img[0].read_at(0, &mut b).unwrap();
        assert_eq!(b, [0u8; 4096]);
    }

    #[test]
    fn out_of_range_io_fails() {
        let d = MemDevice::new("d", 8192);
        assert!(d.write_at(8000, &[0u8; 512]).is_err());
        let mut b = [0u8; 10];
        assert!(d.read_at(u64::MAX - 2, &mut b).is_err());
    }
}
