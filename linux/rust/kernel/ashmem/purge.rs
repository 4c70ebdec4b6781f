// SPDX-License-Identifier: GPL-2.0

//! Purging: reclaim takes the memory of unpinned pages, least recently unpinned first, across
//! every region.
//!
//! The order holds every unpinned interval of every backed region, by age (a counter that each
//! unpin, and each release of a hold, advances) and first page; the regions keep it in step as
//! their intervals change ([`OrderUpdate`]). Intervals a kernel pin holds wait in a list of their
//! own, out of reach of purging, until the pin is dropped; they then count as unpinned at that
//! moment (the kernel used them until then). The order is split into [`ORDER_PARTS`] parts, each a
//! list under a lock of its own, and each region keeps its intervals in one part, chosen when it is
//! created: pins and unpins of regions in different parts share no lock. An unpin appends its
//! interval, the newest; the pieces of a split interval take its place; each region's tree of
//! intervals keeps a link to each entry, so that removing one costs O(1). A purge takes the oldest
//! interval of all parts (reclaim, usually at most [`PUNCH_CHUNK_PAGES`] of it, so that reclaimers
//! share a large interval), marks those pages purged in its region and then, holding only the
//! backing file's inode lock shared, punches a hole in the region's backing file.
//!
//! # Locking
//!
//! Locks nest in this order:
//!
//! 1. a region's state mutex;
//! 2. a part of the purge order, never two at once;
//! 3. a region's count of pins waiting for its purges, a spinlock, under which purges end;
//! 4. the inode lock of a region's backing file, which purges take shared, and only with a
//!    try-lock under the others.
//!
//! Pin and unpin hold 1 and take their region's part of 2 to update the order, through
//! [`OrderPart::lock`], which needs a `&Backed`: it only exists under 1. [`purge_all`] takes parts
//! blocking too, holding no other lock. Reclaim may run inside an allocation of a task that holds
//! any of these, so a purge only try-locks 2, then 1 and 4 (a try-lock may go against the order),
//! and takes 3 only to read the count of pins waiting, and to end. It then drops all but 4 and
//! punches the hole under 4: whoever holds 4 exclusive (`fallocate()`, `MADV_REMOVE`) may be
//! allocating (splitting a huge folio allocates under it), and may be the reclaiming task itself,
//! inside a hole punch of its own; other purges share it. So reclaim never waits for a purge, a pin
//! or a lock of ours; the punch itself may still wait inside shmem, on folio locks or while it
//! unmaps. A purge never holds up pinning another region. A pin that finds purges of its region in
//! flight waits for them with no lock held, so that no hole is punched under pages it returned as
//! pinned; meanwhile no new purge of that region starts.

use super::{
    ranges::{IntervalObserver, Link, NodeSlots},
    region::{Backed, NotStarted, Shared},
};
use crate::{
    alloc::{Flags, KBox},
    c_str,
    error::{code::*, Result},
    page::PAGE_SIZE,
    shmem::ShmemInodeGuard,
    shrinker::{
        CountObjects, ScanObjects, ShrinkControl, Shrinker, ShrinkerBuilder, ShrinkerRegistration,
    },
    static_lock_class,
    str::CStr,
    sync::{
        lock::{lazy::LazyGlobalLock, mutex::MutexBackend, Guard},
        Arc, ArcBorrow, LockClassKey,
    },
    task::{capable, memalloc_nofs, Capability},
};
use core::{
    ops::Range,
    ptr::{self, NonNull},
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};

/// An unpinned interval in the purge order: in its part's list, or in the part's list of held
/// intervals.
pub(super) struct Entry {
    /// The entry before it in its list (older, in the part's order).
    prev: Option<NonNull<Entry>>,
    /// The entry after it in its list (newer, in the part's order).
    next: Option<NonNull<Entry>>,
    region: EntryRegion,
    start: usize,
    end: usize,
    age: u64,
    /// Whether a kernel hold covers the interval, which is then in the list of held intervals.
    held: bool,
}

// SAFETY: An entry refers to other entries of its list, which only the holder of the part's lock
// follows, and to its region's `Shared`, which is `Sync`. A spare entry's pointers are stale and
// never followed.
unsafe impl Send for Entry {}

impl Entry {
    /// An entry kept for later, in no list.
    const SPARE: Self = Self {
        prev: None,
        next: None,
        region: EntryRegion(ptr::null()),
        start: 0,
        end: 0,
        age: 0,
        held: false,
    };
}

/// A region's reference to its [`Shared`], which its entries in the purge order point at, so
/// that adding and removing an entry changes no reference count: the region gives it back when
/// it is dropped, after removing its entries.
///
/// # Invariants
///
/// `ptr` came from [`Arc::into_raw`], and this owns the count it kept, unless `leaked`, when
/// nothing gives that count back.
pub(super) struct OrderRef {
    ptr: *const Shared,
    leaked: bool,
}

// SAFETY: An `OrderRef` is an `Arc<Shared>` kept as a raw pointer, which may be sent to and
// used from any thread as the `Arc` may: `Shared` is `Send` and `Sync` (checked below).
unsafe impl Send for OrderRef {}
// SAFETY: As for `Send`.
unsafe impl Sync for OrderRef {}

/// Checks at build time what the `Send` and `Sync` of `OrderRef` rely on.
fn _shared_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Shared>();
}

impl OrderRef {
    /// Keeps `shared` for a new region.
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        // INVARIANT: From `into_raw`, which keeps the count of `shared`.
        Self {
            ptr: Arc::into_raw(shared),
            leaked: false,
        }
    }

    /// Returns the region's shared state.
    pub(super) fn shared(&self) -> &Shared {
        // SAFETY: By the type invariants, this owns a count (or leaked it): the `Shared` lives
        // at least as long as `self`.
        unsafe { &*self.ptr }
    }

    /// Never gives the count back: for a region whose entries could not all be removed, which
    /// still point at its `Shared`.
    pub(super) fn leak(&mut self) {
        // INVARIANT: The count is never given back.
        self.leaked = true;
    }
}

impl Drop for OrderRef {
    fn drop(&mut self) {
        if self.leaked {
            return;
        }
        // SAFETY: By the type invariants, `ptr` came from `into_raw` and this owns its count,
        // which is given back once.
        drop(unsafe { Arc::from_raw(self.ptr) });
    }
}

/// Where an entry of the purge order points: the [`OrderRef`] pointer of its region.
#[derive(Clone, Copy)]
pub(super) struct EntryRegion(*const Shared);

// SAFETY: An `EntryRegion` owns nothing, and only gives shared access to its `Shared` (through
// an `Arc` in `Order::oldest`), which any thread may have: `Shared` is `Sync`.
unsafe impl Send for EntryRegion {}

