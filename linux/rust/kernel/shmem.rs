// SPDX-License-Identifier: GPL-2.0

//! Files in shared memory (shmem, the memory behind tmpfs) that drivers create to back memory
//! they share with userspace.
//!
//! C header: [`include/linux/shmem_fs.h`](srctree/include/linux/shmem_fs.h)

#[cfg(all(CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
use crate::{
    alloc::{
        flags::{__GFP_NOWARN, GFP_KERNEL},
        KVVec,
    },
    ffi::c_uint,
    page::{BorrowedPage, PAGE_SHIFT, PAGE_SIZE},
};
use crate::{
    bindings, c_str,
    error::{code::*, from_err_ptr, to_result, Error, Result},
    ffi::{c_int, c_ulong},
    fs::File,
    iov::IovIterDest,
    miscdevice::Whence,
    mm::virt::{vm_flags_t, VmaNew},
    static_lock_class,
    str::CStr,
    sync::{
        lock::{lazy::LazyGlobalLock, spinlock::SpinLockBackend},
        LockClassKey,
    },
    types::ARef,
};
use core::{marker::PhantomData, ptr::NonNull};

/// A lock class for the inode lock (`i_rwsem`) of a driver's shmem files.
///
/// Give a driver's files a class of their own when the driver punches holes from memory
/// reclaim: otherwise lockdep sees the inode lock taken under `fs_reclaim` there and, in the same
/// class, taken before allocating by writes to ordinary tmpfs files, and reports a cycle that
/// cannot happen for files nobody writes to.
#[derive(Clone, Copy)]
pub struct InodeLockClass {
    /// The name lockdep reports.
    pub name: &'static CStr,
    /// The class, normally `static_lock_class!()`.
    pub key: &'static LockClassKey,
}

/// A shmem file: unlinked, private to the kernel until the driver maps it for userspace.
///
/// Its own `mmap` operation refuses with [`EPERM`]: the driver maps it with
/// [`ShmemFile::map_into`] from its own `mmap`, after its own permission checks. Otherwise
/// `remap_file_pages()`, which maps a mapping's file again through that file's `mmap`, would
/// bypass them (as CVE-2020-0009 did for ashmem).
///
/// # Invariants
///
/// `file` was created by `shmem_file_setup()`, and its operations are the hardened copy of
/// shmem's (`HARDENED_FOPS`).
///
/// # Examples
///
/// A file mapped by a driver's `mmap`, written through the mapping, and partly purged:
///
/// ```
/// use kernel::{
///     c_str, kunit, miscdevice::Whence, mm::virt::{prot, VmaNew}, page::PAGE_SIZE,
///     shmem::{InodeLockClass, ShmemFile}, static_lock_class, uaccess::UserSlice,
/// };
///
/// kernel::sync::global_lock! {
///     // SAFETY: `INIT` initialises it before its first use.
///     unsafe(uninit) static BACKING: Mutex<Option<ShmemFile>> = None;
/// }
/// static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// INIT.call_once(|| {
///     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
///     // returns only after it has run.
///     unsafe { BACKING.init() }
/// });
///
/// struct Driver;
///
/// impl kunit::MmapTest for Driver {
///     fn mmap(vma: &VmaNew) -> Result {
///         BACKING.lock().as_ref().ok_or(ENODEV)?.map_into(vma)
///     }
/// }
///
/// // Holes are punched from reclaim: the inode lock gets a class of its own.
/// let class = InodeLockClass { name: c_str!("kunit_shmem_inode"), key: static_lock_class!() };
/// *BACKING.lock() = Some(ShmemFile::new(c_str!("kunit-shmem"), 4 * PAGE_SIZE, 0, Some(class))?);
/// // SAFETY: Examples are built into the kernel.
/// let driver = unsafe { kunit::mmap_test_file::<Driver>() }?;
/// let addr = kunit::map_file(&driver, 0, 4 * PAGE_SIZE, prot::READ | prot::WRITE, true)?;
///
/// for page in 0..4 {
///     let at = addr + page * PAGE_SIZE;
///     UserSlice::new(at, 1).writer().write_slice(&[page as u8 + 1])?;
/// }
/// {
///     let mut backing = BACKING.lock();
///     let backing = backing.as_mut().ok_or(ENODEV)?;
///     assert_eq!(backing.handle().resident_pages(), 4);
///     backing.punch_hole(PAGE_SIZE, 2 * PAGE_SIZE)?;
///     assert_eq!(backing.handle().resident_pages(), 2);
///     let page = PAGE_SIZE as i64;
///     assert_eq!(backing.llseek(0, 0, Whence::Hole)?, page);
///     assert_eq!(backing.llseek(0, page, Whence::Data)?, 3 * page);
/// }
///
/// let mut byte = [0u8; 1];
/// for (page, expected) in [(0, 1), (1, 0), (2, 0), (3, 4)] {
///     UserSlice::new(addr + page * PAGE_SIZE, 1).reader().read_slice(&mut byte)?;
///     assert_eq!(byte[0], expected);
/// }
/// *BACKING.lock() = None;
/// # Ok::<(), Error>(())
/// ```
///
/// Mapping the file itself, as `remap_file_pages()` would, is refused:
///
/// ```
/// use kernel::{c_str, kunit, mm::virt::prot, page::PAGE_SIZE, shmem::ShmemFile};
///
/// let shmem = ShmemFile::new(c_str!("kunit-direct"), PAGE_SIZE, 0, None)?;
/// let direct = kunit::map_file(shmem.file(), 0, PAGE_SIZE, prot::READ, true);
/// assert_eq!(direct.err(), Some(EPERM));
/// # Ok::<(), Error>(())
/// ```
pub struct ShmemFile {
    file: ARef<File>,
}

