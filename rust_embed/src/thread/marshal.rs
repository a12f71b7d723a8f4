//! Moving events and field values between host memory and the bridge's
//! shared buffers (layouts in `runtime/_bridge_abi.ts`, mirrored in
//! [`crate::bridge`]). Nothing here runs JavaScript.

#![allow(non_upper_case_globals)]

use crate::bridge;
use crate::field_key::{same_field, FieldKey};
use crate::scap;
use falco_plugin_api::*;
use std::ffi::c_char;

/// Storage for one extracted field's values, reused when that field is
/// extracted again.
#[derive(Default)]
pub struct FieldValues {
  u64s: Vec<u64>,
  u32s: Vec<u32>,
  bytes: Vec<u8>,
  spans: Vec<(usize, usize)>,
  strings: Vec<*const c_char>,
  buffers: Vec<ss_plugin_byte_buffer>,
}

impl FieldValues {
  fn clear(&mut self) {
    self.u64s.clear();
    self.u32s.clear();
    self.bytes.clear();
    self.spans.clear();
    self.strings.clear();
    self.buffers.clear();
  }
}

/// Field keys kept at most; past that the store used longest ago is reused.
const MAX_STORES: usize = 512;

/// One result store per field key (id, type, argument). A field's values stay
/// where they are until that same field is extracted again: libsinsp's
/// filters keep the pointers of a field's first extraction on an event and
/// read them again after extracting other fields (its expression cache), as
/// the Go SDK allows by keeping one buffer per field.
#[derive(Default)]
pub struct ResultStores {
  entries: Vec<(FieldKey, FieldValues, u64)>,
  uses: u64,
}

