// SPDX-License-Identifier: GPL-2.0

//! Shrinkers: callbacks through which memory reclaim asks caches to give memory back.
//!
//! Reclaim first asks a shrinker how much it could free ([`Shrinker::count_objects`]), then asks
//! it to free some ([`Shrinker::scan_objects`]). Both run in reclaim, possibly inside an
//! allocation of the very code whose cache is being shrunk: they must never sleep on a lock that
//! such code may hold (use `try_lock`), and must not enter filesystem code unless
//! [`ShrinkControl::reclaim_fs_allowed`] says so.
//!
//! C header: [`include/linux/shrinker.h`](srctree/include/linux/shrinker.h)

use crate::{
    bindings,
    error::{code::*, Result},
    ffi::c_ulong,
    str::CStr,
    types::ForeignOwnable,
};
use core::{marker::PhantomData, ptr::NonNull};

/// What [`Shrinker::count_objects`] reports: how many objects could be freed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountObjects(c_ulong);

impl CountObjects {
    /// There is nothing to free.
    pub const EMPTY: Self = Self(bindings::SHRINK_EMPTY as c_ulong);

    /// The largest count; larger ones are capped to it.
    pub const MAX: Self = Self(bindings::SHRINK_EMPTY as c_ulong - 1);

    /// Returns a count of `count` objects; 0 means "none right now, ask again later".
    pub fn new(count: usize) -> Self {
        Self(count.min(Self::MAX.0))
    }

    /// Returns the raw value for the shrinker core.
    pub fn as_raw(self) -> c_ulong {
        self.0
    }
}

/// What [`Shrinker::scan_objects`] reports: how many objects it freed, or that it had to stop.
///
/// # Examples
///
/// ```
/// use kernel::shrinker::{CountObjects, ScanObjects};
///
/// assert_ne!(ScanObjects::STOP, ScanObjects::from_count(0));
/// assert_eq!(ScanObjects::from_count(usize::MAX), ScanObjects::MAX);
/// assert_eq!(CountObjects::new(usize::MAX), CountObjects::MAX);
/// assert_ne!(CountObjects::new(usize::MAX), CountObjects::EMPTY);
/// assert_eq!(CountObjects::new(12).as_raw(), 12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanObjects(c_ulong);

impl ScanObjects {
    /// The shrinker cannot make progress now, for example because a lock was taken: reclaim
    /// stops asking it during this pass.
    pub const STOP: Self = Self(bindings::SHRINK_STOP as c_ulong);

    /// The largest count; larger ones are capped to it.
    pub const MAX: Self = Self(bindings::SHRINK_STOP as c_ulong - 1);

    /// Returns that `count` objects were freed.
    pub fn from_count(count: usize) -> Self {
        Self(count.min(Self::MAX.0))
    }

    /// Returns the raw value for the shrinker core.
    pub fn as_raw(self) -> c_ulong {
        self.0
    }
}

/// What reclaim asks of a shrinker call (`struct shrink_control`).
///
/// # Invariants
///
/// `ptr` points at a valid `shrink_control` that only this call uses, for `'a`.
pub struct ShrinkControl<'a> {
    ptr: NonNull<bindings::shrink_control>,
    _call: PhantomData<&'a mut bindings::shrink_control>,
}

impl<'a> ShrinkControl<'a> {
    /// Creates a [`ShrinkControl`] from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` points at a valid `shrink_control` that only the caller uses, for `'a`.
    pub unsafe fn from_raw(ptr: *mut bindings::shrink_control) -> Self {
        // INVARIANT: The safety requirements are the type invariants.
        Self {
            // SAFETY: A valid pointer is not null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            _call: PhantomData,
        }
    }

    /// Returns how many objects reclaim asks this scan to look at.
    pub fn nr_to_scan(&self) -> usize {
        // SAFETY: Valid by the type invariants.
        unsafe { (*self.ptr.as_ptr()).nr_to_scan }
    }

    /// Records how many objects this scan looked at, if that differs from
    /// [`ShrinkControl::nr_to_scan`].
    pub fn set_nr_scanned(&mut self, scanned: usize) {
        // SAFETY: Valid and ours by the type invariants.
        unsafe { (*self.ptr.as_ptr()).nr_scanned = scanned };
    }

    /// Tells the reclaim that called this scan that `pages` pages were freed outside slab and the
    /// LRU lists (`mm_account_reclaimed_pages()`), for example page cache a shrinker truncated.
    ///
    /// Direct reclaim counts only what it freed itself as progress: without this, a shrinker that
    /// frees such memory leaves the allocating task believing reclaim failed.
    pub fn report_reclaimed_pages(&mut self, pages: usize) {
        // SAFETY: Adds to the current task's reclaim state, if it is reclaiming; scans run in
        // the task that reclaims.
        unsafe { bindings::mm_account_reclaimed_pages(pages as c_ulong) };
    }

