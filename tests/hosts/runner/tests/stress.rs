//! Stress (issue 6): N plugin instances (default 8) driven by T host threads
//! (default 4) with random operations for S seconds: init (good and bad
//! configs), open (good and bad params), next_batch, extract (good and bad
//! fields), event_to_string, close, destroy (also with a capture open).
//! Every result is checked against the dummy semantics with jitter 0: the
//! k-th event of a capture opened with `start` has value `start + k`,
//! payload and `dummy.strvalue` its decimal text, `dummy.divisible[d]`
//! `value % d == 0`, EOF after `maxEvents`.
//!
//!   FALCO_DENO_TEST_PLUGIN=/abs/libdummy_ts.so FALCO_DENO_STRESS_SECS=5 FALCO_DENO_HOST_QUIET=1 \
//!   CARGO_TARGET_DIR=${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}/target-hosts \
//!   cargo test --release --manifest-path tests/hosts/runner/Cargo.toml --test stress -- --nocapture
//!
//! Env: FALCO_DENO_STRESS_SECS (default 5; the long run is 60),
//! FALCO_DENO_STRESS_INSTANCES (8), FALCO_DENO_STRESS_THREADS (4),
//! FALCO_DENO_STRESS_SEED (default: from the clock; printed).
//! Without FALCO_DENO_TEST_PLUGIN it fails.
//! Output: libtest lines plus, on stderr, one line
//! `stress: <ops> ops in <secs> s on <N> instances / <T> threads (...); <F> failures`.

use falco_deno_host::raw::{plugin_payload, OwnedEvent, RawInstance, RawPlugin, Value};
use falco_deno_host::{test_plugin, Lib};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env_num(name: &str, def: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(def)
}

/// xorshift64*: enough randomness, reproducible from the seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

struct Capture {
    h: RawInstance,
    start: u64,
    max: u64,
    produced: u64,
}

#[derive(Default)]
struct Slot {
    plugin: Option<RawPlugin>,
    capture: Option<Capture>,
    /// Events read so far (copies) with their expected value; bounded.
    seen: Vec<(OwnedEvent, u64)>,
    /// Event numbers are unique per plugin state, as in libsinsp (the embed
    /// caches the decoded event by number: reusing a number for another
    /// event of the same payload length is outside the ABI contract).
    next_num: u64,
}

#[derive(Default)]
struct Counts {
    ops: [AtomicU64; OPS.len()],
    failures: AtomicU64,
}

const OPS: [&str; 10] = [
    "init",
    "init(bad)",
    "open",
    "open(bad)",
    "next_batch",
    "extract",
    "extract(bad)",
    "event_to_string",
    "close",
    "destroy",
];

