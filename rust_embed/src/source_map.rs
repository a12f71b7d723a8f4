//! Maps JavaScript stack frames in the bundle back to the plugin's `.ts`
//! lines. deno_core applies a source map to every `JsError` it builds when
//! the runtime's module loader can return one for the frame's file; the
//! bundle is a classic script, so this loader does nothing else.

use deno_core::{
  ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader, ModuleResolveResponse,
  ModuleSpecifier, NoopModuleLoader, ResolutionKind,
};
use std::borrow::Cow;

/// Serves the bundle's source map; refuses module loading like
/// `NoopModuleLoader`.
pub struct BundleSourceMap {
  /// The name the bundle is evaluated under.
  pub bundle_name: String,
  /// The source map, JSON text (may be empty).
  pub map: &'static str,
}

impl ModuleLoader for BundleSourceMap {
  fn resolve(
    &self,
    specifier: &str,
    referrer: &str,
    kind: ResolutionKind,
  ) -> ModuleResolveResponse {
    NoopModuleLoader.resolve(specifier, referrer, kind)
  }

  fn load(
    &self,
    specifier: &ModuleSpecifier,
    referrer: Option<&ModuleLoadReferrer>,
    options: ModuleLoadOptions,
  ) -> ModuleLoadResponse {
    NoopModuleLoader.load(specifier, referrer, options)
  }

  /// The plugin's sources are not on the host: report their names anyway.
  fn source_map_source_exists(&self, _source_url: &str) -> Option<bool> {
    Some(true)
  }

  fn get_source_map(&self, file_name: &str) -> Option<Cow<'_, [u8]>> {
    (file_name == self.bundle_name && !self.map.is_empty())
      .then_some(Cow::Borrowed(self.map.as_bytes()))
  }
}