    /// Returns whether the allocation that triggered reclaim allows filesystem code
    /// (`__GFP_FS`): a shrinker that would enter a filesystem must not if it does not.
    ///
    /// Dropping caches, as the [`ShrinkerRegistration`] example does, allows it.
    pub fn reclaim_fs_allowed(&self) -> bool {
        // SAFETY: Valid by the type invariants.
        unsafe { (*self.ptr.as_ptr()).gfp_mask & bindings::__GFP_FS != 0 }
    }
}

/// The callbacks of a shrinker.
pub trait Shrinker {
    /// The data the callbacks get, given to [`ShrinkerBuilder::register`].
    type Ptr: ForeignOwnable + Send + Sync;

    /// Returns how many objects could be freed now. Must be cheap: no locks to wait for.
    fn count_objects(
        me: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        sc: ShrinkControl<'_>,
    ) -> CountObjects;

    /// Frees up to [`ShrinkControl::nr_to_scan`] objects and returns how many it freed.
    fn scan_objects(
        me: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        sc: ShrinkControl<'_>,
    ) -> ScanObjects;
}

/// A shrinker being set up: allocated, named, not yet called by reclaim.
///
/// # Invariants
///
/// `shrinker` was allocated by `shrinker_alloc()`, is not registered, and is owned by this.
pub struct ShrinkerBuilder {
    shrinker: NonNull<bindings::shrinker>,
}

// SAFETY: The unregistered shrinker is only reached through the builder.
unsafe impl Send for ShrinkerBuilder {}

impl ShrinkerBuilder {
    /// Allocates a shrinker named `name`, the name it has in `/sys/kernel/debug/shrinker/`.
    pub fn new(name: &CStr) -> Result<Self> {
        // SAFETY: The format takes one string, `name`, which is NUL-terminated; the name is
        // copied.
        let shrinker =
            unsafe { bindings::shrinker_alloc(0, c"%s".as_ptr().cast(), name.as_char_ptr()) };
        // INVARIANT: Freshly allocated, unregistered and ours.
        Ok(Self {
            shrinker: NonNull::new(shrinker).ok_or(ENOMEM)?,
        })
    }

    /// Sets the cost of recreating an object relative to other caches: a higher one makes
    /// reclaim ask for less. The default is 2 (`DEFAULT_SEEKS`).
    pub fn set_seeks(&mut self, seeks: u32) {
        // SAFETY: The shrinker is ours and not registered, by the type invariants.
        unsafe { (*self.shrinker.as_ptr()).seeks = seeks as i32 };
    }

    /// Sets how many objects reclaim asks a scan to look at, at most; 0 means the default.
    pub fn set_batch(&mut self, batch: usize) {
        // SAFETY: The shrinker is ours and not registered, by the type invariants.
        unsafe { (*self.shrinker.as_ptr()).batch = batch as isize };
    }

    /// Registers the shrinker with `data` for its callbacks: reclaim may call them from now on.
    pub fn register<T: Shrinker>(self, data: T::Ptr) -> ShrinkerRegistration<T> {
        let shrinker = self.shrinker;
        core::mem::forget(self);
        let raw = shrinker.as_ptr();
        // SAFETY: The shrinker is ours and not registered; the callbacks expect `T::Ptr` data.
        unsafe {
            (*raw).private_data = data.into_foreign().cast_mut();
            (*raw).count_objects = Some(count_objects::<T>);
            (*raw).scan_objects = Some(scan_objects::<T>);
            bindings::shrinker_register(raw);
        }
        // INVARIANT: Registered with `T`'s callbacks and data.
        ShrinkerRegistration {
            shrinker,
            _data: PhantomData,
        }
    }
}

impl Drop for ShrinkerBuilder {
    fn drop(&mut self) {
        // SAFETY: The shrinker is ours; `shrinker_free()` frees an unregistered one too.
        unsafe { bindings::shrinker_free(self.shrinker.as_ptr()) };
    }
}