/// Shmem's file operations with `mmap` refusing and `get_unmapped_area` generic, which every
/// [`ShmemFile`] uses. They live in the kernel image, so they outlive every mapping.
struct HardenedFops(bindings::file_operations);

// SAFETY: The operations are function pointers and a null module, usable from any thread.
unsafe impl Send for HardenedFops {}

static HARDENED_FOPS: LazyGlobalLock<HardenedFops, SpinLockBackend> = LazyGlobalLock::new(
    HardenedFops(zeroed_fops()),
    c_str!("shmem_hardened_fops"),
    static_lock_class!(),
);

const fn zeroed_fops() -> bindings::file_operations {
    // SAFETY: All zeros is a valid `file_operations`: no operation.
    unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
}

/// `mmap` of a [`ShmemFile`] itself.
///
/// # Safety
///
/// Called by the mm core as the `mmap` operation of a file.
unsafe extern "C" fn refuse_mmap(
    _file: *mut bindings::file,
    _vma: *mut bindings::vm_area_struct,
) -> c_int {
    EPERM.to_errno()
}

/// `get_unmapped_area` of a [`ShmemFile`]: shmem's own one only works with shmem's operations.
///
/// # Safety
///
/// Called by the mm core as the `get_unmapped_area` operation of a file, for the current task.
unsafe extern "C" fn unmapped_area(
    file: *mut bindings::file,
    addr: c_ulong,
    len: c_ulong,
    pgoff: c_ulong,
    flags: c_ulong,
) -> c_ulong {
    // SAFETY: The current task is valid and, mapping memory, has an mm.
    let mm = unsafe { (*bindings::get_current()).mm };
    // SAFETY: The arguments are those the mm core passed for `file` and the current mm.
    unsafe { bindings::mm_get_unmapped_area(mm, file, addr, len, pgoff, flags) }
}

/// Returns the hardened copy of `shmem_fops`, making it at the first call.
fn hardened_fops(shmem_fops: &bindings::file_operations) -> *const bindings::file_operations {
    let mut fops = HARDENED_FOPS.lock();
    if fops.0.mmap.is_none() {
        fops.0 = bindings::file_operations {
            mmap: Some(refuse_mmap),
            get_unmapped_area: Some(unmapped_area),
            ..*shmem_fops
        };
    }
    // Once made, the table never changes, so files may use it without the lock.
    &fops.0
}