/// The unpinned intervals of the regions of one part of the purge order, oldest first.
///
/// # Invariants
///
/// The order has an entry for each unpinned interval of each backed region whose part this is,
/// with its pages, age and whether a kernel hold covers it. The entries came from
/// [`KBox::into_raw`] and belong to the order; the region's tree of the interval has a [`Link`]
/// to its entry. `oldest` and `newest` are the ends of a list, linked both ways through `prev`
/// and `next`, of the entries not held, by age and then first page (unless a region's tree lost
/// a link, a bug). `held` is the first of a list, linked alike, of the held entries, in no
/// order. The part's [`OrderPart::purgeable`] is the sum of the lengths of the entries not held.
///
/// Every entry's `region` is the [`OrderRef`] pointer of the region whose interval it is, and
/// that pointer's count is held: a region removes its entries, under the part's lock, before it
/// drops its [`OrderRef`]; if its count of entries ([`Shared::order_entries`]) says any is
/// left, it leaks the [`OrderRef`] instead.
pub(super) struct Order {
    oldest: Option<NonNull<Entry>>,
    newest: Option<NonNull<Entry>>,
    held: Option<NonNull<Entry>>,
}

// SAFETY: The entries belong to the order, and any thread that has it may use them: their
// `region` only gives shared access to a `Shared`, which is `Sync`. The links to them in the
// regions' trees are only followed by an [`OrderUpdate`], which holds the order.
unsafe impl Send for Order {}

/// How many parts the purge order is split into.
const ORDER_PARTS: usize = 8;

/// One part of the purge order, in cache lines of its own (64 bytes apart; where lines are
/// longer, neighbours may share one): pins and unpins of regions in other parts do not touch
/// them.
#[repr(align(64))]
pub(super) struct OrderPart {
    order: LazyGlobalLock<Order, MutexBackend>,
    /// How many pages reclaim may purge in this part: the length of every entry in the order's
    /// list of entries not held.
    purgeable: AtomicUsize,
}

impl OrderPart {
    /// Creates an empty part whose lock has the lock class `key`.
    const fn new(key: &'static LockClassKey) -> Self {
        Self {
            order: LazyGlobalLock::new(
                Order {
                    oldest: None,
                    newest: None,
                    held: None,
                },
                c_str!("ashmem_purge_order"),
                key,
            ),
            purgeable: AtomicUsize::new(0),
        }
    }
}

/// The parts of the purge order. Their locks share one lock class, so that lockdep reports
/// taking two at once.
static ORDER: [OrderPart; ORDER_PARTS] = {
    let key = static_lock_class!();
    [
        OrderPart::new(key),
        OrderPart::new(key),
        OrderPart::new(key),
        OrderPart::new(key),
        OrderPart::new(key),
        OrderPart::new(key),
        OrderPart::new(key),
        OrderPart::new(key),
    ]
};

/// The age of the interval unpinned last. Every unpin writes it, whatever its part.
static LAST_AGE: AtomicU64 = AtomicU64::new(0);

/// Which part the next region created keeps its intervals in.
static NEXT_PART: AtomicUsize = AtomicUsize::new(0);

/// How many pages a purge punches at a time, and reclaim takes of an interval at a time: a PMD
/// size (2 MiB with 4 KiB pages, 32 MiB with 16 KiB, 512 MiB with 64 KiB). Shmem folios are never
/// larger and are aligned to their size in the file, so none straddles a multiple of it.
const PUNCH_CHUNK_PAGES: usize = if bindings::PMD_SIZE > PAGE_SIZE {
    bindings::PMD_SIZE / PAGE_SIZE
} else {
    1
};

/// The name Android gives the shrinker, under `/sys/kernel/debug/shrinker/`.
pub const SHRINKER_NAME: &CStr = c_str!("android-ashmem");

/// How many intervals of busy regions a purge passes over before it gives up.
const BUSY_SKIP_LIMIT: usize = 16;

impl OrderPart {
    /// Returns the part that a new region keeps its intervals in: each part in turn.
    pub(super) fn for_new_region() -> &'static Self {
        &ORDER[NEXT_PART.fetch_add(1, Ordering::Relaxed) % ORDER_PARTS]
    }

    /// Locks this part for a region whose state lock the caller holds, as `_region` proves.
    #[inline]
    pub(super) fn lock(&'static self, _region: &Backed) -> Guard<'static, Order, MutexBackend> {
        self.order.lock()
    }
}

/// Returns the age for an interval being unpinned now: newer than every other. Called under the
/// region's part of the order, whose list takes intervals in order of age.
pub(super) fn new_age() -> u64 {
    LAST_AGE.fetch_add(1, Ordering::Relaxed) + 1
}

impl Order {
    /// Returns the entry that is `skip` places from the oldest (held entries are in a list of
    /// their own).
    fn nth(&self, mut skip: usize) -> Option<&Entry> {
        let mut next = self.oldest;
        while let Some(entry) = next {
            // SAFETY: By the type invariants, the entry is valid while it is in the list, which
            // cannot change while `self` is borrowed.
            let entry = unsafe { entry.as_ref() };
            if skip == 0 {
                return Some(entry);
            }
            skip -= 1;
            next = entry.next;
        }
        None
    }

    /// Returns the age of the interval that is `skip` places from the oldest.
    fn age(&self, skip: usize) -> Option<u64> {
        self.nth(skip).map(|entry| entry.age)
    }

    /// Returns the region and pages of the interval that is `skip` places from the oldest, and
    /// what its entries point at.
    fn oldest(&mut self, skip: usize) -> Option<(Arc<Shared>, EntryRegion, Range<usize>)> {
        let entry = self.nth(skip)?;
        // SAFETY: By the invariants of `Order`, the pointer came from the `Arc::into_raw` of an
        // `OrderRef` that still holds its count; the caller holds the part's lock (as the
        // `&mut self` shows), without which the region could not have removed the entry and
        // dropped that count, so it is held while the borrow lives (only to clone the `Arc`).
        // No `UniqueArc` of it exists: one is only made of an `Arc` with the only count, and the
        // `OrderRef` holds a count of its own.
        let region = unsafe { ArcBorrow::from_raw(entry.region.0) }.into();
        Some((region, entry.region, entry.start..entry.end))
    }

