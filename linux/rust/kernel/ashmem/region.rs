// SPDX-License-Identifier: GPL-2.0

//! An ashmem region: the shared memory behind one open file of an ashmem device.
//!
//! # Locking
//!
//! Locks nest in this order (see the purge module for why):
//!
//! 1. a region's state mutex, [`Shared::state`];
//! 2. the region's part of the purge order, which it shares with other regions, taken to
//!    change unpinned intervals;
//! 3. a region's count of pins waiting for its purges, [`Shared::purges`], under which purges
//!    end;
//! 4. the inode lock of the region's backing file, which purges try-lock under the others and
//!    hold while they punch holes.
//!
//! Nothing sleeps under 1 waiting for a purge: a pin that must wait for purges in flight counts
//! itself in 3, so that no new purge of the region starts, and waits with no lock held.
//!
//! Code under 1 never copies to or from userspace (callers copy before or after, into kernel
//! buffers), because a fault there takes the `mmap_lock` while `mmap` holds the `mmap_lock` and
//! then takes the region's lock. Nor does it wait for the backing file's inode lock, which a
//! purge holds while it punches a hole.

use super::{
    purge::{self, EntryRegion, Order, OrderPart, OrderRef, OrderReservation, OrderUpdate},
    ranges::{RangeReservation, UnpinnedRanges},
    NAME_DEFAULT, NAME_LEN,
};
use crate::{
    alloc::Flags,
    error::{code::*, Result},
    fs::File,
    iov::IovIterDest,
    miscdevice::Whence,
    mm::virt::{prot, vm_flags_t, VmaNew},
    new_condvar, new_mutex, new_spinlock,
    page::{is_page_aligned, page_align, PAGE_SIZE},
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    shmem::{InodeLockClass, ShmemFile, ShmemInodeGuard},
    str::CStr,
    sync::{lock::mutex::MutexBackend, lock::Guard, Arc, CondVar, Mutex, SpinLock},
    task::current_personality,
    types::ARef,
};
use core::{
    ops::Range,
    sync::atomic::{AtomicUsize, Ordering},
};

/// The prefix of backing file names, which shows in `/proc/<pid>/maps`.
const NAME_PREFIX: &[u8] = b"dev/ashmem/";

/// The size of the buffer for a region's full name, `dev/ashmem/<name>`, NUL included: C's
/// `ASHMEM_FULL_NAME_LEN`.
pub const FULL_NAME_LEN: usize = NAME_PREFIX.len() + NAME_LEN;

/// A region's name: at most `NAME_LEN - 1` bytes, NUL-terminated; empty means unset.
#[derive(Clone, Copy)]
struct Name {
    bytes: [u8; NAME_LEN],
    len: usize,
}

impl Name {
    const UNSET: Self = Self {
        bytes: [0; NAME_LEN],
        len: 0,
    };

    fn set(&mut self, name: &[u8]) {
        let len = name.len().min(NAME_LEN - 1);
        self.bytes[..len].copy_from_slice(&name[..len]);
        self.bytes[len] = 0;
        self.len = len;
    }

    /// Copies the name of the backing file, `dev/ashmem/<name>` or `dev/ashmem` without a
    /// name, NUL included, into `buf` and returns its length.
    fn full(&self, buf: &mut [u8; FULL_NAME_LEN]) -> usize {
        let len = if self.len == 0 {
            let default = NAME_DEFAULT.as_bytes();
            buf[..default.len()].copy_from_slice(default);
            default.len()
        } else {
            buf[..NAME_PREFIX.len()].copy_from_slice(NAME_PREFIX);
            buf[NAME_PREFIX.len()..][..self.len].copy_from_slice(&self.bytes[..self.len]);
            NAME_PREFIX.len() + self.len
        };
        buf[len] = 0;
        len + 1
    }

    /// The name userspace reads back: its own, or the default, NUL included.
    fn shown(&self) -> &[u8] {
        if self.len == 0 {
            NAME_DEFAULT.as_bytes_with_nul()
        } else {
            &self.bytes[..=self.len]
        }
    }
}

/// What may still change before the region is backed.
struct Unbacked {
    name: Name,
    size: usize,
}

/// A region with its backing file: name and size no longer change.
pub(super) struct Backed {
    name: Name,
    size: usize,
    file: ShmemFile,
    pages: UnpinnedRanges,
    nodes: NodePool,
}

/// Tree nodes kept with a backed region for its next pin or unpin: the nodes a pin frees are
/// those the unpin after it needs, so a pin+unpin pair allocates nothing.
struct NodePool {
    ranges: RangeReservation,
    order: OrderReservation,
}

impl NodePool {
    /// Reserves `ranges` range nodes (at least those of a ready [`RangeReservation`]) and
    /// `order` nodes of the purge order.
    fn new(flags: Flags, ranges: usize, order: usize) -> Result<Self> {
        Ok(Self {
            ranges: RangeReservation::with_nodes(flags, ranges)?,
            order: OrderReservation::with_nodes(flags, order)?,
        })
    }