impl ShmemFile {
    /// Creates a shmem file of `size` bytes.
    ///
    /// `name` shows in `/proc/<pid>/maps` for mappings of the file, as `/<name> (deleted)`.
    /// `vm_flags` are those of the mapping that will use it; only
    /// [`NORESERVE`](crate::mm::virt::flags::NORESERVE) counts, which charges memory as it is
    /// used instead of all at once. `lock_class` gives the inode
    /// lock a class of its own.
    pub fn new(
        name: &CStr,
        size: usize,
        vm_flags: vm_flags_t,
        lock_class: Option<InodeLockClass>,
    ) -> Result<Self> {
        let size = i64::try_from(size).map_err(|_| EINVAL)?;
        // SAFETY: `name` is NUL-terminated; the call copies it.
        let file = from_err_ptr(unsafe {
            bindings::shmem_file_setup(name.as_char_ptr(), size, vm_flags)
        })?;
        // SAFETY: `shmem_file_setup()` returned a new file with a reference we now own, in no
        // descriptor table.
        let file: ARef<File> = unsafe { ARef::from_raw(NonNull::new_unchecked(file.cast())) };
        let raw = file.as_ptr();
        // SAFETY: The file is valid and only we have it; its inode's operations are shmem's,
        // which live in the kernel image.
        let inode = unsafe { (*raw).f_inode };
        // SAFETY: As above; an inode's file operations are static.
        let shmem_fops = unsafe { &*(*inode).__bindgen_anon_3.i_fop };
        if let Some(class) = lock_class {
            // SAFETY: The inode is new, and no one holds its lock: besides this file, which no
            // one else has, only the superblock's inode list leads to it, and its walkers do not
            // take the lock. Name and key are static. The lock is passed as a raw pointer: others
            // may read the inode meanwhile.
            unsafe {
                bindings::lockdep_set_class_and_name_rwsem(
                    core::ptr::addr_of_mut!((*inode).i_rwsem),
                    class.key.as_ptr(),
                    class.name.as_char_ptr(),
                )
            };
        }
        // INVARIANT: Created by `shmem_file_setup()`, given the hardened operations. The file is
        // not visible to anyone else, so its operations may change; the new table lives forever.
        // SAFETY: As above.
        unsafe { (*raw).f_op = hardened_fops(shmem_fops) };
        Ok(Self { file })
    }

    /// Returns the file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Returns the number of the file's inode.
    pub fn inode_number(&self) -> u64 {
        self.file.inode_number()
    }

    /// Returns the size of the file in bytes.
    pub fn size(&self) -> i64 {
        // SAFETY: The file and its inode are valid.
        unsafe { bindings::i_size_read((*self.file.as_ptr()).f_inode) }
    }

    /// Makes `vma` map this file: called from a driver's `mmap`, after the driver's checks.
    ///
    /// The mapping takes a reference to the file and gets shmem's page handling.
    pub fn map_into(&self, vma: &VmaNew) -> Result {
        // SAFETY: By the type invariants, the file was created by `shmem_file_setup()`, which
        // opens it for reading and writing on the internal shm mount (not `noexec`) and gives
        // its inode `F_SEAL_SEAL`: no seal can be added to it, through this file or any other of
        // the inode, so none refuses the mapping now or later; and only sealing denies writes to
        // a shmem file (`mapping_deny_writable()`). The LSM hook ran for the driver's file, as
        // for C ashmem's `vma_set_file()`.
        unsafe { vma.set_file(&self.file) };
        // SAFETY: The file and its inode are valid; the inode's operations are shmem's own.
        let inode = unsafe { (*self.file.as_ptr()).f_inode };
        // SAFETY: As above.
        let shmem_mmap = unsafe { (*(*inode).__bindgen_anon_3.i_fop).mmap };
        let shmem_mmap = shmem_mmap.ok_or(ENODEV)?;
        // SAFETY: `vma` is being set up by an `mmap` call and now maps this file, as shmem's
        // `mmap` expects.
        to_result(unsafe { shmem_mmap(self.file.as_ptr(), vma.as_ptr()) })
    }

    /// Frees the memory of `len` bytes at `offset`, keeping the size: they read as zeros after.
    ///
    /// See [`ShmemHandle::punch_hole`].
    pub fn punch_hole(&self, offset: usize, len: usize) -> Result {
        punch_hole(&self.file, offset, len)
    }

    /// Reads the file at `*pos` into `dest`, moves `*pos` on and returns how many bytes it read.
    ///
    /// See [`ShmemHandle::read_iter`].
    pub fn read_iter(&self, pos: &mut i64, dest: &mut IovIterDest<'_>) -> Result<usize> {
        read_iter(&self.file, pos, dest)
    }

    /// Returns a handle that reads the file and punches holes in it, for use without the lock
    /// that guards the [`ShmemFile`]: reads copy to user memory, which may fault, and reclaim
    /// punches holes.
    pub fn handle(&self) -> ShmemHandle {
        ShmemHandle {
            file: self.file.clone(),
        }
    }

