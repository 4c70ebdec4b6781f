// SPDX-License-Identifier: GPL-2.0

//! The pin state of a region's pages, in page ranges.
//!
//! Pages are pinned unless userspace unpinned them. Unpinned pages may be purged (their memory
//! given back); they stay unpinned until pinned again, and that pin reports the purge. Two sets of
//! disjoint page intervals, each a red-black tree keyed by first page, hold the state:
//!
//! - `unpinned`: pages unpinned by userspace, whose memory reclaim may take;
//! - `purged`: pages whose memory was taken and that were not pinned since.
//!
//! A page in both sets (unpinned again after a purge, without a pin in between) is purged. Every
//! operation costs O(log n) in the number of intervals, plus O(log n) for each interval it
//! merges or removes, and needs at most two new tree nodes (an unpin cut in pieces by kernel
//! holds, one per piece), which the caller reserves before it takes the region's lock
//! ([`RangeReservation`]). Pins report purges exactly: only pages that
//! were purged count, never their unpinned neighbours.
//!
//! Each unpinned interval has an age, the one its last unpin, or the release of the last hold over
//! it, gave it; pieces left by a pin, a purge or a hold keep it. An [`IntervalObserver`] hears of
//! every unpinned interval added or removed, which is how the order of purging across regions keeps
//! in step.
//!
//! The kernel may hold page ranges ([`UnpinnedRanges::hold`]), whatever userspace pins or
//! unpins: unpinned pages under a hold are *held* and may not be purged until the last hold over
//! them is released. Unpinned intervals are cut at the ends of every hold and marked held or
//! not, so releasing a hold only marks intervals, and needs no node and cannot fail. Userspace
//! sees held pages as unpinned, and a pin reports a purge exactly as without holds.

use super::purge::Entry;
use crate::{
    alloc::{Flags, KBox, KVec},
    error::{code::*, Result},
    rbtree::{RBTree, RBTreeNode, RBTreeNodeReservation},
};
use core::{ops::Range, ptr::NonNull};

/// An interval in a tree: its end (the page just past it) and, for unpinned ones, its age,
/// whether a kernel hold covers it and the observer's link to it.
#[derive(Clone, Copy)]
struct Span {
    end: usize,
    age: u64,
    held: bool,
    link: Link,
}

/// What an [`IntervalObserver`] keeps of an interval it was told of: the purge order's entry of
/// the interval, or nothing ([`Link::NONE`]). The ranges hand it back when the interval goes.
#[derive(Clone, Copy)]
pub struct Link(Option<NonNull<Entry>>);

// SAFETY: A `Link` is an address that only the purge order dereferences, under its own lock.
unsafe impl Send for Link {}
// SAFETY: A shared `Link` only gives out a copy of the address, which only the purge order
// dereferences, under its own lock.
unsafe impl Sync for Link {}

impl Link {
    /// No link: what observers other than the purge order's give.
    pub const NONE: Self = Self(None);

    pub(super) fn new(entry: NonNull<Entry>) -> Self {
        Self(Some(entry))
    }

    pub(super) fn entry(self) -> Option<NonNull<Entry>> {
        self.0
    }
}

/// How many kernel holds a region may have at once.
pub const MAX_HOLDS: usize = 64;

/// The page ranges the kernel holds in one region, in no order; the same range may be held more
/// than once.
pub struct Holds {
    ranges: [(usize, usize); MAX_HOLDS],
    len: usize,
}

impl Holds {
    /// Allocates room for [`MAX_HOLDS`] holds, to give to [`UnpinnedRanges::add_hold_room`]
    /// before the region's lock is taken.
    pub fn new(flags: Flags) -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                ranges: [(0, 0); MAX_HOLDS],
                len: 0,
            },
            flags,
        )?)
    }

    fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges[..self.len]
    }

    /// Returns whether a hold starts or ends at `page`.
    fn is_edge(&self, page: usize) -> bool {
        self.ranges()
            .iter()
            .any(|&(start, end)| start == page || end == page)
    }

    /// Returns whether a hold covers `page`.
    fn covers(&self, page: usize) -> bool {
        self.ranges()
            .iter()
            .any(|&(start, end)| start <= page && page < end)
    }

    /// Returns the first edge of a hold after `page`, if any.
    fn next_edge(&self, page: usize) -> Option<usize> {
        // A plain loop: at `-Os` an iterator chain here is an exported symbol whose mangled
        // name is longer than modpost takes.
        let mut next = None;
        for &(start, end) in self.ranges() {
            for edge in [start, end] {
                if edge > page && next.map_or(true, |next| edge < next) {
                    next = Some(edge);
                }
            }
        }
        next
    }
}

/// Hears of the changes to the unpinned intervals of an [`UnpinnedRanges`].
///
/// Every interval it is told was added is later reported removed, once, with the [`Link`] that
/// [`IntervalObserver::added`] returned for it, by the operation that merges, splits, pins,
/// purges, holds or releases it, or by [`UnpinnedRanges::remove_all_unpinned`]; ranges dropped
/// without that one report nothing, and what the links stand for leaks. An interval that a hold
/// covers is reported removed and added again, held; one that a release leaves uncovered is
/// reported removed and added again with the age the release gives. The pieces of an interval
/// split in place are added after it is reported removed. The unit type ignores them.
///
/// # Examples
///
/// ```
/// use core::ops::Range;
/// use kernel::ashmem::ranges::{IntervalObserver, Link, RangeReservation, UnpinnedRanges};
///
/// /// Keeps the total that the purge order keeps: the unpinned pages of a region.
/// struct Total(usize);
///
/// impl IntervalObserver for Total {
///     fn added(&mut self, pages: Range<usize>, _age: u64, held: bool) -> Link {
///         if !held {
///             self.0 += pages.len();
///         }
///         Link::NONE
///     }
///
///     unsafe fn removed(&mut self, pages: Range<usize>, _age: u64, held: bool, _link: Link) {
///         if !held {
///             self.0 -= pages.len();
///         }
///     }
/// }
///
/// let mut pages = UnpinnedRanges::new();
/// let mut total = Total(0);
/// assert!(pages.unpin(0..8, 1, &mut RangeReservation::new(GFP_KERNEL)?, &mut total).is_ok());
/// // The split removes 0..8 and adds 0..2 and 4..8, of the same age.
/// pages.pin(2..4, &mut RangeReservation::new(GFP_KERNEL)?, &mut total);
/// assert_eq!(total.0, 6);
/// // Purging part of an interval leaves the rest unpinned; without a spare node (or purged
/// // pages next to the part to merge with), all goes.
/// assert_eq!(pages.purge(4..8, 1, &mut RangeReservation::none(), &mut total), Some((4..8, 4)));
/// assert_eq!(total.0, pages.purgeable_pages());
/// pages.remove_all_unpinned(&mut total);
/// assert_eq!(total.0, 0);
/// # Ok::<(), Error>(())
/// ```
pub trait IntervalObserver {
    /// `pages` became an unpinned interval of age `age`, held by the kernel if `held`. Returns
    /// the link to hand back when it goes.
    fn added(&mut self, pages: Range<usize>, age: u64, held: bool) -> Link;

