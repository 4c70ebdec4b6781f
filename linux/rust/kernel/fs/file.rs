// SPDX-License-Identifier: GPL-2.0

//! Open files (`struct file`).
//!
//! A [`File`] may be shared between threads. A [`LocalFile`] is one that the current thread may
//! be using under `fdget_pos()`, which skips the file's position lock when it finds the file
//! unshared, so it must stay on this thread.
//!
//! Only files with `FMODE_ATOMIC_POS` have a position lock: `do_dentry_open()` gives it to
//! regular files and directories. `fdget_pos()` never locks the position of any other file, a
//! character device for instance, so sharing such a file cannot break what `fdget_pos()` assumed.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h) and
//! [`include/linux/file.h`](srctree/include/linux/file.h)

use crate::{
    bindings,
    error::{code::*, from_err_ptr, Error, Result},
    str::CStr,
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::{marker::PhantomData, mem::MaybeUninit, ops::Deref, ptr::NonNull};

/// Flags of an open file, as [`LocalFile::flags`] returns them; see `open(2)`.
pub mod flags {
    /// The access mode bits.
    pub const O_ACCMODE: u32 = bindings::O_ACCMODE;
    /// Open for reading only.
    pub const O_RDONLY: u32 = bindings::O_RDONLY;
    /// Open for writing only.
    pub const O_WRONLY: u32 = bindings::O_WRONLY;
    /// Open for reading and writing.
    pub const O_RDWR: u32 = bindings::O_RDWR;
    /// Writes append to the end of the file.
    pub const O_APPEND: u32 = bindings::O_APPEND;
    /// Operations fail with `EAGAIN` rather than wait.
    pub const O_NONBLOCK: u32 = bindings::O_NONBLOCK;
    /// The descriptor is closed by `execve(2)`.
    pub const O_CLOEXEC: u32 = bindings::O_CLOEXEC;
    /// Fail unless the path is a directory.
    pub const O_DIRECTORY: u32 = bindings::O_DIRECTORY;
}

/// An open file that any thread may use.
///
/// # Invariants
///
/// - The file is valid and open: its reference count is nonzero for as long as the `File` is
///   reachable, whether through an [`ARef<File>`] that owns a reference or a `&File` that borrows
///   one, and its `open` succeeded, so `f_inode` is set and stays so.
/// - No thread is in an `fdget_pos()` section that skipped the file's `f_pos_lock` because the
///   file was not shared (`file_needs_f_pos_lock()`: the file has `FMODE_ATOMIC_POS` and one
///   reference). A file without `FMODE_ATOMIC_POS` is never in such a section.
///
/// # Examples
///
/// An [`ARef<File>`] owns a reference; clones share the file, which lives until the last one
/// goes:
///
/// ```
/// use kernel::{c_str, fs::file::{flags, File}};
///
/// let root = File::open(c_str!("/"), flags::O_RDONLY)?;
/// let shared = root.clone();
/// assert_eq!(shared.as_ptr(), root.as_ptr());
/// drop(root);
/// assert_eq!(shared.flags() & flags::O_ACCMODE, flags::O_RDONLY);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct File {
    inner: Opaque<bindings::file>,
}

// SAFETY: By the type invariants no `fdget_pos()` relies on the file staying unshared, so it may
// be used and released from any thread.
unsafe impl Send for File {}

// SAFETY: All methods that take `&File` are safe to call concurrently: the fields they read are
// either constant after open or read the way C reads them concurrently.
unsafe impl Sync for File {}

