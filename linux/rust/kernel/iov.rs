// SPDX-License-Identifier: GPL-2.0

//! I/O vectors (`struct iov_iter`): where a `read_iter` call puts what it reads.
//!
//! C header: [`include/linux/uio.h`](srctree/include/linux/uio.h)

use crate::{bindings, types::Opaque};
use core::marker::PhantomData;

/// The destination of a read: an `iov_iter` that data is copied into.
///
/// # Invariants
///
/// For as long as the `IovIterDest` is reachable, the iterator is valid, is a destination
/// (`ITER_DEST`) and is used by the current thread only, and the memory it describes may be
/// written for `'data`.
///
/// # Examples
///
/// A `read_iter` that fills what it is given, called by `kernel_read()` on a test file:
///
/// ```
/// use kernel::{
///     fs::Kiocb,
///     iov::IovIterDest,
///     kunit::{kernel_read, read_test_file, ReadTest},
/// };
///
/// struct Fill;
///
/// impl ReadTest for Fill {
///     fn read_iter(_kiocb: Kiocb<'_, ()>, dest: &mut IovIterDest<'_>) -> Result<usize> {
///         assert_eq!(dest.len(), 8);
///         assert_eq!(dest.copy_to_iter(b"ashmem"), 6);
///         assert_eq!(dest.len(), 2);
///         // Only what fits is copied.
///         assert_eq!(dest.copy_to_iter(b"region"), 2);
///         assert!(dest.is_empty());
///         Ok(8)
///     }
/// }
///
/// // SAFETY: Examples are built into the kernel.
/// let file = unsafe { read_test_file::<Fill>() }?;
/// let mut buf = [0u8; 8];
/// assert_eq!(kernel_read(&file, &mut buf, &mut 0)?, 8);
/// assert_eq!(&buf, b"ashmemre");
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct IovIterDest<'data> {
    iov: Opaque<bindings::iov_iter>,
    _data: PhantomData<(&'data mut [u8], *mut ())>,
}

impl<'data> IovIterDest<'data> {
    /// Creates a reference to an [`IovIterDest`] from a raw pointer.
    ///
    /// # Safety
    ///
    /// For `'a`, `ptr` points at a valid `ITER_DEST` iterator that only the current thread uses,
    /// and the memory it describes may be written for `'data`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::iov_iter) -> &'a mut IovIterDest<'data> {
        // INVARIANT: The safety requirements are the type invariants.
        // SAFETY: `IovIterDest` is a transparent wrapper of `struct iov_iter`, valid for `'a`.
        unsafe { &mut *ptr.cast() }
    }

    /// Returns the raw `struct iov_iter` pointer, for passing on to C.
    pub fn as_raw(&mut self) -> *mut bindings::iov_iter {
        self.iov.get()
    }

    /// Returns how many bytes the destination still takes.
    pub fn len(&self) -> usize {
        // SAFETY: The iterator is valid by the type invariants.
        unsafe { bindings::iov_iter_count(self.iov.get()) }
    }

    /// Returns whether the destination is full.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies as much of `data` as fits, advances past it and returns how many bytes it copied.
    ///
    /// Copying to user memory stops short at a bad address.
    pub fn copy_to_iter(&mut self, data: &[u8]) -> usize {
        // SAFETY: `data` is valid for reads of its length; the iterator is a valid destination
        // whose memory may be written, by the type invariants.
        unsafe { bindings::_copy_to_iter(data.as_ptr().cast(), data.len(), self.iov.get()) }
    }
}
