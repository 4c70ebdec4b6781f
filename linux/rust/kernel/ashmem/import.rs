// SPDX-License-Identifier: GPL-2.0

//! Regions and memfds that a driver takes from userspace, and kernel pins of their pages.
//!
//! A camera or codec driver gets a file descriptor from an app and fills or reads the buffer
//! behind it. [`Import::new`] takes the file of an ashmem region (of a device registered with
//! [`Registration`](super::Registration)) or of a memfd, and keeps the region or the memfd,
//! whatever userspace closes. [`Import::pin`] pins a page range from the kernel: a
//! [`KernelPin`] keeps its pages resident and the region's purges away from them until it is
//! dropped, whatever userspace pins or unpins meanwhile.
//!
//! Userspace does not see kernel pins: pages it unpinned still read as unpinned in
//! `ASHMEM_GET_PIN_STATUS`, and its next `ASHMEM_PIN` reports `ASHMEM_WAS_PURGED` exactly if they
//! were purged, which can only have happened before the kernel pin. Unpinned pages may be purged
//! again once the last kernel pin over them is dropped, as if unpinned at that moment: after
//! every page unpinned before.
//!
//! # Locking
//!
//! A kernel pin takes a region's locks as [`Region::pin`] does, then pins the folios of the
//! backing file with no ashmem lock held; dropping it unpins the folios first. Copies hold no
//! ashmem lock.

use super::{region::Region, PinResult, NAME_LEN};
use crate::{
    bindings,
    error::{code::*, Result},
    fs::{file::flags, File},
    memfd::{self, seal},
    mm::virt::prot,
    page::{is_page_aligned, page_align, BorrowedPage, PAGE_SIZE},
    shmem::PinnedPages,
    sync::Arc,
    types::ARef,
};
use core::ops::Range;

/// What an [`Import`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An ashmem region.
    Region,
    /// A memfd, as `memfd_create()` makes it; never purged.
    Memfd,
}

#[derive(Clone)]
enum Owner {
    Region(Arc<Region>),
    Memfd(ARef<File>),
}

/// An ashmem region or a memfd that a driver took from userspace.
///
/// It keeps the region (not the file userspace gave) or the memfd's file: userspace may close
/// its descriptors and unmap the memory meanwhile.
///
/// # Examples
///
/// A memfd (here, a shmem file with a memfd's name) must be sealed against shrinking before the
/// kernel pins it, so that its size cannot change under the pin:
///
/// ```
/// use kernel::{
///     ashmem::{Import, Kind, PinResult, NAME_LEN},
///     c_str, fs::file::{flags, File}, page::PAGE_SIZE, shmem::ShmemFile,
/// };
///
/// let memfd = ShmemFile::new(c_str!("memfd:frames"), 2 * PAGE_SIZE, 0, None)?;
/// let import = Import::new(memfd.file())?;
/// assert_eq!(import.kind(), Kind::Memfd);
/// assert_eq!(import.size(), 2 * PAGE_SIZE);
/// let mut name = [0u8; NAME_LEN];
/// let len = import.name(&mut name);
/// assert_eq!(&name[..len], b"frames\0");
/// // The kernel's own shmem files are sealed with `F_SEAL_SEAL` only: not against shrinking.
/// assert_eq!(import.pin(0, 0).err(), Some(EINVAL));
///
/// // Neither a region nor a memfd.
/// let root = File::open(c_str!("/"), flags::O_RDONLY)?;
/// assert_eq!(Import::new(&root).err(), Some(EINVAL));
/// let shmem = ShmemFile::new(c_str!("frames"), PAGE_SIZE, 0, None)?;
/// assert_eq!(Import::new(shmem.file()).err(), Some(EINVAL));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct Import {
    owner: Owner,
    /// Whether the file userspace gave was open for writing.
    writable: bool,
}

impl Import {
    /// Takes the region or memfd that `file` is.
    ///
    /// Fails with [`EBADF`] if `file` is not open for reading (a driver reads what it imports),
    /// and with [`EINVAL`] if it is neither an open file of a registered ashmem device nor a
    /// shmem memfd (`MFD_HUGETLB` memfds are not). Whether it is open for writing decides
    /// whether the kernel may write the pages (see [`KernelPin::check_writable`]).
    pub fn new(file: &File) -> Result<Self> {
        let access = file.flags() & flags::O_ACCMODE;
        if access != flags::O_RDONLY && access != flags::O_RDWR {
            return Err(EBADF);
        }
        let writable = access == flags::O_RDWR;
        if let Some(region) = Region::from_file(file) {
            return Ok(Self {
                owner: Owner::Region(region),
                writable,
            });
        }
        if memfd::is_memfd(file) {
            return Ok(Self {
                owner: Owner::Memfd(file.into()),
                writable,
            });
        }
        Err(EINVAL)
    }

