// SPDX-License-Identifier: GPL-2.0

//! Virtual memory areas (`struct vm_area_struct`) as a file's `mmap` operation sees them.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

use crate::{bindings, error::code::*, error::Result, fs::File, types::Opaque};
use core::ops::Deref;

/// Memory protection bits, as `mmap(2)` and `mprotect(2)` take them.
pub mod prot {
    /// `PROT_READ`: the memory may be read.
    pub const READ: u32 = bindings::PROT_READ;
    /// `PROT_WRITE`: the memory may be written.
    pub const WRITE: u32 = bindings::PROT_WRITE;
    /// `PROT_EXEC`: the memory may be executed.
    pub const EXEC: u32 = bindings::PROT_EXEC;
}

/// The type of a VMA's flags, see [`flags`].
pub use bindings::vm_flags_t;

/// Flags of a VMA (`vm_flags`), as [`VmaRef::flags`] returns them.
pub mod flags {
    use super::vm_flags_t;

    /// The mapping may be read now.
    pub const READ: vm_flags_t = bindings::VM_READ as vm_flags_t;
    /// The mapping may be written now.
    pub const WRITE: vm_flags_t = bindings::VM_WRITE as vm_flags_t;
    /// The mapping may be executed now.
    pub const EXEC: vm_flags_t = bindings::VM_EXEC as vm_flags_t;
    /// Writes reach the backing object and other mappings of it (`MAP_SHARED`).
    pub const SHARED: vm_flags_t = bindings::VM_SHARED as vm_flags_t;
    /// `mprotect(2)` may add [`READ`].
    pub const MAYREAD: vm_flags_t = bindings::VM_MAYREAD as vm_flags_t;
    /// `mprotect(2)` may add [`WRITE`].
    pub const MAYWRITE: vm_flags_t = bindings::VM_MAYWRITE as vm_flags_t;
    /// `mprotect(2)` may add [`EXEC`].
    pub const MAYEXEC: vm_flags_t = bindings::VM_MAYEXEC as vm_flags_t;
    /// The mapping was asked for as `MAP_SHARED`.
    pub const MAYSHARE: vm_flags_t = bindings::VM_MAYSHARE as vm_flags_t;
    /// Memory is charged as it is used, not all when mapped.
    pub const NORESERVE: vm_flags_t = bindings::VM_NORESERVE as vm_flags_t;
}