    /// Links `entry`, not held, into the order after `after`, or first without one.
    ///
    /// # Safety
    ///
    /// `entry` came from [`KBox::into_raw`] and is in no list; `after` is in the order's list of
    /// entries not held.
    #[inline]
    unsafe fn link_after(&mut self, entry: NonNull<Entry>, after: Option<NonNull<Entry>>) {
        let next = match after {
            // SAFETY: Per the safety requirements, `after` is a valid entry of this list, which
            // the caller may change (`&mut self`), and `entry` another.
            Some(after) => unsafe { (*after.as_ptr()).next.replace(entry) },
            None => self.oldest.replace(entry),
        };
        match next {
            // SAFETY: As above, for the entry after `after`.
            Some(next) => unsafe { (*next.as_ptr()).prev = Some(entry) },
            None => self.newest = Some(entry),
        }
        // SAFETY: Per the safety requirements, `entry` is valid and nothing else refers to it.
        unsafe {
            (*entry.as_ptr()).prev = after;
            (*entry.as_ptr()).next = next;
        }
    }

    /// Links `entry`, held, first into the list of held entries.
    ///
    /// # Safety
    ///
    /// `entry` came from [`KBox::into_raw`] and is in no list.
    #[inline]
    unsafe fn link_held(&mut self, entry: NonNull<Entry>) {
        let next = self.held.replace(entry);
        if let Some(next) = next {
            // SAFETY: By the type invariants, `next` is a valid entry of the held list, which
            // the caller may change (`&mut self`).
            unsafe { (*next.as_ptr()).prev = Some(entry) };
        }
        // SAFETY: Per the safety requirements, `entry` is valid and nothing else refers to it.
        unsafe {
            (*entry.as_ptr()).prev = None;
            (*entry.as_ptr()).next = next;
        }
    }

    /// Takes `entry` out of its list and returns the entry before it.
    ///
    /// # Safety
    ///
    /// `entry` is in one of this order's lists.
    #[inline]
    unsafe fn unlink(&mut self, entry: NonNull<Entry>) -> Option<NonNull<Entry>> {
        // SAFETY: Per the safety requirements, `entry` is a valid entry of this order, which the
        // caller may change (`&mut self`).
        let (prev, next, held) = unsafe {
            let entry = entry.as_ptr();
            ((*entry).prev, (*entry).next, (*entry).held)
        };
        match (prev, held) {
            // SAFETY: As above, for the entry before `entry`, in the same list.
            (Some(prev), _) => unsafe { (*prev.as_ptr()).next = next },
            (None, false) => self.oldest = next,
            (None, true) => self.held = next,
        }
        match (next, held) {
            // SAFETY: As above, for the entry after `entry`, in the same list.
            (Some(next), _) => unsafe { (*next.as_ptr()).prev = prev },
            (None, false) => self.newest = prev,
            (None, true) => {}
        }
        prev
    }
}

/// Entries of the purge order, reserved before the locks are taken.
///
/// A change of a region's intervals removes entries before it adds up to two, so it needs one
/// new entry besides those it frees; a kernel hold needs two, an unpin cut in pieces by kernel
/// holds one per piece. It keeps up to three (or as many as it was made with), so that a
/// reservation kept with the region lets the next change allocate nothing.
pub(super) struct OrderReservation {
    nodes: NodeSlots<KBox<Entry>, 3>,
}

impl OrderReservation {
    /// Reserves nothing, for changes that only remove intervals.
    pub(super) fn none() -> Self {
        Self {
            nodes: NodeSlots::none(),
        }
    }

    /// Reserves `count` entries.
    pub(super) fn with_nodes(flags: Flags, count: usize) -> Result<Self> {
        Ok(Self {
            nodes: NodeSlots::with_nodes(flags, count, |flags| {
                Ok(KBox::new(Entry::SPARE, flags)?)
            })?,
        })
    }

    /// Returns whether the reservation holds at least `count` entries.
    pub(super) fn holds(&self, count: usize) -> bool {
        self.nodes.len() >= count
    }

    /// Returns whether the reservation holds an entry.
    fn has_node(&self) -> bool {
        self.nodes.len() != 0
    }

    #[inline]
    fn take(&mut self) -> Option<KBox<Entry>> {
        self.nodes.take()
    }

    /// Keeps `entry` if there is room, and returns it otherwise.
    #[inline]
    fn keep(&mut self, entry: KBox<Entry>) -> Option<KBox<Entry>> {
        self.nodes.keep(entry)
    }

    /// Moves the entries of `other` into this reservation, as far as they fit.
    pub(super) fn absorb(&mut self, other: &mut Self) {
        self.nodes.absorb(&mut other.nodes);
    }
}

/// Keeps the purge order in step with the unpinned intervals of one region, while the caller
/// holds the region's lock and its part of the order.
///
/// # Invariants
///
/// `order` is the locked part of `region`, and `entry_region` the [`OrderRef`] pointer of
/// `region`. The update is only given to the methods of the region's [`UnpinnedRanges`], whose
/// links are to entries of the region in `order`. `place`'s entry, if any, is in `order`'s list
/// of entries not held; `None` is the front.
///
/// [`UnpinnedRanges`]: super::ranges::UnpinnedRanges
pub(super) struct OrderUpdate<'a> {
    order: &'a mut Order,
    region: &'a Shared,
    entry_region: EntryRegion,
    /// Entries for new intervals: the reserved ones and those of removed intervals.
    spare: &'a mut OrderReservation,
    /// Where a new interval not held of the age it gives goes: after the entry before the
    /// interval removed last, or after the piece of it added last, so that pieces keep its place.
    place: Option<(u64, Option<NonNull<Entry>>)>,
}

impl<'a> OrderUpdate<'a> {
    /// Returns an update of the entries of the region of `order_ref`, whose locked part `order`
    /// is (as the caller's `&Backed` for [`OrderPart::lock`] shows).
    ///
    /// # Safety
    ///
    /// `order` is the region's part of the order, locked. The update is only given to the
    /// methods of the region's [`UnpinnedRanges`].
    ///
    /// [`UnpinnedRanges`]: super::ranges::UnpinnedRanges
    pub(super) unsafe fn new(
        order: &'a mut Order,
        order_ref: &'a OrderRef,
        spare: &'a mut OrderReservation,
    ) -> Self {
        // INVARIANT: Both from the region's `OrderRef`, whose locked part `order` is; the caller
        // gives the update only to the region's ranges, whose links are those that the
        // region's updates added.
        Self {
            order,
            region: order_ref.shared(),
            entry_region: EntryRegion(order_ref.ptr),
            spare,
            place: None,
        }
    }