    /// Returns the position that `lseek(2)` on a shmem file at position `pos` would move to,
    /// with shmem's rules and limits; [`Whence::Data`] and [`Whence::Hole`] find the written and
    /// the unwritten (or purged) parts. The file's own position is left alone: the caller keeps
    /// its position.
    ///
    /// # Examples
    ///
    /// Only written pages hold data:
    ///
    /// ```
    /// use kernel::{c_str, miscdevice::Whence, page::PAGE_SIZE, shmem::ShmemFile};
    ///
    /// let shmem = ShmemFile::new(c_str!("kunit-seek"), 4 * PAGE_SIZE, 0, None)?;
    /// let page = PAGE_SIZE as i64;
    /// // Nothing written yet: no data at all.
    /// assert_eq!(shmem.llseek(0, 0, Whence::Data), Err(ENXIO));
    /// assert_eq!(shmem.llseek(0, 0, Whence::Hole)?, 0);
    /// assert_eq!(shmem.llseek(page, 8, Whence::Current)?, page + 8);
    /// assert_eq!(shmem.llseek(0, -8, Whence::End)?, 4 * page - 8);
    /// assert_eq!(shmem.llseek(0, -8, Whence::Set), Err(EINVAL));
    /// assert_eq!(shmem.llseek(i64::MAX, 1, Whence::Current), Err(EINVAL));
    /// assert_eq!(shmem.llseek(0, -1, Whence::Data), Err(ENXIO));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn llseek(&self, pos: i64, offset: i64, whence: Whence) -> Result<i64> {
        llseek(&self.file, pos, offset, whence)
    }
}

/// A handle on a [`ShmemFile`] for what needs no file position, made by [`ShmemFile::handle`].
pub struct ShmemHandle {
    file: ARef<File>,
}

impl ShmemHandle {
    /// Returns the position `lseek(2)` would move to; see [`ShmemFile::llseek`].
    pub fn llseek(&self, pos: i64, offset: i64, whence: Whence) -> Result<i64> {
        llseek(&self.file, pos, offset, whence)
    }

    /// Reads the file at `*pos` into `dest`, moves `*pos` on and returns how many bytes it read.
    ///
    /// # Examples
    ///
    /// A test file whose reads read a shmem file, as a driver's `read_iter` would:
    ///
    /// ```
    /// use kernel::{
    ///     c_str,
    ///     fs::Kiocb,
    ///     iov::IovIterDest,
    ///     kunit::{self, ReadTest},
    ///     page::PAGE_SIZE,
    ///     shmem::{ShmemFile, ShmemHandle},
    /// };
    ///
    /// kernel::sync::global_lock! {
    ///     // SAFETY: `INIT` initialises it before its first use.
    ///     unsafe(uninit) static BACKING: Mutex<Option<ShmemHandle>> = None;
    /// }
    /// static INIT: kernel::sync::Once = kernel::sync::Once::new();
    /// INIT.call_once(|| {
    ///     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
    ///     // returns only after it has run.
    ///     unsafe { BACKING.init() }
    /// });
    ///
    /// struct Forward;
    ///
    /// impl ReadTest for Forward {
    ///     fn read_iter(mut kiocb: Kiocb<'_, ()>, dest: &mut IovIterDest<'_>) -> Result<usize> {
    ///         BACKING.lock().as_ref().ok_or(ENXIO)?.read_iter(kiocb.ki_pos_mut(), dest)
    ///     }
    /// }
    ///
    /// let shmem = ShmemFile::new(c_str!("kunit-read"), PAGE_SIZE, 0, None)?;
    /// *BACKING.lock() = Some(shmem.handle());
    /// // SAFETY: Examples are built into the kernel.
    /// let file = unsafe { kunit::read_test_file::<Forward>() }?;
    /// let mut buf = [0xffu8; 16];
    /// let mut pos = PAGE_SIZE as i64 - 4;
    /// // A new file reads as zeros, up to its end.
    /// assert_eq!(kunit::kernel_read(&file, &mut buf, &mut pos)?, 4);
    /// assert_eq!(pos, PAGE_SIZE as i64);
    /// assert_eq!(kunit::kernel_read(&file, &mut buf, &mut pos)?, 0);
    /// assert_eq!(buf[..4], [0; 4]);
    /// *BACKING.lock() = None;
    /// assert_eq!(shmem.size(), PAGE_SIZE as i64);
    /// assert_ne!(shmem.inode_number(), 0);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_iter(&self, pos: &mut i64, dest: &mut IovIterDest<'_>) -> Result<usize> {
        read_iter(&self.file, pos, dest)
    }

    /// Frees the memory of `len` bytes at `offset`, keeping the size: they read as zeros after.
    ///
    /// Both are in bytes and should be page aligned; partial pages are zeroed instead. Calls
    /// shmem's `fallocate` directly, without `vfs_fallocate()`'s security and notification
    /// hooks. It takes the inode lock exclusive and may wait for it: memory reclaim must use
    /// [`ShmemHandle::try_lock_inode_shared`] and [`ShmemInodeGuard::punch_hole`] instead.
    pub fn punch_hole(&self, offset: usize, len: usize) -> Result {
        punch_hole(&self.file, offset, len)
    }

    /// Returns how many pages of the file are in memory, a snapshot that concurrent faults and
    /// hole punches may change.
    pub fn resident_pages(&self) -> usize {
        resident_pages(&self.file)
    }

    /// Takes the file's inode lock shared, if no one holds it exclusive and no one waits to, for
    /// [`ShmemInodeGuard::punch_hole`].
    ///
    /// Memory reclaim uses this: it must not wait for the lock, whose exclusive holder may be
    /// allocating, and may be the reclaiming task itself (a hole punch that splits a huge folio
    /// allocates under the lock). Several punches of other ranges may hold it at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, page::PAGE_SIZE, shmem::ShmemFile};
    ///
    /// let shmem = ShmemFile::new(c_str!("kunit-inode-lock"), 4 * PAGE_SIZE, 0, None)?;
    /// let handle = shmem.handle();
    /// let first = handle.try_lock_inode_shared().ok_or(EBUSY)?;
    /// let second = handle.try_lock_inode_shared().ok_or(EBUSY)?;
    /// first.punch_hole(0, PAGE_SIZE)?;
    /// second.punch_hole(2 * PAGE_SIZE, PAGE_SIZE)?;
    /// assert_eq!(first.punch_hole(PAGE_SIZE, 0), Err(EINVAL));
    /// assert_eq!(first.punch_hole(1, PAGE_SIZE), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_lock_inode_shared(&self) -> Option<ShmemInodeGuard> {
        // SAFETY: The file and its inode are valid.
        let locked = unsafe { bindings::inode_trylock_shared((*self.file.as_ptr()).f_inode) };
        // INVARIANT: The lock was just taken shared by this task.
        (locked != 0).then(|| ShmemInodeGuard {
            file: self.file.clone(),
            _not_send: PhantomData,
        })
    }

    /// Takes the file's inode lock shared, waiting for it; see
    /// [`ShmemHandle::try_lock_inode_shared`].
    pub fn lock_inode_shared(&self) -> ShmemInodeGuard {
        // SAFETY: The file and its inode are valid.
        unsafe { bindings::inode_lock_shared((*self.file.as_ptr()).f_inode) };
        // INVARIANT: The lock was just taken shared by this task.
        ShmemInodeGuard {
            file: self.file.clone(),
            _not_send: PhantomData,
        }
    }
}