    /// The unpinned interval `pages`, of age `age` and held if `held`, is gone.
    ///
    /// # Safety
    ///
    /// `link` is what [`IntervalObserver::added`] returned for this interval (these pages, age
    /// and `held`), called on an observer given to the same ranges, and was not handed back
    /// since.
    unsafe fn removed(&mut self, pages: Range<usize>, age: u64, held: bool, link: Link);

    /// Returns whether the observer can hear of one more interval added than removed; an unpin
    /// in pieces stops before a piece otherwise.
    fn can_add(&self) -> bool {
        true
    }
}

impl IntervalObserver for () {
    fn added(&mut self, _pages: Range<usize>, _age: u64, _held: bool) -> Link {
        Link::NONE
    }

    unsafe fn removed(&mut self, _pages: Range<usize>, _age: u64, _held: bool, _link: Link) {}
}

/// Spare nodes (tree nodes, entries of the purge order), kept as a stack: in `N` fixed slots,
/// then in slots allocated beside them for as many more as a caller reserved. Taking and keeping
/// a node cost O(1).
///
/// # Invariants
///
/// The first `len` slots, the fixed ones first, hold a node; the others hold none.
pub(super) struct NodeSlots<T, const N: usize> {
    fixed: [Option<T>; N],
    more: KVec<Option<T>>,
    len: usize,
}

impl<T, const N: usize> NodeSlots<T, N> {
    /// Returns slots without nodes.
    pub(super) fn none() -> Self {
        // INVARIANT: No slot holds a node.
        Self {
            fixed: core::array::from_fn(|_| None),
            more: KVec::new(),
            len: 0,
        }
    }

    /// Allocates `count` nodes with `new`, with room for at least `N`.
    pub(super) fn with_nodes(
        flags: Flags,
        count: usize,
        new: impl Fn(Flags) -> Result<T>,
    ) -> Result<Self> {
        let mut slots = Self::none();
        let more = count.saturating_sub(N);
        slots.more = KVec::with_capacity(more, flags)?;
        for _ in 0..more {
            // Within the capacity: no allocation.
            slots.more.push(None, flags)?;
        }
        for _ in 0..count {
            // There is room for `count` nodes: none comes back.
            drop(slots.keep(new(flags)?));
        }
        Ok(slots)
    }

    /// Returns how many nodes the slots hold.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn slot(&mut self, index: usize) -> Option<&mut Option<T>> {
        match index.checked_sub(N) {
            None => self.fixed.get_mut(index),
            Some(index) => self.more.get_mut(index),
        }
    }

    /// Takes a node, if the slots hold one.
    #[inline]
    pub(super) fn take(&mut self) -> Option<T> {
        let last = self.len.checked_sub(1)?;
        let node = self.slot(last)?.take();
        // INVARIANT: The last slot that held a node holds none now.
        self.len = last;
        node
    }

    /// Keeps `node` if there is room, and returns it otherwise.
    #[inline]
    pub(super) fn keep(&mut self, node: T) -> Option<T> {
        let len = self.len;
        match self.slot(len) {
            // Always empty, by the invariants: nothing to drop.
            Some(slot @ None) => *slot = Some(node),
            _ => return Some(node),
        }
        // INVARIANT: The first empty slot holds a node now.
        self.len = len + 1;
        None
    }

    /// Moves the nodes of `other` into these slots, as far as they fit.
    pub(super) fn absorb(&mut self, other: &mut Self) {
        while let Some(node) = other.take() {
            if let Some(node) = self.keep(node) {
                // The slot it came from is free.
                drop(other.keep(node));
                return;
            }
        }
    }
}

/// Tree nodes reserved for operations on [`UnpinnedRanges`], before its lock is taken.
///
/// An operation needs at most two new nodes, but for an unpin cut in pieces by kernel holds,
/// which needs one per piece ([`UnpinnedRanges::pieces`]); the nodes it frees go back into the
/// reservation (up to four, or as many as it was made with), so that a reservation kept with the
/// ranges lets the next operation allocate nothing: a pin frees what the unpin after it needs.
pub struct RangeReservation {
    nodes: NodeSlots<RBTreeNodeReservation<usize, Span>, 4>,
}

/// How many new nodes one operation may need.
const RANGE_NODES_NEEDED: usize = 2;

impl RangeReservation {
    /// Reserves the nodes that any one operation may need.
    pub fn new(flags: Flags) -> Result<Self> {
        Self::with_nodes(flags, RANGE_NODES_NEEDED)
    }

    /// Returns a reservation without nodes, for a purge of a whole unpinned interval, which
    /// needs none: it moves the interval's node from one tree to the other. A purge of part of
    /// an interval next to purged pages needs none either.
    pub fn none() -> Self {
        Self {
            nodes: NodeSlots::none(),
        }
    }

    /// Reserves `count` nodes, at least those that any one operation but an unpin in pieces
    /// may need.
    pub fn with_nodes(flags: Flags, count: usize) -> Result<Self> {
        Ok(Self {
            nodes: NodeSlots::with_nodes(
                flags,
                count.max(RANGE_NODES_NEEDED),
                RBTreeNodeReservation::new,
            )?,
        })
    }

    /// Returns how many nodes the reservation holds.
    pub fn count(&self) -> usize {
        self.nodes.len()
    }

