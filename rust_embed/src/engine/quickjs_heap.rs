//! Gives every QuickJS-ng runtime a heap of its own that is released whole
//! when the runtime is freed.
//!
//! v8x 149.4.0-rc.4 keeps references it never drops: each
//! `FunctionTemplate` is a leaked `Box` holding a `JS_DupValue` of its data,
//! and through such references the runtime's whole object graph outlives
//! `JS_FreeRuntime` (built with `NDEBUG`, QuickJS does not abort on that, it
//! just leaves the blocks allocated). QuickJS-ng frees its small-object
//! arenas at teardown anyway, so what stays behind is every large block,
//! about 0.8 MiB per runtime, which is what made resident memory grow with
//! each `plugin_init`/`plugin_destroy`.
//!
//! The library is linked with `--wrap=JS_NewRuntime` (see `build.rs`), so
//! v8x's call lands in [`__wrap_JS_NewRuntime`], which creates the runtime
//! with allocation functions that thread every block onto a list. The last
//! thing `JS_FreeRuntime` does is free the `JSRuntime` struct itself, its
//! first allocation; when that happens, every block still on the list is
//! unreachable (its runtime is gone) and is freed too.
//!
//! Nothing outside QuickJS may hold a block past that point. v8x's leaked
//! templates do hold `JSValue`s, but they are never freed nor read once their
//! isolate is disposed.

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Bytes released at runtime teardown that QuickJS-ng had left allocated,
/// over the life of the process.
pub static RECLAIMED_BYTES: AtomicU64 = AtomicU64::new(0);

#[repr(C)]
struct Link {
  prev: *mut Link,
  next: *mut Link,
}

/// Two pointers: keeps the 16-byte alignment `malloc` gives QuickJS.
const HEADER: usize = std::mem::size_of::<Link>();
const _: () = assert!(HEADER == 16);

/// The blocks of one runtime: a circular list through `sentinel`.
struct Heap {
  // QuickJS allocates on its runtime's thread only, but v8x's
  // `IsolateHandle` may touch the runtime from a watchdog thread, so the
  // list is locked rather than trusted to one thread. Large blocks and
  // 64 KiB arenas are the only allocations that reach here, so the lock is
  // cold.
  lock: Mutex<()>,
  sentinel: UnsafeCell<Link>,
  runtime: UnsafeCell<*mut c_void>,
}

impl Heap {
  fn new() -> Box<Heap> {
    let heap = Box::new(Heap {
      lock: Mutex::new(()),
      sentinel: UnsafeCell::new(Link {
        prev: std::ptr::null_mut(),
        next: std::ptr::null_mut(),
      }),
      runtime: UnsafeCell::new(std::ptr::null_mut()),
    });
    let s = heap.sentinel.get();
    unsafe {
      (*s).prev = s;
      (*s).next = s;
    }
    heap
  }

  /// Puts a fresh block (`HEADER` + payload) on the list; returns the payload.
  unsafe fn link(&self, base: *mut c_void) -> *mut c_void {
    if base.is_null() {
      return base;
    }
    let node = base as *mut Link;
    let s = self.sentinel.get();
    unsafe {
      (*node).prev = s;
      (*node).next = (*s).next;
      (*(*s).next).prev = node;
      (*s).next = node;
      (base as *mut u8).add(HEADER) as *mut c_void
    }
  }

  unsafe fn unlink(node: *mut Link) {
    unsafe {
      (*(*node).prev).next = (*node).next;
      (*(*node).next).prev = (*node).prev;
    }
  }
}

unsafe fn base_of(ptr: *mut c_void) -> *mut c_void {
  unsafe { (ptr as *mut u8).sub(HEADER) as *mut c_void }
}

unsafe extern "C" fn heap_malloc(opaque: *mut c_void, size: usize) -> *mut c_void {
  let heap = unsafe { &*(opaque as *const Heap) };
  let Some(total) = size.checked_add(HEADER) else {
    return std::ptr::null_mut();
  };
  let _guard = heap.lock.lock().unwrap_or_else(|e| e.into_inner());
  unsafe { heap.link(libc::malloc(total)) }
}

unsafe extern "C" fn heap_calloc(opaque: *mut c_void, count: usize, size: usize) -> *mut c_void {
  let heap = unsafe { &*(opaque as *const Heap) };
  let Some(total) = count.checked_mul(size).and_then(|n| n.checked_add(HEADER)) else {
    return std::ptr::null_mut();
  };
  let _guard = heap.lock.lock().unwrap_or_else(|e| e.into_inner());
  let block = unsafe { heap.link(libc::calloc(1, total)) };
  // The first allocation of a runtime is its `JSRuntime`.
  unsafe {
    if (*heap.runtime.get()).is_null() {
      *heap.runtime.get() = block;
    }
  }
  block
}