    /// Returns an update of the entries of `region`, as [`OrderUpdate::new`].
    ///
    /// # Safety
    ///
    /// `entry_region` was read from an entry of `region` in `order`, since the caller locked
    /// `order`. The update is only given to the methods of the region's [`UnpinnedRanges`].
    ///
    /// [`UnpinnedRanges`]: super::ranges::UnpinnedRanges
    pub(super) unsafe fn with_entry_region(
        order: &'a mut Order,
        region: &'a Shared,
        entry_region: EntryRegion,
        spare: &'a mut OrderReservation,
    ) -> Self {
        // INVARIANT: By the safety requirements and the invariants of `Order`, `entry_region`
        // is the `OrderRef` pointer of `region`; the caller gives the update only to the
        // region's ranges.
        Self {
            order,
            region,
            entry_region,
            spare,
            place: None,
        }
    }

    /// Adds `change` to the region's count of entries. Only under the part's lock, which
    /// serialises the changes.
    fn count(&self, change: isize) {
        let entries = &self.region.order_entries;
        let count = entries.load(Ordering::Relaxed).wrapping_add_signed(change);
        entries.store(count, Ordering::Relaxed);
    }
}

impl IntervalObserver for OrderUpdate<'_> {
    #[inline]
    fn added(&mut self, pages: Range<usize>, age: u64, held: bool) -> Link {
        // Every change reserves or frees the entries it adds; without one (a bug), the interval
        // stays out of the order: never purged, which loses no data.
        let Some(mut entry) = self.spare.take() else {
            return Link::NONE;
        };
        *entry = Entry {
            prev: None,
            next: None,
            region: self.entry_region,
            start: pages.start,
            end: pages.end,
            age,
            held,
        };
        // SAFETY: `KBox::into_raw` never returns null.
        let entry = unsafe { NonNull::new_unchecked(KBox::into_raw(entry)) };
        self.count(1);
        if held {
            // INVARIANT: A held entry, in the held list.
            // SAFETY: `entry` came from `KBox::into_raw` and is in no list.
            unsafe { self.order.link_held(entry) };
            return Link::new(entry);
        }
        // A piece of the interval removed last takes its place; any other interval is the
        // newest, as its age was given under the part's lock.
        let after = match self.place {
            Some((place_age, after)) if place_age == age => after,
            _ => self.order.newest,
        };
        // INVARIANT: In order of age; the part's count has its pages. The link goes into the
        // region's tree.
        // SAFETY: `entry` came from `KBox::into_raw` and is in no list; `after` is `None`, the
        // newest entry or, by the type invariants, `place`, an entry of the order's list.
        unsafe { self.order.link_after(entry, after) };
        // INVARIANT: `entry` is in the order's list now.
        self.place = Some((age, Some(entry)));
        self.region
            .order_part()
            .purgeable
            .fetch_add(pages.len(), Ordering::Relaxed);
        Link::new(entry)
    }

    fn can_add(&self) -> bool {
        self.spare.has_node()
    }

    #[inline]
    unsafe fn removed(&mut self, _pages: Range<usize>, _age: u64, _held: bool, link: Link) {
        let Some(entry) = link.entry() else {
            // An interval left out of the order (a bug): its pieces go in as the newest.
            self.place = None;
            return;
        };
        // SAFETY: Per the safety requirements, `link` is what `added` returned for an interval
        // of these ranges, handed back once; by the type invariants, the ranges are the
        // region's, whose links are to its entries in `order`: `entry` is in one of its lists.
        let prev = unsafe { self.order.unlink(entry) };
        // SAFETY: The entry came from `KBox::into_raw` in `added` and is in no list now: nothing
        // else refers to it.
        let entry = unsafe { KBox::from_raw(entry.as_ptr()) };
        self.count(-1);
        if entry.held {
            self.place = None;
        } else {
            // INVARIANT: `prev` is `None` or an entry of the order's list.
            self.place = Some((entry.age, prev));
            // INVARIANT: The interval and its entry are gone together.
            self.region
                .order_part()
                .purgeable
                .fetch_sub(entry.end - entry.start, Ordering::Relaxed);
        }
        // Without room the entry is freed, under the locks: `kfree()` does not sleep.
        drop(self.spare.keep(entry));
    }
}

/// What a purge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Unpinned pages it purged: they read as zeros, and the next pin over them reports it.
    pub pages: usize,
    /// Pages of memory it gave back: the purged pages that were in memory.
    pub freed: usize,
}

/// Whether a purge may wait for locks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Never: for reclaim. Passes over busy regions and locked parts of the order.
    Reclaim,
    /// For every lock, and purges every interval it can reach.
    All,
}

/// Returns how many pages reclaim may purge now: those of every unpinned interval of every
/// region. Reads no lock; a purge or pin on another CPU may change it at once.
///
/// # Examples
///
/// ```
/// use kernel::ashmem::{self, PinRange};
/// # use kernel::{ashmem::Region, kunit, mm::virt::{prot, VmaNew}, page::PAGE_SIZE, sync::Arc};
/// # kernel::sync::global_lock! {
/// #     // SAFETY: `INIT` initialises it before its first use.
/// #     unsafe(uninit) static MAPPING: Mutex<Option<Arc<Region>>> = None;
/// # }
/// # static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// # INIT.call_once(|| {
/// #     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
/// #     // returns only after it has run.
/// #     unsafe { MAPPING.init() }
/// # });
/// # struct Device;
/// # impl kunit::MmapTest for Device {
/// #     fn mmap(vma: &VmaNew) -> Result {
/// #         MAPPING.lock().as_ref().ok_or(ENODEV)?.mmap(vma)
/// #     }
/// # }
/// # /// Returns a new region of `pages` pages, and where it is mapped.
/// # fn mapped(pages: usize) -> Result<(Arc<Region>, usize)> {
/// #     let region = Region::new()?;
/// #     region.set_size(pages * PAGE_SIZE)?;
/// #     *MAPPING.lock() = Some(region.clone());
/// #     // SAFETY: Examples are built into the kernel.
/// #     let device = unsafe { kunit::mmap_test_file::<Device>() };
/// #     let addr = device.and_then(|device| {
/// #         kunit::map_file(&device, 0, pages * PAGE_SIZE, prot::READ | prot::WRITE, true)
/// #     });
/// #     *MAPPING.lock() = None;
/// #     Ok((region, addr?))
/// # }
///
/// let before = ashmem::purgeable_pages();
/// let (region, _addr) = mapped(8)?;
/// let page = PAGE_SIZE as u32;
/// region.unpin(PinRange { offset: 0, len: 4 * page })?;
/// assert_eq!(ashmem::purgeable_pages(), before + 4);
/// region.pin(PinRange { offset: page, len: page })?;
/// assert_eq!(ashmem::purgeable_pages(), before + 3);
/// // Closing the region takes its pages out of the count.
/// drop(region);
/// assert_eq!(ashmem::purgeable_pages(), before);
/// # Ok::<(), Error>(())
/// ```
pub fn purgeable_pages() -> usize {
    ORDER.iter().fold(0, |pages, part| {
        pages.saturating_add(part.purgeable.load(Ordering::Relaxed))
    })
}

