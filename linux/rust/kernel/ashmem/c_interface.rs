// SPDX-License-Identifier: GPL-2.0

//! Android's C interface to ashmem regions, for vendor modules written in C that take ashmem
//! fds from apps: the names and meanings of the Android common kernel's exports.
//!
//! Each function takes a file the caller holds a reference to; only the files of devices
//! registered with [`Registration`](super::Registration) are regions. None of Android's four
//! protects pages from purging: C callers that need pages kept pin them with
//! `ashmem_area_pin()`, a [`KernelPin`](super::KernelPin), which takes memfds too.
//!
//! C header: [`include/linux/ashmem.h`](srctree/include/linux/ashmem.h)

use super::{
    device::{is_region_raw, region_of_raw},
    Region, FULL_NAME_LEN,
};
#[cfg(CONFIG_MEMFD_CREATE)]
use super::{Import, KernelPin};
#[cfg(CONFIG_MEMFD_CREATE)]
use crate::{alloc::KBox, fs::File, prelude::GFP_KERNEL};
use crate::{
    bindings,
    error::code::EINVAL,
    ffi::{c_char, c_int, c_long},
    sync::Arc,
    types::ARef,
};

/// Returns the region of `file`, if it is one.
///
/// # Safety
///
/// `file` is null or points to an open file the caller holds a reference to during the call.
unsafe fn region_of(file: *mut bindings::file) -> Option<Arc<Region>> {
    if file.is_null() {
        return None;
    }
    // SAFETY: Per the safety requirements, the file is open and referenced during the call.
    unsafe { region_of_raw(file) }
}

/// Returns whether `file` is an ashmem region; false for a null `file`. Does not sleep; not for
/// interrupt context.
///
/// # Safety
///
/// `file` is null or points to an open file the caller holds a reference to during the call.
#[no_mangle]
unsafe extern "C" fn is_ashmem_file(file: *mut bindings::file) -> bool {
    // SAFETY: Per the safety requirements, the file is open and referenced during the call.
    !file.is_null() && unsafe { is_region_raw(file) }
}

/// Writes the full name of the region, `dev/ashmem/<name>` or `dev/ashmem`, NUL-terminated,
/// into `name`, and returns 0; `-EINVAL` if `name` is null or `file` is not a region. Sleeps.
///
/// # Safety
///
/// `file` is null or points to an open file the caller holds a reference to during the call;
/// `name` is null or valid for writes of `ASHMEM_FULL_NAME_LEN` bytes.
#[no_mangle]
unsafe extern "C" fn ashmem_area_name(file: *mut bindings::file, name: *mut c_char) -> c_int {
    if name.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: Per the safety requirements.
    let Some(region) = (unsafe { region_of(file) }) else {
        return EINVAL.to_errno();
    };
    let mut buf = [0u8; FULL_NAME_LEN];
    let len = region.full_name(&mut buf);
    // SAFETY: `name` is valid for `FULL_NAME_LEN >= len` bytes, per the safety requirements,
    // and does not overlap the local buffer.
    unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), name.cast(), len) };
    0
}

/// Returns the size of the region in bytes, or 0 if `file` is not a region. May sleep.
///
/// # Safety
///
/// `file` is null or points to an open file the caller holds a reference to during the call.
#[no_mangle]
unsafe extern "C" fn ashmem_area_size(file: *mut bindings::file) -> c_long {
    // SAFETY: Per the safety requirements.
    match unsafe { region_of(file) } {
        // A size above `LONG_MAX` reads as negative, as from `ASHMEM_GET_SIZE`.
        Some(region) => region.size() as c_long,
        None => 0,
    }
}

