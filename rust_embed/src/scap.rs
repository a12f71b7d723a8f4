//! The scap event layout of the plugin API, parsed in one place.
//!
//! An event is a packed little-endian header (`ts u64, tid u64, len u32`
//! for the whole event, `type u16, nparams u32`), one `u32` length per
//! parameter, then the parameters. A plugin event has type 322 and two
//! parameters: the plugin id (`u32`) and the payload.

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 26;
/// scap event type of a plugin event.
pub const PLUGIN_EVENT_TYPE: u16 = 322;
/// The smallest plugin event: the header and its two parameter lengths.
pub const PLUGIN_EVENT_MIN_LEN: usize = HEADER_LEN + 8;

/// The fixed header of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
  pub ts: u64,
  pub tid: u64,
  /// Length of the whole event, header included.
  pub len: u32,
  pub event_type: u16,
  pub nparams: u32,
}

impl Header {
  /// Reads the header at the start of `bytes`; `None` when they are fewer
  /// than [`HEADER_LEN`].
  pub fn parse(bytes: &[u8]) -> Option<Header> {
    let b = bytes.get(..HEADER_LEN)?;
    Some(Header {
      ts: u64::from_le_bytes(b[0..8].try_into().unwrap()),
      tid: u64::from_le_bytes(b[8..16].try_into().unwrap()),
      len: u32::from_le_bytes(b[16..20].try_into().unwrap()),
      event_type: u16::from_le_bytes(b[20..22].try_into().unwrap()),
      nparams: u32::from_le_bytes(b[22..26].try_into().unwrap()),
    })
  }
}

/// The whole event at `evt`, as long as its header says; `None` for a null
/// pointer or a length shorter than the header.
///
/// # Safety
/// `evt`, when not null, must point to an event at least as long as the
/// length in its header, valid for `'a`.
pub unsafe fn event_at<'a>(evt: *const u8) -> Option<&'a [u8]> {
  if evt.is_null() {
    return None;
  }
  let header = Header::parse(std::slice::from_raw_parts(evt, HEADER_LEN))?;
  let len = header.len as usize;
  (len >= HEADER_LEN).then(|| std::slice::from_raw_parts(evt, len))
}

/// The plugin id and payload of a plugin event; `Ok(None)` for an event of
/// another type, an error when a plugin event's parameters do not fit.
pub fn plugin_payload(event: &[u8]) -> Result<Option<(u32, &[u8])>, String> {
  let Some(header) = Header::parse(event) else {
    return Err(format!(
      "the event is too short ({} bytes) for its header",
      event.len()
    ));
  };
  let nparams = header.nparams as usize;
  if header.event_type != PLUGIN_EVENT_TYPE || nparams < 2 {
    return Ok(None);
  }
  let len = event.len();
  let lens_end = nparams
    .checked_mul(4)
    .and_then(|n| n.checked_add(HEADER_LEN))
    .filter(|&end| end <= len)
    .ok_or_else(|| format!("the event is too short ({len} bytes) for {nparams} parameters"))?;
  let param_len = |i: usize| {
    u32::from_le_bytes(
      event[HEADER_LEN + 4 * i..HEADER_LEN + 4 * i + 4]
        .try_into()
        .unwrap(),
    ) as usize
  };
  let (id_len, payload_len) = (param_len(0), param_len(1));
  if id_len != 4 || lens_end + 4 + payload_len > len {
    return Err("the plugin event's parameters do not fit its length".into());
  }
  let id = u32::from_le_bytes(event[lens_end..lens_end + 4].try_into().unwrap());
  Ok(Some((id, &event[lens_end + 4..lens_end + 4 + payload_len])))
}

#[cfg(test)]
mod tests {
  use super::*;

  fn plugin_event(id: u32, payload: &[u8]) -> Vec<u8> {
    let len = PLUGIN_EVENT_MIN_LEN + 4 + payload.len();
    let mut e = Vec::with_capacity(len);
    e.extend_from_slice(&7u64.to_le_bytes());
    e.extend_from_slice(&u64::MAX.to_le_bytes());
    e.extend_from_slice(&(len as u32).to_le_bytes());
    e.extend_from_slice(&PLUGIN_EVENT_TYPE.to_le_bytes());
    e.extend_from_slice(&2u32.to_le_bytes());
    e.extend_from_slice(&4u32.to_le_bytes());
    e.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    e.extend_from_slice(&id.to_le_bytes());
    e.extend_from_slice(payload);
    e
  }

  #[test]
  fn a_plugin_event_gives_its_id_and_payload() {
    let e = plugin_event(999, b"hello");
    let h = Header::parse(&e).unwrap();
    assert_eq!((h.ts, h.len as usize, h.nparams), (7, e.len(), 2));
    assert_eq!(plugin_payload(&e).unwrap(), Some((999, &b"hello"[..])));
  }

  #[test]
  fn parameters_that_overrun_the_event_are_refused() {
    let mut e = plugin_event(1, b"abc");
    e[30..34].copy_from_slice(&100u32.to_le_bytes());
    assert!(plugin_payload(&e).is_err());
    let mut e = plugin_event(1, b"abc");
    e[22..26].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(plugin_payload(&e).is_err(), "nparams past the end");
  }

  #[test]
  fn other_event_types_have_no_payload() {
    let mut e = plugin_event(1, b"abc");
    e[20..22].copy_from_slice(&1u16.to_le_bytes());
    assert_eq!(plugin_payload(&e).unwrap(), None);
    assert!(plugin_payload(&e[..10]).is_err());
  }
}
