// SPDX-License-Identifier: GPL-2.0

//! Ashmem devices, and recognising their files.
//!
//! A driver offering ashmem registers its misc device with [`Registration`], whose files hold an
//! [`Arc<Region>`]. Other drivers, given a file by userspace, then ask [`is_ashmem_file`] whether
//! it is a region and take the region with [`Region::from_file`], which keeps it alive after the
//! file is closed. Files are recognised by the file operations of the registered devices, which
//! `kernel::ashmem` records, never by the contents of another driver's private data.
//!
//! # Locking
//!
//! The record of registered devices is a spinlock taken with no other ashmem lock, and taking
//! none itself. Lookups do not sleep; they are not for interrupt context.

use super::Region;
use crate::{
    bindings, c_str,
    error::Result,
    fs::LocalFile,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    static_lock_class,
    sync::{
        lock::{lazy::LazyGlobalLock, spinlock::SpinLockBackend, Guard},
        Arc, Once,
    },
    types::ForeignOwnable,
};

/// The file operations of the registered ashmem devices, as addresses, each with the number of
/// registrations that use it.
///
/// Every device in it was registered by a [`Registration`], so its open files hold an
/// [`Arc<Region>`] in their private data.
static DEVICES: LazyGlobalLock<RBTree<usize, usize>, SpinLockBackend> = LazyGlobalLock::new(
    RBTree::new(),
    c_str!("ashmem_devices"),
    static_lock_class!(),
);

/// Completed once [`DEVICES`] is initialised, by the first registration.
static READY: Once = Once::new();

/// A registered misc device whose open files are ashmem regions, which other drivers can then
/// recognise. It is deregistered when dropped, and from then on its files, even those still
/// open, are no longer recognised. Files of `T` opened through another registration that shares
/// `T`'s file operations are recognised too: they hold an `Arc<Region>` all the same.
///
/// # Invariants
///
/// `misc` is registered, and `fops` is the address of its file operations, counted in
/// the registry of devices until this is dropped.
///
/// # Examples
///
/// ```
/// use kernel::{
///     ashmem::{self, Region},
///     c_str,
///     fs::OpeningFile,
///     miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
///     prelude::*,
///     sync::Arc,
///     ThisModule,
/// };
///
/// struct Regions;
///
/// # // SAFETY: Code built into the kernel has a null module.
/// # static THIS_MODULE: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
/// #[vtable]
/// impl MiscDevice for Regions {
///     type Ptr = Arc<Region>;
///     const OWNER: &'static ThisModule = &THIS_MODULE;
///
///     fn open(_file: &OpeningFile, _misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Region>> {
///         Region::new()
///     }
/// }
///
/// let options = MiscDeviceOptions { name: c_str!("rust-ashmem-example"), mode: 0o600 };
/// let device = ashmem::Registration::<Regions>::register(options)?;
/// assert_ne!(device.misc().minor(), 255);
///
/// // A file of another kind is not a region.
/// let other = kernel::shmem::ShmemFile::new(c_str!("kunit"), kernel::page::PAGE_SIZE, 0, None)?;
/// assert!(!ashmem::is_ashmem_file(other.file()));
/// assert!(Region::from_file(other.file()).is_none());
/// # Ok::<(), Error>(())
/// ```
pub struct Registration<T: MiscDevice<Ptr = Arc<Region>>> {
    misc: Pin<KBox<MiscDeviceRegistration<T>>>,
    fops: usize,
}

impl<T: MiscDevice<Ptr = Arc<Region>>> Registration<T> {
    /// Registers a misc device with `options`, as [`MiscDeviceRegistration::register`] does,
    /// and records its file operations, so that its files are recognised as regions.
    pub fn register(options: MiscDeviceOptions) -> Result<Self> {
        let reservation = RBTreeNodeReservation::new(GFP_KERNEL)?;
        let misc = KBox::pin_init(MiscDeviceRegistration::<T>::register(options), GFP_KERNEL)?;
        // SAFETY: The device is registered, and `misc_register()` left its file operations as
        // they were set: the table `misc_open()` gives every file it opens.
        let fops = unsafe { (*misc.as_raw()).fops } as usize;
        let mut devices = DEVICES.lock();
        match devices.get_mut(&fops) {
            Some(count) => *count += 1,
            None => {
                devices.insert(reservation.into_node(fops, 1));
            }
        }
        drop(devices);
        // `DEVICES` is initialised now; lookups may lock it.
        READY.call_once(|| {});
        // INVARIANT: The device is registered and its file operations counted.
        Ok(Self { misc, fops })
    }