/// A VMA that a file's `mmap` operation is setting up.
///
/// It is valid only during that call: the VMA is not yet in the address space and the caller
/// holds the `mmap_lock` for writing, so its fields may be changed directly.
///
/// # Invariants
///
/// For as long as the `VmaNew` is reachable, the VMA is valid and is being set up by an `mmap`
/// file operation on the current thread, which holds the mm's `mmap_lock` for writing, and no
/// other thread can see it.
///
/// # Examples
///
/// An `mmap` handler sees the range, offset and sharing userspace asked for:
///
/// ```
/// use kernel::{kunit, mm::virt::{flags, prot, VmaNew}, page::PAGE_SIZE};
///
/// /// Start, length, page offset, shared, writable.
/// type Seen = (usize, usize, usize, bool, bool);
///
/// kernel::sync::global_lock! {
///     // SAFETY: `INIT` initialises it before its first use.
///     unsafe(uninit) static SEEN: SpinLock<Seen> = (0, 0, 0, false, false);
/// }
/// static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// INIT.call_once(|| {
///     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
///     // returns only after it has run.
///     unsafe { SEEN.init() }
/// });
///
/// struct Recorder;
///
/// impl kunit::MmapTest for Recorder {
///     fn mmap(vma: &VmaNew) -> Result {
///         let writable = vma.flags() & flags::WRITE != 0;
///         *SEEN.lock() = (vma.start(), vma.len(), vma.pgoff(), vma.is_shared(), writable);
///         Ok(())
///     }
/// }
///
/// // SAFETY: Examples are built into the kernel.
/// let file = unsafe { kunit::mmap_test_file::<Recorder>() }?;
/// let rw = prot::READ | prot::WRITE;
/// let addr = kunit::map_file(&file, 2 * PAGE_SIZE, 3 * PAGE_SIZE, rw, true)?;
/// let seen = *SEEN.lock();
/// assert_eq!(seen, (addr, 3 * PAGE_SIZE, 2, true, true));
///
/// let addr = kunit::map_file(&file, 0, PAGE_SIZE, prot::READ, false)?;
/// let seen = *SEEN.lock();
/// assert_eq!(seen, (addr, PAGE_SIZE, 0, false, false));
/// # Ok::<(), Error>(())
/// ```
///
/// A handler can refuse a mapping, and make the permissions it allows final:
///
/// ```
/// use kernel::{kunit, mm::virt::{flags, prot, vm_flags_t, VmaNew}, page::PAGE_SIZE};
///
/// kernel::sync::global_lock! {
///     // SAFETY: `INIT` initialises it before its first use.
///     unsafe(uninit) static FLAGS: SpinLock<vm_flags_t> = 0;
/// }
/// static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// INIT.call_once(|| {
///     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
///     // returns only after it has run.
///     unsafe { FLAGS.init() }
/// });
///
/// struct ReadOnly;
///
/// impl kunit::MmapTest for ReadOnly {
///     fn mmap(vma: &VmaNew) -> Result {
///         vma.try_clear_maywrite()?;
///         vma.try_clear_mayexec()?;
///         *FLAGS.lock() = vma.flags();
///         Ok(())
///     }
/// }
///
/// // SAFETY: Examples are built into the kernel.
/// let file = unsafe { kunit::mmap_test_file::<ReadOnly>() }?;
/// let writable = kunit::map_file(&file, 0, PAGE_SIZE, prot::READ | prot::WRITE, true);
/// assert_eq!(writable.err(), Some(EINVAL));
///
/// kunit::map_file(&file, 0, PAGE_SIZE, prot::READ, true)?;
/// let seen = *FLAGS.lock();
/// assert_eq!(seen & (flags::MAYWRITE | flags::MAYEXEC), 0);
/// assert_ne!(seen & flags::MAYREAD, 0);
/// # Ok::<(), Error>(())
/// ```
///
/// A private mapping can be made plain anonymous memory:
///
/// ```
/// use kernel::{kunit, mm::virt::{prot, VmaNew}, page::PAGE_SIZE, uaccess::UserSlice};
///
/// struct Anonymous;
///
/// impl kunit::MmapTest for Anonymous {
///     fn mmap(vma: &VmaNew) -> Result {
///         // A shared mapping is refused.
///         vma.set_anonymous()
///     }
/// }
///
/// // SAFETY: Examples are built into the kernel.
/// let file = unsafe { kunit::mmap_test_file::<Anonymous>() }?;
/// let shared = kunit::map_file(&file, 0, PAGE_SIZE, prot::READ | prot::WRITE, true);
/// assert_eq!(shared.err(), Some(EINVAL));
///
/// let addr = kunit::map_file(&file, 0, 2 * PAGE_SIZE, prot::READ | prot::WRITE, false)?;
/// let (mut reader, mut writer) = UserSlice::new(addr, 2 * PAGE_SIZE).reader_writer();
/// let mut page = [0xffu8; 8];
/// reader.read_slice(&mut page)?;
/// assert_eq!(page, [0; 8]);
/// writer.write_slice(b"private!")?;
/// UserSlice::new(addr, 8).reader().read_slice(&mut page)?;
/// assert_eq!(&page, b"private!");
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct VmaNew {
    vma: VmaRef,
}

impl VmaNew {
    /// Creates a reference to a [`VmaNew`] from a raw pointer.
    ///
    /// # Safety
    ///
    /// For `'a`, `vma` points at a VMA that an `mmap` file operation on the current thread is
    /// setting up, with the `mmap_lock` held for writing.
    pub unsafe fn from_raw<'a>(vma: *mut bindings::vm_area_struct) -> &'a VmaNew {
        // INVARIANT: The safety requirements are the type invariants, and imply those of
        // `VmaRef`.
        // SAFETY: `VmaNew` is a transparent wrapper of `struct vm_area_struct`, valid for `'a`.
        unsafe { &*vma.cast() }
    }

    /// Returns the length of the mapping in bytes, a multiple of the page size.
    pub fn len(&self) -> usize {
        self.end() - self.start()
    }

    /// Returns whether the mapping is empty, which a VMA never is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the offset of the mapping in the file, in pages.
    pub fn pgoff(&self) -> usize {
        // SAFETY: The VMA is valid by the type invariants.
        unsafe { (*self.as_ptr()).vm_pgoff }
    }

    /// Returns whether writes reach the backing object (`VM_SHARED`): the mapping is `MAP_SHARED`
    /// of a file open for writing. `mmap()` makes `MAP_SHARED` of a file open only for reading a
    /// private mapping that may not be made writable.
    pub fn is_shared(&self) -> bool {
        self.flags() & flags::SHARED != 0
    }

    fn update_flags(&self, set: vm_flags_t, clear: vm_flags_t) {
        let new = (self.flags() | set) & !clear;
        // SAFETY: The VMA is valid and only this thread sees it, by the type invariants; the
        // caller of `mmap` reads the flags back after the call, as with `vm_flags_mod()`.
        unsafe { (*self.as_ptr()).__bindgen_anon_2.__vm_flags = new };
    }

    /// Forbids making the mapping readable later with `mprotect(2)`.
    ///
    /// Fails with [`EINVAL`] if the mapping is readable already.
    pub fn try_clear_mayread(&self) -> Result {
        self.try_clear_may(flags::READ, flags::MAYREAD)
    }