/// Returns the region's backing shmem file with a reference the caller drops with `fput()`, or
/// null if `file` is not a region or the region was never mapped. Sleeps.
///
/// # Safety
///
/// `file` is null or points to an open file the caller holds a reference to during the call.
#[no_mangle]
unsafe extern "C" fn ashmem_area_vmfile(file: *mut bindings::file) -> *mut bindings::file {
    // SAFETY: Per the safety requirements.
    let backing = unsafe { region_of(file) }.and_then(|region| region.backing_file());
    backing.map_or(core::ptr::null_mut(), |file| {
        ARef::into_raw(file).as_ptr().cast()
    })
}

/// Pins the pages of the region or memfd `file` from byte `offset` for `len` bytes (0: to the
/// end) as [`Import::pin`] does and, if `write`, checks that the kernel may write them as
/// [`KernelPin::check_writable`] does, at this time only; then stores the pin in `*pin`, for
/// [`ashmem_area_unpin`]. Returns `ASHMEM_NOT_PURGED` or `ASHMEM_WAS_PURGED` (some page was
/// purged before: it reads as zeros), or a negative errno, leaving `*pin` untouched: `-EINVAL`
/// for a null argument, and the errors of [`Import::new`], [`Import::pin`] and
/// [`KernelPin::check_writable`]. Sleeps.
///
/// # Safety
///
/// `file` is null or points to an open file the caller holds a reference to during the call;
/// `pin` is null or valid for a write of a pointer.
#[cfg(CONFIG_MEMFD_CREATE)]
#[no_mangle]
unsafe extern "C" fn ashmem_area_pin(
    file: *mut bindings::file,
    offset: usize,
    len: usize,
    write: bool,
    pin: *mut *mut KernelPin,
) -> c_int {
    if file.is_null() || pin.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: Per the safety requirements, the file is open and referenced during the call. No
    // thread is in an `fdget_pos()` section of it that skipped the position lock: that needs a
    // file count of one, which the caller's reference (on top of the descriptor's, if any) rules
    // out; and the reference `Import` keeps, past the call, rules it out from then on.
    let file = unsafe { File::from_raw_file(file) };
    let pinned = Import::new(file)
        .and_then(|import| import.pin(offset, len))
        .and_then(|pinned| {
            if write {
                pinned.check_writable()?;
            }
            KBox::new(pinned, GFP_KERNEL).map_err(Into::into)
        });
    match pinned {
        Ok(pinned) => {
            let result = pinned.result().as_raw() as c_int;
            // SAFETY: `pin` is valid for a write, per the safety requirements.
            unsafe { *pin = KBox::into_raw(pinned) };
            result
        }
        Err(err) => err.to_errno(),
    }
}

/// Drops a pin that [`ashmem_area_pin`] stored; nothing for null. The pages of the pin may not
/// be used after this. Does not fail; sleeps.
///
/// # Safety
///
/// `pin` is null or a pin that `ashmem_area_pin()` stored and nobody dropped yet.
#[cfg(CONFIG_MEMFD_CREATE)]
#[no_mangle]
unsafe extern "C" fn ashmem_area_unpin(pin: *mut KernelPin) {
    if !pin.is_null() {
        // SAFETY: Per the safety requirements, `pin` came from `KBox::into_raw` in
        // `ashmem_area_pin` and is dropped once.
        drop(unsafe { KBox::from_raw(pin) });
    }
}

/// Returns the `index`-th page of `pin`, or null past its end or for a null `pin`. The page is
/// valid until [`ashmem_area_unpin`]; a caller that keeps it longer takes its own reference.
/// Does not sleep.
///
/// # Safety
///
/// `pin` is null or a pin that `ashmem_area_pin()` stored and that is not dropped during the
/// call.
#[cfg(CONFIG_MEMFD_CREATE)]
#[no_mangle]
unsafe extern "C" fn ashmem_area_pin_page(
    pin: *const KernelPin,
    index: usize,
) -> *mut bindings::page {
    // SAFETY: Per the safety requirements, `pin` is null or points to a live pin.
    let Some(pin) = (unsafe { pin.as_ref() }) else {
        return core::ptr::null_mut();
    };
    pin.page(index)
        .map_or(core::ptr::null_mut(), |page| page.as_ptr())
}
