// SPDX-License-Identifier: GPL-2.0

//! I/O control blocks (`struct kiocb`): the file and position of a `read_iter` call.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{bindings, fs::LocalFile, types::ForeignOwnable};
use core::{marker::PhantomData, ptr::NonNull};

/// The I/O control block of a read on a file whose private data is a `T`.
///
/// The read starts at [`Kiocb::pos`]; a read that moves the position updates it, and the caller
/// stores it back into the file.
///
/// # Invariants
///
/// For `'a`, `inner` points at a valid `kiocb` used by the current thread only, whose file is
/// valid and has private data made by `T::into_foreign()`.
///
/// # Examples
///
/// A read that consumes 4 bytes moves the position on:
///
/// ```
/// use kernel::{bindings, c_str, fs::{file::flags, File, Kiocb}};
///
/// fn consume(kiocb: &mut Kiocb<'_, ()>, bytes: i64) {
///     *kiocb.pos_mut() += bytes;
/// }
///
/// let root = File::open(c_str!("/"), flags::O_RDONLY)?;
/// # // SAFETY: An all-zero `kiocb` is a valid one before its file is set.
/// # let mut raw: bindings::kiocb = unsafe { core::mem::zeroed() };
/// # raw.ki_filp = root.as_ptr();
/// # raw.ki_pos = 16;
/// # // SAFETY: `raw` is valid and ours, and `()` never reads the file's private data.
/// # let mut kiocb = unsafe { Kiocb::<()>::from_raw(&mut raw) };
/// assert_eq!(kiocb.pos(), 16);
/// consume(&mut kiocb, 4);
/// assert_eq!(kiocb.pos(), 20);
/// assert_eq!(kiocb.file().inode_number(), root.inode_number());
/// # Ok::<(), Error>(())
/// ```
pub struct Kiocb<'a, T> {
    inner: NonNull<bindings::kiocb>,
    _data: PhantomData<&'a T>,
}

impl<'a, T: ForeignOwnable> Kiocb<'a, T> {
    /// Creates a [`Kiocb`] from a raw pointer.
    ///
    /// # Safety
    ///
    /// For `'a`, `kiocb` points at a valid `kiocb` that only the current thread uses, whose file
    /// stays valid with private data made by `T::into_foreign()`.
    pub unsafe fn from_raw(kiocb: *mut bindings::kiocb) -> Self {
        // INVARIANT: The safety requirements are the type invariants.
        Self {
            // SAFETY: A valid pointer is not null.
            inner: unsafe { NonNull::new_unchecked(kiocb) },
            _data: PhantomData,
        }
    }

    /// Returns the file's private data.
    pub fn device(&self) -> T::Borrowed<'a> {
        // SAFETY: The file is valid and its private data came from `T::into_foreign()`, and
        // stays valid for `'a`, by the type invariants.
        unsafe { T::borrow((*(*self.inner.as_ptr()).ki_filp).private_data) }
    }

    /// Returns the file being read.
    pub fn file(&self) -> &'a LocalFile {
        // SAFETY: The file is valid for `'a` by the type invariants.
        unsafe { LocalFile::from_raw_file((*self.inner.as_ptr()).ki_filp) }
    }

    /// Returns the position the read starts at.
    pub fn pos(&self) -> i64 {
        // SAFETY: The kiocb is valid and ours by the type invariants.
        unsafe { (*self.inner.as_ptr()).ki_pos }
    }

    /// Returns the position, for code that moves it as it reads, such as `vfs_iter_read()`.
    pub fn pos_mut(&mut self) -> &mut i64 {
        // SAFETY: The kiocb is valid and ours by the type invariants, and `&mut self` makes
        // this the only reference to the position.
        unsafe { &mut (*self.inner.as_ptr()).ki_pos }
    }
}
