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
//! merges or removes, and needs at most two new tree nodes, which the caller reserves before it
//! takes the region's lock ([`RangeReservation`]). Pins report purges exactly: only pages that
//! were purged count, never their unpinned neighbours.
//!
//! Each unpinned interval has an age, the one its last unpin gave it; pieces left by a pin keep
//! it. An [`IntervalObserver`] hears of every unpinned interval added or removed, which is how
//! the order of purging across regions keeps in step.

use crate::{
    alloc::Flags,
    error::Result,
    rbtree::{RBTree, RBTreeNode, RBTreeNodeReservation},
};
use core::ops::Range;

/// An interval in a tree: its end (the page just past it) and, for unpinned ones, its age.
#[derive(Clone, Copy)]
struct Span {
    end: usize,
    age: u64,
}

/// Hears of the changes to the unpinned intervals of an [`UnpinnedRanges`].
///
/// Every interval it is told was added is later reported removed, by the operation that merges,
/// splits, pins or purges it, or by [`UnpinnedRanges::remove_all_unpinned`]. The unit type
/// ignores them.
///
/// # Examples
///
/// ```
/// use core::ops::Range;
/// use kernel::ashmem::ranges::{IntervalObserver, RangeReservation, UnpinnedRanges};
///
/// /// Keeps the total that the purge order keeps: the unpinned pages of a region.
/// struct Total(usize);
///
/// impl IntervalObserver for Total {
///     fn added(&mut self, pages: Range<usize>, _age: u64) {
///         self.0 += pages.len();
///     }
///
///     fn removed(&mut self, pages: Range<usize>, _age: u64) {
///         self.0 -= pages.len();
///     }
/// }
///
/// let mut pages = UnpinnedRanges::new();
/// let mut total = Total(0);
/// pages.unpin(0..8, 1, &mut RangeReservation::new(GFP_KERNEL)?, &mut total);
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
    /// `pages` became an unpinned interval of age `age`.
    fn added(&mut self, pages: Range<usize>, age: u64);

    /// The unpinned interval `pages`, of age `age`, is gone.
    fn removed(&mut self, pages: Range<usize>, age: u64);
}

impl IntervalObserver for () {
    fn added(&mut self, _pages: Range<usize>, _age: u64) {}

    fn removed(&mut self, _pages: Range<usize>, _age: u64) {}
}

/// Tree nodes reserved for operations on [`UnpinnedRanges`], before its lock is taken.
///
/// An operation needs at most two new nodes; the nodes it frees go back into the reservation
/// (up to four), so that a reservation kept with the ranges lets the next operation allocate
/// nothing: a pin frees what the unpin after it needs.
pub struct RangeReservation {
    nodes: [Option<RBTreeNodeReservation<usize, Span>>; 4],
}

/// How many new nodes one operation may need.
const RANGE_NODES_NEEDED: usize = 2;

impl RangeReservation {
    /// Reserves the nodes that any one operation may need.
    pub fn new(flags: Flags) -> Result<Self> {
        let mut res = Self::none();
        res.refill(flags)?;
        Ok(res)
    }

    /// Returns a reservation without nodes, for a purge of a whole unpinned interval, which
    /// needs none: it moves the interval's node from one tree to the other. A purge of part of
    /// an interval next to purged pages needs none either.
    pub fn none() -> Self {
        Self {
            nodes: [None, None, None, None],
        }
    }

    /// Returns whether the reservation holds the nodes that any one operation may need.
    pub fn is_ready(&self) -> bool {
        self.nodes.iter().filter(|node| node.is_some()).count() >= RANGE_NODES_NEEDED
    }

    /// Allocates nodes until the reservation [is ready](Self::is_ready).
    pub fn refill(&mut self, flags: Flags) -> Result {
        while !self.is_ready() {
            self.give(RBTreeNodeReservation::new(flags)?);
        }
        Ok(())
    }

    /// Moves the nodes of `other` into this reservation, as far as they fit.
    pub fn absorb(&mut self, other: &mut Self) {
        while let Some(node) = other.take() {
            if self.nodes.iter().all(Option::is_some) {
                other.give(node);
                return;
            }
            self.give(node);
        }
    }

    /// Returns whether the reservation holds a node.
    fn has_node(&self) -> bool {
        self.nodes.iter().any(Option::is_some)
    }

    /// Takes a node. Every operation needs at most the two that `new` reserves, so this only
    /// returns [`None`] if this file has a bug; callers then leave the trees as they were.
    fn take(&mut self) -> Option<RBTreeNodeReservation<usize, Span>> {
        self.nodes.iter_mut().find_map(Option::take)
    }

    /// Keeps a node that an operation freed, if there is room; it is freed otherwise.
    fn give(&mut self, node: RBTreeNodeReservation<usize, Span>) {
        if let Some(slot) = self.nodes.iter_mut().find(|node| node.is_none()) {
            *slot = Some(node);
        }
    }
}

