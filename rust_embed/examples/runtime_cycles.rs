//! Measures resident memory across JsRuntime create/drop cycles, on one
//! thread and on a fresh thread per cycle (as plugin instances do).
//! `cargo run --release --features quickjs --example runtime_cycles -- 100`

use deno_core::{JsRuntime, RuntimeOptions};

fn rss_kb() -> u64 {
  let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
  statm
    .split_whitespace()
    .nth(1)
    .unwrap()
    .parse::<u64>()
    .unwrap()
    * 4
}

fn cycle() {
  falco_deno_embed::engine::prepare_process();
  let tokio = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
    .unwrap();
  let _g = tokio.enter();
  let mut rt = JsRuntime::new(RuntimeOptions::default());
  let v = rt
    .execute_script(
      "x.js",
      "globalThis.a = new Array(1000).fill(1).map(String); new ArrayBuffer(1<<20)",
    )
    .unwrap();
  let store = {
    deno_core::scope!(scope, &mut rt);
    let local = deno_core::v8::Local::new(scope, &v);
    let ab = deno_core::v8::Local::<deno_core::v8::ArrayBuffer>::try_from(local).unwrap();
    let store = ab.get_backing_store();
    unsafe { std::ptr::write_bytes(store.data().unwrap().as_ptr() as *mut u8, 1, 1 << 20) };
    store
  };
  let late = std::env::args().nth(3).as_deref() == Some("late");
  if late {
    drop(rt);
    drop(v);
    drop(store);
  } else {
    drop(store);
    drop(v);
    drop(rt);
  }
}

fn main() {
  let n: usize = std::env::args()
    .nth(1)
    .and_then(|s| s.parse().ok())
    .unwrap_or(50);
  let mode = std::env::args().nth(2).unwrap_or_else(|| "threads".into());
  for _ in 0..5 {
    if mode == "threads" {
      std::thread::spawn(cycle).join().unwrap()
    } else {
      cycle()
    }
  }
  let before = rss_kb();
  let t = std::time::Instant::now();
  for _ in 0..n {
    if mode == "threads" {
      std::thread::spawn(cycle).join().unwrap()
    } else {
      cycle()
    }
  }
  let after = rss_kb();
  println!(
    "{mode}: {n} cycles, {:.1} ms/cycle, RSS {before} -> {after} KiB ({:.1} KiB/cycle)",
    t.elapsed().as_secs_f64() * 1000.0 / n as f64,
    (after as f64 - before as f64) / n as f64
  );
}
