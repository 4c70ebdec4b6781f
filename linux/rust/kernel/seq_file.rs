// SPDX-License-Identifier: GPL-2.0

//! Sequential files (`struct seq_file`), written by `show` callbacks such as `show_fdinfo`.
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h)

use crate::{bindings, types::Opaque};
use core::{fmt, marker::PhantomData};

/// A `struct seq_file` that a callback is filling in.
///
/// # Invariants
///
/// The `seq_file` is valid, and only the current thread writes to it, for as long as the
/// `SeqFile` is reachable.
///
/// # Examples
///
/// A `show` callback, run by the seq_file core when `kernel_read()` reads a test file:
///
/// ```
/// use kernel::{
///     kunit::{kernel_read, seq_test_file, ShowTest},
///     seq_file::{seq_print, SeqFile},
/// };
///
/// fn show_size(m: &SeqFile, size: usize) {
///     seq_print!(m, "size:\t{}\n", size);
/// }
///
/// struct Sizes;
///
/// impl ShowTest for Sizes {
///     fn show(m: &SeqFile) {
///         show_size(m, 4096);
///         show_size(m, 0);
///     }
/// }
///
/// // SAFETY: Examples are built into the kernel.
/// let file = unsafe { seq_test_file::<Sizes>() }?;
/// let mut buf = [0u8; 32];
/// let read = kernel_read(&file, &mut buf, &mut 0)?;
/// assert_eq!(&buf[..read], b"size:\t4096\nsize:\t0\n");
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct SeqFile {
    inner: Opaque<bindings::seq_file>,
    _not_send: PhantomData<*mut ()>,
}

impl SeqFile {
    /// Creates a reference to a [`SeqFile`] from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` points at a valid `seq_file` that only the current thread writes to during `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a SeqFile {
        // INVARIANT: The safety requirements are the type invariants.
        // SAFETY: `SeqFile` is a transparent wrapper of `struct seq_file`, valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Prints formatted text into the file; use [`seq_print!`](crate::seq_print) instead.
    ///
    /// Output that does not fit the file's buffer makes `seq_file` retry with a larger one.
    pub fn call_printf(&self, args: fmt::Arguments<'_>) {
        // SAFETY: The file is valid and ours by the type invariants; the format string is
        // NUL-terminated and `%pA` takes a `fmt::Arguments`.
        unsafe {
            bindings::seq_printf(
                self.inner.get(),
                c"%pA".as_ptr().cast(),
                &args as *const _ as *const crate::ffi::c_void,
            );
        }
    }
}

/// Prints formatted text into a [`SeqFile`], like `seq_printf()` in C.
#[macro_export]
macro_rules! seq_print {
    ($m:expr, $($arg:tt)+) => (
        $m.call_printf(format_args!($($arg)+))
    );
}
pub use seq_print;