    /// Returns whether the reservation holds the nodes that any one operation may need, but for
    /// an unpin in more than two pieces.
    pub fn is_ready(&self) -> bool {
        self.count() >= RANGE_NODES_NEEDED
    }

    /// Allocates nodes until the reservation [is ready](Self::is_ready).
    pub fn refill(&mut self, flags: Flags) -> Result {
        for _ in self.count()..RANGE_NODES_NEEDED {
            // A reservation has room for more than `RANGE_NODES_NEEDED` nodes.
            drop(self.nodes.keep(RBTreeNodeReservation::new(flags)?));
        }
        Ok(())
    }

    /// Moves the nodes of `other` into this reservation, as far as they fit.
    pub fn absorb(&mut self, other: &mut Self) {
        self.nodes.absorb(&mut other.nodes);
    }

    /// Takes a node. Callers reserve what each operation needs, so this only returns [`None`]
    /// if this file has a bug, or for an unpin in pieces, which then stops (see
    /// [`UnpinnedRanges::unpin`]); other callers leave the trees as they were.
    #[inline]
    fn take(&mut self) -> Option<RBTreeNodeReservation<usize, Span>> {
        self.nodes.take()
    }

    /// Keeps a node that an operation freed, if there is room; it is freed otherwise.
    #[inline]
    fn give(&mut self, node: RBTreeNodeReservation<usize, Span>) {
        drop(self.nodes.keep(node));
    }
}

/// The unpinned and purged pages of one region.
///
/// # Invariants
///
/// Each tree maps the first page of an interval to the page just past it (and its age); the
/// intervals of a tree are non-empty and disjoint. Those of `purged` are not adjacent; those of
/// `unpinned` may be only where a kernel hold ends or ended. `holds` holds at most
/// [`MAX_HOLDS`] non-empty ranges; no interval of `unpinned` has an end of one of them strictly
/// inside it, and an interval is `held` exactly when a hold covers it. `unpinned_pages` is the
/// number of pages in `unpinned` that are not held. Each interval of `unpinned` has the [`Link`]
/// that the observer told of it returned, not yet handed back; those of `purged` have
/// [`Link::NONE`].
///
/// # Examples
///
/// ```
/// use kernel::ashmem::ranges::{RangeReservation, UnpinnedRanges};
///
/// let mut pages = UnpinnedRanges::new();
/// let mut res = RangeReservation::new(GFP_KERNEL)?;
///
/// assert_eq!(pages.unpin(0..4, 1, &mut res, &mut ()), Ok(0..4));
/// // Touching intervals merge, into one with the new age.
/// assert_eq!(pages.unpin(4..8, 2, &mut res, &mut ()), Ok(0..8));
/// assert!(pages.is_unpinned(3..4));
/// assert_eq!(pages.purgeable_pages(), 8);
///
/// // Reclaim purges pages 0 to 7; pinning the middle reports it and splits the rest.
/// assert_eq!(pages.purge(0..8, usize::MAX, &mut res, &mut ()), Some((0..8, 8)));
/// // Only unpinned intervals as they are can be purged.
/// assert_eq!(pages.purge(0..8, usize::MAX, &mut res, &mut ()), None);
/// assert_eq!(pages.purgeable_pages(), 0);
/// assert!(pages.pin(2..4, &mut res, &mut ()));
/// assert!(!pages.is_unpinned(2..4));
/// assert!(pages.is_unpinned(0..2) && pages.is_unpinned(4..8));
///
/// // Unpinned again without a purge: the pin reports nothing.
/// res.refill(GFP_KERNEL)?;
/// assert_eq!(pages.unpin(2..4, 3, &mut res, &mut ()), Ok(2..4));
/// assert!(pages.is_unpinned(2..4));
/// assert!(!pages.pin(2..4, &mut res, &mut ()));
///
/// // Reclaim purges an interval a chunk at a time. The first chunk takes a spare node; the
/// // next merges with it and needs none.
/// let mut res = RangeReservation::new(GFP_KERNEL)?;
/// assert_eq!(pages.unpin(10..20, 4, &mut res, &mut ()), Ok(10..20));
/// assert_eq!(pages.purge(10..20, 2, &mut res, &mut ()), Some((10..12, 2)));
/// let mut none = RangeReservation::none();
/// assert_eq!(pages.purge(12..20, 2, &mut none, &mut ()), Some((12..14, 2)));
/// assert!(pages.is_unpinned(14..20) && !pages.pin(16..20, &mut res, &mut ()));
/// assert!(pages.pin(10..14, &mut res, &mut ()));
/// // Pages 14 and 15.
/// assert_eq!(pages.purgeable_pages(), 2);
/// # Ok::<(), Error>(())
/// ```
///
/// A randomized model test: thousands of operations over 96 pages, each checked against a plain
/// per-page model.
///
/// ```
/// use kernel::ashmem::ranges::{RangeReservation, UnpinnedRanges};
///
/// #[derive(Clone, Copy, PartialEq)]
/// enum Page {
///     Pinned,
///     Unpinned,
///     Purged,
/// }
///
/// const PAGES: usize = 96;
/// const OPERATIONS: usize = 20_000;
/// let mut seed: u64 = 0x5eed_a5b3_2024_0001;
/// let mut random = move |below: usize| {
///     seed ^= seed << 13;
///     seed ^= seed >> 7;
///     seed ^= seed << 17;
///     (seed % below as u64) as usize
/// };
///
/// let mut model = [Page::Pinned; PAGES];
/// let mut pages = UnpinnedRanges::new();
/// let mut counts = [0usize; 4];
/// for _ in 0..OPERATIONS {
///     let start = random(PAGES);
///     let longest = if random(4) == 0 { PAGES - start } else { 8.min(PAGES - start) };
///     let end = start + 1 + random(longest);
///     let range = start..end;
///     let mut res = RangeReservation::new(GFP_KERNEL)?;
///     let op = random(4);
///     counts[op] += 1;
///     match op {
///         0 => {
///             assert!(pages.unpin(range.clone(), 0, &mut res, &mut ()).is_ok());
///             for page in &mut model[range] {
///                 if *page == Page::Pinned {
///                     *page = Page::Unpinned;
///                 }
///             }
///         }
///         1 => {
///             let was_purged = model[range.clone()].contains(&Page::Purged);
///             assert_eq!(pages.pin(range.clone(), &mut res, &mut ()), was_purged);
///             model[range].fill(Page::Pinned);
///         }
///         2 => {
///             let unpinned = model[range.clone()].iter().any(|p| *p != Page::Pinned);
///             assert_eq!(pages.is_unpinned(range), unpinned);
///         }
///         _ => {
///             // Reclaim purges unpinned intervals as the purge order hands them out, whole or
///             // the first pages of one; without a spare node, only next to purged pages.
///             if let Some(interval) = pages.unpinned_interval_at(random(PAGES)) {
///                 let most = if random(2) == 0 { usize::MAX } else { 1 + random(4) };
///                 let cut = interval.start.saturating_add(most);
///                 let spare = random(2) == 0;
///                 let near = interval.start.saturating_sub(1)..=cut.min(PAGES - 1);
///                 let merges = model[near].contains(&Page::Purged);
///                 let end = if spare || merges { interval.end.min(cut) } else { interval.end };
///                 let purged = interval.start..end;
///                 let freed = model[purged.clone()].iter().filter(|p| **p == Page::Unpinned);
///                 let freed = freed.count();
///                 let mut none = RangeReservation::none();
///                 let res = if spare { &mut res } else { &mut none };
///                 let result = pages.purge(interval.clone(), most, res, &mut ());
///                 assert_eq!(result, Some((purged.clone(), freed)));
///                 model[purged].fill(Page::Purged);
///             }
///         }
///     }
/// }
/// assert!(counts.iter().all(|&n| n > OPERATIONS / 8));
/// for (page, state) in model.iter().enumerate() {
///     assert_eq!(pages.is_unpinned(page..page + 1), *state != Page::Pinned);
/// }
/// # Ok::<(), Error>(())
/// ```
pub struct UnpinnedRanges {
    unpinned: RBTree<usize, Span>,
    purged: RBTree<usize, Span>,
    unpinned_pages: usize,
    holds: Option<KBox<Holds>>,
}