impl ResultStores {
  /// The store of the field `request` asks for.
  ///
  /// # Safety
  /// `request.arg_key`, when set, is a C string.
  unsafe fn of(&mut self, request: &ss_plugin_extract_field) -> &mut FieldValues {
    self.uses += 1;
    let uses = self.uses;
    let at = match self.entries.iter().position(|(k, _, _)| k.matches(request)) {
      Some(at) => at,
      None if self.entries.len() < MAX_STORES => {
        self
          .entries
          .push((FieldKey::of(request), FieldValues::default(), 0));
        self.entries.len() - 1
      }
      None => {
        let oldest = (0..self.entries.len())
          .min_by_key(|&i| self.entries[i].2)
          .expect("MAX_STORES > 0");
        self.entries[oldest].0 = FieldKey::of(request);
        oldest
      }
    };
    let entry = &mut self.entries[at];
    entry.2 = uses;
    &mut entry.1
  }
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
  buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes the event's header fields and payload into `input` for
/// `requests` field requests; returns where the bytes after the payload
/// start.
///
/// # Safety
/// `event` as the host gives it: `evt` points to a whole scap event.
pub unsafe fn write_event(
  input: &mut [u8],
  event: &ss_plugin_event_input,
  requests: usize,
) -> Result<usize, String> {
  let whole = scap::event_at(event.evt as *const u8)
    .ok_or("the host passed no event, or one shorter than its header")?;
  let header = scap::Header::parse(whole).expect("event_at checked the length");
  let (plugin_id, payload) = scap::plugin_payload(whole)?.unwrap_or((0, &[]));
  let payload_at = bridge::INPUT_HEADER_SIZE + requests * bridge::REQUEST_SIZE;
  if payload_at + payload.len() > input.len() {
    return Err(format!(
      "the event payload of {} bytes exceeds the extraction buffer of {} bytes",
      payload.len(),
      input.len()
    ));
  }
  input[0..8].copy_from_slice(&event.evtnum.to_le_bytes());
  input[8..16].copy_from_slice(&header.ts.to_le_bytes());
  put_u32(input, 16, payload.len() as u32);
  put_u32(input, 20, payload_at as u32);
  put_u32(input, 24, requests as u32);
  put_u32(input, 28, plugin_id);
  put_u32(input, 32, header.event_type as u32);
  put_u32(input, 36, 0);
  input[payload_at..payload_at + payload.len()].copy_from_slice(payload);
  Ok(payload_at + payload.len())
}

/// How many field requests fit in `input` beside the header.
pub fn max_requests(input_len: usize) -> usize {
  (input_len - bridge::INPUT_HEADER_SIZE) / bridge::REQUEST_SIZE
}

/// Writes the field requests (ids and arguments) after the event written
/// by [`write_event`], whose end is `at`.
///
/// # Safety
/// Each request's `arg_key`, when set, is a C string.
pub unsafe fn write_requests(
  input: &mut [u8],
  mut at: usize,
  requests: &[ss_plugin_extract_field],
) -> Result<(), String> {
  for (i, req) in requests.iter().enumerate() {
    let (kind, index, key_at, key_len) = if req.arg_present == 0 {
      (bridge::ARG_NONE, 0u64, 0usize, 0usize)
    } else if !req.arg_key.is_null() {
      let key = std::ffi::CStr::from_ptr(req.arg_key).to_bytes();
      if at + key.len() > input.len() {
        return Err("the field arguments exceed the extraction buffer".into());
      }
      input[at..at + key.len()].copy_from_slice(key);
      let r = (bridge::ARG_KEY, 0u64, at, key.len());
      at += key.len();
      r
    } else {
      (bridge::ARG_INDEX, req.arg_index, 0, 0)
    };
    let r = bridge::INPUT_HEADER_SIZE + i * bridge::REQUEST_SIZE;
    put_u32(input, r, req.field_id);
    put_u32(input, r + 4, kind);
    input[r + 8..r + 16].copy_from_slice(&index.to_le_bytes());
    put_u32(input, r + 16, key_at as u32);
    put_u32(input, r + 20, key_len as u32);
  }
  Ok(())
}

/// Copies the values JavaScript wrote to `out` into `stores` (one per field,
/// owned by the instance) and points the host's results at them. A field
/// asked for twice in one call gets the first answer's values.
///
/// # Safety
/// `requests` are the host's, writable until the call returns; their
/// `arg_key`s, when set, are C strings.
pub unsafe fn collect_values(
  out: &[u8],
  stores: &mut ResultStores,
  requests: &mut [ss_plugin_extract_field],
) -> Result<(), String> {
  let mut at = 0usize;
  let read_u32 = |at: &mut usize| -> Result<u32, String> {
    let v = out
      .get(*at..*at + 4)
      .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
      .ok_or_else(|| "the extracted values run past the output buffer".to_string())?;
    *at += 4;
    Ok(v)
  };
  for i in 0..requests.len() {
    let (earlier, rest) = requests.split_at_mut(i);
    let req = &mut rest[0];
    let twin = earlier
      .iter()
      .find(|e| same_field(e, req))
      .map(|e| (e.res, e.res_len));
    let count = read_u32(&mut at)? as usize;
    if let Some((res, res_len)) = twin {
      for _ in 0..count {
        let len = read_u32(&mut at)? as usize;
        at = at
          .checked_add(len)
          .filter(|&end| end <= out.len())
          .ok_or("the extracted values run past the output buffer")?;
      }
      req.res = res;
      req.res_len = res_len;
      continue;
    }
    let store = stores.of(req);
    store.clear();
    for _ in 0..count {
      let len = read_u32(&mut at)? as usize;
      let value = out
        .get(at..at + len)
        .ok_or("the extracted values run past the output buffer")?;
      at += len;
      let fixed = |width: usize| {
        (len == width).then_some(value).ok_or_else(|| {
          format!(
            "field id {} expected {width} bytes, got {len}",
            req.field_id
          )
        })
      };
      match req.ftype {
        ss_plugin_field_type_FTYPE_UINT64
        | ss_plugin_field_type_FTYPE_RELTIME
        | ss_plugin_field_type_FTYPE_ABSTIME => store
          .u64s
          .push(u64::from_le_bytes(fixed(8)?.try_into().unwrap())),
        ss_plugin_field_type_FTYPE_BOOL => store
          .u32s
          .push(u32::from_le_bytes(fixed(4)?.try_into().unwrap())),
        ss_plugin_field_type_FTYPE_STRING => {
          let start = store.bytes.len();
          store.bytes.extend_from_slice(value);
          store.bytes.push(0);
          store.spans.push((start, len));
        }
        _ => {
          let start = store.bytes.len();
          store.bytes.extend_from_slice(value);
          store.spans.push((start, len));
        }
      }
    }
    req.res_len = count as u64;
    match req.ftype {
      ss_plugin_field_type_FTYPE_UINT64
      | ss_plugin_field_type_FTYPE_RELTIME
      | ss_plugin_field_type_FTYPE_ABSTIME => req.res.u64_ = store.u64s.as_mut_ptr(),
      ss_plugin_field_type_FTYPE_BOOL => req.res.u32_ = store.u32s.as_mut_ptr(),
      ss_plugin_field_type_FTYPE_STRING => {
        let base = store.bytes.as_ptr();
        store.strings.extend(
          store
            .spans
            .iter()
            .map(|&(s, _)| base.add(s) as *const c_char),
        );
        req.res.str_ = store.strings.as_mut_ptr();
      }
      _ => {
        let base = store.bytes.as_ptr();
        store
          .buffers
          .extend(store.spans.iter().map(|&(s, l)| ss_plugin_byte_buffer {
            len: l as u32,
            ptr: base.add(s) as *const _,
          }));
        req.res.buf = store.buffers.as_mut_ptr();
      }
    }
  }
  Ok(())
}

/// Where each of the `count` events JavaScript wrote to `batch` starts, and
/// where the last one ends.
pub fn batch_offsets(batch: &[u8], count: usize) -> Result<(Vec<usize>, usize), String> {
  let mut offsets = Vec::with_capacity(count);
  let mut at = 0usize;
  for i in 0..count {
    let header = batch
      .get(at..)
      .and_then(scap::Header::parse)
      .filter(|_| at + scap::PLUGIN_EVENT_MIN_LEN <= batch.len())
      .ok_or_else(|| format!("event {i} of the batch lies outside the batch buffer"))?;
    let len = header.len as usize;
    if len < scap::PLUGIN_EVENT_MIN_LEN || at + len > batch.len() {
      return Err(format!(
        "event {i} of the batch has an invalid length {len}"
      ));
    }
    offsets.push(at);
    at += len;
  }
  Ok((offsets, at))
}

#[cfg(test)]
mod tests {
  use super::*;