unsafe extern "C" fn heap_free(opaque: *mut c_void, ptr: *mut c_void) {
  if ptr.is_null() {
    return;
  }
  let heap_ptr = opaque as *mut Heap;
  let heap = unsafe { &*heap_ptr };
  let last = {
    let _guard = heap.lock.lock().unwrap_or_else(|e| e.into_inner());
    unsafe {
      let base = base_of(ptr);
      Heap::unlink(base as *mut Link);
      libc::free(base);
      ptr == *heap.runtime.get()
    }
  };
  if last {
    // `JS_FreeRuntime` has just freed the runtime itself: what is left is
    // unreachable.
    let heap = unsafe { Box::from_raw(heap_ptr) };
    let s = heap.sentinel.get();
    let mut reclaimed = 0u64;
    unsafe {
      let mut node = (*s).next;
      while node != s {
        let next = (*node).next;
        reclaimed += libc::malloc_usable_size(node as *mut c_void) as u64;
        libc::free(node as *mut c_void);
        node = next;
      }
    }
    RECLAIMED_BYTES.fetch_add(reclaimed, Ordering::Relaxed);
  }
}

unsafe extern "C" fn heap_realloc(
  opaque: *mut c_void,
  ptr: *mut c_void,
  size: usize,
) -> *mut c_void {
  if ptr.is_null() {
    return unsafe { heap_malloc(opaque, size) };
  }
  let heap = unsafe { &*(opaque as *const Heap) };
  let Some(total) = size.checked_add(HEADER) else {
    return std::ptr::null_mut();
  };
  let _guard = heap.lock.lock().unwrap_or_else(|e| e.into_inner());
  unsafe {
    let base = base_of(ptr);
    Heap::unlink(base as *mut Link);
    let moved = libc::realloc(base, total);
    if moved.is_null() {
      // The old block is intact: keep it on the list.
      heap.link(base);
      return std::ptr::null_mut();
    }
    heap.link(moved)
  }
}

unsafe extern "C" fn heap_usable_size(ptr: *const c_void) -> usize {
  if ptr.is_null() {
    return 0;
  }
  unsafe { libc::malloc_usable_size(base_of(ptr as *mut c_void)).saturating_sub(HEADER) }
}

/// `JSMallocFunctions` of quickjs-ng (quickjs.h), field for field.
#[repr(C)]
struct MallocFunctions {
  calloc: unsafe extern "C" fn(*mut c_void, usize, usize) -> *mut c_void,
  malloc: unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void,
  free: unsafe extern "C" fn(*mut c_void, *mut c_void),
  realloc: unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> *mut c_void,
  usable_size: unsafe extern "C" fn(*const c_void) -> usize,
}

static FUNCTIONS: MallocFunctions = MallocFunctions {
  calloc: heap_calloc,
  malloc: heap_malloc,
  free: heap_free,
  realloc: heap_realloc,
  usable_size: heap_usable_size,
};

extern "C" {
  fn JS_NewRuntime2(functions: *const MallocFunctions, opaque: *mut c_void) -> *mut c_void;
}

/// Stands in for `JS_NewRuntime` in every caller linked into this library.
#[no_mangle]
pub extern "C" fn __wrap_JS_NewRuntime() -> *mut c_void {
  let heap = Box::into_raw(Heap::new());
  // On failure the heap is left alone: if the `JSRuntime` was allocated,
  // `JS_NewRuntime2` has freed it through `JS_FreeRuntime`, which released
  // the heap too; if not, the heap is an empty list header, a few bytes on
  // an out-of-memory path, not worth telling the two cases apart.
  unsafe { JS_NewRuntime2(&FUNCTIONS, heap as *mut c_void) }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn blocks_left_at_teardown_are_reclaimed() {
    let heap = Box::into_raw(Heap::new());
    let opaque = heap as *mut c_void;
    unsafe {
      let runtime = heap_calloc(opaque, 1, 256);
      let kept = heap_malloc(opaque, 1000);
      let moved = heap_realloc(opaque, heap_malloc(opaque, 10), 100_000);
      assert!(heap_usable_size(moved) >= 100_000);
      heap_free(opaque, heap_malloc(opaque, 5));
      let before = RECLAIMED_BYTES.load(Ordering::Relaxed);
      let _ = kept;
      heap_free(opaque, runtime);
      let reclaimed = RECLAIMED_BYTES.load(Ordering::Relaxed) - before;
      assert!(reclaimed >= 101_000, "reclaimed {reclaimed}");
    }
  }
}