impl Default for UnpinnedRanges {
    fn default() -> Self {
        Self::new()
    }
}

impl UnpinnedRanges {
    /// Returns the state of a region whose pages are all pinned.
    pub fn new() -> Self {
        // INVARIANT: Empty trees, no holds.
        Self {
            unpinned: RBTree::new(),
            purged: RBTree::new(),
            unpinned_pages: 0,
            holds: None,
        }
    }

    /// Unpins `pages`: reclaim may purge them from now on, but for pages a kernel hold covers.
    /// Purged pages among them stay purged.
    ///
    /// Returns the interval now holding them (of the last piece, if in pieces), merged with the
    /// unpinned pages it overlaps or touches; it gets age `age`. Where holds start or end inside
    /// `pages`, it is unpinned in [pieces](UnpinnedRanges::pieces) between them, each needing a
    /// node of `res` and a new node of the observer: callers reserve them all before, so that
    /// the unpin is done whole. If either runs out, it returns `Err(page)` with the pages before
    /// `page` unpinned. Without holds, a reservation that [is ready](RangeReservation::is_ready)
    /// always does.
    pub fn unpin(
        &mut self,
        pages: Range<usize>,
        age: u64,
        res: &mut RangeReservation,
        observer: &mut impl IntervalObserver,
    ) -> core::result::Result<Range<usize>, usize> {
        if self.holds.as_deref().map_or(true, |holds| holds.len == 0) {
            // No holds: one piece, as before holds existed.
            let node = res.take().ok_or(pages.start)?;
            let span = Span {
                end: pages.end,
                age,
                held: false,
                link: Link::NONE,
            };
            let merged =
                insert_merged(&mut self.unpinned, pages, span, node, res, observer, |_| {
                    true
                });
            self.unpinned_pages += merged.added;
            return Ok(merged.interval);
        }
        let mut start = pages.start;
        let mut interval = pages.clone();
        while start < pages.end {
            let holds = self.holds.as_deref();
            let end = holds
                .and_then(|holds| holds.next_edge(start))
                .map_or(pages.end, |edge| edge.min(pages.end));
            let held = holds.is_some_and(|holds| holds.covers(start));
            if !observer.can_add() {
                return Err(start);
            }
            let Some(node) = res.take() else {
                return Err(start);
            };
            // INVARIANT: The piece lies between two edges of holds, and merges with no interval
            // across one, so no interval straddles an edge and each is held or not as a whole.
            let merged = insert_merged(
                &mut self.unpinned,
                start..end,
                Span {
                    end,
                    age,
                    held,
                    link: Link::NONE,
                },
                node,
                res,
                observer,
                |page| holds.map_or(true, |holds| !holds.is_edge(page)),
            );
            if !held {
                self.unpinned_pages += merged.added;
            }
            interval = merged.interval;
            start = end;
        }
        Ok(interval)
    }

    /// Returns how many pieces an unpin of `pages` is cut into by the ends of kernel holds: it
    /// needs one node of a [`RangeReservation`] and one new node of the observer for each.
    #[inline]
    pub fn pieces(&self, pages: Range<usize>) -> usize {
        let Some(holds) = self.holds.as_deref() else {
            return 1;
        };
        let mut pieces = 1;
        let mut at = pages.start;
        while let Some(edge) = holds.next_edge(at).filter(|&edge| edge < pages.end) {
            pieces += 1;
            at = edge;
        }
        pieces
    }

    /// Pins `pages`, and returns whether any of them was purged while unpinned.
    pub fn pin(
        &mut self,
        pages: Range<usize>,
        res: &mut RangeReservation,
        observer: &mut impl IntervalObserver,
    ) -> bool {
        if pages.is_empty() {
            return false;
        }
        let unpinned = remove_range(&mut self.unpinned, pages.clone(), res, observer);
        self.unpinned_pages -= unpinned.not_held;
        // Usually nothing was purged: a look at the tree's first node is cheaper than a search.
        self.purged.cursor_front().is_some()
            && remove_range(&mut self.purged, pages, res, &mut ()).pages != 0
    }

    /// Returns whether the region has room for another hold, and takes `room` if it has none
    /// yet; `room` comes back if not needed.
    pub fn add_hold_room(&mut self, room: KBox<Holds>) -> Option<KBox<Holds>> {
        if self.holds.is_some() {
            return Some(room);
        }
        self.holds = Some(room);
        None
    }