    /// Returns an import of `region`, for a driver that holds a region it did not get from
    /// a file: as if from a file open for writing. The region's protection mask still applies.
    pub fn from_region(region: Arc<Region>) -> Self {
        Self {
            owner: Owner::Region(region),
            writable: true,
        }
    }

    /// Returns what this is.
    pub fn kind(&self) -> Kind {
        match self.owner {
            Owner::Region(_) => Kind::Region,
            Owner::Memfd(_) => Kind::Memfd,
        }
    }

    /// Returns the region, for a region.
    pub fn region(&self) -> Option<&Arc<Region>> {
        match &self.owner {
            Owner::Region(region) => Some(region),
            Owner::Memfd(_) => None,
        }
    }

    /// Copies the name, NUL included, into `buf` and returns its length: what
    /// `ASHMEM_GET_NAME` returns for the file.
    pub fn name(&self, buf: &mut [u8; NAME_LEN]) -> usize {
        match &self.owner {
            Owner::Region(region) => region.name(buf),
            Owner::Memfd(file) => super::memfd::Memfd::new(file).map_or(0, |memfd| memfd.name(buf)),
        }
    }

    /// Returns the size in bytes, `usize::MAX` for larger sizes; a memfd's may change unless it
    /// is sealed.
    pub fn size(&self) -> usize {
        match &self.owner {
            Owner::Region(region) => region.size(),
            Owner::Memfd(file) => usize::try_from(file.size()).unwrap_or(usize::MAX),
        }
    }

    /// Pins the pages from byte `offset` for `len` bytes (0: to the end), from the kernel:
    /// they stay resident and are not purged until the returned [`KernelPin`] is dropped. Pages
    /// not allocated yet are allocated, as by a fault.
    ///
    /// Fails with [`EINVAL`] if `offset` or `len` is not page aligned, or the range is empty or
    /// ends past the page-aligned size. For a region, fails with [`EINVAL`] before its first
    /// `mmap` (the size could still change; creating the backing file would fix it behind
    /// userspace's back) and with [`ENOSPC`] if it has
    /// [`MAX_HOLDS`](super::ranges::MAX_HOLDS) kernel pins; for a memfd, with [`EINVAL`] unless
    /// it is sealed with `F_SEAL_SHRINK`. Fails with [`ENOMEM`] or what allocating a page
    /// returned, and `ENOSPC` past a tmpfs size limit. May sleep.
    pub fn pin(&self, offset: usize, len: usize) -> Result<KernelPin> {
        if let Owner::Memfd(file) = &self.owner {
            if memfd::seals(file)? & seal::SHRINK == 0 {
                return Err(EINVAL);
            }
        }
        // Past what `usize` holds (on 32-bit), only the start of a memfd can be pinned.
        let size = self.size().min(usize::MAX - (PAGE_SIZE - 1));
        let pages = pin_pages(size, offset, len)?;
        let (hold, file, result) = match &self.owner {
            Owner::Region(region) => {
                let (file, result) = region.hold(pages.clone())?;
                // INVARIANT: The region holds `pages` from here on; dropping `hold` (if pinning
                // the folios fails, too) releases them.
                let hold = Hold::Region {
                    region: region.clone(),
                    pages: pages.clone(),
                };
                (hold, file, result)
            }
            Owner::Memfd(file) => (Hold::Memfd, file.clone(), PinResult::NotPurged),
        };
        let folios = PinnedPages::pin(&file, pages.start, pages.len())?;
        // INVARIANT: `folios` are the pages that `hold` covers, of `file`.
        Ok(KernelPin {
            pages: folios,
            hold,
            file,
            result,
            writable: self.writable,
        })
    }
}

