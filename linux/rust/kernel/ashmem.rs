// SPDX-License-Identifier: GPL-2.0

//! Ashmem: shared memory regions whose pages userspace can unpin, so that the
//! kernel may purge them under memory pressure.
//!
//! This module holds the rules of Android's `/dev/ashmem` so that any driver
//! can offer them.
//!
//! The design, the lock order and the userspace interface are described in
//! [`Documentation/rust/ashmem.rst`](srctree/Documentation/rust/ashmem.rst).
//!
//! C header: [`include/uapi/linux/ashmem.h`](srctree/include/uapi/linux/ashmem.h)

use crate::str::CStr;

mod c_interface;
mod device;
#[cfg(CONFIG_MEMFD_CREATE)]
mod import;
pub mod ioctl;
#[cfg(CONFIG_MEMFD_CREATE)]
pub mod memfd;
mod purge;
pub mod ranges;
mod region;

pub use device::{is_ashmem_file, Registration};
#[cfg(CONFIG_MEMFD_CREATE)]
pub use import::{Import, KernelPin, Kind};
pub use purge::{
    purge_all, purge_oldest, purgeable_pages, register_shrinker, PurgeShrinker, Purged,
    SHRINKER_NAME,
};
pub use region::{PinRange, PinResult, Region, FULL_NAME_LEN};

/// The size of a region's name buffer, NUL included: names keep at most
/// `NAME_LEN - 1` bytes.
///
/// # Examples
///
/// ```
/// use kernel::ashmem::NAME_LEN;
///
/// assert_eq!(NAME_LEN, 256);
/// assert_eq!(NAME_LEN, kernel::uapi::ASHMEM_NAME_LEN as usize);
/// ```
pub const NAME_LEN: usize = 256;

/// The name a region reports while userspace has not set one.
///
/// # Examples
///
/// ```
/// use kernel::ashmem::{NAME_DEFAULT, NAME_LEN};
///
/// assert_eq!(NAME_DEFAULT.as_bytes_with_nul(), kernel::uapi::ASHMEM_NAME_DEF);
/// assert!(NAME_DEFAULT.len() < NAME_LEN);
/// ```
pub const NAME_DEFAULT: &CStr = crate::c_str!("dev/ashmem");