    /// Returns whether the next [`UnpinnedRanges::hold`] needs [`Holds`] room given first.
    pub fn needs_hold_room(&self) -> bool {
        self.holds.is_none()
    }

    /// Holds `pages` for the kernel: until [`UnpinnedRanges::release`], no page of them is
    /// handed out for purging, whether userspace unpins it or not. Returns whether any of them was
    /// purged; they stay purged for userspace, whose next pin over them reports it.
    ///
    /// Needs [`Holds`] room (see [`UnpinnedRanges::needs_hold_room`]) and the two range nodes of
    /// a ready `res`; the observer needs two new nodes. Fails with [`EINVAL`] for empty `pages`,
    /// with [`ENOSPC`] if the region already has [`MAX_HOLDS`] holds, and with [`ENOMEM`]
    /// without room or nodes, changing nothing. Costs O(log n) for each interval under `pages`,
    /// as [`UnpinnedRanges::release`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::ashmem::ranges::{Holds, RangeReservation, UnpinnedRanges};
    ///
    /// let mut pages = UnpinnedRanges::new();
    /// let mut res = RangeReservation::new(GFP_KERNEL)?;
    /// assert!(pages.needs_hold_room());
    /// assert_eq!(pages.hold(2..6, &mut res, &mut ()), Err(ENOMEM));
    /// assert!(pages.add_hold_room(Holds::new(GFP_KERNEL)?).is_none());
    /// assert_eq!(pages.hold(2..6, &mut res, &mut ()), Ok(false));
    ///
    /// // Userspace unpins pages 0 to 9: the held ones are unpinned but not purgeable. The
    /// // unpin takes a node for each piece between the ends of holds; two nodes do two pieces.
    /// assert_eq!(pages.pieces(0..10), 3);
    /// res.refill(GFP_KERNEL)?;
    /// assert_eq!(pages.unpin(0..10, 1, &mut res, &mut ()), Err(6));
    /// let mut res = RangeReservation::with_nodes(GFP_KERNEL, pages.pieces(6..10))?;
    /// assert_eq!(pages.unpin(6..10, 1, &mut res, &mut ()), Ok(6..10));
    /// assert!(pages.is_unpinned(3..4));
    /// assert_eq!(pages.purgeable_pages(), 6);
    /// // Purging hands out the first interval not held, 0 to 1, then 6 to 9.
    /// assert_eq!(pages.unpinned_interval_at(0), Some(0..2));
    /// assert_eq!(pages.unpinned_interval_at(2), Some(6..10));
    /// assert_eq!(pages.purge(6..10, usize::MAX, &mut res, &mut ()), Some((6..10, 4)));
    ///
    /// // A hold over purged pages reports them; they stay purged for userspace.
    /// res.refill(GFP_KERNEL)?;
    /// assert_eq!(pages.hold(5..8, &mut res, &mut ()), Ok(true));
    /// pages.release(2..6, 2, &mut ());
    /// // Pages 2 to 4 are purgeable again; 5 is still held.
    /// assert_eq!(pages.purgeable_pages(), 5);
    /// pages.release(5..8, 3, &mut ());
    /// assert_eq!(pages.purgeable_pages(), 6);
    /// res.refill(GFP_KERNEL)?;
    /// assert!(pages.pin(6..7, &mut res, &mut ()));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// A randomized model test with holds: thousands of operations over 64 pages, each checked
    /// against a plain per-page model, with an observer that counts what the purge order would.
    ///
    /// ```
    /// use core::ops::Range;
    /// use kernel::ashmem::ranges::{
    ///     Holds, IntervalObserver, Link, RangeReservation, UnpinnedRanges,
    /// };
    ///
    /// #[derive(Clone, Copy, Default)]
    /// struct Page {
    ///     unpinned: bool,
    ///     purged: bool,
    ///     holds: usize,
    /// }
    ///
    /// /// The pages the purge order would hold, and those of held intervals.
    /// #[derive(Default)]
    /// struct Order {
    ///     purgeable: usize,
    ///     held: usize,
    /// }
    ///
    /// impl IntervalObserver for Order {
    ///     fn added(&mut self, pages: Range<usize>, _age: u64, held: bool) -> Link {
    ///         *(if held { &mut self.held } else { &mut self.purgeable }) += pages.len();
    ///         Link::NONE
    ///     }
    ///
    ///     unsafe fn removed(&mut self, pages: Range<usize>, _age: u64, held: bool, _link: Link) {
    ///         *(if held { &mut self.held } else { &mut self.purgeable }) -= pages.len();
    ///     }
    /// }
    ///
    /// const PAGES: usize = 64;
    /// const HOLDS: usize = 8;
    /// const OPERATIONS: usize = 10_000;
    /// let mut seed: u64 = 0x5eed_a5b3_2026_1201;
    /// let mut random = move |below: usize| {
    ///     seed ^= seed << 13;
    ///     seed ^= seed >> 7;
    ///     seed ^= seed << 17;
    ///     (seed % below as u64) as usize
    /// };
    ///
    /// let mut model = [Page::default(); PAGES];
    /// let mut holds = [(0, 0); HOLDS];
    /// let mut held = 0;
    /// let mut pages = UnpinnedRanges::new();
    /// pages.add_hold_room(Holds::new(GFP_KERNEL)?);
    /// let mut order = Order::default();
    /// let mut counts = [0usize; 5];
    /// for _ in 0..OPERATIONS {
    ///     let start = random(PAGES);
    ///     let end = start + 1 + random(12.min(PAGES - start));
    ///     let range = start..end;
    ///     let mut res = RangeReservation::new(GFP_KERNEL)?;
    ///     let op = random(5);
    ///     counts[op] += 1;
    ///     match op {
    ///         0 => {
    ///             // Pieces between the ends of holds each take a node, reserved first.
    ///             let pieces = pages.pieces(range.clone());
    ///             let mut res = RangeReservation::with_nodes(GFP_KERNEL, pieces)?;
    ///             assert!(pages.unpin(range.clone(), 0, &mut res, &mut order).is_ok());
    ///             model[range].iter_mut().for_each(|page| page.unpinned = true);
    ///         }
    ///         1 => {
    ///             let was_purged = model[range.clone()].iter().any(|page| page.purged);
    ///             assert_eq!(pages.pin(range.clone(), &mut res, &mut order), was_purged);
    ///             for page in &mut model[range] {
    ///                 page.unpinned = false;
    ///                 page.purged = false;
    ///             }
    ///         }
    ///         2 if held < HOLDS => {
    ///             let was_purged = model[range.clone()].iter().any(|page| page.purged);
    ///             assert_eq!(pages.hold(range.clone(), &mut res, &mut order), Ok(was_purged));
    ///             holds[held] = (range.start, range.end);
    ///             held += 1;
    ///             model[range].iter_mut().for_each(|page| page.holds += 1);
    ///         }
    ///         2 | 3 if held > 0 => {
    ///             let index = random(held);
    ///             let (start, end) = holds[index];
    ///             held -= 1;
    ///             holds[index] = holds[held];
    ///             pages.release(start..end, 1, &mut order);
    ///             model[start..end].iter_mut().for_each(|page| page.holds -= 1);
    ///         }
    ///         _ => {
    ///             // Purging only ever gets intervals no hold covers.
    ///             if let Some(interval) = pages.unpinned_interval_at(random(PAGES)) {
    ///                 let model = &mut model[interval.clone()];
    ///                 assert!(model.iter().all(|page| page.unpinned && page.holds == 0));
    ///                 let freed = model.iter().filter(|page| !page.purged).count();
    ///                 let most = usize::MAX;
    ///                 let result = pages.purge(interval.clone(), most, &mut res, &mut order);
    ///                 assert_eq!(result, Some((interval, freed)));
    ///                 for page in model {
    ///                     page.unpinned = false;
    ///                     page.purged = true;
    ///                 }
    ///             }
    ///         }
    ///     }
    ///     let purgeable = model.iter().filter(|page| page.unpinned && page.holds == 0).count();
    ///     let unpinned = model.iter().filter(|page| page.unpinned).count();
    ///     assert_eq!(pages.purgeable_pages(), purgeable);
    ///     assert_eq!(order.purgeable, purgeable);
    ///     assert_eq!(order.held, unpinned - purgeable);
    /// }
    /// assert!(counts.iter().all(|&n| n > OPERATIONS / 10));
    /// for (page, state) in model.iter().enumerate() {
    ///     let unpinned = state.unpinned || state.purged;
    ///     assert_eq!(pages.is_unpinned(page..page + 1), unpinned);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn hold(
        &mut self,
        pages: Range<usize>,
        res: &mut RangeReservation,
        observer: &mut impl IntervalObserver,
    ) -> Result<bool> {
        if pages.is_empty() {
            return Err(EINVAL);
        }
        let holds = self.holds.as_deref_mut().ok_or(ENOMEM)?;
        if holds.len == MAX_HOLDS {
            return Err(ENOSPC);
        }
        if !res.is_ready() {
            return Err(ENOMEM);
        }
        // INVARIANT: Cutting the intervals at the new edges first keeps every interval between
        // edges of holds.
        split_at(&mut self.unpinned, pages.start, res, observer);
        split_at(&mut self.unpinned, pages.end, res, observer);
        holds.ranges[holds.len] = (pages.start, pages.end);
        holds.len += 1;
        let mut newly_held = 0;
        mark_held(
            &mut self.unpinned,
            pages.clone(),
            observer,
            |_| true,
            None,
            &mut newly_held,
        );
        self.unpinned_pages -= newly_held;
        Ok(overlaps(&mut self.purged, pages))
    }

    /// Releases a hold of `pages` that [`UnpinnedRanges::hold`] took. Unpinned pages that no other
    /// hold covers may be purged again, as if unpinned now: their intervals get age `age`. Needs
    /// no node, and does nothing if no hold has exactly these pages.
    pub fn release(&mut self, pages: Range<usize>, age: u64, observer: &mut impl IntervalObserver) {
        let Some(holds) = self.holds.as_deref_mut() else {
            return;
        };
        let Some(index) = holds
            .ranges()
            .iter()
            .position(|&(start, end)| start == pages.start && end == pages.end)
        else {
            return;
        };
        holds.len -= 1;
        holds.ranges[index] = holds.ranges[holds.len];
        let holds = &*holds;
        let mut released = 0;
        // INVARIANT: Each interval under the released hold lies between edges of holds, so
        // another hold covers all of it or none.
        mark_held(
            &mut self.unpinned,
            pages,
            observer,
            |start| holds.covers(start),
            Some(age),
            &mut released,
        );
        self.unpinned_pages += released;
    }

    /// Returns whether any page of `pages` is unpinned (purged or not).
    pub fn is_unpinned(&mut self, pages: Range<usize>) -> bool {
        overlaps(&mut self.unpinned, pages.clone()) || overlaps(&mut self.purged, pages)
    }

    /// Purges the first `most` pages (at least one) of `interval`, an unpinned interval as the
    /// purge order hands it out: they move to the purged pages, and the rest of the interval stays
    /// unpinned with its age. Returns the pages purged and how many of them were not purged
    /// already, or [`None`], changing nothing, if `interval` is not an unpinned interval.
    ///
    /// Purging a whole interval moves its node and needs no other. Purging part of one needs a
    /// node for the rest: from `res`, or the node of a purged interval that the purged pages
    /// merge with (so reclaim, which takes an interval a chunk at a time, needs a spare node for
    /// the first chunk only); without either, the whole interval is purged. Nodes that merging
    /// frees go to `res`.
    pub fn purge(
        &mut self,
        interval: Range<usize>,
        most: usize,
        res: &mut RangeReservation,
        observer: &mut impl IntervalObserver,
    ) -> Option<(Range<usize>, usize)> {
        let (age, link) = match self.unpinned.get(&interval.start) {
            Some(span) if span.end == interval.end && !span.held => (span.age, span.link),
            _ => return None,
        };
        let node = self
            .unpinned
            .remove_node(&interval.start)?
            .into_reservation();
        // SAFETY: The link of the interval just taken out of the tree, as `added` returned it.
        unsafe { observer.removed(interval.clone(), age, false, link) };
        let cut = interval.start.saturating_add(most.max(1));
        // Merging with a purged interval gives `res` that interval's node.
        let split = cut < interval.end
            && (res.count() != 0
                || last_before(&mut self.purged, cut.saturating_add(1))
                    .is_some_and(|(purged, _)| purged.end >= interval.start));
        let pages = if split {
            interval.start..cut
        } else {
            interval.clone()
        };
        // INVARIANT: `pages` leave `unpinned`; the rest goes back below.
        self.unpinned_pages -= pages.len();
        let span = Span {
            end: pages.end,
            age: 0,
            held: false,
            link: Link::NONE,
        };
        let merged = insert_merged(
            &mut self.purged,
            pages.clone(),
            span,
            node,
            res,
            &mut (),
            |_| true,
        );
        if split {
            let rest = cut..interval.end;
            match res.take() {
                // INVARIANT: The rest stays where it was, with its age, not held.
                Some(node) => {
                    let link = observer.added(rest.clone(), age, false);
                    self.unpinned
                        .insert(interval_node(node, rest, age, false, link));
                }
                // Only reachable through a bug (`split` ensured a node): the rest is pinned.
                None => self.unpinned_pages -= rest.len(),
            }
        }
        Some((pages, merged.added))
    }

    /// Removes every unpinned interval and tells `observer`, as the region goes away.
    pub fn remove_all_unpinned(&mut self, observer: &mut impl IntervalObserver) {
        for (start, span) in self.unpinned.iter() {
            // SAFETY: The span's link, as `added` returned it; the tree is emptied below.
            unsafe { observer.removed(*start..span.end, span.age, span.held, span.link) };
        }
        // INVARIANT: An empty tree, and no unpinned pages.
        self.unpinned = RBTree::new();
        self.unpinned_pages = 0;
    }

    /// Returns how many pages reclaim may purge: the unpinned ones not purged since, plus any
    /// unpinned again after a purge without a pin in between (purging those frees nothing), but
    /// none that a kernel hold covers.
    pub fn purgeable_pages(&self) -> usize {
        self.unpinned_pages
    }

    /// Returns the unpinned interval not held that holds `page`, or the first one after it, if
    /// any: one that the purge order could hand out.
    pub fn unpinned_interval_at(&mut self, page: usize) -> Option<Range<usize>> {
        let mut cursor = match last_before(&mut self.unpinned, page.saturating_add(1)) {
            Some((before, _)) if before.end > page => {
                self.unpinned.cursor_lower_bound(&before.start)?
            }
            _ => self.unpinned.cursor_lower_bound(&page)?,
        };
        loop {
            let (start, span) = cursor.current();
            if !span.held {
                return Some(*start..span.end);
            }
            cursor = cursor.move_next()?;
        }
    }
}

