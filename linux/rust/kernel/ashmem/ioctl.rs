// SPDX-License-Identifier: GPL-2.0

//! The ioctl commands of `/dev/ashmem`.
//!
//! The numbers are the C header's, as the C compiler computes them (through the bindings, since
//! `bindgen` cannot expand `_IOW()` and friends): the header is their only definition. The
//! 32-bit selftests check them against the numbers Android userspace has always used.
//!
//! C header: [`include/uapi/linux/ashmem.h`](srctree/include/uapi/linux/ashmem.h)

/// `ASHMEM_SET_NAME`: set the name from a NUL-terminated user string.
pub const SET_NAME: u32 = bindings::ASHMEM_SET_NAME;

/// `ASHMEM_GET_NAME`: copy the name, NUL included, to a user buffer.
pub const GET_NAME: u32 = bindings::ASHMEM_GET_NAME;

/// `ASHMEM_SET_SIZE`: set the size, passed as the argument itself.
pub const SET_SIZE: u32 = bindings::ASHMEM_SET_SIZE;

/// `ASHMEM_GET_SIZE`: return the size.
pub const GET_SIZE: u32 = bindings::ASHMEM_GET_SIZE;

/// `ASHMEM_SET_PROT_MASK`: reduce the protection mask, passed as the
/// argument itself.
pub const SET_PROT_MASK: u32 = bindings::ASHMEM_SET_PROT_MASK;

/// `ASHMEM_GET_PROT_MASK`: return the protection mask.
pub const GET_PROT_MASK: u32 = bindings::ASHMEM_GET_PROT_MASK;

/// `ASHMEM_PIN`: pin a range given by a user `struct ashmem_pin`.
pub const PIN: u32 = bindings::ASHMEM_PIN;

/// `ASHMEM_UNPIN`: unpin a range given by a user `struct ashmem_pin`.
pub const UNPIN: u32 = bindings::ASHMEM_UNPIN;

/// `ASHMEM_GET_PIN_STATUS`: whether a range is pinned.
///
/// Encoded as `_IO` although it takes a `struct ashmem_pin` pointer: that is
/// the number userspace has always used.
///
/// # Examples
///
/// ```
/// use kernel::{ashmem::ioctl, ioctl::{_IOC_DIR, _IOC_SIZE}, uapi};
///
/// assert_eq!(_IOC_DIR(ioctl::GET_PIN_STATUS), uapi::_IOC_NONE);
/// assert_eq!(_IOC_SIZE(ioctl::GET_PIN_STATUS), 0);
/// assert_eq!(_IOC_SIZE(ioctl::PIN), core::mem::size_of::<uapi::ashmem_pin>());
/// assert_eq!(core::mem::size_of::<uapi::ashmem_pin>(), 8);
/// ```
pub const GET_PIN_STATUS: u32 = bindings::ASHMEM_GET_PIN_STATUS;

/// `ASHMEM_PURGE_ALL_CACHES`: purge every unpinned range of every region.
pub const PURGE_ALL_CACHES: u32 = bindings::ASHMEM_PURGE_ALL_CACHES;

/// `ASHMEM_GET_FILE_ID`: write the backing inode number to a user `unsigned
/// long`.
pub const GET_FILE_ID: u32 = bindings::ASHMEM_GET_FILE_ID;

/// `ASHMEM_SET_SIZE` as a 32-bit process computes it (`compat_size_t`).
///
/// The commands not listed as `COMPAT_*` have the same number for 32-bit
/// processes.
///
/// # Examples
///
/// A compat number differs from the native one in its size field only:
///
/// ```
/// use kernel::{ashmem::ioctl, ioctl::{_IOC_DIR, _IOC_NR, _IOC_SIZE}};
///
/// for (compat, native) in [
///     (ioctl::COMPAT_SET_SIZE, ioctl::SET_SIZE),
///     (ioctl::COMPAT_SET_PROT_MASK, ioctl::SET_PROT_MASK),
///     (ioctl::COMPAT_GET_FILE_ID, ioctl::GET_FILE_ID),
/// ] {
///     assert_eq!(_IOC_SIZE(compat), 4);
///     assert_eq!(_IOC_SIZE(native), core::mem::size_of::<usize>());
///     assert_eq!(_IOC_NR(compat), _IOC_NR(native));
///     assert_eq!(_IOC_DIR(compat), _IOC_DIR(native));
///     let same = compat == native;
///     let ilp32 = core::mem::size_of::<usize>() == 4;
///     assert_eq!(same, ilp32);
/// }
/// ```
pub const COMPAT_SET_SIZE: u32 = bindings::COMPAT_ASHMEM_SET_SIZE;

/// `ASHMEM_SET_PROT_MASK` as a 32-bit process computes it (`unsigned int`).
pub const COMPAT_SET_PROT_MASK: u32 = bindings::COMPAT_ASHMEM_SET_PROT_MASK;

/// `ASHMEM_GET_FILE_ID` as a 32-bit process computes it (`compat_ulong_t`).
pub const COMPAT_GET_FILE_ID: u32 = bindings::COMPAT_ASHMEM_GET_FILE_ID;