// SAFETY: A `struct file` is reference counted through `get_file()` and `fput()`, which keep it
// alive while the count is nonzero.
unsafe impl AlwaysRefCounted for File {
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference means that the refcount is nonzero.
        unsafe { bindings::get_file(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference, which is given up here.
        unsafe { bindings::fput(obj.cast().as_ptr()) }
    }
}

impl File {
    /// Opens the file at `path` for the kernel, with `flags` from [`flags`].
    ///
    /// For code that must open a path it was configured with, such as a backing store; the file is
    /// not installed in any descriptor table. Drivers handed a descriptor by userspace use
    /// [`LocalFile::fget`] instead.
    pub fn open(path: &CStr, flags: u32) -> Result<ARef<File>> {
        // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
        let file =
            from_err_ptr(unsafe { bindings::filp_open(path.as_char_ptr(), flags as i32, 0) })?;
        // INVARIANT: `filp_open()` returns an error unless `do_dentry_open()` opened the file
        // (`FMODE_OPENED`), and a file with a reference that we now own; the file is in no
        // descriptor table, so no `fdget_pos()` can find it.
        // SAFETY: The pointer is valid and owns a reference.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(file.cast())) })
    }

    /// Creates a reference to a [`File`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// - `ptr` points at an open file (its `open` succeeded) whose reference count stays nonzero
    ///   for the duration of `'a`.
    /// - No thread is in an `fdget_pos()` section that skipped its `f_pos_lock` because it was not
    ///   shared, during `'a` (see the type invariants). This holds for any file without
    ///   `FMODE_ATOMIC_POS`, such as a character device.
    #[inline]
    pub unsafe fn from_raw_file<'a>(ptr: *const bindings::file) -> &'a File {
        // INVARIANT: The safety requirements are the type invariants.
        // SAFETY: `File` is a transparent wrapper of `struct file`, valid for `'a`.
        unsafe { &*ptr.cast() }
    }
}

impl Deref for File {
    type Target = LocalFile;

    fn deref(&self) -> &LocalFile {
        // SAFETY: A `File` is a `LocalFile` with a stronger invariant, and both wrap the same
        // `struct file` transparently.
        unsafe { LocalFile::from_raw_file(self.inner.get()) }
    }
}

/// An open file that the current thread may be using under `fdget_pos()`, so it stays on this
/// thread.
///
/// # Invariants
///
/// For as long as the `LocalFile` is reachable:
///
/// - The file is valid and open: its reference count is nonzero, and its `open` succeeded, so
///   `f_inode` is set and stays so.
/// - Any `fdget_pos()` section that skipped the file's `f_pos_lock` because it was not shared
///   (see [`File`]) is on the current thread.
///
/// # Examples
///
/// A descriptor that is not open gives [`BadFdError`], which converts to `EBADF`:
///
/// ```
/// use kernel::fs::{file::BadFdError, LocalFile};
///
/// assert_eq!(LocalFile::fget(u32::MAX).err(), Some(BadFdError));
/// assert_eq!(Error::from(BadFdError), EBADF);
/// ```
#[repr(transparent)]
pub struct LocalFile {
    inner: Opaque<bindings::file>,
    _not_send: PhantomData<*mut ()>,
}

// SAFETY: As for `File`.
unsafe impl AlwaysRefCounted for LocalFile {
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference means that the refcount is nonzero.
        unsafe { bindings::get_file(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference, which is given up here.
        unsafe { bindings::fput(obj.cast().as_ptr()) }
    }
}

impl LocalFile {
    /// Takes a reference to the file open as `fd` in the current task's descriptor table.
    ///
    /// Fails with [`BadFdError`] if no file is open as `fd`.
    pub fn fget(fd: u32) -> Result<ARef<LocalFile>, BadFdError> {
        // SAFETY: `fget()` takes any descriptor number and returns an owned reference or null.
        let file = NonNull::new(unsafe { bindings::fget(fd) }).ok_or(BadFdError)?;
        // INVARIANT: `fget()` returned a reference that we now own, to a file installed in the
        // current task's descriptor table, which `fd_install()` does only after a successful
        // open. Since it is in this thread's table, any `fdget_pos()` that skipped its lock
        // because the file was not shared is on this thread; other threads of a shared table
        // find it shared and lock.
        // SAFETY: The pointer is valid and owns a reference.
        Ok(unsafe { ARef::from_raw(file.cast()) })
    }