/// Returns the interval of `tree` with the greatest start below `page`, and its age.
fn last_before(tree: &mut RBTree<usize, Span>, page: usize) -> Option<(Range<usize>, u64)> {
    match tree.cursor_lower_bound(&page) {
        Some(cursor) => cursor
            .peek_prev()
            .map(|(start, span)| (*start..span.end, span.age)),
        None => tree.cursor_back().map(|cursor| {
            let (start, span) = cursor.current();
            (*start..span.end, span.age)
        }),
    }
}

/// Fills `node` with the interval `pages` of age `age`, held if `held`, with the observer's
/// `link` to it.
#[inline]
fn interval_node(
    node: RBTreeNodeReservation<usize, Span>,
    pages: Range<usize>,
    age: u64,
    held: bool,
    link: Link,
) -> RBTreeNode<usize, Span> {
    node.into_node(
        pages.start,
        Span {
            end: pages.end,
            age,
            held,
            link,
        },
    )
}

/// Cuts the interval of `tree` that holds `page` past its start in two at `page`, with a node
/// from `res`; without one (a bug, as the caller checked), leaves it whole.
fn split_at(
    tree: &mut RBTree<usize, Span>,
    page: usize,
    res: &mut RangeReservation,
    observer: &mut impl IntervalObserver,
) {
    let Some(taken) = take_last_before(tree, page, |i| i.end > page, |_| false) else {
        return;
    };
    let Taken {
        interval,
        age,
        held,
        link,
        node,
        ..
    } = taken;
    let Some(extra) = res.take() else {
        tree.insert(interval_node(node, interval, age, held, link));
        return;
    };
    let (left, right) = (interval.start..page, page..interval.end);
    // SAFETY: The link of the interval taken out of the tree, which is gone now.
    unsafe { observer.removed(interval, age, held, link) };
    let left_link = observer.added(left.clone(), age, held);
    let right_link = observer.added(right.clone(), age, held);
    tree.insert(interval_node(node, left, age, held, left_link));
    tree.insert(interval_node(extra, right, age, held, right_link));
}