    /// Returns whether the pool holds `ranges` range nodes and `order` nodes of the order.
    fn holds(&self, ranges: usize, order: usize) -> bool {
        self.ranges.count() >= ranges && self.order.holds(order)
    }

    /// Returns whether the pool holds what any one pin or unpin may need, and `order` nodes
    /// for the purge order.
    fn is_ready(&self, order: usize) -> bool {
        self.ranges.is_ready() && self.order.holds(order)
    }

    fn absorb(&mut self, other: &mut Self) {
        self.ranges.absorb(&mut other.ranges);
        self.order.absorb(&mut other.order);
    }
}

/// A region's state: name and size may only change until the first `mmap` creates the backing
/// file, which moves the region from `Unbacked` to `Backed` for good.
enum Backing {
    Unbacked(Unbacked),
    Backed(Backed),
}

impl Backing {
    fn size(&self) -> usize {
        match self {
            Self::Unbacked(region) => region.size,
            Self::Backed(region) => region.size,
        }
    }

    fn name(&self) -> &Name {
        match self {
            Self::Unbacked(region) => &region.name,
            Self::Backed(region) => &region.name,
        }
    }
}

struct State {
    backing: Backing,
    /// `PROT_*` bits that mappings may have; bits can only be removed.
    prot_mask: u32,
}

/// A page range of a region, as `struct ashmem_pin` gives it: `offset` and `len` in bytes.
#[derive(Clone, Copy, Debug)]
pub struct PinRange {
    /// The first byte; page aligned.
    pub offset: u32,
    /// The length; page aligned, or 0 for "from `offset` to the end of the region".
    pub len: u32,
}

/// Whether a pin found any of its pages purged (`ASHMEM_WAS_PURGED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinResult {
    /// All pages kept their contents.
    NotPurged,
    /// At least one page was purged while unpinned and now reads as zeros.
    WasPurged,
}

impl PinResult {
    /// Returns the value `ASHMEM_PIN` returns to userspace.
    pub fn as_raw(self) -> isize {
        let raw = match self {
            Self::NotPurged => uapi::ASHMEM_NOT_PURGED,
            Self::WasPurged => uapi::ASHMEM_WAS_PURGED,
        };
        raw as isize
    }
}

/// The shared memory of one open ashmem file.
///
/// A region starts with no name, size 0 and every protection allowed. Userspace names and sizes
/// it, and may remove protections; its first `mmap` creates the backing shmem file, after which
/// name and size are fixed. Pages are pinned until unpinned.
///
/// # Invariants
///
/// `size` is the size that the state holds.
///
/// # Examples
///
/// ```
/// use kernel::{ashmem::Region, c_str, mm::virt::prot, page::PAGE_SIZE};
///
/// let region = Region::new()?;
/// assert_eq!(region.size(), 0);
/// assert_eq!(region.prot_mask(), prot::READ | prot::WRITE | prot::EXEC);
///
/// let mut name = [0u8; 256];
/// let len = region.name(&mut name);
/// assert_eq!(&name[..len], b"dev/ashmem\0");
///
/// region.set_name(c_str!("camera"))?;
/// region.set_size(3 * PAGE_SIZE)?;
/// let len = region.name(&mut name);
/// assert_eq!(&name[..len], b"camera\0");
/// assert_eq!(region.size(), 3 * PAGE_SIZE);
///
/// // Protections can be removed, never added back.
/// region.set_prot_mask(prot::READ)?;
/// assert_eq!(region.set_prot_mask(prot::READ | prot::WRITE), Err(EINVAL));
/// assert_eq!(region.prot_mask(), prot::READ);
///
/// // No backing yet: no file id, no pinning.
/// assert_eq!(region.file_id(), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
///
/// Mapped by a driver's `mmap`:
///
/// ```
/// use kernel::{
///     ashmem::{PinRange, PinResult, Region}, c_str, kunit, mm::virt::{prot, VmaNew},
///     page::PAGE_SIZE, sync::Arc, uaccess::UserSlice,
/// };
///
/// kernel::sync::global_lock! {
///     // SAFETY: `INIT` initialises it before its first use.
///     unsafe(uninit) static REGION: Mutex<Option<Arc<Region>>> = None;
/// }
/// static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// INIT.call_once(|| {
///     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
///     // returns only after it has run.
///     unsafe { REGION.init() }
/// });
///
/// struct Device;
///
/// impl kunit::MmapTest for Device {
///     fn mmap(vma: &VmaNew) -> Result {
///         let region = REGION.lock().clone().ok_or(ENODEV)?;
///         region.mmap(vma)
///     }
/// }
///
/// let region = Region::new()?;
/// *REGION.lock() = Some(region.clone());
/// // SAFETY: Examples are built into the kernel.
/// let device = unsafe { kunit::mmap_test_file::<Device>() }?;
/// let rw = prot::READ | prot::WRITE;
/// let page = PAGE_SIZE as u32;
///
/// // Size 0, or a mapping longer than the region: refused.
/// assert_eq!(kunit::map_file(&device, 0, PAGE_SIZE, rw, true).err(), Some(EINVAL));
/// region.set_size(2 * PAGE_SIZE - 100)?;
/// assert_eq!(kunit::map_file(&device, 0, 3 * PAGE_SIZE, rw, true).err(), Some(EINVAL));
///
/// let addr = kunit::map_file(&device, 0, 2 * PAGE_SIZE, rw, true)?;
/// UserSlice::new(addr, 5).writer().write_slice(b"hello")?;
///
/// // Backed: name and size are fixed, and the backing file has an id.
/// assert_eq!(region.set_size(PAGE_SIZE), Err(EINVAL));
/// assert_eq!(region.set_name(c_str!("late")), Err(EINVAL));
/// assert_ne!(region.file_id()?, 0);
///
/// let all = PinRange { offset: 0, len: 0 };
/// assert!(!region.is_unpinned(all)?);
/// region.unpin(PinRange { offset: page, len: page })?;
/// assert!(region.is_unpinned(all)?);
/// assert_eq!(region.pin(all)?, PinResult::NotPurged);
/// assert!(!region.is_unpinned(all)?);
/// assert_eq!(region.pin(PinRange { offset: 1, len: 0 }).err(), Some(EINVAL));
/// assert_eq!(region.pin(PinRange { offset: 0, len: 3 * page }).err(), Some(EINVAL));
/// // The last page of the 32-bit range: its end overflows.
/// assert_eq!(region.pin(PinRange { offset: !(page - 1), len: page }).err(), Some(EINVAL));
///
/// // A removed protection: the next writable mapping is refused, a read-only one sees the data.
/// region.set_prot_mask(prot::READ)?;
/// assert_eq!(kunit::map_file(&device, 0, PAGE_SIZE, rw, true).err(), Some(EPERM));
/// let ro = kunit::map_file(&device, 0, PAGE_SIZE, prot::READ, true)?;
/// let mut back = [0u8; 5];
/// UserSlice::new(ro, 5).reader().read_slice(&mut back)?;
/// assert_eq!(&back, b"hello");
///
/// // Private mappings are anonymous memory, not the region's.
/// let private = kunit::map_file(&device, 0, PAGE_SIZE, prot::READ, false)?;
/// UserSlice::new(private, 5).reader().read_slice(&mut back)?;
/// assert_eq!(back, [0; 5]);
/// *REGION.lock() = None;
/// # Ok::<(), Error>(())
/// ```
pub struct Region {
    /// The region's shared state, which its entries in the purge order point at.
    shared: OrderRef,
    /// The size in bytes, for reads without the lock: written only under it.
    size: AtomicUsize,
}