    /// Forbids making the mapping writable later with `mprotect(2)`.
    ///
    /// Fails with [`EINVAL`] if the mapping is writable already.
    pub fn try_clear_maywrite(&self) -> Result {
        self.try_clear_may(flags::WRITE, flags::MAYWRITE)
    }

    /// Forbids making the mapping executable later with `mprotect(2)`.
    ///
    /// Fails with [`EINVAL`] if the mapping is executable already.
    pub fn try_clear_mayexec(&self) -> Result {
        self.try_clear_may(flags::EXEC, flags::MAYEXEC)
    }

    fn try_clear_may(&self, now: vm_flags_t, may: vm_flags_t) -> Result {
        if self.flags() & now != 0 {
            return Err(EINVAL);
        }
        self.update_flags(0, may);
        Ok(())
    }

    /// Makes a private mapping plain anonymous memory: zero-filled, private pages, as
    /// `MAP_PRIVATE` of `/dev/zero` gives.
    ///
    /// Fails with [`EINVAL`] for a shared mapping ([`is_shared`](Self::is_shared)), which would
    /// then fault with `SIGBUS`: the mm core makes only private mappings anonymous.
    pub fn set_anonymous(&self) -> Result {
        if self.is_shared() {
            return Err(EINVAL);
        }
        // SAFETY: The VMA is valid and only this thread sees it, by the type invariants. No
        // operations is what `vma_set_anonymous()` sets.
        unsafe { (*self.as_ptr()).vm_ops = core::ptr::null() };
        Ok(())
    }

    /// Makes the mapping map `file` instead of the file being mapped.
    ///
    /// The mapping takes a reference to `file` and drops the one to the file it had. The new
    /// file's operations do not run: a driver calls what installs its page handling itself.
    ///
    /// # Safety
    ///
    /// `mmap()` checked the file being mapped for this mapping, not `file`: its open mode
    /// (`FMODE_READ`, and `FMODE_WRITE` for a shared writable mapping), `noexec` mounts, the LSM
    /// hook `security_mmap_file()`, its seals (a memfd with `F_SEAL_WRITE` or
    /// `F_SEAL_FUTURE_WRITE` refuses shared writable mappings) and whether writes to it are denied
    /// (`mapping_map_writable()`); once the driver returns, the mapping counts as a writable one
    /// of `file` without a check. Callers must make sure those checks pass for `file`, now and for
    /// as long as the mapping lives: for instance, `file` is a shmem file they created for reading
    /// and writing and share with no one, which keeps the `F_SEAL_SEAL` it was created with.
    pub unsafe fn set_file(&self, file: &File) {
        // SAFETY: The VMA is valid and only this thread sees it, by the type invariants, and
        // `file` is valid; `vma_set_file()` takes its own reference. The caller vouches for
        // mapping `file` with the VMA's flags.
        unsafe { bindings::vma_set_file(self.as_ptr(), file.as_ptr()) };
    }
}

impl Deref for VmaNew {
    type Target = VmaRef;

    fn deref(&self) -> &VmaRef {
        &self.vma
    }
}

/// A VMA that the caller may read.
///
/// # Invariants
///
/// For as long as the `VmaRef` is reachable, the VMA is valid and the current thread holds its
/// mm's `mmap_lock`, or the VMA's own lock, at least for reading; or the VMA is still being set
/// up by an `mmap` file operation on the current thread, as for [`VmaNew`].
#[repr(transparent)]
pub struct VmaRef {
    vma: Opaque<bindings::vm_area_struct>,
}

impl VmaRef {
    /// Creates a reference to a [`VmaRef`] from a raw pointer.
    ///
    /// # Safety
    ///
    /// For `'a`, `vma` points at a valid VMA whose mm's `mmap_lock`, or whose own lock, the
    /// current thread holds at least for reading.
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a VmaRef {
        // INVARIANT: The safety requirements are the type invariants.
        // SAFETY: `VmaRef` is a transparent wrapper of `struct vm_area_struct`, valid for `'a`.
        unsafe { &*vma.cast() }
    }

    /// Returns the raw `struct vm_area_struct` pointer.
    pub fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.vma.get()
    }

    /// Returns the mapping's flags, see [`flags`].
    pub fn flags(&self) -> vm_flags_t {
        // SAFETY: The VMA is valid by the type invariants, and its flags change only under the
        // `mmap_lock` held for writing, or on the current thread during `mmap`.
        unsafe { (*self.as_ptr()).__bindgen_anon_2.__vm_flags }
    }

    /// Returns the first address of the mapping.
    pub fn start(&self) -> usize {
        // SAFETY: The VMA is valid by the type invariants, and its range changes only under the
        // `mmap_lock` held for writing.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_start }
    }

    /// Returns the address just past the mapping.
    pub fn end(&self) -> usize {
        // SAFETY: As in `start`.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_end }
    }
}