/// Sets `held` to `held_now(start)` for every interval of `tree` that starts in `pages`, telling
/// `observer`, and adds the pages of those that changed to `changed`. Those no longer held get
/// age `released`, if given.
fn mark_held(
    tree: &mut RBTree<usize, Span>,
    pages: Range<usize>,
    observer: &mut impl IntervalObserver,
    held_now: impl Fn(usize) -> bool,
    released: Option<u64>,
    changed: &mut usize,
) {
    let Some(mut cursor) = tree.cursor_lower_bound(&pages.start) else {
        return;
    };
    loop {
        let (start, span) = cursor.current_mut();
        if *start >= pages.end {
            return;
        }
        let held = held_now(*start);
        if span.held != held {
            let interval = *start..span.end;
            // SAFETY: The span's link, as `added` returned it; it is replaced below.
            unsafe { observer.removed(interval.clone(), span.age, span.held, span.link) };
            span.held = held;
            if !held {
                span.age = released.unwrap_or(span.age);
            }
            span.link = observer.added(interval.clone(), span.age, held);
            *changed += interval.len();
        }
        cursor = match cursor.move_next() {
            Some(next) => next,
            None => return,
        };
    }
}

/// Returns how many pages `a` and `b` have in common.
fn overlap(a: &Range<usize>, b: &Range<usize>) -> usize {
    a.end.min(b.end).saturating_sub(a.start.max(b.start))
}