/// The inode lock of a shmem file, held shared by the current task to punch holes, until
/// dropped. Exclusive holders (`fallocate()`, truncation) wait meanwhile.
///
/// # Invariants
///
/// The current task holds the inode lock of `file` shared, and releases it when this is
/// dropped. `file` is a [`ShmemFile`]'s.
pub struct ShmemInodeGuard {
    file: ARef<File>,
    /// The lock must be released by the task that took it.
    _not_send: PhantomData<*mut ()>,
}

impl ShmemInodeGuard {
    /// Frees the memory of `len` bytes at `offset`, both page aligned, keeping the size: they
    /// read as zeros after. Fails with [`EINVAL`] for a range that is empty, not page aligned or
    /// that overflows.
    ///
    /// This is what shmem's hole punch (`fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`)
    /// does, without the seal checks (a [`ShmemFile`] has no seals) and without holding off
    /// faults meanwhile (`shmem_fallocate()` publishes the range in `i_private` for
    /// `shmem_fault()` to wait on): pages faulted in again during the punch may stay, and a
    /// page swapped in meanwhile makes the punch go over the range again. Other punches under
    /// the shared lock may run at once. Splitting a huge folio across the range's ends allocates
    /// memory while holding the folio's lock.
    pub fn punch_hole(&self, offset: usize, len: usize) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if len == 0 || !crate::page::is_page_aligned(offset) || !crate::page::is_page_aligned(len) {
            return Err(EINVAL);
        }
        let start = i64::try_from(offset).map_err(|_| EINVAL)?;
        let len = i64::try_from(len).map_err(|_| EINVAL)?;
        let last = i64::try_from(end - 1).map_err(|_| EINVAL)?;
        let file = self.file.as_ptr();
        // SAFETY: The file is valid, and so are its inode and mapping. By the type invariants
        // the current task holds the inode lock shared, which keeps out `fallocate()` and
        // truncation, the callers that expect it exclusive. `unmap_mapping_range()` takes the
        // mapping's `i_mmap_rwsem`; `shmem_truncate_range()` frees or splits each folio under the
        // folio's lock after checking that it is still in this mapping, and updates the block
        // counts under shmem's `info->lock`. Concurrent punches also store the inode's times and
        // `fallocend` without a lock, as concurrent C callers would under a shared lock: the
        // values are advisory and any of the racing stores is correct.
        unsafe {
            bindings::unmap_mapping_range((*file).f_mapping, start, len, 0);
            bindings::shmem_truncate_range((*file).f_inode, start, last);
        }
        Ok(())
    }

    /// Returns how many pages of the file are in memory; see [`ShmemHandle::resident_pages`].
    pub fn resident_pages(&self) -> usize {
        resident_pages(&self.file)
    }
}