/// Purges the oldest unpinned pages until at least `pages` pages are purged or none is left,
/// as reclaim does: the oldest interval first, up to a PMD-size boundary of its file at a time (so
/// that reclaimers running at once share it). It waits for nothing, and passes over parts
/// of the order that are locked and regions that are busy (locked, with a pin waiting for a
/// purge in flight, or with the backing file's inode locked exclusive).
///
/// # Examples
///
/// The least recently unpinned go first, whatever their region:
///
/// ```
/// use kernel::{ashmem::{self, PinRange, PinResult, Purged}, uaccess::UserSlice};
/// # use kernel::{ashmem::Region, kunit, mm::virt::{prot, VmaNew}, page::PAGE_SIZE, sync::Arc};
/// # kernel::sync::global_lock! {
/// #     // SAFETY: `INIT` initialises it before its first use.
/// #     unsafe(uninit) static MAPPING: Mutex<Option<Arc<Region>>> = None;
/// # }
/// # static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// # INIT.call_once(|| {
/// #     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
/// #     // returns only after it has run.
/// #     unsafe { MAPPING.init() }
/// # });
/// # struct Device;
/// # impl kunit::MmapTest for Device {
/// #     fn mmap(vma: &VmaNew) -> Result {
/// #         MAPPING.lock().as_ref().ok_or(ENODEV)?.mmap(vma)
/// #     }
/// # }
/// # /// Returns a new region of `pages` pages, and where it is mapped.
/// # fn mapped(pages: usize) -> Result<(Arc<Region>, usize)> {
/// #     let region = Region::new()?;
/// #     region.set_size(pages * PAGE_SIZE)?;
/// #     *MAPPING.lock() = Some(region.clone());
/// #     // SAFETY: Examples are built into the kernel.
/// #     let device = unsafe { kunit::mmap_test_file::<Device>() };
/// #     let addr = device.and_then(|device| {
/// #         kunit::map_file(&device, 0, pages * PAGE_SIZE, prot::READ | prot::WRITE, true)
/// #     });
/// #     *MAPPING.lock() = None;
/// #     Ok((region, addr?))
/// # }
///
/// let (a, a_addr) = mapped(4)?;
/// let (b, _) = mapped(4)?;
/// let page = PAGE_SIZE as u32;
/// UserSlice::new(a_addr, 4 * PAGE_SIZE).writer().write_slice(&[7u8; 4 * PAGE_SIZE])?;
/// a.unpin(PinRange { offset: 0, len: 2 * page })?;
/// b.unpin(PinRange { offset: 0, len: 0 })?;
/// a.unpin(PinRange { offset: 3 * page, len: page })?;
///
/// // The two pages of `a` first, which were in memory; then the four of `b`, which were not.
/// assert_eq!(ashmem::purge_oldest(1), Purged { pages: 2, freed: 2 });
/// assert_eq!(ashmem::purge_oldest(3), Purged { pages: 4, freed: 0 });
/// assert_eq!(a.pin(PinRange { offset: 0, len: 3 * page })?, PinResult::WasPurged);
/// let mut data = [0u8; 4];
/// let reader = |page: usize| UserSlice::new(a_addr + page * PAGE_SIZE, 1).reader();
/// for (page, byte) in data.iter_mut().enumerate() {
///     reader(page).read_slice(core::slice::from_mut(byte))?;
/// }
/// // Page 3, unpinned last, kept its data so far.
/// assert_eq!(data, [0, 0, 7, 7]);
/// assert_eq!(b.pin(PinRange { offset: page, len: page })?, PinResult::WasPurged);
/// assert_eq!(ashmem::purge_oldest(100), Purged { pages: 1, freed: 1 });
/// assert_eq!(a.pin(PinRange { offset: 3 * page, len: page })?, PinResult::WasPurged);
/// # Ok::<(), Error>(())
/// ```
///
/// Regions take the eight parts of the order in turn, so the first and the ninth of nine
/// created one after another share a part; the oldest still go first, within a part and
/// across parts:
///
/// ```
/// use kernel::ashmem::{self, PinRange};
/// # use kernel::{ashmem::Region, kunit, mm::virt::{prot, VmaNew}, page::PAGE_SIZE, sync::Arc};
/// # kernel::sync::global_lock! {
/// #     // SAFETY: `INIT` initialises it before its first use.
/// #     unsafe(uninit) static MAPPING: Mutex<Option<Arc<Region>>> = None;
/// # }
/// # static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// # INIT.call_once(|| {
/// #     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
/// #     // returns only after it has run.
/// #     unsafe { MAPPING.init() }
/// # });
/// # struct Device;
/// # impl kunit::MmapTest for Device {
/// #     fn mmap(vma: &VmaNew) -> Result {
/// #         MAPPING.lock().as_ref().ok_or(ENODEV)?.mmap(vma)
/// #     }
/// # }
/// # /// Returns a new region of `pages` pages, and where it is mapped.
/// # fn mapped(pages: usize) -> Result<(Arc<Region>, usize)> {
/// #     let region = Region::new()?;
/// #     region.set_size(pages * PAGE_SIZE)?;
/// #     *MAPPING.lock() = Some(region.clone());
/// #     // SAFETY: Examples are built into the kernel.
/// #     let device = unsafe { kunit::mmap_test_file::<Device>() };
/// #     let addr = device.and_then(|device| {
/// #         kunit::map_file(&device, 0, pages * PAGE_SIZE, prot::READ | prot::WRITE, true)
/// #     });
/// #     *MAPPING.lock() = None;
/// #     Ok((region, addr?))
/// # }
///
/// let (first, _) = mapped(6)?;
/// let mut others = KVec::new();
/// for _ in 0..7 {
///     others.push(mapped(2)?.0, GFP_KERNEL)?;
/// }
/// let (ninth, _) = mapped(3)?;
/// let page = PAGE_SIZE as u32;
/// // Four intervals of 1, 2, 3 and 4 pages, in this order.
/// first.unpin(PinRange { offset: 0, len: page })?;
/// others[0].unpin(PinRange { offset: 0, len: 0 })?;
/// ninth.unpin(PinRange { offset: 0, len: 0 })?;
/// first.unpin(PinRange { offset: 2 * page, len: 0 })?;
/// for pages in 1..=4 {
///     assert_eq!(ashmem::purge_oldest(1).pages, pages);
/// }
/// # Ok::<(), Error>(())
/// ```
///
/// A randomized model test: thousands of pins, unpins, status checks and purges over two
/// regions, checked against a plain per-page model of the pin state, the purge order, the
/// data and the memory in use.
///
/// ```
/// use kernel::{ashmem::{self, PinRange, PinResult, Purged}, uaccess::UserSlice};
/// # use kernel::{ashmem::Region, kunit, mm::virt::{prot, VmaNew}, page::PAGE_SIZE, sync::Arc};
/// # kernel::sync::global_lock! {
/// #     // SAFETY: `INIT` initialises it before its first use.
/// #     unsafe(uninit) static MAPPING: Mutex<Option<Arc<Region>>> = None;
/// # }
/// # static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// # INIT.call_once(|| {
/// #     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
/// #     // returns only after it has run.
/// #     unsafe { MAPPING.init() }
/// # });
/// # struct Device;
/// # impl kunit::MmapTest for Device {
/// #     fn mmap(vma: &VmaNew) -> Result {
/// #         MAPPING.lock().as_ref().ok_or(ENODEV)?.mmap(vma)
/// #     }
/// # }
/// # /// Returns a new region of `pages` pages, and where it is mapped.
/// # fn mapped(pages: usize) -> Result<(Arc<Region>, usize)> {
/// #     let region = Region::new()?;
/// #     region.set_size(pages * PAGE_SIZE)?;
/// #     *MAPPING.lock() = Some(region.clone());
/// #     // SAFETY: Examples are built into the kernel.
/// #     let device = unsafe { kunit::mmap_test_file::<Device>() };
/// #     let addr = device.and_then(|device| {
/// #         kunit::map_file(&device, 0, pages * PAGE_SIZE, prot::READ | prot::WRITE, true)
/// #     });
/// #     *MAPPING.lock() = None;
/// #     Ok((region, addr?))
/// # }
///
/// #[derive(Clone, Copy, Default)]
/// struct Page {
///     unpinned: bool,
///     purged: bool,
///     /// The age of the page's unpinned interval, while it may be purged.
///     age: Option<u64>,
///     /// Whether the page has memory.
///     resident: bool,
///     /// The byte last written at its start.
///     stamp: u8,
/// }
///
/// const SIZES: [usize; 2] = [64, 96];
/// const OPERATIONS: usize = 12_000;
/// let mut seed: u64 = 0x5eed_a5b3_2024_0002;
/// let mut random = move |below: usize| {
///     seed ^= seed << 13;
///     seed ^= seed >> 7;
///     seed ^= seed << 17;
///     (seed % below as u64) as usize
/// };
/// let read = |addr: usize| -> Result<u8> {
///     let mut byte = [0u8];
///     UserSlice::new(addr, 1).reader().read_slice(&mut byte)?;
///     Ok(byte[0])
/// };
///
/// // No other region has unpinned pages while the examples run.
/// assert_eq!(ashmem::purgeable_pages(), 0);
/// let regions = [mapped(SIZES[0])?, mapped(SIZES[1])?];
/// let mut model = [[Page::default(); 96]; 2];
/// let mut age = 0;
/// let mut counts = [0usize; 5];
/// for _ in 0..OPERATIONS {
///     let r = random(2);
///     let (region, addr) = &regions[r];
///     let pages = &mut model[r][..SIZES[r]];
///     let start = random(pages.len());
///     let longest = if random(4) == 0 { pages.len() - start } else { 8.min(pages.len() - start) };
///     let end = start + 1 + random(longest);
///     let (offset, len) = (start * PAGE_SIZE, (end - start) * PAGE_SIZE);
///     let range = PinRange { offset: offset as u32, len: len as u32 };
///     let op = match random(16) {
///         0..=5 => 0,
///         6..=10 => 1,
///         11..=12 => 2,
///         13..=14 => 3,
///         _ => 4,
///     };
///     counts[op] += 1;
///     match op {
///         0 => {
///             region.unpin(range)?;
///             // The range merges with the unpinned intervals it touches, and all get a new age.
///             age += 1;
///             let mut first = start;
///             while first > 0 && pages[first - 1].age.is_some() {
///                 first -= 1;
///             }
///             let mut last = end;
///             while last < pages.len() && pages[last].age.is_some() {
///                 last += 1;
///             }
///             for page in &mut pages[start..end] {
///                 page.unpinned = true;
///             }
///             for page in &mut pages[first..last] {
///                 page.age = Some(age);
///             }
///         }
///         1 => {
///             let was_purged = pages[start..end].iter().any(|page| page.purged);
///             let expected = if was_purged { PinResult::WasPurged } else { PinResult::NotPurged };
///             assert_eq!(region.pin(range)?, expected);
///             for (i, page) in pages[start..end].iter_mut().enumerate() {
///                 let at = addr + (start + i) * PAGE_SIZE;
///                 // Purged pages read as zeros; the others kept their data.
///                 assert_eq!(read(at)?, if page.purged { 0 } else { page.stamp });
///                 let stamp = 1 + random(255) as u8;
///                 UserSlice::new(at, 1).writer().write_slice(&[stamp])?;
///                 *page = Page { resident: true, stamp, ..Page::default() };
///             }
///         }
///         2 => {
///             let unpinned = pages[start..end].iter().any(|page| page.unpinned);
///             assert_eq!(region.is_unpinned(range)?, unpinned);
///         }
///         _ => {
///             let all = op == 4;
///             let wanted = if all { usize::MAX } else { 1 + random(40) };
///             // Every unpinned interval, oldest first.
///             let mut intervals = KVec::new();
///             for (r, pages) in model.iter().enumerate() {
///                 let mut page = 0;
///                 while page < SIZES[r] {
///                     let Some(age) = pages[page].age else {
///                         page += 1;
///                         continue;
///                     };
///                     let first = page;
///                     while page < SIZES[r] && pages[page].age == Some(age) {
///                         page += 1;
///                     }
///                     intervals.push((age, r, first..page), GFP_KERNEL)?;
///                 }
///             }
///             intervals.sort_unstable_by_key(|(age, _, pages)| (*age, pages.start));
///             let mut expected = Purged::default();
///             for (_, r, interval) in intervals.iter() {
///                 if expected.pages >= wanted {
///                     break;
///                 }
///                 for page in &mut model[*r][interval.clone()] {
///                     expected.freed += usize::from(page.resident);
///                     *page = Page { unpinned: true, purged: true, ..Page::default() };
///                 }
///                 expected.pages += interval.len();
///             }
///             if all {
///                 assert_eq!(ashmem::purge_all()?, expected.pages);
///             } else {
///                 assert_eq!(ashmem::purge_oldest(wanted), expected);
///             }
///         }
///     }
///     let purgeable = model.iter().flatten().filter(|page| page.age.is_some()).count();
///     assert_eq!(ashmem::purgeable_pages(), purgeable);
/// }
/// assert!(counts.iter().all(|&n| n > OPERATIONS / 32));
/// drop(regions);
/// assert_eq!(ashmem::purgeable_pages(), 0);
/// # Ok::<(), Error>(())
/// ```
pub fn purge_oldest(pages: usize) -> Purged {
    purge(pages, Mode::Reclaim)
}