fn overlaps(tree: &mut RBTree<usize, Span>, pages: Range<usize>) -> bool {
    last_before(tree, pages.end).is_some_and(|(interval, _)| interval.end > pages.start)
}

/// An interval taken out of a tree by [`take_last_before`].
struct Taken {
    interval: Range<usize>,
    age: u64,
    held: bool,
    link: Link,
    node: RBTreeNodeReservation<usize, Span>,
    /// The end of the interval before it, if there is one and it was asked for.
    prev_end: Option<usize>,
}

/// Takes the interval of `tree` with the greatest start below `page` out of the tree if `wanted`
/// accepts it. One descent of the tree finds it, removes it and, if `before` asks for it, looks
/// at the one before it.
#[inline]
fn take_last_before(
    tree: &mut RBTree<usize, Span>,
    page: usize,
    wanted: impl Fn(&Range<usize>) -> bool,
    before: impl Fn(&Range<usize>) -> bool,
) -> Option<Taken> {
    let (interval, span, prev_end, node) = match tree.cursor_lower_bound(&page) {
        Some(mut cursor) => {
            let (start, span) = cursor.peek_prev()?;
            let (interval, span) = (*start..span.end, *span);
            if !wanted(&interval) {
                return None;
            }
            let node = cursor.remove_prev()?;
            let prev_end = if before(&interval) {
                cursor.peek_prev().map(|(_, span)| span.end)
            } else {
                None
            };
            (interval, span, prev_end, node)
        }
        None => {
            let cursor = tree.cursor_back()?;
            let (start, span) = cursor.current();
            let (interval, span) = (*start..span.end, *span);
            if !wanted(&interval) {
                return None;
            }
            let prev_end = if before(&interval) {
                cursor.peek_prev().map(|(_, span)| span.end)
            } else {
                None
            };
            let (_, node) = cursor.remove_current();
            (interval, span, prev_end, node)
        }
    };
    Some(Taken {
        interval,
        age: span.age,
        held: span.held,
        link: span.link,
        node: node.into_reservation(),
        prev_end,
    })
}

/// Pages of a tree that [`remove_range`] removed.
#[derive(Default)]
struct Removed {
    pages: usize,
    not_held: usize,
}

/// Removes `pages` from `tree` and returns how many pages of the tree it removed.
#[inline]
fn remove_range(
    tree: &mut RBTree<usize, Span>,
    pages: Range<usize>,
    res: &mut RangeReservation,
    observer: &mut impl IntervalObserver,
) -> Removed {
    let mut removed = Removed::default();
    let mut more = true;
    // From the last interval that overlaps `pages` back to the first.
    while more {
        // The interval before one that starts at or before `pages.start` ends at or before it:
        // only look at it after one that starts later.
        let wanted = |i: &Range<usize>| i.end > pages.start;
        let Some(taken) = take_last_before(tree, pages.end, wanted, |i| i.start > pages.start)
        else {
            break;
        };
        let Taken {
            interval,
            age,
            held,
            link,
            node,
            prev_end,
        } = taken;
        more = prev_end.is_some_and(|end| end > pages.start);
        let left = interval.start..pages.start;
        let right = pages.end..interval.end;
        let extra = if !left.is_empty() && !right.is_empty() {
            let Some(extra) = res.take() else {
                // Only reachable through a bug (see `RangeReservation::take`).
                tree.insert(interval_node(node, interval, age, held, link));
                return removed;
            };
            Some(extra)
        } else {
            None
        };
        let gone = overlap(&interval, &pages);
        removed.pages += gone;
        if !held {
            removed.not_held += gone;
        }
        // SAFETY: The link of the interval taken out of the tree, which is gone now.
        unsafe { observer.removed(interval, age, held, link) };
        // INVARIANT: What remains of the interval is re-inserted where it was, so the
        // intervals stay disjoint and apart.
        if let Some(extra) = extra {
            let left_link = observer.added(left.clone(), age, held);
            let right_link = observer.added(right.clone(), age, held);
            tree.insert(interval_node(node, left, age, held, left_link));
            tree.insert(interval_node(extra, right, age, held, right_link));
        } else if !left.is_empty() {
            let link = observer.added(left.clone(), age, held);
            tree.insert(interval_node(node, left, age, held, link));
        } else if !right.is_empty() {
            let link = observer.added(right.clone(), age, held);
            tree.insert(interval_node(node, right, age, held, link));
        } else {
            res.give(node);
        }
    }
    removed
}

struct Merged {
    interval: Range<usize>,
    added: usize,
}

/// Adds `pages` to `tree` with the age and `held` of `span` in `node`, merging the intervals it
/// overlaps, and those it touches at a page where `may_join` allows; their nodes go to `res`.
/// Returns the merged interval and how many pages were new to the tree.
#[inline]
fn insert_merged(
    tree: &mut RBTree<usize, Span>,
    pages: Range<usize>,
    span: Span,
    node: RBTreeNodeReservation<usize, Span>,
    res: &mut RangeReservation,
    observer: &mut impl IntervalObserver,
    may_join: impl Fn(usize) -> bool,
) -> Merged {
    let mut start = pages.start;
    let mut end = pages.end;
    let mut covered = 0;
    let mut more = true;
    let joins =
        |prev_end: usize, start: usize| prev_end > start || (prev_end == start && may_join(start));
    // Intervals that overlap or touch `pages` start at or before its end: from the last back.
    while more {
        let below = if may_join(end) {
            end.saturating_add(1)
        } else {
            end
        };
        let Some(taken) = take_last_before(tree, below, |i| joins(i.end, start), |_| true) else {
            break;
        };
        let interval = taken.interval;
        covered += overlap(&interval, &pages);
        start = start.min(interval.start);
        end = end.max(interval.end);
        more = taken
            .prev_end
            .is_some_and(|prev_end| joins(prev_end, start));
        res.give(taken.node);
        // SAFETY: The link of the interval taken out of the tree, which is gone now.
        unsafe { observer.removed(interval, taken.age, taken.held, taken.link) };
    }
    let link = observer.added(start..end, span.age, span.held);
    // INVARIANT: Every interval that overlapped or touched the new one where it may was merged
    // into it.
    tree.insert(interval_node(node, start..end, span.age, span.held, link));
    Merged {
        interval: start..end,
        added: pages.len() - covered,
    }
}
