// SPDX-License-Identifier: GPL-2.0

//! One-time initialisation.

use crate::bindings;
use core::sync::atomic::{AtomicU8, Ordering};

const UNINIT: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;

/// An initialisation that runs once, on whichever thread asks for it first.
///
/// For state that code reaches from several places and threads with no init call of its own
/// to run first: a lock in a `static` of a crate that many modules use, or of an example that
/// KUnit may run again (a write to the suite's debugfs `run` file), even on two threads at once.
///
/// # Invariants
///
/// `state` leaves `UNINIT` once, for the thread that runs the initialisation, and is `DONE` only
/// once that has returned.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use kernel::sync::Once;
///
/// static SETUP: Once = Once::new();
/// static RUNS: AtomicU32 = AtomicU32::new(0);
///
/// for _ in 0..3 {
///     SETUP.call_once(|| {
///         RUNS.fetch_add(1, Ordering::Relaxed);
///     });
/// }
/// assert!(SETUP.is_completed());
/// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
///
/// let fresh = Once::new();
/// assert!(!fresh.is_completed());
/// let (mut first, mut second) = (false, false);
/// assert!(fresh.try_call_once(|| first = true));
/// assert!(fresh.try_call_once(|| second = true));
/// assert!(first && !second);
/// ```
pub struct Once {
    state: AtomicU8,
}

impl Once {
    /// Creates an initialisation that has not run.
    pub const fn new() -> Self {
        // INVARIANT: Nothing ran.
        Self {
            state: AtomicU8::new(UNINIT),
        }
    }

    /// Returns whether the initialisation has run to its end.
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    /// Runs `f` if no thread has started the initialisation, and returns whether it is done:
    /// `false` while another thread runs it. Never waits, so it may be called from any context
    /// that `f` may run in.
    #[inline]
    pub fn try_call_once(&self, f: impl FnOnce()) -> bool {
        // Inline, the common case costs a load and a compare.
        self.is_completed() || self.try_start(f)
    }

    #[cold]
    fn try_start(&self, f: impl FnOnce()) -> bool {
        match self
            .state
            .compare_exchange(UNINIT, RUNNING, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                f();
                // INVARIANT: `f` has returned; only this thread left `UNINIT`.
                self.state.store(DONE, Ordering::Release);
                true
            }
            Err(state) => state == DONE,
        }
    }

    /// Runs `f` if no thread has started the initialisation, and returns once it is done,
    /// sleeping while another thread runs it: the caller must be allowed to sleep.
    #[inline]
    pub fn call_once(&self, f: impl FnOnce()) {
        if !self.is_completed() {
            self.run_or_wait(f);
        }
    }

    #[cold]
    fn run_or_wait(&self, f: impl FnOnce()) {
        let mut f = Some(f);
        while !self.try_start(|| {
            if let Some(f) = f.take() {
                f();
            }
        }) {
            // The other thread may have been preempted, even by this one on its CPU: sleep,
            // whatever this thread's priority, rather than spin.
            // SAFETY: `msleep()` has no memory-safety requirement; that it may sleep is the
            // documented rule of `call_once()`, this function's only caller, as of `Mutex::lock()`.
            unsafe { bindings::msleep(1) };
        }
    }
}

impl Default for Once {
    fn default() -> Self {
        Self::new()
    }
}
