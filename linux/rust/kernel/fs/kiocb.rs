// SPDX-License-Identifier: GPL-2.0

//! I/O control blocks (`struct kiocb`): the file and position of a `read_iter` call.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use crate::{bindings, types::ForeignOwnable};
use core::{marker::PhantomData, ptr::NonNull};

/// The I/O control block of a read on a file whose private data is a `T`.
///
/// The read starts at [`Kiocb::ki_pos`]; a read that moves the position updates it, and the
/// caller stores it back into the file.
///
/// # Invariants
///
/// For `'a`, `inner` points at a valid `kiocb` used by the current thread only, whose file is
/// valid and has private data made by `T::into_foreign()`.
///
/// # Examples
///
/// A `read_iter` that serves a fixed text from the position on, called by `kernel_read()` on a
/// test file:
///
/// ```
/// use kernel::{
///     fs::Kiocb,
///     iov::IovIterDest,
///     kunit::{kernel_read, read_test_file, ReadTest},
/// };
///
/// struct Text;
///
/// impl ReadTest for Text {
///     fn read_iter(mut kiocb: Kiocb<'_, ()>, dest: &mut IovIterDest<'_>) -> Result<usize> {
///         let text = b"ashmem";
///         let start = usize::try_from(kiocb.ki_pos())?.min(text.len());
///         let read = dest.copy_to_iter(&text[start..]);
///         *kiocb.ki_pos_mut() += read as i64;
///         Ok(read)
///     }
/// }
///
/// // SAFETY: Examples are built into the kernel.
/// let file = unsafe { read_test_file::<Text>() }?;
/// let mut buf = [0u8; 3];
/// let mut pos = 1;
/// assert_eq!(kernel_read(&file, &mut buf, &mut pos)?, 3);
/// assert_eq!((&buf, pos), (b"shm", 4));
/// assert_eq!(kernel_read(&file, &mut buf, &mut pos)?, 2);
/// assert_eq!((&buf[..2], pos), (&b"em"[..], 6));
/// assert_eq!(kernel_read(&file, &mut buf, &mut pos)?, 0);
/// # Ok::<(), Error>(())
/// ```
pub struct Kiocb<'a, T> {
    inner: NonNull<bindings::kiocb>,
    _phantom: PhantomData<&'a T>,
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
            _phantom: PhantomData,
        }
    }

    /// Returns the raw `struct kiocb` pointer.
    pub fn as_raw(&self) -> *mut bindings::kiocb {
        self.inner.as_ptr()
    }

    /// Returns the private data of the file being read.
    pub fn file(&self) -> T::Borrowed<'a> {
        // SAFETY: The file is valid and its private data came from `T::into_foreign()`, and
        // stays valid for `'a`, by the type invariants.
        unsafe { T::borrow((*(*self.inner.as_ptr()).ki_filp).private_data) }
    }

    /// Returns the position the read starts at.
    pub fn ki_pos(&self) -> i64 {
        // SAFETY: The kiocb is valid and ours by the type invariants.
        unsafe { (*self.inner.as_ptr()).ki_pos }
    }

    /// Returns the position, for code that moves it as it reads, such as `vfs_iter_read()`.
    pub fn ki_pos_mut(&mut self) -> &mut i64 {
        // SAFETY: The kiocb is valid and ours by the type invariants, and `&mut self` makes
        // this the only reference to the position.
        unsafe { &mut (*self.inner.as_ptr()).ki_pos }
    }
}
