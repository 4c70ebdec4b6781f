// SPDX-License-Identifier: GPL-2.0

//! Locks in `static` items, for state that belongs to a whole module or subsystem.
//!
//! Some state belongs to no single object: a list that orders the objects of every instance of a
//! driver, say. A [`GlobalLock`] holds such a value in a `static`, defined with [`global_lock!`].
//! The kernel lock in it must be initialised in place, once, before its first use: the owner
//! calls [`GlobalLock::init`], typically from its module's init.
//!
//! # Ownership
//!
//! The value belongs to whoever defines the `static`: the module, or the kernel for built-in code.
//! A `static` is never dropped, so a module whose value owns memory must release it before it
//! unloads, typically in its module's `Drop`.

use super::{Backend, Guard, Lock};
use crate::{str::CStr, sync::LockClassKey, types::Opaque};
use core::{
    cell::UnsafeCell,
    marker::{PhantomData, PhantomPinned},
    ops::{Deref, DerefMut},
};

/// The marker type of one global lock: its name, value type, kind and lock class.
///
/// [`global_lock!`] defines one for each lock it defines.
pub trait GlobalLockBackend {
    /// The name of the lock, for lockdep.
    const NAME: &'static CStr;
    /// The type of the value the lock protects.
    type Item: 'static;
    /// The kind of lock.
    type Backend: Backend + 'static;
    /// Returns the lock class of the lock.
    fn get_lock_class() -> &'static LockClassKey;
}

/// A lock-protected value in a `static`.
///
/// Defined with [`global_lock!`], initialised with [`init`](GlobalLock::init).
///
/// # Invariants
///
/// `B` is the backend of no other lock, and `inner` has been initialised by `init` before any
/// other method runs.
///
/// # Examples
///
/// A counter shared by every caller:
///
/// ```
/// use kernel::sync::{global_lock, Once};
///
/// global_lock! {
///     // SAFETY: `INIT` initialises it before its first use.
///     unsafe(uninit) static CALLS: Mutex<u64> = 0;
/// }
/// static INIT: Once = Once::new();
///
/// fn count_call() -> u64 {
///     let mut calls = CALLS.lock();
///     *calls += 1;
///     *calls
/// }
///
/// // An example may run again (KUnit's debugfs `run` file), even on two threads at once, so it
/// // initialises the lock once, not once per run.
/// INIT.call_once(|| {
///     // SAFETY: `call_once` runs this once, and returns only after it has run.
///     unsafe { CALLS.init() }
/// });
/// let first = count_call();
/// assert_eq!(count_call(), first + 1);
///
/// let guard = CALLS.lock();
/// let busy = CALLS.try_lock().is_none();
/// drop(guard);
/// assert!(busy);
/// assert_eq!(*CALLS.try_lock().ok_or(EBUSY)?, first + 1);
/// # Ok::<(), Error>(())
/// ```
pub struct GlobalLock<B: GlobalLockBackend> {
    inner: Lock<B::Item, B::Backend>,
}

impl<B: GlobalLockBackend> GlobalLock<B> {
    /// Creates a global lock holding `data`, for a `static` initialiser.
    ///
    /// # Safety
    ///
    /// * [`init`](GlobalLock::init) is called before any other method of the lock.
    /// * `B` is the backend of no other lock.
    pub const unsafe fn new(data: B::Item) -> Self {
        // INVARIANT: The caller promises both.
        Self {
            inner: Lock {
                state: Opaque::uninit(),
                _pin: PhantomPinned,
                data: UnsafeCell::new(data),
            },
        }
    }

    /// Initialises the kernel lock.
    ///
    /// # Safety
    ///
    /// Called at most once for the lock, and not while another thread uses it.
    pub unsafe fn init(&'static self) {
        // SAFETY: The state is in a `'static` item, so it is valid for writes and never moves;
        // `NAME` and the lock class are `'static`. The caller promises that nothing else uses the
        // lock now, and `new`'s caller that nothing used it before.
        unsafe {
            B::Backend::init(
                self.inner.state.get(),
                B::NAME.as_char_ptr(),
                B::get_lock_class().as_ptr(),
            )
        }
    }

    /// Acquires the lock and gives the caller access to the value.
    pub fn lock(&'static self) -> GlobalGuard<B> {
        GlobalGuard {
            inner: self.inner.lock(),
        }
    }

    /// Tries to acquire the lock without waiting; see [`Lock::try_lock`].
    #[must_use = "the lock unlocks immediately when the guard is unused"]
    pub fn try_lock(&'static self) -> Option<GlobalGuard<B>> {
        Some(GlobalGuard {
            inner: self.inner.try_lock()?,
        })
    }
}

/// A guard of a [`GlobalLock`]: the lock is held while it lives.
pub struct GlobalGuard<B: GlobalLockBackend> {
    inner: Guard<'static, B::Item, B::Backend>,
}

