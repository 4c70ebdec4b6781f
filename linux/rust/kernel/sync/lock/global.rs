// SPDX-License-Identifier: GPL-2.0

//! Locks in `static` items, for state that belongs to a whole module or subsystem.
//!
//! Some state belongs to no single object: a list that orders the objects of every instance of a
//! driver, say. A [`GlobalLock`] holds such a value in a `static`. It needs neither pinning nor an
//! explicit initialisation call: the first [`lock`](GlobalLock::lock) or
//! [`try_lock`](GlobalLock::try_lock) initialises the kernel lock. Define one with
//! [`global_lock!`](crate::global_lock).
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
    marker::PhantomPinned,
    sync::atomic::{AtomicU8, Ordering},
};

const UNINIT: u8 = 0;
const INITIALISING: u8 = 1;
const READY: u8 = 2;

/// A lock-protected value in a `static`, initialised at its first use.
///
/// # Invariants
///
/// `init_state` is `READY` only once `B::init` has run on `lock.state` with `name` and `key`, and
/// nothing uses `lock` before that: every access goes through `ensure_init()`.
///
/// # Examples
///
/// A counter shared by every caller:
///
/// ```
/// kernel::global_lock! {
///     static CALLS: Mutex<u64> = 0;
/// }
///
/// fn count_call() -> u64 {
///     let mut calls = CALLS.lock();
///     *calls += 1;
///     *calls
/// }
///
/// let first = count_call();
/// assert_eq!(count_call(), first + 1);
///
/// let guard = CALLS.lock();
/// assert!(CALLS.try_lock().is_none());
/// drop(guard);
/// assert_eq!(*CALLS.try_lock().ok_or(EBUSY)?, first + 1);
/// # Ok::<(), Error>(())
/// ```
pub struct GlobalLock<T, B: Backend> {
    lock: Lock<T, B>,
    name: &'static CStr,
    key: &'static LockClassKey,
    init_state: AtomicU8,
}

impl<T, B: Backend> GlobalLock<T, B> {
    /// Creates a global lock holding `value`, for a `static` initialiser.
    ///
    /// [`global_lock!`](crate::global_lock) calls this with the static's name and its own lock
    /// class.
    pub const fn new(value: T, name: &'static CStr, key: &'static LockClassKey) -> Self {
        // INVARIANT: `init_state` is `UNINIT` and `lock` is not reachable from outside.
        Self {
            lock: Lock {
                state: Opaque::uninit(),
                _pin: PhantomPinned,
                data: UnsafeCell::new(value),
            },
            name,
            key,
            init_state: AtomicU8::new(UNINIT),
        }
    }

    /// Initialises the kernel lock unless that is done, and waits until it is.
    fn ensure_init(&'static self) {
        if self.init_state.load(Ordering::Acquire) == READY {
            return;
        }
        match self.init_state.compare_exchange(
            UNINIT,
            INITIALISING,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // SAFETY: Only the thread that moved `init_state` from `UNINIT` gets here, and no
                // thread uses the lock before it reads `READY`. The state is in a `'static` item,
                // so it is valid for writes and never moves; `name` and `key` are `'static`.
                unsafe {
                    B::init(
                        self.lock.state.get(),
                        self.name.as_char_ptr(),
                        self.key.as_ptr(),
                    )
                };
                // INVARIANT: `B::init` has run.
                self.init_state.store(READY, Ordering::Release);
            }
            Err(_) => {
                // Another thread is initialising it, which takes no more than a lock init.
                while self.init_state.load(Ordering::Acquire) != READY {
                    core::hint::spin_loop();
                }
            }
        }
    }

    /// Returns the lock itself, initialised, for APIs that take a [`Lock`], such as
    /// [`LockedBy::new`](crate::sync::LockedBy::new).
    pub fn as_lock(&'static self) -> &'static Lock<T, B> {
        self.ensure_init();
        &self.lock
    }

    /// Acquires the lock and gives the caller access to the value.
    pub fn lock(&'static self) -> Guard<'static, T, B> {
        self.ensure_init();
        self.lock.lock()
    }

    /// Tries to acquire the lock without waiting; see [`Lock::try_lock`].
    #[must_use = "the lock unlocks immediately when the guard is unused"]
    pub fn try_lock(&'static self) -> Option<Guard<'static, T, B>> {
        self.ensure_init();
        self.lock.try_lock()
    }
}

/// Defines a `static` [`GlobalLock`] named after the static, with a lock class of its own.
///
/// The kind of lock is written `Mutex<T>` or `SpinLock<T>`.
///
/// # Examples
///
/// Data elsewhere can be tied to a global lock with [`LockedBy`](crate::sync::LockedBy), since the
/// locked value never moves:
///
/// ```
/// use kernel::sync::LockedBy;
///
/// struct Registry {
///     entries: u32,
/// }
///
/// kernel::global_lock! {
///     /// Every entry, in one place.
///     static REGISTRY: SpinLock<Registry> = Registry { entries: 0 };
/// }
///
/// let weight = LockedBy::new(REGISTRY.as_lock(), 10u32);
/// let mut registry = REGISTRY.lock();
/// registry.entries += 1;
/// *weight.access_mut(&mut registry) += 5;
/// assert_eq!(*weight.access(&registry), 15);
/// assert_eq!(registry.entries, 1);
/// ```
#[macro_export]
macro_rules! global_lock {
    ($(#[$attr:meta])* $vis:vis static $name:ident: Mutex<$t:ty> = $value:expr;) => {
        $(#[$attr])*
        $vis static $name: $crate::sync::GlobalLock<$t, $crate::sync::lock::mutex::MutexBackend> =
            $crate::sync::GlobalLock::new(
                $value,
                $crate::c_str!(::core::stringify!($name)),
                $crate::static_lock_class!(),
            );
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: SpinLock<$t:ty> = $value:expr;) => {
        $(#[$attr])*
        $vis static $name:
            $crate::sync::GlobalLock<$t, $crate::sync::lock::spinlock::SpinLockBackend> =
            $crate::sync::GlobalLock::new(
                $value,
                $crate::c_str!(::core::stringify!($name)),
                $crate::static_lock_class!(),
            );
    };
}