/// The unpinned and purged pages of one region.
///
/// # Invariants
///
/// Each tree maps the first page of an interval to the page just past it (and its age); the
/// intervals of a tree are non-empty, disjoint and not adjacent. `unpinned_pages` is the number
/// of pages in `unpinned`.
///
/// # Examples
///
/// ```
/// use kernel::ashmem::ranges::{RangeReservation, UnpinnedRanges};
///
/// let mut pages = UnpinnedRanges::new();
/// let mut res = RangeReservation::new(GFP_KERNEL)?;
///
/// assert_eq!(pages.unpin(0..4, 1, &mut res, &mut ()), 0..4);
/// // Touching intervals merge, into one with the new age.
/// assert_eq!(pages.unpin(4..8, 2, &mut res, &mut ()), 0..8);
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
/// pages.unpin(2..4, 3, &mut res, &mut ());
/// assert!(pages.is_unpinned(2..4));
/// assert!(!pages.pin(2..4, &mut res, &mut ()));
///
/// // Reclaim purges an interval a chunk at a time. The first chunk takes a spare node; the
/// // next merges with it and needs none.
/// let mut res = RangeReservation::new(GFP_KERNEL)?;
/// assert_eq!(pages.unpin(10..20, 4, &mut res, &mut ()), 10..20);
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
///             pages.unpin(range.clone(), 0, &mut res, &mut ());
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
}

impl Default for UnpinnedRanges {
    fn default() -> Self {
        Self::new()
    }
}

impl UnpinnedRanges {
    /// Returns the state of a region whose pages are all pinned.
    pub fn new() -> Self {
        // INVARIANT: Empty trees.
        Self {
            unpinned: RBTree::new(),
            purged: RBTree::new(),
            unpinned_pages: 0,
        }
    }