impl Drop for ShmemInodeGuard {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the current task holds the valid inode's lock shared.
        unsafe { bindings::inode_unlock_shared((*self.file.as_ptr()).f_inode) };
    }
}

/// Pages of a shmem file pinned in memory, as for DMA (`FOLL_PIN`), until this is dropped.
///
/// Pinned pages stay resident: reclaim neither swaps them out nor migrates them, and with
/// `CONFIG_MIGRATION` they were moved out of movable zones and CMA first, as long-term pins
/// (`FOLL_LONGTERM`) are. Holes in the range get new zeroed pages first, charged like any page
/// of the file (tmpfs size limits, the memory cgroup of the current task); the pin itself is not
/// charged to anyone (no `RLIMIT_MEMLOCK`): a driver pinning for userspace bounds how much.
///
/// The pages are marked dirty when pinned, so that what is written through them is kept. Hole
/// punches and truncation do not wait for pins: the whole folios they cover leave the file (the
/// pinned pages stay valid, but are no longer the file's), and the parts of a large folio they
/// cover are zeroed in place. A user that must not lose what it wrote keeps them away.
///
/// This checks neither the file's mode nor its seals: the caller checks that whoever asked may
/// read the file, and may write it before writing through the pages.
///
/// # Invariants
///
/// Each entry of `folios` holds one `FOLL_PIN` pin on its folio, dropped when this is dropped.
/// `pages` points to the pinned pages of these folios, in file order.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, kunit, page::PAGE_SIZE, shmem::{PinnedPages, ShmemFile}};
///
/// let shmem = ShmemFile::new(c_str!("kunit-pinned-pages"), 4 * PAGE_SIZE, 0, None)?;
/// // Pages 1 and 2: holes until now, pinned with new zeroed pages.
/// let pinned = PinnedPages::pin(shmem.file(), 1, 2)?;
/// assert_eq!(pinned.len(), 2);
/// let page = pinned.page(1).ok_or(EINVAL)?;
/// let data = *b"pinned";
/// // SAFETY: `data` is valid for its length, and nothing else accesses the file meanwhile.
/// unsafe { page.write_raw(data.as_ptr(), 10, data.len())? };
/// assert!(pinned.page(2).is_none());
///
/// // The page is the file's: reading the file at page 2 finds the bytes.
/// let mut buf = [0u8; 6];
/// let mut pos = (2 * PAGE_SIZE + 10) as i64;
/// assert_eq!(kunit::kernel_read(shmem.file(), &mut buf, &mut pos)?, buf.len());
/// assert_eq!(buf, data);
///
/// // Ranges must be within the file's size; a page may be pinned twice.
/// assert_eq!(PinnedPages::pin(shmem.file(), 3, 2).err(), Some(EINVAL));
/// assert_eq!(PinnedPages::pin(shmem.file(), 0, 0).err(), Some(EINVAL));
/// assert_eq!(PinnedPages::pin(shmem.file(), usize::MAX, 1).err(), Some(EINVAL));
/// let again = PinnedPages::pin(shmem.file(), 2, 2)?;
/// assert_eq!(again.page(0).map(|p| p.as_ptr()), Some(page.as_ptr()));
/// # Ok::<(), Error>(())
/// ```
#[cfg(all(CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
pub struct PinnedPages {
    folios: KVVec<NonNull<bindings::folio>>,
    pages: KVVec<NonNull<bindings::page>>,
}

// SAFETY: Pins are not tied to the task that took them; any task may drop them.
#[cfg(all(CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
unsafe impl Send for PinnedPages {}

// SAFETY: `&PinnedPages` only reads the two vectors and hands out borrowed pages, whose accesses
// have their own rules.
#[cfg(all(CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
unsafe impl Sync for PinnedPages {}

