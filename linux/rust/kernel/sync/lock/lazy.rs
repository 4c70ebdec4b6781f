// SPDX-License-Identifier: GPL-2.0

//! Locks in the kernel crate's own `static` items, initialised at their first use.
//!
//! A [`GlobalLock`](super::GlobalLock) is initialised by its owner's module init. State of the
//! kernel crate itself (shared by every module that uses an abstraction) has no such init to
//! call, and may serve modules loaded and unloaded many times: a [`LazyGlobalLock`] initialises
//! its kernel lock at the first [`lock`](LazyGlobalLock::lock) or
//! [`try_lock`](LazyGlobalLock::try_lock) instead, through a [`Once`].

use super::{Backend, Guard, Lock};
use crate::{
    str::CStr,
    sync::{LockClassKey, Once},
    types::Opaque,
};
use core::{cell::UnsafeCell, marker::PhantomPinned};

/// A lock-protected value in a `static` of the kernel crate, initialised at its first use.
///
/// [`lock`](LazyGlobalLock::lock) may sleep until another thread's initialisation of the lock
/// finishes; [`try_lock`](LazyGlobalLock::try_lock) then fails instead.
///
/// # Invariants
///
/// `init` is done only once `B::init` has run on `lock.state` with `name` and `key`, and nothing
/// uses `lock` before that: every access goes through `init`.
pub(crate) struct LazyGlobalLock<T, B: Backend> {
    lock: Lock<T, B>,
    name: &'static CStr,
    key: &'static LockClassKey,
    init: Once,
}

impl<T, B: Backend> LazyGlobalLock<T, B> {
    /// Creates a lock holding `value` named `name` in lock class `key`, for a `static`.
    ///
    /// Locks may share a class, so that lockdep reports taking two of them at once.
    pub(crate) const fn new(value: T, name: &'static CStr, key: &'static LockClassKey) -> Self {
        // INVARIANT: `init` has not run and `lock` is not reachable from outside.
        Self {
            lock: Lock {
                state: Opaque::uninit(),
                _pin: PhantomPinned,
                data: UnsafeCell::new(value),
            },
            name,
            key,
            init: Once::new(),
        }
    }

    /// Initialises the kernel lock: `self.init` runs this once.
    fn init_lock(&'static self) {
        // SAFETY: `self.init` runs this on one thread, once, and no thread uses the lock before
        // it is done. The state is in a `'static` item, so it is valid for writes and never
        // moves; `name` and `key` are `'static`.
        unsafe {
            B::init(
                self.lock.state.get(),
                self.name.as_char_ptr(),
                self.key.as_ptr(),
            )
        };
    }

    /// Acquires the lock and gives the caller access to the value. May sleep.
    #[inline]
    pub(crate) fn lock(&'static self) -> Guard<'static, T, B> {
        self.init.call_once(|| self.init_lock());
        self.lock.lock()
    }

    /// Tries to acquire the lock without waiting; see [`Lock::try_lock`]. Also fails while
    /// another thread initialises the lock.
    #[must_use = "the lock unlocks immediately when the guard is unused"]
    pub(crate) fn try_lock(&'static self) -> Option<Guard<'static, T, B>> {
        if !self.init.try_call_once(|| self.init_lock()) {
            return None;
        }
        self.lock.try_lock()
    }
}