/// Pins waiting for purges of a region to finish.
#[derive(Default)]
struct Purges {
    /// While non-zero, no new purge of the region starts, so that waiting pins see the end.
    pins_waiting: usize,
}

/// What a region shares with the purge order; a purge keeps it alive while it runs.
#[pin_data]
pub(super) struct Shared {
    #[pin]
    state: Mutex<State>,
    #[pin]
    purges: SpinLock<Purges>,
    /// How many purges of the region are punching holes. A purge counts itself under the state
    /// lock, with no pin waiting, and ends under `purges`; a pin reads it under the state lock.
    in_flight: AtomicUsize,
    /// Signalled when `in_flight` or `purges.pins_waiting` drops to zero.
    #[pin]
    purges_done: CondVar,
    /// The part of the purge order that holds the region's unpinned intervals.
    order_part: &'static OrderPart,
    /// How many entries of the purge order point at the region; changed under its part's lock.
    pub(super) order_entries: AtomicUsize,
}

impl Region {
    /// Creates a region: no name, size 0, every protection allowed, no backing.
    pub fn new() -> Result<Arc<Self>> {
        let shared = Arc::pin_init(
            pin_init!(Shared {
                state <- new_mutex!(State {
                    backing: Backing::Unbacked(Unbacked {
                        name: Name::UNSET,
                        size: 0,
                    }),
                    prot_mask: prot::READ | prot::WRITE | prot::EXEC,
                }),
                purges <- new_spinlock!(Purges::default()),
                in_flight: AtomicUsize::new(0),
                purges_done <- new_condvar!(),
                order_part: OrderPart::for_new_region(),
                order_entries: AtomicUsize::new(0),
            }),
            GFP_KERNEL,
        )?;
        // INVARIANT: The state's size is 0 too.
        let size = AtomicUsize::new(0);
        Ok(Arc::new(
            Self {
                shared: OrderRef::new(shared),
                size,
            },
            GFP_KERNEL,
        )?)
    }

    fn shared(&self) -> &Shared {
        self.shared.shared()
    }

    /// Sets the name, truncated to `NAME_LEN - 1` bytes; an empty one unsets it.
    ///
    /// Fails with [`EINVAL`] once the region is backed.
    pub fn set_name(&self, name: &CStr) -> Result {
        match &mut self.shared().state.lock().backing {
            Backing::Unbacked(region) => {
                region.name.set(name.as_bytes());
                Ok(())
            }
            Backing::Backed(_) => Err(EINVAL),
        }
    }