#[cfg(all(CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
impl PinnedPages {
    /// Pins `count` pages of `file` from page `first`, filling holes with new pages. The last
    /// page may be the partial one at the end of the file.
    ///
    /// Fails with [`EINVAL`] if `file` is not a shmem file (a `MFD_HUGETLB` memfd, for one), if
    /// `count` is 0, or if the range overflows or is not within the file's size. Fails with
    /// [`ENOMEM`], or whatever filling a hole or swapping a page in returned (`ENOSPC` past a
    /// tmpfs size limit, say), if that failed. May sleep and reclaim memory.
    pub fn pin(file: &File, first: usize, count: usize) -> Result<Self> {
        let page_size = PAGE_SIZE as i64;
        let first = i64::try_from(first)?;
        let count_bytes = i64::try_from(count)?.checked_mul(page_size).ok_or(EINVAL)?;
        let start = first.checked_mul(page_size).ok_or(EINVAL)?;
        let end = start.checked_add(count_bytes).ok_or(EINVAL)?;
        let max_folios = c_uint::try_from(count)?;
        let file_ptr = file.as_ptr();
        // `memfd_pin_folios()` also takes hugetlbfs files, whose folios are not base pages.
        // SAFETY: The file and its mapping are valid; `shmem_mapping()` only compares the
        // mapping's operations.
        if !unsafe { bindings::shmem_mapping((*file_ptr).f_mapping) } {
            return Err(EINVAL);
        }
        // SAFETY: The file and its inode are valid.
        let size = unsafe { bindings::i_size_read((*file_ptr).f_inode) };
        // Checked before allocating for `count`, which comes from userspace; checked again by
        // `memfd_pin_folios()` against the size at that time.
        if count == 0 || start >= size || end - page_size >= size {
            return Err(EINVAL);
        }
        let last = end.min(size) - 1;
        // Every page may be a folio of its own.
        let flags = GFP_KERNEL | __GFP_NOWARN;
        let mut folios: KVVec<NonNull<bindings::folio>> = KVVec::with_capacity(count, flags)?;
        let mut pages: KVVec<NonNull<bindings::page>> = KVVec::with_capacity(count, flags)?;
        let mut offset: c_ulong = 0;
        // SAFETY: The file is valid, and `folios` has room for `max_folios` entries. On success
        // the call returns how many folio pointers it wrote, at most `max_folios`, each folio
        // pinned, and the byte offset into the first.
        let pinned = unsafe {
            bindings::memfd_pin_folios(
                file_ptr,
                start,
                last,
                folios.as_mut_ptr().cast(),
                max_folios,
                &mut offset,
            )
        };
        let pinned = usize::try_from(pinned).map_err(|_| Error::from_errno(pinned as i32))?;
        // SAFETY: The first `pinned <= max_folios` entries were written with valid, non-null
        // folio pointers.
        unsafe { folios.set_len(pinned) };
        // INVARIANT: Each entry of `folios` holds a pin, which dropping `this` from here on
        // drops; `pages` is empty.
        let mut this = Self {
            folios,
            pages: KVVec::new(),
        };
        let mut skip = offset >> PAGE_SHIFT;
        'folios: for folio in this.folios.iter() {
            // SAFETY: The folio is pinned, so valid.
            let nr = unsafe { bindings::folio_nr_pages(folio.as_ptr()) } as usize;
            // SAFETY: The folio is valid, and its head page is a page of it. Marking it dirty
            // (which takes the folio lock) keeps what is written through the pin: a clean
            // shmem folio is dropped, not swapped, once it is no longer pinned.
            unsafe { bindings::set_page_dirty_lock(bindings::folio_page(folio.as_ptr(), 0)) };
            for n in skip..nr {
                if pages.len() == count {
                    break 'folios;
                }
                // SAFETY: The folio is valid and `n` is below its page count.
                let page = unsafe { bindings::folio_page(folio.as_ptr(), n as c_ulong) };
                let page = NonNull::new(page).ok_or(EINVAL)?;
                // The capacity is `count`, so this never allocates.
                pages.push(page, GFP_KERNEL)?;
            }
            skip = 0;
        }
        if pages.len() != count {
            return Err(EINVAL);
        }
        // INVARIANT: `pages` holds the `count` pinned pages of the folios, in file order.
        this.pages = pages;
        Ok(this)
    }

    /// Returns the number of pinned pages.
    #[inline]
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Returns whether no page is pinned, which never happens: [`PinnedPages::pin`] refuses
    /// empty ranges.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Returns the `index`-th pinned page, or [`None`] past the end.
    ///
    /// The page is borrowed from this pin. A user that needs it for longer, such as a device
    /// that keeps using it after the pin is dropped, takes its own page reference. Userspace
    /// may read and write the page through its mappings at any time, which [`Page`]'s
    /// `read_raw` and `write_raw` do not allow for: their callers must rule that out. Writers
    /// of a page that userspace maps also call `flush_dcache_page()` on architectures whose
    /// data caches alias.
    ///
    /// [`Page`]: crate::page::Page
    pub fn page(&self, index: usize) -> Option<BorrowedPage<'_>> {
        let page = *self.pages.get(index)?;
        // SAFETY: By the type invariants the page is in a folio pinned until `self` is dropped,
        // and `self` outlives the returned borrow.
        Some(unsafe { BorrowedPage::from_raw(page) })
    }
}