fn fail(counts: &Counts, stop: &AtomicBool, msg: String) {
    eprintln!("STRESS FAILURE: {msg}");
    counts.failures.fetch_add(1, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
}

fn u64_field(p: &RawPlugin, e: &OwnedEvent, f: &str) -> Result<u64, String> {
    match p.extract(e, f) {
        Ok(Some(v)) if v.len() == 1 => match v[0] {
            Value::U64(x) => Ok(x),
            ref o => Err(format!("{f}: not a uint64: {o:?}")),
        },
        Ok(o) => Err(format!("{f}: expected one value, got {o:?}")),
        Err(e) => Err(format!("{f}: {e:#}")),
    }
}

/// One random operation on one slot; Err describes a wrong result.
fn step(lib: &'static Lib, slot: &mut Slot, rng: &mut Rng, counts: &Counts) -> Result<(), String> {
    let count = |i: usize| counts.ops[i].fetch_add(1, Ordering::Relaxed);
    let Some(p) = slot.plugin.as_ref() else {
        // only init is possible
        if rng.chance(15) {
            count(1);
            let bad = [
                r#"{"jitter":"x"}"#,
                "{",
                "[1,2]",
                r#"{"jitter":-1}"#,
                r#"{"falco_deno": 7}"#,
            ];
            let cfg = bad[rng.below(bad.len() as u64) as usize];
            return match RawPlugin::init(lib, cfg, true) {
                Ok(p) => {
                    p.destroy();
                    Err(format!("init({cfg}) succeeded"))
                }
                Err((_, e)) if e.trim().is_empty() => {
                    Err(format!("init({cfg}) failed with an empty error"))
                }
                Err(_) => Ok(()),
            };
        }
        count(0);
        slot.plugin = Some(
            RawPlugin::init(lib, r#"{"jitter":0}"#, true).map_err(|e| format!("init: {e:?}"))?,
        );
        slot.seen.clear();
        return Ok(());
    };
    let r = rng.below(100);
    match (r, slot.capture.is_some()) {
        // open (no capture open)
        (0..=39, false) => {
            if rng.chance(20) {
                count(3);
                let bad = [
                    r#"{"start":-1}"#,
                    "not json",
                    r#"{"maxEvents":"x"}"#,
                    "null",
                ];
                let prm = bad[rng.below(bad.len() as u64) as usize];
                return match p.open(prm) {
                    Ok(h) => {
                        p.close(h);
                        Err(format!("open({prm}) succeeded"))
                    }
                    Err(e) if format!("{e:#}").trim().ends_with(':') => {
                        Err(format!("open({prm}): empty error"))
                    }
                    Err(_) => Ok(()),
                };
            }
            count(2);
            let start = rng.below(1 << 40);
            let max = rng.below(40);
            let h = p
                .open(&format!(r#"{{"start":{start},"maxEvents":{max}}}"#))
                .map_err(|e| format!("open: {e:#}"))?;
            slot.capture = Some(Capture {
                h,
                start,
                max,
                produced: 0,
            });
            Ok(())
        }
        // next_batch
        (0..=54, true) => {
            count(4);
            let c = slot.capture.as_mut().unwrap();
            match p
                .next_batch(&c.h, c.produced + 1)
                .map_err(|e| format!("next_batch: {e:#}"))?
            {
                None => {
                    if c.produced != c.max {
                        return Err(format!(
                            "EOF after {} events, maxEvents {}",
                            c.produced, c.max
                        ));
                    }
                }
                Some(b) if b.is_empty() => {} // TIMEOUT: call again
                Some(b) => {
                    for mut e in b {
                        slot.next_num += 1;
                        e.num = slot.next_num;
                        c.produced += 1;
                        if c.produced > c.max {
                            return Err(format!("event {} beyond maxEvents {}", c.produced, c.max));
                        }
                        let want = c.start + c.produced;
                        let payload = plugin_payload(&e.bytes).ok_or("not a plugin event")?;
                        if payload != want.to_string().as_bytes() {
                            return Err(format!(
                                "event {}: payload {:?}, want {want}",
                                c.produced,
                                String::from_utf8_lossy(payload)
                            ));
                        }
                        if slot.seen.len() >= 64 {
                            let i = rng.below(64) as usize;
                            slot.seen.swap_remove(i);
                        }
                        slot.seen.push((e, want));
                    }
                }
            }
            Ok(())
        }
        // extract on a seen event (also after its capture closed)
        (55..=79, _) => {
            if slot.seen.is_empty() {
                return Ok(());
            }
            let (e, want) = &slot.seen[rng.below(slot.seen.len() as u64) as usize];
            if rng.chance(10) {
                count(6);
                let bad = ["dummy.nope", "dummy.divisible[0]", "dummy.value[3]"];
                let f = bad[rng.below(bad.len() as u64) as usize];
                return match p.extract(e, f) {
                    Ok(v) => Err(format!("extract {f} succeeded: {v:?}")),
                    Err(_) => Ok(()),
                };
            }
            count(5);
            let v = u64_field(p, e, "dummy.value")?;
            if v != *want {
                return Err(format!("dummy.value {v}, want {want}"));
            }
            let d = 1 + rng.below(12);
            let div = u64_field(p, e, &format!("dummy.divisible[{d}]"))?;
            if div != (want % d == 0) as u64 {
                return Err(format!("dummy.divisible[{d}] of {want} = {div}"));
            }
            match p.extract(e, "dummy.strvalue") {
                Ok(Some(s)) if s == vec![Value::Str(want.to_string())] => Ok(()),
                o => Err(format!("dummy.strvalue of {want}: {o:?}")),
            }
        }
        (80..=84, _) => {
            if slot.seen.is_empty() {
                return Ok(());
            }
            count(7);
            let (e, want) = &slot.seen[rng.below(slot.seen.len() as u64) as usize];
            let s = p.event_to_string(e).unwrap_or_default();
            if s != format!(r#"{{"sample": "{want}"}}"#) {
                return Err(format!("event_to_string of {want}: {s:?}"));
            }
            Ok(())
        }
        // close
        (85..=94, true) => {
            count(8);
            p.close(slot.capture.take().unwrap().h);
            Ok(())
        }
        // destroy (sometimes with a capture still open)
        (95..=99, open) => {
            count(9);
            if open && rng.chance(50) {
                p.close(slot.capture.take().unwrap().h);
            }
            slot.capture = None; // if still open, destroy frees it
            slot.plugin.take().unwrap().destroy();
            Ok(())
        }
        _ => Ok(()),
    }
}

#[test]
fn stress_random_operations() {
    let lib = test_plugin();
    let secs = env_num("FALCO_DENO_STRESS_SECS", 5);
    let n = env_num("FALCO_DENO_STRESS_INSTANCES", 8) as usize;
    let t = env_num("FALCO_DENO_STRESS_THREADS", 4) as usize;
    let seed = env_num(
        "FALCO_DENO_STRESS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    ) | 1;
    eprintln!("stress: seed {seed}, {n} instances, {t} threads, {secs} s");
    let slots: Arc<Vec<Mutex<Slot>>> =
        Arc::new((0..n).map(|_| Mutex::new(Slot::default())).collect());
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let rss0 = falco_deno_host::rss_kb();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(secs);
    let threads: Vec<_> = (0..t)
        .map(|i| {
            let (slots, counts, stop) = (slots.clone(), counts.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(seed.wrapping_mul(i as u64 + 1) | 1);
                while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                    let k = rng.below(slots.len() as u64) as usize;
                    let mut slot = slots[k].lock().unwrap_or_else(|e| e.into_inner());
                    if let Err(msg) = step(lib, &mut slot, &mut rng, &counts) {
                        fail(&counts, &stop, format!("instance {k}, thread {i}: {msg}"));
                    }
                }
            })
        })
        .collect();
    for h in threads {
        if h.join().is_err() {
            counts.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
    let elapsed = t0.elapsed();
    let rss1 = falco_deno_host::rss_kb();
    // clean up what is left
    for s in slots.iter() {
        let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = s.plugin.take() {
            if let Some(c) = s.capture.take() {
                p.close(c.h);
            }
            p.destroy();
        }
    }
    let total: u64 = counts.ops.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    let detail: Vec<String> = OPS
        .iter()
        .zip(counts.ops.iter())
        .map(|(n, c)| format!("{n} {}", c.load(Ordering::Relaxed)))
        .collect();
    let failures = counts.failures.load(Ordering::Relaxed);
    eprintln!(
        "stress: {total} ops in {:.1} s on {n} instances / {t} threads ({}); RSS {rss0} -> {rss1} KiB; {failures} failures",
        elapsed.as_secs_f64(),
        detail.join(", ")
    );
    assert_eq!(failures, 0, "stress failures (seed {seed})");
    assert!(
        counts.ops[5].load(Ordering::Relaxed) > 0,
        "no extraction happened"
    );
}
