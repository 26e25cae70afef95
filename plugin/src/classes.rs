//! The component's allocator: small blocks by size class, in front of talc.
//!
//! Deciding builds and drops many small values per request (strings, Cedar
//! values, map nodes); talc's search for a fitting block and its merging of
//! neighbours on free were about a sixth of a new decision's time inside
//! the component. Here a block of up to [`SMALL`] bytes comes from the
//! free list of its class (sizes rounded up to [`GRAIN`] bytes), or is cut
//! from a chunk talc gave; a freed one goes back on its class's list. Both
//! are a few instructions. Larger blocks, and blocks aligned beyond
//! [`GRAIN`], go to talc as before.
//!
//! Memory: a class keeps the blocks it has cut, so what the classes hold
//! together is the most each class held live at once (plus a partly cut
//! chunk); the memo's bounds (`access::Memo`) bound that.
//!
//! Only for a component without threads (no `atomics` target feature): the
//! state is used without a lock.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

/// Size granularity and alignment of every class.
const GRAIN: usize = 16;
/// The largest block served by a class.
const SMALL: usize = 512;
/// Number of classes: `GRAIN`, `2 * GRAIN`, … `SMALL` bytes.
const CLASSES: usize = SMALL / GRAIN;
/// What the classes take from talc at a time to cut blocks from.
const CHUNK: usize = 64 * 1024;

/// Small blocks by size class over `inner`.
pub struct Classes<A> {
    inner: A,
    state: UnsafeCell<State>,
}

struct State {
    /// The first free block of each class; each free block holds the
    /// address of the next.
    free: [*mut u8; CLASSES],
    /// The part of the current chunk not cut yet.
    next: *mut u8,
    end: *mut u8,
}

// SAFETY: only compiled for a target without threads (see the module's
// docs): no two calls ever touch the state at once.
unsafe impl<A: Sync> Sync for Classes<A> {}

impl<A> Classes<A> {
    /// Classes in front of `inner`.
    pub const fn new(inner: A) -> Self {
        Self {
            inner,
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
            }),
        }
    }
}

/// The class serving `size` bytes aligned to `align`, if any.
fn class(size: usize, align: usize) -> Option<usize> {
    (size <= SMALL && align <= GRAIN).then(|| size.max(1).div_ceil(GRAIN) - 1)
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for Classes<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout.size(), layout.align()) else {
            // SAFETY: the caller's layout, passed on.
            return unsafe { self.inner.alloc(layout) };
        };
        // SAFETY: no threads (see `Sync`), and no reentrance: `inner` never
        // calls back into this allocator.
        let state = unsafe { &mut *self.state.get() };
        let head = state.free[c];
        if !head.is_null() {
            // SAFETY: a free block of this class holds the next one's
            // address in its first bytes (blocks are `GRAIN`-aligned).
            state.free[c] = unsafe { *(head as *mut *mut u8) };
            return head;
        }
        let size = (c + 1) * GRAIN;
        if (state.end as usize) - (state.next as usize) < size {
            // SAFETY: a non-zero size and a power-of-two alignment.
            let chunk = unsafe {
                self.inner
                    .alloc(Layout::from_size_align_unchecked(CHUNK, GRAIN))
            };
            if chunk.is_null() {
                return chunk;
            }
            // What is left of the old chunk (less than `size`) is not used.
            state.next = chunk;
            // SAFETY: within the chunk just allocated.
            state.end = unsafe { chunk.add(CHUNK) };
        }
        let block = state.next;
        // SAFETY: `size` bytes are left in the chunk.
        state.next = unsafe { block.add(size) };
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(c) = class(layout.size(), layout.align()) else {
            // SAFETY: allocated by `inner` with this layout (`alloc` sends
            // every layout without a class there).
            return unsafe { self.inner.dealloc(block, layout) };
        };
        // SAFETY: as in `alloc`.
        let state = unsafe { &mut *self.state.get() };
        // SAFETY: the block is ours, `GRAIN`-aligned and at least `GRAIN`
        // bytes: room for the next one's address.
        unsafe { *(block as *mut *mut u8) = state.free[c] };
        state.free[c] = block;
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if class(layout.size(), layout.align()).is_none() {
            // SAFETY: the caller's layout, passed on.
            return unsafe { self.inner.alloc_zeroed(layout) };
        }
        // SAFETY: the caller's layout; a block of a class may be reused, so
        // it is cleared.
        let block = unsafe { self.alloc(layout) };
        if !block.is_null() {
            unsafe { ptr::write_bytes(block, 0, layout.size()) };
        }
        block
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (old, new) = (
            class(layout.size(), layout.align()),
            class(new_size, layout.align()),
        );
        match (old, new) {
            // The block already has room for the new size.
            (Some(a), Some(b)) if a == b => block,
            // SAFETY: allocated by `inner` with `layout`, and stays there.
            (None, None) => unsafe { self.inner.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: the caller guarantees `new_size` is valid for the
                // alignment; the old block is copied, then freed as it was
                // allocated.
                unsafe {
                    let moved =
                        self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn sizes_fall_into_their_classes() {
        assert_eq!(class(0, 1), Some(0));
        assert_eq!(class(1, 1), Some(0));
        assert_eq!(class(16, 8), Some(0));
        assert_eq!(class(17, 8), Some(1));
        assert_eq!(class(512, 16), Some(CLASSES - 1));
        assert_eq!(class(513, 1), None);
        assert_eq!(class(8, 32), None);
    }

    /// Blocks are distinct, aligned, keep what was written in them across
    /// reallocation, and are reused once freed.
    #[test]
    fn blocks_are_distinct_aligned_kept_and_reused() {
        let classes = Classes::new(System);
        let layout = |size| Layout::from_size_align(size, 8).unwrap();
        unsafe {
            let mut blocks = Vec::new();
            for i in 0..5_000usize {
                let size = 1 + i % 700;
                let block = classes.alloc(layout(size));
                assert!(!block.is_null());
                assert_eq!(block as usize % 8, 0);
                ptr::write_bytes(block, (i % 251) as u8, size);
                blocks.push((block, size, i));
            }
            for &(block, size, i) in &blocks {
                let bytes = std::slice::from_raw_parts(block, size);
                assert!(bytes.iter().all(|&b| b == (i % 251) as u8), "block {i}");
            }
            // Grow every block across classes and into talc's range.
            for (block, size, i) in &mut blocks {
                let grown = *size + 300;
                *block = classes.realloc(*block, layout(*size), grown);
                let kept = std::slice::from_raw_parts(*block, *size);
                assert!(kept.iter().all(|&b| b == (*i % 251) as u8), "block {i}");
                *size = grown;
            }
            let (freed, size, _) = blocks.pop().unwrap();
            classes.dealloc(freed, layout(size));
            for (block, size, _) in blocks {
                classes.dealloc(block, layout(size));
            }
            // The last block freed of a class is the next one given.
            let a = classes.alloc(layout(40));
            classes.dealloc(a, layout(40));
            assert_eq!(classes.alloc(layout(33)), a);
            // A reused block is cleared when asked zeroed.
            ptr::write_bytes(a, 0xff, 33);
            classes.dealloc(a, layout(33));
            let zeroed = classes.alloc_zeroed(layout(40));
            assert_eq!(zeroed, a);
            assert!(
                std::slice::from_raw_parts(zeroed, 40)
                    .iter()
                    .all(|&b| b == 0)
            );
        }
    }
}