impl<B: GlobalLockBackend> Deref for GlobalGuard<B> {
    type Target = B::Item;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<B: GlobalLockBackend> DerefMut for GlobalGuard<B> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

/// A value that the global lock of backend `B` protects, wherever it lives.
///
/// Like [`LockedBy`](crate::sync::LockedBy), for a global lock: the guard of the lock of `B`
/// gives access, and there is only one such lock.
///
/// # Examples
///
/// ```
/// use kernel::sync::{global_lock, GlobalLockedBy, Once};
///
/// global_lock! {
///     // SAFETY: `INIT` initialises it before its first use.
///     unsafe(uninit) static REGISTRY: SpinLock<u32> = 0;
/// }
/// static INIT: Once = Once::new();
///
/// INIT.call_once(|| {
///     // SAFETY: `call_once` runs this once, and returns only after it has run.
///     unsafe { REGISTRY.init() }
/// });
/// let weight = GlobalLockedBy::<u32, REGISTRY>::new(10);
/// let mut registry = REGISTRY.lock();
/// *registry += 1;
/// *weight.as_mut(&mut registry) += 5;
/// let (weight, entries) = (*weight.as_ref(&registry), *registry);
/// drop(registry);
/// assert_eq!(weight, 15);
/// assert!(entries >= 1);
/// ```
pub struct GlobalLockedBy<T: ?Sized, B: GlobalLockBackend> {
    _backend: PhantomData<B>,
    value: UnsafeCell<T>,
}

// SAFETY: The value is reached only through the guard of the lock, so it moves between threads
// as a `T` would.
unsafe impl<T: ?Sized + Send, B: GlobalLockBackend> Send for GlobalLockedBy<T, B> {}

// SAFETY: Shared references give mutable access only under the lock, one thread at a time, so
// `T: Send` suffices, as for `LockedBy`; shared access needs `T: Sync` (see `as_ref`).
unsafe impl<T: ?Sized + Send, B: GlobalLockBackend> Sync for GlobalLockedBy<T, B> {}

impl<T, B: GlobalLockBackend> GlobalLockedBy<T, B> {
    /// Creates a value protected by the global lock of `B`.
    pub fn new(val: T) -> Self {
        Self {
            value: UnsafeCell::new(val),
            _backend: PhantomData,
        }
    }
}

impl<T: ?Sized, B: GlobalLockBackend> GlobalLockedBy<T, B> {
    /// Returns the value, for as long as `guard` holds the lock.
    ///
    /// `T` must be [`Sync`]: a shared guard may be on several threads at once.
    pub fn as_ref<'a>(&'a self, _guard: &'a GlobalGuard<B>) -> &'a T
    where
        T: Sync,
    {
        // SAFETY: The guard holds the only lock of `B` (the type invariant of `GlobalLock`), and
        // it is borrowed for as long as the value, so no mutable reference exists meanwhile;
        // shared references on several threads are fine since `T: Sync`.
        unsafe { &*self.value.get() }
    }

    /// Returns the value mutably, for as long as `guard` holds the lock.
    pub fn as_mut<'a>(&'a self, _guard: &'a mut GlobalGuard<B>) -> &'a mut T {
        // SAFETY: The guard holds the only lock of `B`, and it is borrowed mutably for as long as
        // the value, so no other reference to it exists meanwhile.
        unsafe { &mut *self.value.get() }
    }

    /// Returns the value mutably, without the lock: `&mut self` excludes every other access.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

/// Defines a `static` [`GlobalLock`] and its [`GlobalLockBackend`], both named after the static.
///
/// The kind of lock is written `Mutex<T>` or `SpinLock<T>`. The definition says
/// `unsafe(uninit)`: its owner must call [`GlobalLock::init`] once, before the lock's first use.
///
/// # Examples
///
/// A module's lock, initialised in its init:
///
/// ```
/// # mod example {
/// use kernel::{prelude::*, sync::global_lock};
///
/// global_lock! {
///     // SAFETY: Initialised in the module's init, before its first use.
///     unsafe(uninit) static OPENS: Mutex<u64> = 0;
/// }
///
/// struct Counter;
///
/// impl kernel::Module for Counter {
///     fn init(_module: &'static ThisModule) -> Result<Self> {
///         // SAFETY: A module's init runs once, before anything of the module uses the lock.
///         unsafe { OPENS.init() };
///         *OPENS.lock() += 1;
///         Ok(Counter)
///     }
/// }
/// # }
/// ```
#[macro_export]
macro_rules! global_lock {
    {
        $(#[$meta:meta])* $pub:vis
        unsafe(uninit) static $name:ident: $kind:ident<$valuety:ty> = $value:expr;
    } => {
        #[doc = ::core::concat!("The backend of [`", ::core::stringify!($name), "`](static@",
            ::core::stringify!($name), ").")]
        #[allow(non_camel_case_types, unreachable_pub)]
        $pub enum $name {}

        impl $crate::sync::GlobalLockBackend for $name {
            const NAME: &'static $crate::str::CStr = $crate::c_str!(::core::stringify!($name));
            type Item = $valuety;
            type Backend = $crate::global_lock_inner!(backend $kind);

            fn get_lock_class() -> &'static $crate::sync::LockClassKey {
                $crate::static_lock_class!()
            }
        }

        $(#[$meta])*
        $pub static $name: $crate::sync::GlobalLock<$name> = {
            // Outside the unsafe block: the value is the caller's expression.
            let init: $valuety = $value;

            // SAFETY: The definition says `unsafe(uninit)`: its owner calls `init` before the
            // first use. The backend type was defined just above, for this lock alone.
            unsafe { $crate::sync::GlobalLock::new(init) }
        };
    };
}
pub use global_lock;

/// The backend of each kind of lock that [`global_lock!`] accepts.
#[doc(hidden)]
#[macro_export]
macro_rules! global_lock_inner {
    (backend Mutex) => {
        $crate::sync::lock::mutex::MutexBackend
    };
    (backend SpinLock) => {
        $crate::sync::lock::spinlock::SpinLockBackend
    };
}
