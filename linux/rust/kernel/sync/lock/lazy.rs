// SPDX-License-Identifier: GPL-2.0

//! Locks in the kernel crate's own `static` items, initialised at their first use.
//!
//! A [`GlobalLock`](super::GlobalLock) is initialised by its owner's module init. State of the
//! kernel crate itself (shared by every module that uses an abstraction) has no such init to
//! call, and may serve modules loaded and unloaded many times: a [`LazyGlobalLock`] initialises
//! its kernel lock at the first [`lock`](LazyGlobalLock::lock) or
//! [`try_lock`](LazyGlobalLock::try_lock) instead.

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

/// A lock-protected value in a `static` of the kernel crate, initialised at its first use.
///
/// A first use may wait for another thread's initialisation of the lock, so no use may come from
/// atomic context.
///
/// # Invariants
///
/// `init_state` is `READY` only once `B::init` has run on `lock.state` with `name` and `key`, and
/// nothing uses `lock` before that: every access goes through `ensure_init()`.
pub(crate) struct LazyGlobalLock<T, B: Backend> {
    lock: Lock<T, B>,
    name: &'static CStr,
    key: &'static LockClassKey,
    init_state: AtomicU8,
}

impl<T, B: Backend> LazyGlobalLock<T, B> {
    /// Creates a lock holding `value` named `name` in lock class `key`, for a `static`.
    ///
    /// Locks may share a class, so that lockdep reports taking two of them at once.
    pub(crate) const fn new(value: T, name: &'static CStr, key: &'static LockClassKey) -> Self {
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

    /// Acquires the lock and gives the caller access to the value.
    pub(crate) fn lock(&'static self) -> Guard<'static, T, B> {
        self.ensure_init();
        self.lock.lock()
    }

    /// Tries to acquire the lock without waiting; see [`Lock::try_lock`].
    #[must_use = "the lock unlocks immediately when the guard is unused"]
    pub(crate) fn try_lock(&'static self) -> Option<Guard<'static, T, B>> {
        self.ensure_init();
        self.lock.try_lock()
    }
}
