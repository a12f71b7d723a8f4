//! The bundle's compiled code, shared by the instances of one process.
//!
//! Parsing and compiling the bundle was most of what was left of a V8
//! `plugin_init` once the runtime came from the startup snapshot. The first
//! instance compiles it; after its `init` has run, V8's code cache of the
//! script (which then also holds the functions `init` compiled lazily) is
//! kept for the life of the process, and every later instance compiles from
//! it. When the first instance is destroyed, the cache is taken once more:
//! by then it also holds what `open`, `next_batch`, extraction and `close`
//! compiled lazily, which every instance would compile again (a fifth of an
//! init-to-destroy cycle, measured). V8 checks the cache against the source
//! and its own version and flags, and compiles from source when it rejects
//! one. On QuickJS-ng our v8x patch already keeps compiled bytecode per
//! process, so the bundle is compiled as any script there.

use deno_core::{v8, JsRuntime};
use std::sync::{Arc, Mutex};

/// How far the instance whose code cache is kept had run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Stage {
  /// Its `init` had run.
  Initialised,
  /// It was being destroyed.
  Destroyed,
}

/// The code cache of this library's bundle (one bundle per library), and
/// the stage it was taken at.
static KEPT: Mutex<Option<(Arc<[u8]>, Stage)>> = Mutex::new(None);

fn kept() -> Option<(Arc<[u8]>, Stage)> {
  KEPT.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A compiled bundle whose code can be kept once it has run.
pub struct CompiledBundle(Option<v8::Global<v8::UnboundScript>>);

/// Compiles and runs the bundle `source` as the classic script `name`,
/// from the kept code cache when there is one.
///
/// # Errors
/// The exception of compiling or running it, as deno_core reports it.
pub fn run_bundle(
  runtime: &mut JsRuntime,
  name: &str,
  source: &str,
) -> Result<CompiledBundle, Box<deno_core::error::JsError>> {
  if !cfg!(feature = "v8") {
    runtime.execute_script(name.to_string(), source.to_string())?;
    return Ok(CompiledBundle(None));
  }
  deno_core::scope!(scope, runtime);
  v8::tc_scope!(let tc, scope);
  let text = v8::String::new(tc, source).expect("bundle under V8's string limit");
  let resource = v8::String::new(tc, name).expect("short name");
  let origin = v8::ScriptOrigin::new(
    tc,
    resource.into(),
    0,
    0,
    false,
    0,
    None,
    false,
    false,
    false,
    None,
  );
  let cache = kept();
  let compiled = match &cache {
    Some((cache, _)) => {
      let mut from_cache = v8::script_compiler::Source::new_with_cached_data(
        text,
        Some(&origin),
        v8::CachedData::new(cache),
      );
      v8::script_compiler::compile(
        tc,
        &mut from_cache,
        v8::script_compiler::CompileOptions::ConsumeCodeCache,
        v8::script_compiler::NoCacheReason::NoReason,
      )
    }
    None => v8::Script::compile(tc, text, Some(&origin)),
  };
  let Some(script) = compiled else {
    let exception = tc.exception().expect("a failed compile throws");
    return Err(deno_core::exception_to_err(tc, exception, false, false));
  };
  let taken_at_destroy = matches!(cache, Some((_, Stage::Destroyed)));
  let unbound = (!taken_at_destroy).then(|| v8::Global::new(tc, script.get_unbound_script(tc)));
  if script.run(tc).is_none() {
    let exception = tc.exception().expect("a failed run throws");
    return Err(deno_core::exception_to_err(tc, exception, false, false));
  }
  Ok(CompiledBundle(unbound))
}

impl CompiledBundle {
  /// Keeps the bundle's code for the instances started after this one,
  /// unless code taken at `stage` or later is kept already; called once the
  /// bundle and `init` have run, and again when the instance is destroyed.
  pub fn keep(&self, runtime: &mut JsRuntime, stage: Stage) {
    let Some(unbound) = &self.0 else { return };
    if kept().is_some_and(|(_, at)| at >= stage) {
      return;
    }
    let cache = {
      deno_core::scope!(scope, runtime);
      let unbound = v8::Local::new(scope, unbound);
      match unbound.create_code_cache() {
        Some(cache) => Arc::<[u8]>::from(&cache[..]),
        None => return,
      }
    };
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    if kept.as_ref().is_none_or(|(_, at)| *at < stage) {
      *kept = Some((cache, stage));
    }
  }
}
