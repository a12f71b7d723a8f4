//! What the operator configures for the embed itself: the reserved
//! `falco_deno` member of a plugin's init config (deadlines, heap limit,
//! permission grants, prefetching), split off before the script sees the
//! config.

/// Options the operator sets under the reserved `falco_deno` member of the
/// init config.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbedOptions {
  /// How long `next_batch` waits for an async `nextBatch` before TIMEOUT.
  #[serde(default = "default_batch_deadline_ms")]
  pub batch_deadline_ms: u64,
  /// How long one script callback may run before it is terminated.
  #[serde(default = "default_callback_deadline_ms")]
  pub callback_deadline_ms: u64,
  /// The instance's JavaScript heap limit.
  #[serde(default = "default_heap_limit_mb")]
  pub heap_limit_mb: u64,
  /// Permission grants, as `deno test --allow-read=...` etc. (see
  /// [`crate::web::permissions`]); nothing is granted by default.
  #[serde(default)]
  pub allow_read: Option<crate::web::Grant>,
  #[serde(default)]
  pub allow_write: Option<crate::web::Grant>,
  #[serde(default)]
  pub allow_net: Option<crate::web::Grant>,
  #[serde(default)]
  pub allow_env: Option<crate::web::Grant>,
  /// Extract the fields asked for on the previous event along with the
  /// first field of each event (see [`crate::prefetch`]).
  #[serde(default = "default_prefetch_fields")]
  pub prefetch_fields: bool,
}

fn default_prefetch_fields() -> bool {
  true
}

fn default_batch_deadline_ms() -> u64 {
  50
}

fn default_callback_deadline_ms() -> u64 {
  1000
}

fn default_heap_limit_mb() -> u64 {
  128
}

impl Default for EmbedOptions {
  fn default() -> Self {
    EmbedOptions {
      batch_deadline_ms: default_batch_deadline_ms(),
      callback_deadline_ms: default_callback_deadline_ms(),
      heap_limit_mb: default_heap_limit_mb(),
      allow_read: None,
      allow_write: None,
      allow_net: None,
      allow_env: None,
      prefetch_fields: default_prefetch_fields(),
    }
  }
}

/// Splits the reserved `falco_deno` member off the init config. A config
/// that is not a JSON object goes to the plugin unchanged, which reports it.
pub fn split_config(raw: &str) -> Result<(String, EmbedOptions), String> {
  let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str::<serde_json::Value>(raw)
  else {
    return Ok((raw.to_string(), EmbedOptions::default()));
  };
  let Some(reserved) = map.remove(crate::bridge::RESERVED_CONFIG_KEY) else {
    return Ok((raw.to_string(), EmbedOptions::default()));
  };
  let key = crate::bridge::RESERVED_CONFIG_KEY;
  let options: EmbedOptions = serde_json::from_value(reserved)
    .map_err(|e| format!("invalid \"{key}\" member of the init config: {e}"))?;
  if options.callback_deadline_ms == 0 || options.heap_limit_mb < 8 {
    return Err(format!(
      "invalid \"{key}\" member of the init config: callbackDeadlineMs must be > 0 and heapLimitMb >= 8"
    ));
  }
  Ok((serde_json::Value::Object(map).to_string(), options))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn split_config_strips_the_reserved_member() {
    let (rest, options) =
      split_config(r#"{"jitter":1,"falco_deno":{"callbackDeadlineMs":5,"heapLimitMb":16}}"#)
        .unwrap();
    assert_eq!(rest, r#"{"jitter":1}"#);
    assert_eq!(options.callback_deadline_ms, 5);
    assert_eq!(options.heap_limit_mb, 16);
    assert_eq!(options.batch_deadline_ms, 50);
  }

  #[test]
  fn split_config_passes_other_configs_through() {
    for raw in ["", "{", "[1]", r#"{"jitter":1}"#] {
      let (rest, options) = split_config(raw).unwrap();
      assert_eq!(rest, raw);
      assert_eq!(options.heap_limit_mb, 128);
    }
  }

  #[test]
  fn split_config_rejects_bad_options() {
    let e = split_config(r#"{"falco_deno":{"heapLimitMb":1}}"#).unwrap_err();
    assert!(e.contains("heapLimitMb >= 8"), "{e}");
    let e = split_config(r#"{"falco_deno":{"unknown":1}}"#).unwrap_err();
    assert!(e.contains("unknown field"), "{e}");
  }
}