    /// Creates a reference to a [`LocalFile`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// For the duration of `'a`:
    ///
    /// - `ptr` points at an open file (its `open` succeeded) whose reference count stays nonzero;
    /// - any `fdget_pos()` section that skipped its `f_pos_lock` because it was not shared is on
    ///   the current thread.
    #[inline]
    pub unsafe fn from_raw_file<'a>(ptr: *const bindings::file) -> &'a LocalFile {
        // INVARIANT: The safety requirements are the type invariants.
        // SAFETY: `LocalFile` is a transparent wrapper of `struct file`, valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Turns a [`LocalFile`] reference into a [`File`] one, which may cross threads.
    ///
    /// # Safety
    ///
    /// No `fdget_pos()` section that skipped the file's `f_pos_lock` because it was not shared may
    /// be active on this thread for this file (see [`File`]'s invariants); one from
    /// [`LocalFile::fget`] in an `ioctl` handler qualifies, for instance, since `ioctl(2)` uses
    /// `fdget()`.
    pub unsafe fn assume_no_fdget_pos(me: ARef<LocalFile>) -> ARef<File> {
        // INVARIANT: The safety requirement gives the extra invariant of `File`.
        // SAFETY: Both types wrap `struct file` transparently; the reference moves over.
        unsafe { ARef::from_raw(ARef::into_raw(me).cast()) }
    }

    /// Returns the raw `struct file` pointer.
    pub fn as_ptr(&self) -> *mut bindings::file {
        self.inner.get()
    }

    /// Returns the file's flags: the access mode and the status flags of [`flags`].
    ///
    /// `fcntl(F_SETFL)` may change the status flags at any time.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, fs::file::{flags, File}};
    ///
    /// let root = File::open(c_str!("/"), flags::O_RDONLY | flags::O_NONBLOCK)?;
    /// assert_eq!(root.flags() & flags::O_ACCMODE, flags::O_RDONLY);
    /// assert_ne!(root.flags() & flags::O_NONBLOCK, 0);
    ///
    /// let blocking = File::open(c_str!("/"), flags::O_RDONLY)?;
    /// assert_eq!(blocking.flags() & flags::O_NONBLOCK, 0);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn flags(&self) -> u32 {
        // SAFETY: The file is valid by the type invariant. `f_flags` may change concurrently
        // under `f_lock`; a volatile read is how C's `READ_ONCE()` reads it.
        unsafe { core::ptr::addr_of!((*self.as_ptr()).f_flags).read_volatile() }
    }

    /// Returns the number of the file's inode, as `stat(2)` reports it in `st_ino`.
    ///
    /// # Examples
    ///
    /// Two opens of one path are two files on one inode:
    ///
    /// ```
    /// use kernel::{c_str, fs::file::{flags, File}};
    ///
    /// let first = File::open(c_str!("/"), flags::O_RDONLY)?;
    /// let second = File::open(c_str!("/"), flags::O_RDONLY)?;
    /// assert_ne!(first.as_ptr(), second.as_ptr());
    /// assert_eq!(first.inode_number(), second.inode_number());
    /// assert_ne!(first.inode_number(), 0);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn inode_number(&self) -> u64 {
        // SAFETY: The file is open by the type invariants, so `f_inode` is set and does not change
        // until the file is freed; an inode's number does not change either.
        let ino = unsafe { (*(*self.as_ptr()).f_inode).i_ino };
        ino as u64
    }

    /// Returns the size of the file's inode in bytes, as `stat(2)` reports it in `st_size`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, fs::file::{flags, File}};
    ///
    /// let root = File::open(c_str!("/"), flags::O_RDONLY)?;
    /// assert!(root.size() >= 0);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn size(&self) -> i64 {
        // SAFETY: The file is open by the type invariants, so `f_inode` is set and valid until the
        // file is freed; `i_size_read()` reads the size safely against concurrent changes.
        unsafe { bindings::i_size_read((*self.as_ptr()).f_inode) }
    }