    /// Returns the misc device.
    pub fn misc(&self) -> &MiscDeviceRegistration<T> {
        &self.misc
    }
}

impl<T: MiscDevice<Ptr = Arc<Region>>> Drop for Registration<T> {
    fn drop(&mut self) {
        // From now on no file of the device is recognised, even those already open.
        let mut devices = DEVICES.lock();
        if let Some(count) = devices.get_mut(&self.fops) {
            *count -= 1;
            if *count == 0 {
                devices.remove(&self.fops);
            }
        }
    }
}

/// Returns whether `file` is an open file of a device registered with [`Registration`], that is,
/// an ashmem region. Memfds, which answer ashmem ioctls too, are not.
///
/// Takes a spinlock and does not sleep: callable in atomic context, but not from interrupts.
pub fn is_ashmem_file(file: &LocalFile) -> bool {
    // SAFETY: By the type invariants of `LocalFile` the file is open and referenced.
    unsafe { is_region_raw(file.as_ptr()) }
}

impl Region {
    /// Returns the region of `file` if it is an open file of a device registered with
    /// [`Registration`], or [`None`]. Neither the file's access mode nor the region's
    /// protection mask is checked: the caller decides what the file allows.
    ///
    /// The region stays alive as long as the returned reference, whether or not the file is
    /// closed meanwhile. Takes a spinlock and does not sleep, as [`is_ashmem_file`].
    pub fn from_file(file: &LocalFile) -> Option<Arc<Region>> {
        // SAFETY: By the type invariants of `LocalFile` the file is open and referenced.
        unsafe { region_of_raw(file.as_ptr()) }
    }
}

/// Locks [`DEVICES`], or returns [`None`] if no device was ever registered: locking it the first
/// time initialises it and may sleep, which lookups must not.
fn devices_if_any() -> Option<Guard<'static, RBTree<usize, usize>, SpinLockBackend>> {
    // Once `READY` is completed, `DEVICES` is initialised and `lock()` does not sleep.
    READY.is_completed().then(|| DEVICES.lock())
}

/// [`is_ashmem_file`] on a raw file.
///
/// # Safety
///
/// `file` points to an open file (its `open` succeeded) that the caller holds a reference to
/// during the call.
pub(super) unsafe fn is_region_raw(file: *const bindings::file) -> bool {
    // SAFETY: The file is valid; its operations were set when it was opened.
    let fops = unsafe { (*file).f_op } as usize;
    devices_if_any().is_some_and(|devices| devices.get(&fops).is_some())
}

/// [`Region::from_file`] on a raw file.
///
/// # Safety
///
/// `file` points to an open file (its `open` succeeded) that the caller holds a reference to
/// during the call.
pub(super) unsafe fn region_of_raw(file: *const bindings::file) -> Option<Arc<Region>> {
    // SAFETY: The file is valid; its operations were set when it was opened.
    let fops = unsafe { (*file).f_op } as usize;
    let devices = devices_if_any()?;
    // Not a registered device's file: not a region.
    devices.get(&fops)?;
    // SAFETY: `fops` is counted in `DEVICES`, so it is the table of a live `Registration<T>`,
    // whose `T` has `Ptr = Arc<Region>`; the file's module reference keeps that table's module
    // loaded, so no other table has that address. `misc_open()` set the file's operations to
    // that table and then called its `open`, which stored an `Arc<Region>` from `into_foreign()`
    // in the private data; the file is open, so that call succeeded. Only `release`, which runs
    // once the last reference to the file is gone, takes it back: the caller's reference keeps
    // it valid while it is borrowed here.
    let region = unsafe { <Arc<Region> as ForeignOwnable>::borrow((*file).private_data) };
    Some(region.into())
}