    /// Copies the name userspace reads back, NUL included, into `buf` and returns its length:
    /// the name set, or `dev/ashmem` if none is.
    pub fn name(&self, buf: &mut [u8; NAME_LEN]) -> usize {
        let state = self.shared().state.lock();
        let name = state.backing.name().shown();
        buf[..name.len()].copy_from_slice(name);
        name.len()
    }

    /// Copies the name of the backing file into `buf`, NUL included, and returns its length:
    /// `dev/ashmem/<name>`, or `dev/ashmem` while no name is set. It shows in
    /// `/proc/<pid>/maps` once the region is mapped; Android's `ashmem_area_name()` reports it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{ashmem::{Region, FULL_NAME_LEN, NAME_LEN}, c_str};
    ///
    /// let region = Region::new()?;
    /// let mut full = [0u8; FULL_NAME_LEN];
    /// let len = region.full_name(&mut full);
    /// assert_eq!(&full[..len], b"dev/ashmem\0");
    ///
    /// // The longest name fills the buffer.
    /// let long = [b'n'; NAME_LEN];
    /// let mut name = long;
    /// name[NAME_LEN - 1] = 0;
    /// region.set_name(kernel::str::CStr::from_bytes_with_nul(&name)?)?;
    /// assert_eq!(region.full_name(&mut full), FULL_NAME_LEN);
    /// assert_eq!(&full[..11], b"dev/ashmem/");
    /// assert_eq!(&full[11..FULL_NAME_LEN - 1], &long[..NAME_LEN - 1]);
    /// assert_eq!(full[FULL_NAME_LEN - 1], 0);
    ///
    /// region.set_name(c_str!("camera"))?;
    /// let len = region.full_name(&mut full);
    /// assert_eq!(&full[..len], b"dev/ashmem/camera\0");
    /// // Not mapped yet: no backing file.
    /// assert!(region.backing_file().is_none());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn full_name(&self, buf: &mut [u8; FULL_NAME_LEN]) -> usize {
        self.shared().state.lock().backing.name().full(buf)
    }

    /// Returns the backing shmem file, or [`None`] before the first `mmap` creates it.
    ///
    /// Its pages may be purged while userspace has them unpinned: the file gives no protection
    /// from that.
    pub fn backing_file(&self) -> Option<ARef<File>> {
        match &self.shared().state.lock().backing {
            Backing::Backed(region) => Some(region.file.file().into()),
            Backing::Unbacked(_) => None,
        }
    }

    /// Sets the size in bytes; any value, unaligned ones included.
    ///
    /// Fails with [`EINVAL`] once the region is backed.
    pub fn set_size(&self, size: usize) -> Result {
        match &mut self.shared().state.lock().backing {
            Backing::Unbacked(region) => {
                region.size = size;
                // INVARIANT: Written under the state lock, as the state's size.
                self.size.store(size, Ordering::Relaxed);
                Ok(())
            }
            Backing::Backed(_) => Err(EINVAL),
        }
    }

    /// Returns the size in bytes. Takes no lock: a [`Region::set_size`] on another thread may
    /// change it at any time before the first `mmap`.
    #[inline]
    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Reduces the protections that mappings may have to `mask` (`PROT_*` bits).
    ///
    /// Fails with [`EINVAL`] if `mask` adds a protection. Then, for a task with the
    /// `READ_IMPLIES_EXEC` personality, `PROT_READ` brings `PROT_EXEC` along, as it does in
    /// that task's mappings.
    pub fn set_prot_mask(&self, mask: u32) -> Result {
        let mut state = self.shared().state.lock();
        if mask & !state.prot_mask != 0 {
            return Err(EINVAL);
        }
        let mut mask = mask;
        if mask & prot::READ != 0 && current_personality().read_implies_exec() {
            mask |= prot::EXEC;
        }
        state.prot_mask = mask;
        Ok(())
    }

    /// Returns the protections that mappings may have.
    pub fn prot_mask(&self) -> u32 {
        self.shared().state.lock().prot_mask
    }

    /// Returns the inode number of the backing file.
    ///
    /// Fails with [`EINVAL`] before the first `mmap`.
    pub fn file_id(&self) -> Result<u64> {
        match &self.shared().state.lock().backing {
            Backing::Backed(region) => Ok(region.file.inode_number()),
            Backing::Unbacked(_) => Err(EINVAL),
        }
    }

    /// Sets up a mapping of the region, from a driver's `mmap`.
    ///
    /// Fails with [`EINVAL`] if the size is 0 or the mapping is longer than the page-aligned
    /// size, and with [`EPERM`] if it asks for a protection the mask removed. Removed
    /// protections can never be added with `mprotect(2)`. The first call creates the backing
    /// file. Shared mappings map it; private ones get private anonymous memory.
    pub fn mmap(&self, vma: &VmaNew) -> Result {
        let mut state = self.shared().state.lock();
        let size = state.backing.size();
        if size == 0 {
            return Err(EINVAL);
        }
        match page_align(size) {
            Some(limit) if vma.len() <= limit => {}
            _ => return Err(EINVAL),
        }
        let mask = state.prot_mask;
        // A mapping that asks for a protection the mask removed gets `EPERM`, as from C ashmem.
        if mask & prot::READ == 0 {
            vma.try_clear_mayread().map_err(|_| EPERM)?;
        }
        if mask & prot::WRITE == 0 {
            vma.try_clear_maywrite().map_err(|_| EPERM)?;
        }
        if mask & prot::EXEC == 0 {
            vma.try_clear_mayexec().map_err(|_| EPERM)?;
        }

        if let Backing::Unbacked(region) = &state.backing {
            let name = region.name;
            let file = Self::create_backing(&name, size, vma.flags())?;
            // INVARIANT: From here on name and size are the backed region's, which has no
            // setters.
            state.backing = Backing::Backed(Backed {
                name,
                size,
                file,
                pages: UnpinnedRanges::new(),
                nodes: NodePool {
                    ranges: RangeReservation::none(),
                    order: OrderReservation::none(),
                },
            });
        }
        let Backing::Backed(region) = &state.backing else {
            return Err(EINVAL);
        };
        if vma.is_shared() {
            region.file.map_into(vma)
        } else {
            vma.set_anonymous()
        }
    }

    fn create_backing(name: &Name, size: usize, vm_flags: vm_flags_t) -> Result<ShmemFile> {
        let mut full = [0u8; FULL_NAME_LEN];
        let len = name.full(&mut full);
        let full = CStr::from_bytes_with_nul(&full[..len])?;
        let class = InodeLockClass {
            name: crate::c_str!("ashmem_backing_inode"),
            key: crate::static_lock_class!(),
        };
        ShmemFile::new(full, size, vm_flags, Some(class))
    }

    /// Returns the file position that seeking an open file of this region from `pos` moves to.
    ///
    /// Fails with [`EINVAL`] while the size is 0 and [`EBADF`] before the first `mmap`;
    /// otherwise seeks as in the backing file, [`Whence::Data`] and [`Whence::Hole`] included,
    /// without holding the region's lock.
    pub fn llseek(&self, pos: i64, offset: i64, whence: Whence) -> Result<i64> {
        let file = {
            let state = self.shared().state.lock();
            if state.backing.size() == 0 {
                return Err(EINVAL);
            }
            match &state.backing {
                Backing::Backed(region) => region.file.handle(),
                Backing::Unbacked(_) => return Err(EBADF),
            }
        };
        file.llseek(pos, offset, whence)
    }

    /// Reads the region at `*pos` into `dest`, for a driver's `read_iter`.
    ///
    /// Returns 0 (end of file) while the size is 0 and fails with [`EBADF`] before the first
    /// `mmap`; otherwise reads the backing file, without holding the region's lock.
    pub fn read_iter(&self, pos: &mut i64, dest: &mut IovIterDest<'_>) -> Result<usize> {
        let reader = {
            let state = self.shared().state.lock();
            if state.backing.size() == 0 {
                return Ok(0);
            }
            match &state.backing {
                Backing::Backed(region) => region.file.handle(),
                Backing::Unbacked(_) => return Err(EBADF),
            }
        };
        reader.read_iter(pos, dest)
    }

    /// Prints the `/proc/<pid>/fdinfo` lines of the region: the backing inode once there is
    /// one, the name once set, and the size.
    pub fn show_fdinfo(&self, m: &SeqFile) {
        let state = self.shared().state.lock();
        if let Backing::Backed(region) = &state.backing {
            seq_print!(m, "inode:\t{}\n", region.file.inode_number());
        }
        let name = state.backing.name();
        if name.len != 0 {
            if let Ok(name) = CStr::from_bytes_with_nul(name.shown()) {
                seq_print!(m, "name:\t{}\n", name);
            }
        }
        seq_print!(m, "size:\t{}\n", state.backing.size());
    }

    /// Pins `range`: the kernel may no longer purge it. Reports whether any of its pages was
    /// purged while unpinned; purges already punching holes in the region are waited for, with
    /// the region unlocked.
    ///
    /// Fails with [`EINVAL`] before the first `mmap`, and for a range that is not page aligned,
    /// overflows 32 bits or ends past the page-aligned size.
    ///
    /// Pin and unpin cost O(log n) in the number of unpinned ranges.
    /// The [`Region`] examples show them at work.
    pub fn pin(&self, range: PinRange) -> Result<PinResult> {
        let mut state = self.lock_with_nodes(1)?;
        let region = Self::backed(&mut state)?;
        let range = Self::pages(region.size, range)?;
        // Checking first whether any page is in the purge order would cost a second walk of
        // the region's tree; its part's lock is cheap when no purge holds it.
        let mut order = self.shared().order_part.lock(region);
        let Backed { pages, nodes, .. } = region;
        // SAFETY: The region's part, locked; given only to this region's ranges, below.
        let mut update = unsafe { OrderUpdate::new(&mut order, &self.shared, &mut nodes.order) };
        let was_purged = pages.pin(range, &mut nodes.ranges, &mut update);
        drop(order);
        // Purges started before the lock was taken may still punch holes in these pages. While
        // this pin waits for them, no new purge of the region starts, so the wait ends; the
        // region is unlocked meanwhile, so that `mmap`, seeks and other pins do not wait too.
        let waiting = self.shared().pin_waiting(&state);
        drop(state);
        if let Some(waiting) = waiting {
            waiting.wait();
        }
        Ok(if was_purged {
            PinResult::WasPurged
        } else {
            PinResult::NotPurged
        })
    }

    /// Unpins `range`: the kernel may purge it under memory pressure, but for pages it holds
    /// (see [`KernelPin`](super::KernelPin)). Fails as [`Region::pin`].
    pub fn unpin(&self, range: PinRange) -> Result {
        let mut state = self.lock_with_nodes(1)?;
        let region = Self::backed(&mut state)?;
        let pages = Self::pages(region.size, range)?;
        if region.pages.pieces(pages.clone()) != 1 {
            drop(state);
            return self.unpin_in_pieces(range);
        }
        let mut order = self.shared().order_part.lock(region);
        let age = purge::new_age();
        let Backed {
            pages: ranges,
            nodes,
            ..
        } = region;
        // SAFETY: The region's part, locked; given only to this region's ranges, below.
        let mut update = unsafe { OrderUpdate::new(&mut order, &self.shared, &mut nodes.order) };
        // One piece: the nodes of a ready pool are enough.
        match ranges.unpin(pages, age, &mut nodes.ranges, &mut update) {
            Ok(_) => Ok(()),
            // Only reachable through a bug: nothing is unpinned.
            Err(_) => Err(ENOMEM),
        }
    }

    /// Unpins `range` where the ends of kernel holds cut it in pieces, with a node of each kind
    /// for each piece, so that it is done whole.
    #[cold]
    fn unpin_in_pieces(&self, range: PinRange) -> Result {
        // Nodes for more pieces than the pool holds nodes for.
        let mut more: Option<NodePool> = None;
        loop {
            let mut state = self.lock_with_nodes(1)?;
            let region = Self::backed(&mut state)?;
            let range = Self::pages(region.size, range)?;
            let pieces = region.pages.pieces(range.clone());
            let in_pool = region.nodes.holds(pieces, pieces);
            if !in_pool && !more.as_ref().is_some_and(|more| more.holds(pieces, pieces)) {
                drop(state);
                more = Some(NodePool::new(GFP_KERNEL, pieces, pieces)?);
                continue;
            }
            let mut order = self.shared().order_part.lock(region);
            let Backed {
                pages, nodes: pool, ..
            } = region;
            let nodes = match more.as_mut() {
                Some(more) if !in_pool => more,
                _ => pool,
            };
            let age = purge::new_age();
            // SAFETY: The region's part, locked; given only to this region's ranges, below.
            let mut update =
                unsafe { OrderUpdate::new(&mut order, &self.shared, &mut nodes.order) };
            // With a node of each kind for each piece, the unpin is done whole.
            return match pages.unpin(range, age, &mut nodes.ranges, &mut update) {
                Ok(_) => Ok(()),
                // Only reachable through a bug: the pages before the one returned are unpinned.
                Err(_) => Err(ENOMEM),
            };
        }
    }

    /// Holds `pages` (page indices) for the kernel: until [`Region::release`] with the same
    /// pages, none of them is purged, whatever userspace pins or unpins. Userspace still sees
    /// them as it pinned or unpinned them. Returns the backing file, and whether any of the
    /// pages was purged: they stay purged for userspace too, whose next pin reports it. Purges
    /// in flight are waited for, with the region unlocked, as by [`Region::pin`].
    ///
    /// Fails with [`EINVAL`] before the first `mmap` (holding would need the backing file, and
    /// creating it would fix the size) and for a range that is empty or ends past the
    /// page-aligned size, with [`ENOSPC`] if the region has
    /// [`MAX_HOLDS`](super::ranges::MAX_HOLDS) holds, and with [`ENOMEM`].
    #[cfg(CONFIG_MEMFD_CREATE)]
    pub(super) fn hold(&self, pages: Range<usize>) -> Result<(ARef<File>, PinResult)> {
        let mut room = None;
        loop {
            let mut state = self.lock_with_nodes(2)?;
            let region = Self::backed(&mut state)?;
            let limit = page_align(region.size).ok_or(EINVAL)? / PAGE_SIZE;
            if pages.is_empty() || pages.end > limit {
                return Err(EINVAL);
            }
            if region.pages.needs_hold_room() {
                match room.take() {
                    Some(room) => drop(region.pages.add_hold_room(room)),
                    None => {
                        drop(state);
                        room = Some(super::ranges::Holds::new(GFP_KERNEL)?);
                        continue;
                    }
                }
            }
            let mut order = self.shared().order_part.lock(region);
            let Backed {
                pages: ranges,
                nodes,
                file,
                ..
            } = region;
            // SAFETY: The region's part, locked; given only to this region's ranges, below.
            let mut update =
                unsafe { OrderUpdate::new(&mut order, &self.shared, &mut nodes.order) };
            let was_purged = ranges.hold(pages, &mut nodes.ranges, &mut update)?;
            let file = file.file().into();
            drop(order);
            // As for a pin: no hole punched after this returns lands on the held pages.
            let waiting = self.shared().pin_waiting(&state);
            drop(state);
            if let Some(waiting) = waiting {
                waiting.wait();
            }
            let result = if was_purged {
                PinResult::WasPurged
            } else {
                PinResult::NotPurged
            };
            return Ok((file, result));
        }
    }

    /// Releases a hold that [`Region::hold`] took of `pages`: those that userspace unpinned and
    /// no other hold covers may be purged again, as if unpinned now (the kernel used them until
    /// now). Never fails and allocates nothing.
    #[cfg(CONFIG_MEMFD_CREATE)]
    pub(super) fn release(&self, pages: Range<usize>) {
        let mut state = self.shared().state.lock();
        if let Backing::Backed(region) = &mut state.backing {
            let mut order = self.shared().order_part.lock(region);
            let Backed {
                pages: ranges,
                nodes,
                ..
            } = region;
            // SAFETY: The region's part, locked; given only to this region's ranges, below.
            let mut update =
                unsafe { OrderUpdate::new(&mut order, &self.shared, &mut nodes.order) };
            ranges.release(pages, purge::new_age(), &mut update);
        }
    }

    /// Locks the state for a change of the pin state, with the node pool of a backed region
    /// ready, holding `order` nodes of the purge order: what it lacks is allocated with the
    /// lock dropped, and the lock taken again.
    #[inline]
    fn lock_with_nodes(&self, order: usize) -> Result<Guard<'_, State, MutexBackend>> {
        let state = self.shared().state.lock();
        match &state.backing {
            Backing::Backed(region) if !region.nodes.is_ready(order) => {
                drop(state);
                self.lock_refilled(order)
            }
            _ => Ok(state),
        }
    }

    /// [`Region::lock_with_nodes`] for a pool that is not ready.
    #[cold]
    fn lock_refilled(&self, order: usize) -> Result<Guard<'_, State, MutexBackend>> {
        let mut fresh = NodePool::new(GFP_KERNEL, 2, order)?;
        let mut state = self.shared().state.lock();
        if let Backing::Backed(region) = &mut state.backing {
            // Nobody takes nodes from a pool but under the lock: after this it is ready.
            region.nodes.absorb(&mut fresh);
        }
        Ok(state)
    }

    /// Returns whether any page of `range` is unpinned. Fails as [`Region::pin`].
    pub fn is_unpinned(&self, range: PinRange) -> Result<bool> {
        let mut state = self.shared().state.lock();
        let region = Self::backed(&mut state)?;
        let pages = Self::pages(region.size, range)?;
        Ok(region.pages.is_unpinned(pages))
    }

    fn backed(state: &mut State) -> Result<&mut Backed> {
        match &mut state.backing {
            Backing::Backed(region) => Ok(region),
            Backing::Unbacked(_) => Err(EINVAL),
        }
    }

    /// Checks `range` against a region of `size` bytes and returns its pages.
    #[inline]
    pub(super) fn pages(size: usize, range: PinRange) -> Result<Range<usize>> {
        let limit = page_align(size).ok_or(EINVAL)?;
        let offset = range.offset as usize;
        let len = match range.len {
            0 => limit.checked_sub(offset).ok_or(EINVAL)?,
            len => len as usize,
        };
        if !is_page_aligned(offset) || !is_page_aligned(len) {
            return Err(EINVAL);
        }
        let len = u32::try_from(len).map_err(|_| EINVAL)?;
        let end = range.offset.checked_add(len).ok_or(EINVAL)? as usize;
        if end > limit {
            return Err(EINVAL);
        }
        Ok(offset / PAGE_SIZE..end / PAGE_SIZE)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        let mut state = self.shared().state.lock();
        let left = match &mut state.backing {
            Backing::Backed(region) => {
                let mut order = self.shared().order_part.lock(region);
                let mut none = OrderReservation::none();
                let Backed { pages, .. } = region;
                // SAFETY: The region's part, locked; given only to this region's ranges, below.
                let mut update = unsafe { OrderUpdate::new(&mut order, &self.shared, &mut none) };
                // Held intervals too: the unpinned tree holds them.
                pages.remove_all_unpinned(&mut update);
                self.shared().order_entries.load(Ordering::Relaxed)
            }
            Backing::Unbacked(_) => 0,
        };
        drop(state);
        if left != 0 {
            // Only reachable through a bug: entries that still point at the region keep it.
            pr_warn!("ashmem: {left} purge order entries left of a dropped region\n");
            self.shared.leak();
        }
        // INVARIANT: No entry of the order points at the region any more (or its `OrderRef`
        // leaks), before `self.shared` is dropped; only a `&Region` or an entry of the region
        // adds one.
    }
}