    /// Calls `f` with the name of the file's dentry (the last component of its path, or the name
    /// an anonymous file was made with) and returns what `f` returns.
    ///
    /// `f` sees a snapshot, taken whole: a concurrent rename of the file cannot change or free
    /// the name under it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, fs::file::{flags, File}};
    ///
    /// let root = File::open(c_str!("/"), flags::O_RDONLY)?;
    /// assert!(root.with_name(|name| name == b"/"));
    /// assert_eq!(root.with_name(|name| name.len()), 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_name<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut snapshot = MaybeUninit::<bindings::name_snapshot>::uninit();
        let snapshot = snapshot.as_mut_ptr();
        // SAFETY: The file is open by the type invariants, so `f_path.dentry` is set and keeps a
        // reference until the file is freed. The snapshot is written in place and does not move
        // until it is released below: its name may point into it.
        unsafe { bindings::take_dentry_name_snapshot(snapshot, (*self.as_ptr()).f_path.dentry) };
        // SAFETY: The snapshot's name is a NUL-terminated string that stays valid and unchanged
        // until the snapshot is released. `f` cannot keep it: `R` does not borrow from it.
        let name = unsafe { CStr::from_char_ptr((*snapshot).name.name.cast()) };
        let ret = f(name.as_bytes());
        // SAFETY: The snapshot was taken above and is released once; nothing borrows it now.
        unsafe { bindings::release_dentry_name_snapshot(snapshot) };
        ret
    }
}

/// Defines a file type that one file operation (`$op`) gets for as long as it runs, and that
/// cannot be reference-counted. The documentation given states its invariants.
macro_rules! operation_file {
    ($(#[$doc:meta])* $name:ident, $op:literal) => {
        $(#[$doc])*
        #[repr(transparent)]
        pub struct $name {
            inner: Opaque<bindings::file>,
        }

        impl $name {
            #[doc = concat!("Creates a reference to a [`", stringify!($name),
                "`] from the file the `", $op, "` operation gets.")]
            ///
            /// # Safety
            ///
            #[doc = concat!("`ptr` is the file that the `", $op,
                "` operation running on this thread was called for, and")]
            /// `'a` ends before that operation returns.
            #[inline]
    pub unsafe fn from_raw_file<'a>(ptr: *const bindings::file) -> &'a $name {
                // INVARIANT: The VFS calls the operation with the file in the state the type
                // invariants describe (see the type's documentation), and the caller promises
                // that `'a` ends with the operation.
                // SAFETY: The type is a transparent wrapper of `struct file`, valid for `'a`.
                unsafe { &*ptr.cast() }
            }

            /// Returns the raw `struct file` pointer.
            pub fn as_ptr(&self) -> *mut bindings::file {
                self.inner.get()
            }

            /// Returns the file's flags: the access mode and the status flags of [`flags`].
            pub fn flags(&self) -> u32 {
                // SAFETY: The file is valid by the type invariants, and only the operation
                // running on this thread uses it.
                unsafe { (*self.as_ptr()).f_flags }
            }
        }
    };
}

operation_file! {
    /// A file that the VFS is opening: a driver's `open` operation sees the file this way.
    ///
    /// Unlike [`File`] and [`LocalFile`], it cannot be reference-counted: if `open` fails, the VFS
    /// clears the file's inode and path (`do_dentry_open()`), and a reference taken meanwhile would
    /// keep a file that is not open.
    ///
    /// # Invariants
    ///
    /// The file is valid and being opened by the `open` operation running on the current thread,
    /// and is in no descriptor table, for as long as the `OpeningFile` is reachable.
    OpeningFile, "open"
}

operation_file! {
    /// A file that the VFS is releasing: its last reference is gone, and it is freed once the
    /// `release` operation that gets it returns.
    ///
    /// Unlike [`File`] and [`LocalFile`], it cannot be reference-counted: taking a reference would
    /// bring a freed file back. A `release` operation sees the file this way.
    ///
    /// # Invariants
    ///
    /// The file is valid, with a reference count of zero, and only the `release` operation running
    /// on the current thread uses it, for as long as the `ReleasedFile` is reachable.
    ReleasedFile, "release"
}

/// The error of [`LocalFile::fget`]: no file is open as the descriptor. It converts to
/// [`EBADF`].
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct BadFdError;

impl From<BadFdError> for Error {
    fn from(_: BadFdError) -> Error {
        EBADF
    }
}

impl core::fmt::Debug for BadFdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.pad("EBADF")
    }
}