  /// The output of one uint64 value per request.
  fn output(values: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
      out.extend_from_slice(&1u32.to_le_bytes());
      out.extend_from_slice(&8u32.to_le_bytes());
      out.extend_from_slice(&v.to_le_bytes());
    }
    out
  }

  fn request(field_id: u32, index: Option<u64>) -> ss_plugin_extract_field {
    // SAFETY: all-zero is a valid request.
    let mut r: ss_plugin_extract_field = unsafe { std::mem::zeroed() };
    r.field_id = field_id;
    r.ftype = ss_plugin_field_type_FTYPE_UINT64;
    if let Some(i) = index {
      r.arg_present = 1;
      r.arg_index = i;
    }
    r
  }

  #[test]
  fn a_fields_values_stay_while_other_fields_are_extracted() {
    let mut stores = ResultStores::default();
    unsafe {
      let mut a = [request(1, None)];
      collect_values(&output(&[11]), &mut stores, &mut a).unwrap();
      let mut b = [request(2, None)];
      collect_values(&output(&[22]), &mut stores, &mut b).unwrap();
      let mut a3 = [request(1, Some(3))];
      collect_values(&output(&[33]), &mut stores, &mut a3).unwrap();
      assert_eq!(
        [*a[0].res.u64_, *b[0].res.u64_, *a3[0].res.u64_],
        [11, 22, 33],
        "an earlier field's values were overwritten"
      );
      // The same field again: its store is reused.
      let mut again = [request(1, None)];
      collect_values(&output(&[44]), &mut stores, &mut again).unwrap();
      assert_eq!(again[0].res.u64_, a[0].res.u64_);
      assert_eq!(*again[0].res.u64_, 44);
    }
  }

  #[test]
  fn a_field_asked_twice_in_one_call_gets_one_answer() {
    let mut stores = ResultStores::default();
    unsafe {
      let mut twice = [request(1, None), request(2, None), request(1, None)];
      collect_values(&output(&[5, 6, 5]), &mut stores, &mut twice).unwrap();
      assert_eq!(twice[0].res.u64_, twice[2].res.u64_);
      assert_eq!([*twice[0].res.u64_, *twice[1].res.u64_], [5, 6]);
    }
  }
}