/// Checks a byte range for a kernel pin of a file of `size` bytes and returns its pages.
fn pin_pages(size: usize, offset: usize, len: usize) -> Result<Range<usize>> {
    let limit = page_align(size).ok_or(EINVAL)?;
    let len = match len {
        0 => limit.checked_sub(offset).ok_or(EINVAL)?,
        len => len,
    };
    let end = offset.checked_add(len).ok_or(EINVAL)?;
    if !is_page_aligned(offset) || !is_page_aligned(len) || len == 0 || end > limit {
        return Err(EINVAL);
    }
    Ok(offset / PAGE_SIZE..end / PAGE_SIZE)
}

/// What keeps a kernel pin's pages from being purged: a hold of the region's pages, released
/// when dropped; memfds are never purged.
enum Hold {
    Region {
        region: Arc<Region>,
        pages: Range<usize>,
    },
    Memfd,
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Self::Region { region, pages } = self {
            region.release(pages.clone());
        }
    }
}

/// Pages of an [`Import`] pinned by the kernel: resident, and kept from purging, until this is
/// dropped.
///
/// Dropping it may sleep: not from reclaim (a driver's shrinker), nor under a lock that is held
/// while allocating memory the ashmem shrinker may be asked for.
///
/// The pages are the file's pages when pinned. Whoever removes them from the file meanwhile
/// (`fallocate(PUNCH_HOLE)` or `MADV_REMOVE` by userspace; purges cannot) leaves them pinned but
/// no longer the file's. Userspace may read and write them through its mappings at any time, so
/// the copies here may see or leave torn data, as `read(2)` and `write(2)` may, but never cause
/// undefined behaviour. Where data caches alias (not on x86 or arm64), reads may miss what
/// userspace wrote last through a mapping: no `flush_dcache_page()` precedes them.
///
/// # Invariants
///
/// For a region, `hold` holds exactly the pages of the region's backing file that `pages`
/// pinned, and `pages` is dropped first. For a memfd, `pages` are pages of the memfd `file`.
///
/// # Examples
///
/// ```
/// use kernel::{
///     ashmem::{self, Import, PinRange, PinResult}, mm::virt::prot, page::PAGE_SIZE,
///     uaccess::UserSlice,
/// };
/// # use kernel::{ashmem::Region, kunit, mm::virt::VmaNew, sync::Arc};
/// # kernel::sync::global_lock! {
/// #     // SAFETY: `INIT` initialises it before its first use.
/// #     unsafe(uninit) static MAPPING: Mutex<Option<Arc<Region>>> = None;
/// # }
/// # static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// # INIT.call_once(|| {
/// #     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
/// #     // returns only after it has run.
/// #     unsafe { MAPPING.init() }
/// # });
/// # struct Device;
/// # impl kunit::MmapTest for Device {
/// #     fn mmap(vma: &VmaNew) -> Result {
/// #         MAPPING.lock().as_ref().ok_or(ENODEV)?.mmap(vma)
/// #     }
/// # }
/// # /// Returns a new region of `pages` pages, and where it is mapped.
/// # fn mapped(pages: usize) -> Result<(Arc<Region>, usize)> {
/// #     let region = Region::new()?;
/// #     region.set_size(pages * PAGE_SIZE)?;
/// #     *MAPPING.lock() = Some(region.clone());
/// #     // SAFETY: Examples are built into the kernel.
/// #     let device = unsafe { kunit::mmap_test_file::<Device>() };
/// #     let addr = device.and_then(|device| {
/// #         kunit::map_file(&device, 0, pages * PAGE_SIZE, prot::READ | prot::WRITE, true)
/// #     });
/// #     *MAPPING.lock() = None;
/// #     Ok((region, addr?))
/// # }
///
/// let (region, addr) = mapped(4)?;
/// UserSlice::new(addr, 5).writer().write_slice(b"hello")?;
/// let import = Import::from_region(region.clone());
///
/// // Userspace unpins every page; the kernel pins the first two, which purging then spares.
/// let before = ashmem::purgeable_pages();
/// let all = PinRange { offset: 0, len: 0 };
/// region.unpin(all)?;
/// let pin = import.pin(0, 2 * PAGE_SIZE)?;
/// assert_eq!(pin.result(), PinResult::NotPurged);
/// assert_eq!(ashmem::purgeable_pages(), before + 2);
/// assert_eq!(ashmem::purge_all()?, before + 2);
/// let mut back = [0u8; 5];
/// pin.read(0, &mut back)?;
/// assert_eq!(&back, b"hello");
/// // Userspace still sees its pages unpinned.
/// assert!(region.is_unpinned(PinRange { offset: 0, len: PAGE_SIZE as u32 })?);
///
/// // What the kernel writes, userspace reads in its mapping.
/// pin.fill(PAGE_SIZE - 1, 3, 7)?;
/// let mut seen = [0u8; 3];
/// UserSlice::new(addr + PAGE_SIZE - 1, 3).reader().read_slice(&mut seen)?;
/// assert_eq!(seen, [7, 7, 7]);
/// assert_eq!(pin.read(2 * PAGE_SIZE - 1, &mut back).err(), Some(EINVAL));
/// assert!(pin.page(1).is_some() && pin.page(2).is_none());
///
/// // A kernel pin over purged pages reports it; userspace's next pin still does.
/// let late = import.pin(3 * PAGE_SIZE, 0)?;
/// assert_eq!(late.result(), PinResult::WasPurged);
/// drop(late);
///
/// // Once dropped, its unpinned pages may be purged; userspace's pin then reports it.
/// drop(pin);
/// assert_eq!(ashmem::purge_all()?, 2);
/// assert_eq!(ashmem::purgeable_pages(), 0);
/// assert_eq!(region.pin(all)?, PinResult::WasPurged);
///
/// // Without `PROT_WRITE` in the mask, the kernel may read, not write.
/// region.set_prot_mask(prot::READ)?;
/// let pin = import.pin(0, 0)?;
/// assert_eq!(pin.write(0, b"x").err(), Some(EPERM));
/// pin.read(0, &mut back)?;
/// # Ok::<(), Error>(())
/// ```
///
/// The kernel used the pages until it drops its pin: they then go after every page unpinned
/// before.
///
/// ```
/// use kernel::ashmem::{self, Import, PinRange, PinResult};
/// # use kernel::{
/// #     ashmem::Region, kunit, mm::virt::{prot, VmaNew}, page::PAGE_SIZE, sync::Arc,
/// # };
/// # kernel::sync::global_lock! {
/// #     // SAFETY: `INIT` initialises it before its first use.
/// #     unsafe(uninit) static MAPPING: Mutex<Option<Arc<Region>>> = None;
/// # }
/// # static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// # INIT.call_once(|| {
/// #     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
/// #     // returns only after it has run.
/// #     unsafe { MAPPING.init() }
/// # });
/// # struct Device;
/// # impl kunit::MmapTest for Device {
/// #     fn mmap(vma: &VmaNew) -> Result {
/// #         MAPPING.lock().as_ref().ok_or(ENODEV)?.mmap(vma)
/// #     }
/// # }
/// # /// Returns a new region of `pages` pages, and where it is mapped.
/// # fn mapped(pages: usize) -> Result<(Arc<Region>, usize)> {
/// #     let region = Region::new()?;
/// #     region.set_size(pages * PAGE_SIZE)?;
/// #     *MAPPING.lock() = Some(region.clone());
/// #     // SAFETY: Examples are built into the kernel.
/// #     let device = unsafe { kunit::mmap_test_file::<Device>() };
/// #     let addr = device.and_then(|device| {
/// #         kunit::map_file(&device, 0, pages * PAGE_SIZE, prot::READ | prot::WRITE, true)
/// #     });
/// #     *MAPPING.lock() = None;
/// #     Ok((region, addr?))
/// # }
///
/// let (a, _) = mapped(2)?;
/// let (b, _) = mapped(2)?;
/// let all = PinRange { offset: 0, len: 0 };
/// a.unpin(all)?;
/// let pin = Import::from_region(a.clone()).pin(0, 0)?;
/// b.unpin(all)?;
/// drop(pin);
/// // `b`, unpinned after `a` but before the kernel let `a` go, is purged first.
/// assert_eq!(ashmem::purge_oldest(1).pages, 2);
/// assert_eq!(a.pin(all)?, PinResult::NotPurged);
/// assert_eq!(b.pin(all)?, PinResult::WasPurged);
/// # Ok::<(), Error>(())
/// ```
pub struct KernelPin {
    // Dropped first: the folios are unpinned before the hold is released.
    pages: PinnedPages,
    hold: Hold,
    /// The file whose pages are pinned: a region's backing file, or the memfd.
    file: ARef<File>,
    result: PinResult,
    writable: bool,
}