/// Purges every unpinned interval of every region (`ASHMEM_PURGE_ALL_CACHES`), waiting for
/// regions that are busy, and returns how many pages were purgeable before.
///
/// Fails with [`EPERM`] unless the caller has `CAP_SYS_ADMIN`.
///
/// # Examples
///
/// ```
/// use kernel::ashmem::{self, PinRange, PinResult};
/// # use kernel::{ashmem::Region, kunit, mm::virt::{prot, VmaNew}, page::PAGE_SIZE, sync::Arc};
/// # kernel::sync::global_lock! {
/// #     // SAFETY: `INIT` initialises it before its first use.
/// #     unsafe(uninit) static MAPPING: Mutex<Option<Arc<Region>>> = None;
/// # }
/// # static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// # INIT.call_once(|| {
/// #     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
/// #     // returns only after it has run.
/// #     unsafe { MAPPING.init() }
/// # });
/// # struct Device;
/// # impl kunit::MmapTest for Device {
/// #     fn mmap(vma: &VmaNew) -> Result {
/// #         MAPPING.lock().as_ref().ok_or(ENODEV)?.mmap(vma)
/// #     }
/// # }
/// # /// Returns a new region of `pages` pages, and where it is mapped.
/// # fn mapped(pages: usize) -> Result<(Arc<Region>, usize)> {
/// #     let region = Region::new()?;
/// #     region.set_size(pages * PAGE_SIZE)?;
/// #     *MAPPING.lock() = Some(region.clone());
/// #     // SAFETY: Examples are built into the kernel.
/// #     let device = unsafe { kunit::mmap_test_file::<Device>() };
/// #     let addr = device.and_then(|device| {
/// #         kunit::map_file(&device, 0, pages * PAGE_SIZE, prot::READ | prot::WRITE, true)
/// #     });
/// #     *MAPPING.lock() = None;
/// #     Ok((region, addr?))
/// # }
///
/// let (region, _addr) = mapped(8)?;
/// let page = PAGE_SIZE as u32;
/// region.unpin(PinRange { offset: 0, len: 2 * page })?;
/// region.unpin(PinRange { offset: 6 * page, len: 0 })?;
/// // Tests run with every capability.
/// assert_eq!(ashmem::purge_all()?, 4);
/// assert_eq!(ashmem::purgeable_pages(), 0);
/// // Purged pages stay unpinned until pinned, and the pin reports the purge.
/// assert!(region.is_unpinned(PinRange { offset: 7 * page, len: page })?);
/// assert_eq!(region.pin(PinRange { offset: page, len: page })?, PinResult::WasPurged);
/// assert_eq!(region.pin(PinRange { offset: 2 * page, len: page })?, PinResult::NotPurged);
/// # Ok::<(), Error>(())
/// ```
pub fn purge_all() -> Result<usize> {
    if !capable(Capability::SYS_ADMIN) {
        return Err(EPERM);
    }
    let before = purgeable_pages();
    // Intervals unpinned meanwhile may be purged too, but do not keep this going.
    purge(before, Mode::All);
    Ok(before)
}