    /// Unpins `pages`: reclaim may purge them from now on. Purged pages among them stay purged.
    ///
    /// Returns the interval now holding them, merged with the unpinned pages it overlaps or
    /// touches; it gets age `age`.
    pub fn unpin(
        &mut self,
        pages: Range<usize>,
        age: u64,
        res: &mut RangeReservation,
        observer: &mut impl IntervalObserver,
    ) -> Range<usize> {
        if pages.is_empty() {
            return pages;
        }
        let Some(node) = res.take() else {
            // Only reachable through a bug (see `RangeReservation::take`).
            return pages;
        };
        let merged = insert_merged(&mut self.unpinned, pages, age, node, res, observer);
        self.unpinned_pages += merged.added;
        merged.interval
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
        self.unpinned_pages -= unpinned;
        remove_range(&mut self.purged, pages, res, &mut ()) != 0
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
        let age = match self.unpinned.get(&interval.start) {
            Some(span) if span.end == interval.end => span.age,
            _ => return None,
        };
        let node = self
            .unpinned
            .remove_node(&interval.start)?
            .into_reservation();
        observer.removed(interval.clone(), age);
        let cut = interval.start.saturating_add(most.max(1));
        // Merging with a purged interval gives `res` that interval's node.
        let split = cut < interval.end
            && (res.has_node()
                || last_before(&mut self.purged, cut.saturating_add(1))
                    .is_some_and(|(purged, _)| purged.end >= interval.start));
        let pages = if split {
            interval.start..cut
        } else {
            interval.clone()
        };
        // INVARIANT: `pages` leave `unpinned`; the rest goes back below.
        self.unpinned_pages -= pages.len();
        let merged = insert_merged(&mut self.purged, pages.clone(), 0, node, res, &mut ());
        if split {
            let rest = cut..interval.end;
            match res.take() {
                // INVARIANT: The rest stays where it was, with its age.
                Some(node) => {
                    self.unpinned.insert(interval_node(node, rest.clone(), age));
                    observer.added(rest, age);
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
            observer.removed(*start..span.end, span.age);
        }
        // INVARIANT: An empty tree, and no unpinned pages.
        self.unpinned = RBTree::new();
        self.unpinned_pages = 0;
    }

    /// Returns how many pages reclaim may purge: the unpinned ones not purged since, plus any
    /// unpinned again after a purge without a pin in between (purging those frees nothing).
    pub fn purgeable_pages(&self) -> usize {
        self.unpinned_pages
    }

    /// Returns the unpinned interval holding `page`, or the first one after it, if any.
    pub fn unpinned_interval_at(&mut self, page: usize) -> Option<Range<usize>> {
        if let Some((before, _)) = last_before(&mut self.unpinned, page + 1) {
            if before.end > page {
                return Some(before);
            }
        }
        let cursor = self.unpinned.cursor_lower_bound(&page)?;
        let (start, span) = cursor.current();
        Some(*start..span.end)
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

/// Fills `node` with the interval `pages` of age `age`.
fn interval_node(
    node: RBTreeNodeReservation<usize, Span>,
    pages: Range<usize>,
    age: u64,
) -> RBTreeNode<usize, Span> {
    node.into_node(
        pages.start,
        Span {
            end: pages.end,
            age,
        },
    )
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
    node: RBTreeNodeReservation<usize, Span>,
    /// The end of the interval before it, if any.
    prev_end: Option<usize>,
}

/// Takes the interval of `tree` with the greatest start below `page` out of the tree if `wanted`
/// accepts it. One descent of the tree finds it, removes it and looks at the one before it.
fn take_last_before(
    tree: &mut RBTree<usize, Span>,
    page: usize,
    wanted: impl Fn(&Range<usize>) -> bool,
) -> Option<Taken> {
    let (interval, age, prev_end, node) = match tree.cursor_lower_bound(&page) {
        Some(mut cursor) => {
            let (start, span) = cursor.peek_prev()?;
            let (interval, age) = (*start..span.end, span.age);
            if !wanted(&interval) {
                return None;
            }
            let node = cursor.remove_prev()?;
            let prev_end = cursor.peek_prev().map(|(_, span)| span.end);
            (interval, age, prev_end, node)
        }
        None => {
            let cursor = tree.cursor_back()?;
            let (start, span) = cursor.current();
            let (interval, age) = (*start..span.end, span.age);
            if !wanted(&interval) {
                return None;
            }
            let prev_end = cursor.peek_prev().map(|(_, span)| span.end);
            let (_, node) = cursor.remove_current();
            (interval, age, prev_end, node)
        }
    };
    Some(Taken {
        interval,
        age,
        node: node.into_reservation(),
        prev_end,
    })
}

/// Removes `pages` from `tree` and returns how many pages of the tree it removed.
fn remove_range(
    tree: &mut RBTree<usize, Span>,
    pages: Range<usize>,
    res: &mut RangeReservation,
    observer: &mut impl IntervalObserver,
) -> usize {
    let mut removed = 0;
    let mut more = true;
    // From the last interval that overlaps `pages` back to the first.
    while more {
        let Some(taken) = take_last_before(tree, pages.end, |i| i.end > pages.start) else {
            break;
        };
        let Taken {
            interval,
            age,
            node,
            prev_end,
        } = taken;
        more = prev_end.is_some_and(|end| end > pages.start);
        let left = interval.start..pages.start;
        let right = pages.end..interval.end;
        // INVARIANT: What remains of the interval is re-inserted where it was, so the
        // intervals stay disjoint and apart.
        match (!left.is_empty(), !right.is_empty()) {
            (true, true) => {
                let Some(extra) = res.take() else {
                    // Only reachable through a bug (see `RangeReservation::take`).
                    tree.insert(interval_node(node, interval, age));
                    return removed;
                };
                tree.insert(interval_node(node, left.clone(), age));
                tree.insert(interval_node(extra, right.clone(), age));
            }
            (true, false) => {
                tree.insert(interval_node(node, left.clone(), age));
            }
            (false, true) => {
                tree.insert(interval_node(node, right.clone(), age));
            }
            (false, false) => res.give(node),
        }
        removed += overlap(&interval, &pages);
        observer.removed(interval, age);
        for piece in [left, right] {
            if !piece.is_empty() {
                observer.added(piece, age);
            }
        }
    }
    removed
}

struct Merged {
    interval: Range<usize>,
    added: usize,
}

/// Adds `pages` to `tree` with age `age` in `node`, merging the intervals it overlaps or touches,
/// whose nodes go to `res`; returns the merged interval and how many pages were new to the tree.
fn insert_merged(
    tree: &mut RBTree<usize, Span>,
    pages: Range<usize>,
    age: u64,
    node: RBTreeNodeReservation<usize, Span>,
    res: &mut RangeReservation,
    observer: &mut impl IntervalObserver,
) -> Merged {
    let mut start = pages.start;
    let mut end = pages.end;
    let mut covered = 0;
    let mut more = true;
    // Intervals that overlap or touch `pages` start at or before its end: from the last back.
    while more {
        let Some(taken) = take_last_before(tree, end.saturating_add(1), |i| i.end >= start) else {
            break;
        };
        let interval = taken.interval;
        covered += overlap(&interval, &pages);
        start = start.min(interval.start);
        end = end.max(interval.end);
        more = taken.prev_end.is_some_and(|prev_end| prev_end >= start);
        res.give(taken.node);
        observer.removed(interval, taken.age);
    }
    // INVARIANT: Every interval that overlapped or touched the new one was merged into it.
    tree.insert(interval_node(node, start..end, age));
    observer.added(start..end, age);
    Merged {
        interval: start..end,
        added: pages.len() - covered,
    }
}