impl Shared {
    /// Returns the part of the purge order that holds the region's unpinned intervals.
    pub(super) fn order_part(&self) -> &'static OrderPart {
        self.order_part
    }

    /// Counts a pin as waiting if purges of the region are in flight, and returns what it waits
    /// with. Called under the region's own state lock (`_state` is its state, locked), which
    /// every purge takes to start.
    #[inline]
    fn pin_waiting(&self, _state: &State) -> Option<PinWaiting<'_>> {
        // A purge that started before the state lock was taken counted itself under it, so this
        // sees it, or its end (after its hole); none starts meanwhile.
        if self.in_flight.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut purges = self.purges.lock();
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            return None;
        }
        purges.pins_waiting += 1;
        Some(PinWaiting { shared: self })
    }

    /// Marks the first `most` pages of `interval`, an unpinned interval of `this` whose entry in
    /// the order points at `entry_region`, as purged (all of it if no tree node is spare), and
    /// counts a purge in flight until [`Shared::finish_purge`]. Returns those pages and the
    /// backing file's inode lock, held shared, under which to punch the hole, or why the purge
    /// could not start. The caller holds the region's part of the purge order and waits for
    /// nothing: the region is busy if its state is locked, a pin waits for its purges, or the
    /// inode lock is held exclusive (perhaps by the caller itself, in an allocation under that
    /// lock).
    ///
    /// # Safety
    ///
    /// `entry_region` was read from the entry of `interval`, an interval of `this`, in `order`,
    /// since the caller locked `order`.
    pub(super) unsafe fn try_start_purge(
        this: &Arc<Self>,
        entry_region: EntryRegion,
        order: &mut Order,
        interval: Range<usize>,
        most: usize,
    ) -> Result<(Range<usize>, ShmemInodeGuard), NotStarted> {
        let mut state = this.state.try_lock().ok_or(NotStarted::Busy)?;
        let Backing::Backed(region) = &mut state.backing else {
            return Err(NotStarted::Stale);
        };
        let Backed {
            pages: ranges,
            nodes,
            file,
            ..
        } = region;
        // Pins count themselves waiting only under the state lock, which this holds: none starts
        // waiting until this purge is counted in flight.
        if this.purges.lock().pins_waiting != 0 {
            return Err(NotStarted::Busy);
        }
        let inode = file
            .handle()
            .try_lock_inode_shared()
            .ok_or(NotStarted::Busy)?;
        // The order gets back the entry it loses for any rest of the interval; the pool keeps
        // the nodes that merging frees.
        // SAFETY: Per the safety requirements, `entry_region` is from an entry of this region in
        // `order`, read under this lock of it; the update is given only to this region's ranges.
        let mut update =
            unsafe { OrderUpdate::with_entry_region(order, this, entry_region, &mut nodes.order) };
        let (pages, _) = ranges
            .purge(interval, most, &mut nodes.ranges, &mut update)
            .ok_or(NotStarted::Stale)?;
        // No pin waits (checked above; pins count themselves only under the state lock, held
        // here), so no waiter needs `purges` to see this.
        this.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok((pages, inode))
    }

    /// Ends a purge started by [`Shared::try_start_purge`], waking pins that wait for it.
    pub(super) fn finish_purge(&self) {
        let purges = self.purges.lock();
        // Release: a pin that sees the purge's end without `purges` sees its hole punched.
        if self.in_flight.fetch_sub(1, Ordering::Release) == 1 {
            self.purges_done.notify_all();
        }
        drop(purges);
    }

    /// Waits until a purge could start: the state unlocked, the backing file's inode not locked
    /// exclusive, and no pin waiting.
    pub(super) fn wait_purgeable(&self) {
        let file = match &self.state.lock().backing {
            Backing::Backed(region) => Some(region.file.handle()),
            Backing::Unbacked(_) => None,
        };
        if let Some(file) = file {
            drop(file.lock_inode_shared());
        }
        let mut purges = self.purges.lock();
        while purges.pins_waiting != 0 {
            self.purges_done.wait(&mut purges);
        }
    }
}

/// Why [`Shared::try_start_purge`] did not start a purge.
pub(super) enum NotStarted {
    /// The region is busy; it may be purged later.
    Busy,
    /// The interval is not the region's: the order is out of step (a bug).
    Stale,
}

/// A pin counted in [`Purges::pins_waiting`], until it has waited.
struct PinWaiting<'a> {
    shared: &'a Shared,
}

impl PinWaiting<'_> {
    /// Waits until no purge of the region is in flight.
    fn wait(self) {
        let mut purges = self.shared.purges.lock();
        while self.shared.in_flight.load(Ordering::Relaxed) != 0 {
            self.shared.purges_done.wait(&mut purges);
        }
    }
}

impl Drop for PinWaiting<'_> {
    fn drop(&mut self) {
        let mut purges = self.shared.purges.lock();
        purges.pins_waiting -= 1;
        if purges.pins_waiting == 0 {
            self.shared.purges_done.notify_all();
        }
    }
}