impl KernelPin {
    /// Returns whether any page was purged before the kernel pinned it: it reads as zeros. For
    /// userspace it stays purged, and its next `ASHMEM_PIN` over it reports it.
    pub fn result(&self) -> PinResult {
        self.result
    }

    /// Returns the length in bytes: whole pages, the last one perhaps past the end of the file.
    pub fn len(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }

    /// Returns whether the pin has no pages, which never happens.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Returns the `index`-th pinned page, or [`None`] past the end.
    ///
    /// The page is borrowed from this pin. A driver that hands it to a device for longer takes
    /// its own page reference, and checks [`KernelPin::check_writable`] before the device writes.
    pub fn page(&self, index: usize) -> Option<BorrowedPage<'_>> {
        self.pages.page(index)
    }

    /// Checks whether the kernel may write the pages now: fails with [`EBADF`] if the file
    /// userspace gave was not open for writing, and with [`EPERM`] if the region's protection
    /// mask lacks `PROT_WRITE` or the memfd is sealed against writes (`F_SEAL_WRITE`,
    /// `F_SEAL_FUTURE_WRITE`). Both are final: masks lose bits and memfds gain seals, never the
    /// other way round. May sleep.
    pub fn check_writable(&self) -> Result {
        if !self.writable {
            return Err(EBADF);
        }
        let allowed = match &self.hold {
            Hold::Region { region, .. } => region.prot_mask() & prot::WRITE != 0,
            Hold::Memfd => memfd::seals(&self.file)? & (seal::WRITE | seal::FUTURE_WRITE) == 0,
        };
        if allowed {
            Ok(())
        } else {
            Err(EPERM)
        }
    }

    /// Copies the bytes from `offset` into `dst`. Fails with [`EINVAL`] past the end. Does not
    /// sleep.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result {
        let mut done = 0;
        self.for_each_chunk(offset, dst.len(), |page, in_page, len| {
            // SAFETY: `page` is pinned for the call, `in_page + len <= PAGE_SIZE`, and `dst` is
            // valid for writes of `len` bytes from `done`, which `for_each_chunk` keeps within
            // `dst.len()`. The copy is C's `memcpy()`, as `copy_to_user()`'s: userspace writing
            // the page meanwhile may tear the data, not cause undefined behaviour.
            unsafe {
                bindings::memcpy_from_page(dst.as_mut_ptr().add(done).cast(), page, in_page, len)
            };
            done += len;
        })
    }

    /// Copies `src` to the pages from `offset`. Fails as [`KernelPin::check_writable`], and with
    /// [`EINVAL`] past the end. May sleep.
    pub fn write(&self, offset: usize, src: &[u8]) -> Result {
        self.check_writable()?;
        let mut done = 0;
        self.for_each_chunk(offset, src.len(), |page, in_page, len| {
            // SAFETY: As in `read`, with `src` valid for reads of `len` bytes from `done`.
            // `memcpy_to_page()` flushes the data cache where it aliases.
            unsafe { bindings::memcpy_to_page(page, in_page, src.as_ptr().add(done).cast(), len) };
            done += len;
        })
    }

    /// Sets `len` bytes from `offset` to `byte`. Fails as [`KernelPin::write`]. May sleep.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result {
        self.check_writable()?;
        let pattern = [byte; 256];
        self.for_each_chunk(offset, len, |page, in_page, len| {
            let mut at = 0;
            while at < len {
                let n = (len - at).min(pattern.len());
                // SAFETY: As in `write`, with `pattern` valid for reads of `n` bytes.
                unsafe { bindings::memcpy_to_page(page, in_page + at, pattern.as_ptr().cast(), n) };
                at += n;
            }
        })
    }

    /// Calls `f(page, offset in page, length)` for each page that bytes `offset..offset + len`
    /// touch, in order, after checking that they are within the pin.
    fn for_each_chunk(
        &self,
        offset: usize,
        len: usize,
        mut f: impl FnMut(*mut bindings::page, usize, usize),
    ) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end > self.len() {
            return Err(EINVAL);
        }
        let mut at = offset;
        while at < end {
            let page = self.pages.page(at / PAGE_SIZE).ok_or(EINVAL)?;
            let in_page = at % PAGE_SIZE;
            let n = (PAGE_SIZE - in_page).min(end - at);
            f(page.as_ptr(), in_page, n);
            at += n;
        }
        Ok(())
    }
}