/// Locks a part of the purge order; for reclaim, only if it is free.
fn lock_part(part: &'static OrderPart, mode: Mode) -> Option<Guard<'static, Order, MutexBackend>> {
    match mode {
        Mode::Reclaim => part.order.try_lock(),
        Mode::All => Some(part.order.lock()),
    }
}

/// Starts purging the oldest interval of a region that is not busy, across every part of the
/// order, passing over at most [`BUSY_SKIP_LIMIT`] intervals of busy regions (and, for reclaim,
/// parts that are locked); reclaim usually takes at most [`PUNCH_CHUNK_PAGES`] of it. Returns the
/// region, the pages and the backing file's inode lock to punch the hole under; `busy` gets the
/// first busy region passed over.
fn start_oldest(
    mode: Mode,
    busy: &mut Option<Arc<Shared>>,
) -> Option<(Arc<Shared>, Range<usize>, ShmemInodeGuard)> {
    // For each part: the age of its oldest interval not passed over, and how many were.
    let mut next = [None; ORDER_PARTS];
    for (part, next) in ORDER.iter().zip(next.iter_mut()) {
        *next = lock_part(part, mode)
            .and_then(|order| order.age(0))
            .map(|age| (age, 0));
    }
    for _ in 0..BUSY_SKIP_LIMIT {
        let (_, i, skip) = next
            .iter()
            .enumerate()
            .filter_map(|(i, next)| next.map(|(age, skip)| (age, i, skip)))
            .min()?;
        let Some(mut order) = lock_part(&ORDER[i], mode) else {
            next[i] = None;
            continue;
        };
        let Some((region, entry_region, interval)) = order.oldest(skip) else {
            next[i] = None;
            continue;
        };
        // If the interval goes on past the next PMD-size boundary of the file, reclaim ends its
        // part there, inside no folio. The interval's own ends may still split one.
        let most = match mode {
            Mode::Reclaim => PUNCH_CHUNK_PAGES - interval.start % PUNCH_CHUNK_PAGES,
            Mode::All => usize::MAX,
        };
        // SAFETY: `entry_region` was read from the entry of `region` by `oldest`, under this
        // lock of its part, which is still held.
        let started =
            unsafe { Shared::try_start_purge(&region, entry_region, &mut order, interval, most) };
        match started {
            Ok((pages, inode)) => return Some((region, pages, inode)),
            Err(NotStarted::Busy) => {
                busy.get_or_insert(region);
            }
            // Passed over, not waited for.
            Err(NotStarted::Stale) => {}
        }
        next[i] = order.age(skip + 1).map(|age| (age, skip + 1));
    }
    None
}

/// Punches `interval` in chunks that end at PMD-size boundaries of the file, so that memory comes
/// back while a large interval is purged and no chunk ends inside a folio the next one frees, and
/// returns how many pages of memory that gave back.
fn punch_chunks(inode: &ShmemInodeGuard, interval: Range<usize>) -> usize {
    let mut freed = 0;
    let mut start = interval.start;
    while start < interval.end {
        let boundary = (start / PUNCH_CHUNK_PAGES + 1).saturating_mul(PUNCH_CHUNK_PAGES);
        let end = interval.end.min(boundary);
        let before = inode.resident_pages();
        let punched = inode.punch_hole(start * PAGE_SIZE, (end - start) * PAGE_SIZE);
        let after = inode.resident_pages();
        // A failed punch leaves the memory in place; the pages are still reported purged at
        // the next pin, so nothing is lost but memory. The file's count also moves with other
        // punches and faults: no more than the chunk is counted.
        if punched.is_ok() {
            freed += before.saturating_sub(after).min(end - start);
        }
        start = end;
    }
    freed
}

fn purge(pages: usize, mode: Mode) -> Purged {
    let mut done = Purged::default();
    while done.pages < pages {
        let mut busy = None;
        let Some((region, interval, inode)) = start_oldest(mode, &mut busy) else {
            match (mode, busy) {
                // Wait until the oldest busy region may be purged, then try again.
                (Mode::All, Some(region)) => region.wait_purgeable(),
                _ => break,
            }
            continue;
        };
        // Only the inode lock is held here: pins of other regions go on, and pins of this one
        // wait for `finish_purge()`. Filesystem reclaim is off: splitting a huge folio allocates
        // while this task holds the folio's lock, and reclaim entering the shrinker there could
        // purge other pages of that folio and wait for its lock. (In reclaim it is off already.)
        done.freed += memalloc_nofs(|| punch_chunks(&inode, interval.clone()));
        drop(inode);
        region.finish_purge();
        done.pages += interval.len();
    }
    done
}

/// The shrinker that purges regions under memory pressure.
///
/// It counts [`purgeable_pages`] and purges as [`purge_oldest`] does, unless the allocation
/// forbids filesystem code. It reports the pages it purged as
/// scanned and those whose memory it gave back as freed.
///
/// # Examples
///
/// ```
/// use kernel::{ashmem::{self, PinRange, PinResult}, c_str, uaccess::UserSlice};
/// # use kernel::{ashmem::Region, kunit, mm::virt::{prot, VmaNew}, page::PAGE_SIZE, sync::Arc};
/// # kernel::sync::global_lock! {
/// #     // SAFETY: `INIT` initialises it before its first use.
/// #     unsafe(uninit) static MAPPING: Mutex<Option<Arc<Region>>> = None;
/// # }
/// # static INIT: kernel::sync::Once = kernel::sync::Once::new();
/// # INIT.call_once(|| {
/// #     // SAFETY: `call_once` runs this once (KUnit may run an example again), and
/// #     // returns only after it has run.
/// #     unsafe { MAPPING.init() }
/// # });
/// # struct Device;
/// # impl kunit::MmapTest for Device {
/// #     fn mmap(vma: &VmaNew) -> Result {
/// #         MAPPING.lock().as_ref().ok_or(ENODEV)?.mmap(vma)
/// #     }
/// # }
/// # /// Returns a new region of `pages` pages, and where it is mapped.
/// # fn mapped(pages: usize) -> Result<(Arc<Region>, usize)> {
/// #     let region = Region::new()?;
/// #     region.set_size(pages * PAGE_SIZE)?;
/// #     *MAPPING.lock() = Some(region.clone());
/// #     // SAFETY: Examples are built into the kernel.
/// #     let device = unsafe { kunit::mmap_test_file::<Device>() };
/// #     let addr = device.and_then(|device| {
/// #         kunit::map_file(&device, 0, pages * PAGE_SIZE, prot::READ | prot::WRITE, true)
/// #     });
/// #     *MAPPING.lock() = None;
/// #     Ok((region, addr?))
/// # }
///
/// let (region, addr) = mapped(4)?;
/// UserSlice::new(addr, 4 * PAGE_SIZE).writer().write_slice(&[7u8; 4 * PAGE_SIZE])?;
/// let unpinned = PinRange { offset: 2 * PAGE_SIZE as u32, len: 0 };
/// region.unpin(unpinned)?;
/// let shrinker = ashmem::register_shrinker(c_str!("kunit-ashmem"))?;
///
/// // Reclaim everything that can be, as `echo 2 > /proc/sys/vm/drop_caches` does.
/// kunit::drop_slab_caches();
/// assert_eq!(ashmem::purgeable_pages(), 0);
/// assert_eq!(region.pin(unpinned)?, PinResult::WasPurged);
/// let mut data = [0xffu8; 4];
/// let reader = |page: usize| UserSlice::new(addr + page * PAGE_SIZE, 1).reader();
/// for (page, byte) in data.iter_mut().enumerate() {
///     reader(page).read_slice(core::slice::from_mut(byte))?;
/// }
/// assert_eq!(data, [7, 7, 0, 0]);
/// // Dropping the registration unregisters the shrinker.
/// drop(shrinker);
/// # Ok::<(), Error>(())
/// ```
pub struct PurgeShrinker;

impl Shrinker for PurgeShrinker {
    type Ptr = ();

    fn count_objects((): (), _sc: ShrinkControl<'_>) -> CountObjects {
        match purgeable_pages() {
            0 => CountObjects::EMPTY,
            pages => CountObjects::new(pages),
        }
    }

    fn scan_objects((): (), mut sc: ShrinkControl<'_>) -> ScanObjects {
        // Punching a hole enters shmem.
        if !sc.reclaim_fs_allowed() {
            return ScanObjects::STOP;
        }
        let purged = purge_oldest(sc.nr_to_scan());
        if purged.pages == 0 {
            return ScanObjects::STOP;
        }
        // Page cache freed outside the LRU lists: direct reclaim counts it only if told.
        sc.report_reclaimed_pages(purged.freed);
        sc.set_nr_scanned(purged.pages);
        ScanObjects::from_count(purged.freed)
    }
}

/// Registers a [`PurgeShrinker`] named `name`, the name it has under
/// `/sys/kernel/debug/shrinker/`; Android's is `android-ashmem`. Dropping the registration
/// unregisters it.
pub fn register_shrinker(name: &CStr) -> Result<ShrinkerRegistration<PurgeShrinker>> {
    let mut builder = ShrinkerBuilder::new(name)?;
    // A scan purges at least one page, however few it is asked for. Reclaim would otherwise wait
    // until it wants 128 pages (`SHRINK_BATCH`), which its gentlest passes never do while less
    // than 1 GiB is unpinned, and may OOM-kill first: its estimates do not count unpinned memory
    // as reclaimable. With the default cost per page, one `drop_caches` pass purges every
    // unpinned page.
    builder.set_batch(1);
    Ok(builder.register::<PurgeShrinker>(()))
}