#[cfg(all(CONFIG_MEMFD_CREATE, CONFIG_SHMEM))]
impl Drop for PinnedPages {
    fn drop(&mut self) {
        let folios = self.folios.as_mut_ptr().cast();
        // SAFETY: By the type invariants each entry holds one pin, dropped here exactly once.
        unsafe { bindings::unpin_folios(folios, self.folios.len() as c_ulong) };
    }
}

fn resident_pages(file: &File) -> usize {
    // SAFETY: The file is valid, and so are its inode and mapping; `nrpages` is read without
    // the mapping's lock, as `READ_ONCE()` would.
    unsafe { core::ptr::read_volatile(&(*(*file.as_ptr()).f_mapping).nrpages) }
}

fn punch_hole(file: &File, offset: usize, len: usize) -> Result {
    let offset = i64::try_from(offset).map_err(|_| EINVAL)?;
    let len = i64::try_from(len).map_err(|_| EINVAL)?;
    // SAFETY: The file is valid and its operations are the hardened copy of shmem's.
    let fallocate = unsafe { (*file.as_ptr()).f_op.as_ref() }
        .and_then(|fops| fops.fallocate)
        .ok_or_else(|| Error::from_errno(-(bindings::EOPNOTSUPP as i32)))?;
    let mode = bindings::FALLOC_FL_PUNCH_HOLE | bindings::FALLOC_FL_KEEP_SIZE;
    // SAFETY: The file is valid, and shmem supports this mode.
    let ret = unsafe { fallocate(file.as_ptr(), mode as c_int, offset, len) };
    to_result(ret as c_int)
}

/// `shmem_file_llseek()` without its last step, `vfs_setpos()`: the file's position, which
/// `lseek(2)` on a descriptor of this file would own, is neither read nor written.
fn llseek(file: &File, pos: i64, offset: i64, whence: Whence) -> Result<i64> {
    // SAFETY: The file is valid, and so is its inode, whose size may change at any time.
    let size = unsafe { bindings::i_size_read((*file.as_ptr()).f_inode) };
    let new = match whence {
        Whence::Set => offset,
        Whence::Current => pos.checked_add(offset).ok_or(EINVAL)?,
        Whence::End => size.checked_add(offset).ok_or(EINVAL)?,
        Whence::Data | Whence::Hole => {
            if offset < 0 {
                return Err(ENXIO);
            }
            // SAFETY: The file and its mapping are valid. The search takes the RCU read lock
            // and references on what it finds; shmem takes the inode lock only to read the
            // size, which `i_size_read()` did.
            let found = unsafe {
                bindings::mapping_seek_hole_data(
                    (*file.as_ptr()).f_mapping,
                    offset,
                    size,
                    whence.as_raw(),
                )
            };
            if found < 0 {
                return Err(Error::from_errno(found as i32));
            }
            found
        }
    };
    // The limit is `i64::MAX` on 64-bit kernels, lower on 32-bit ones.
    if !(0..=bindings::MAX_LFS_FILESIZE).contains(&new) {
        return Err(EINVAL);
    }
    Ok(new)
}

fn read_iter(file: &File, pos: &mut i64, dest: &mut IovIterDest<'_>) -> Result<usize> {
    // SAFETY: The file is valid, `dest` is a valid destination and `pos` a valid position; the
    // read uses `pos`, not the file's position.
    let ret = unsafe { bindings::vfs_iter_read(file.as_ptr(), dest.as_raw(), pos, 0) };
    usize::try_from(ret).map_err(|_| Error::from_errno(ret as i32))
}