/// A registered shrinker.
///
/// Dropping it unregisters it, waits for callbacks that are running to return, and frees it
/// and its data; so it must not be dropped from its own callbacks. A module that drops it
/// before it unloads leaves no callback into its code behind.
///
/// # Invariants
///
/// `shrinker` is registered, with the callbacks of `T` and data made by `T::Ptr::into_foreign`.
///
/// # Examples
///
/// A cache that reclaim shrinks:
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering};
/// use kernel::{
///     c_str, kunit,
///     shrinker::{CountObjects, ScanObjects, ShrinkControl, Shrinker, ShrinkerBuilder},
///     sync::{Arc, ArcBorrow},
/// };
///
/// struct Cache {
///     objects: AtomicUsize,
///     scans: AtomicUsize,
/// }
///
/// impl Shrinker for Cache {
///     type Ptr = Arc<Cache>;
///
///     fn count_objects(cache: ArcBorrow<'_, Cache>, _sc: ShrinkControl<'_>) -> CountObjects {
///         match cache.objects.load(Ordering::Relaxed) {
///             0 => CountObjects::EMPTY,
///             n => CountObjects::new(n),
///         }
///     }
///
///     fn scan_objects(cache: ArcBorrow<'_, Cache>, sc: ShrinkControl<'_>) -> ScanObjects {
///         // Pretend that freeing enters a filesystem.
///         if !sc.reclaim_fs_allowed() {
///             return ScanObjects::STOP;
///         }
///         cache.scans.fetch_add(1, Ordering::Relaxed);
///         let have = cache.objects.load(Ordering::Relaxed);
///         let freed = have.min(sc.nr_to_scan());
///         cache.objects.store(have - freed, Ordering::Relaxed);
///         ScanObjects::from_count(freed)
///     }
/// }
///
/// let cache = Arc::new(Cache { objects: AtomicUsize::new(1000), scans: AtomicUsize::new(0) },
///                      GFP_KERNEL)?;
/// let mut builder = ShrinkerBuilder::new(c_str!("kunit-cache"))?;
/// builder.set_seeks(1);
/// let registration = builder.register::<Cache>(cache.clone());
///
/// // Reclaim everything that can be, as `echo 2 > /proc/sys/vm/drop_caches` does; that allows
/// // filesystem code, so every object goes.
/// kunit::drop_slab_caches();
/// assert_eq!(cache.objects.load(Ordering::Relaxed), 0);
/// let scans = cache.scans.load(Ordering::Relaxed);
/// assert!(scans > 0);
///
/// // Once dropped, reclaim no longer calls it.
/// drop(registration);
/// cache.objects.store(1000, Ordering::Relaxed);
/// kunit::drop_slab_caches();
/// assert_eq!(cache.objects.load(Ordering::Relaxed), 1000);
/// assert_eq!(cache.scans.load(Ordering::Relaxed), scans);
/// # Ok::<(), Error>(())
/// ```
pub struct ShrinkerRegistration<T: Shrinker> {
    shrinker: NonNull<bindings::shrinker>,
    _data: PhantomData<T::Ptr>,
}

// SAFETY: The registration may be dropped from any thread: `shrinker_free()` may sleep but has
// no thread affinity, and the data is `Send`.
unsafe impl<T: Shrinker> Send for ShrinkerRegistration<T> {}

// SAFETY: Shared references give no access to the shrinker.
unsafe impl<T: Shrinker> Sync for ShrinkerRegistration<T> {}

impl<T: Shrinker> Drop for ShrinkerRegistration<T> {
    fn drop(&mut self) {
        let raw = self.shrinker.as_ptr();
        // SAFETY: The shrinker is registered, by the type invariants; its private data is read
        // before `shrinker_free()` frees it.
        let data = unsafe { (*raw).private_data };
        // SAFETY: Unregisters the shrinker and waits for running callbacks, so none uses the
        // data after this.
        unsafe { bindings::shrinker_free(raw) };
        // SAFETY: The data was made by `T::Ptr::into_foreign` and nothing uses it any more.
        drop(unsafe { T::Ptr::from_foreign(data) });
    }
}

/// # Safety
///
/// Called by reclaim as `count_objects` of a shrinker registered by [`ShrinkerBuilder::register`]
/// for `T`, with a valid control.
unsafe extern "C" fn count_objects<T: Shrinker>(
    shrinker: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: The data was made by `T::Ptr::into_foreign` and lives until the registration is
    // dropped, which waits for this call.
    let me = unsafe { T::Ptr::borrow((*shrinker).private_data) };
    // SAFETY: Reclaim passes a valid control for this call only.
    let sc = unsafe { ShrinkControl::from_raw(sc) };
    T::count_objects(me, sc).as_raw()
}

/// # Safety
///
/// Called by reclaim as `scan_objects` of a shrinker registered by [`ShrinkerBuilder::register`]
/// for `T`, with a valid control.
unsafe extern "C" fn scan_objects<T: Shrinker>(
    shrinker: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: As in `count_objects`.
    let me = unsafe { T::Ptr::borrow((*shrinker).private_data) };
    // SAFETY: As in `count_objects`.
    let sc = unsafe { ShrinkControl::from_raw(sc) };
    T::scan_objects(me, sc).as_raw()
}
