//! Extracts, in one hop, the fields the host is about to ask for.
//!
//! libsinsp asks for one field per `extract_fields` call, and a rule set
//! asks for the same fields on every event of a source. Each call is a hop
//! to the instance thread and back plus an entry into JavaScript, which
//! costs more than most extractions. So the first call for an event also
//! extracts the fields that were asked for on the previous event, and the
//! answers wait here, on the caller's side, for the calls that follow: those
//! are answered without a hop.
//!
//! An answer is reused only for the same event: the same `evtnum` *and* the
//! same event bytes, so a host that numbers events oddly still gets fresh
//! values. Any other call on the instance (`next_batch`, `open`, `close`...)
//! forgets the answers. A speculative extraction that fails is retried with
//! the asked-for fields alone, so an error in a field nobody asked for is
//! never reported. Extraction must therefore not depend on how often or in
//! which order fields are extracted; the operator can turn this off with
//! `falco_deno.prefetchFields: false`.

use falco_plugin_api::*;
use std::ffi::{CStr, CString};

/// Fields remembered from one event to the next.
const MAX_LEARNED: usize = 64;

/// The identity of one requested field.
#[derive(Clone, PartialEq, Eq)]
struct FieldKey {
  field_id: u32,
  ftype: u32,
  arg: Arg,
}

#[derive(Clone, PartialEq, Eq)]
enum Arg {
  None,
  Index(u64),
  Key(CString),
}

impl FieldKey {
  /// # Safety
  /// `arg_key`, when set, must be a C string.
  unsafe fn of(field: &ss_plugin_extract_field) -> FieldKey {
    let arg = if field.arg_present == 0 {
      Arg::None
    } else if !field.arg_key.is_null() {
      Arg::Key(CStr::from_ptr(field.arg_key).to_owned())
    } else {
      Arg::Index(field.arg_index)
    };
    FieldKey {
      field_id: field.field_id,
      ftype: field.ftype,
      arg,
    }
  }

  /// Whether `field` asks for this key, without allocating.
  ///
  /// # Safety
  /// As [`FieldKey::of`].
  unsafe fn matches(&self, field: &ss_plugin_extract_field) -> bool {
    if self.field_id != field.field_id || self.ftype != field.ftype {
      return false;
    }
    match &self.arg {
      Arg::None => field.arg_present == 0,
      Arg::Index(i) => field.arg_present != 0 && field.arg_key.is_null() && field.arg_index == *i,
      Arg::Key(k) => {
        field.arg_present != 0
          && !field.arg_key.is_null()
          && CStr::from_ptr(field.arg_key) == k.as_c_str()
      }
    }
  }

  /// A request for this key; it borrows `self` for the key string.
  fn request(&self) -> ss_plugin_extract_field {
    // SAFETY: an all-zero request is valid (no result, no argument).
    let mut r: ss_plugin_extract_field = unsafe { std::mem::zeroed() };
    r.field_id = self.field_id;
    r.ftype = self.ftype;
    match &self.arg {
      Arg::None => {}
      Arg::Index(i) => {
        r.arg_present = 1;
        r.arg_index = *i;
      }
      Arg::Key(k) => {
        r.arg_present = 1;
        r.arg_key = k.as_ptr();
      }
    }
    r
  }
}

/// What the instance keeps between `extract_fields` calls.
#[derive(Default)]
pub struct Prefetch {
  /// `evtnum` and bytes of the event the answers belong to.
  event: Vec<u8>,
  /// The fields of that event, answered by the last extraction; their
  /// results point into the instance thread's storage, which stays put
  /// until the next extraction.
  answers: Vec<(FieldKey, ss_plugin_extract_field)>,
  /// Fields asked for on the event of `answers`.
  asked: Vec<FieldKey>,
  /// Fields asked for on the event before: the guess for the next one.
  learned: Vec<FieldKey>,
}

// SAFETY: the raw pointers in `answers` point at storage of the instance
// thread that it does not touch until the next extraction, which goes
// through this same (locked) state.
unsafe impl Send for Prefetch {}

/// What [`Prefetch::plan`] decided for one call.
pub enum Plan {
  /// Every field was answered from the last extraction.
  Answered,
  /// Extract these requests (the asked-for ones first, then guesses).
  Extract(Vec<ss_plugin_extract_field>),
}

impl Prefetch {
  /// Forgets the answers: another call may have changed the plugin's state.
  pub fn forget(&mut self) {
    self.event.clear();
    self.answers.clear();
    self.asked.clear();
  }

  /// Answers `fields` from the last extraction if it covered them all, or
  /// says what to extract.
  ///
  /// # Safety
  /// `event` and `fields` as the ABI gives them to `extract_fields`.
  pub unsafe fn plan(
    &mut self,
    event: &ss_plugin_event_input,
    fields: &mut [ss_plugin_extract_field],
  ) -> Plan {
    let same_event = self.is_current(event);
    if same_event {
      let mut hits = 0;
      for f in fields.iter_mut() {
        if let Some((_, a)) = self.answers.iter().find(|(k, _)| k.matches(f)) {
          f.res = a.res;
          f.res_len = a.res_len;
          hits += 1;
        }
      }
      if hits == fields.len() {
        self.note_asked(fields);
        return Plan::Answered;
      }
    } else {
      if !self.asked.is_empty() {
        self.learned = std::mem::take(&mut self.asked);
      }
      self.set_current(event);
    }
    let mut requests: Vec<ss_plugin_extract_field> = fields.to_vec();
    if !same_event {
      for key in &self.learned {
        if !requests.iter().any(|r| key.matches(r)) {
          requests.push(key.request());
        }
      }
    }
    Plan::Extract(requests)
  }

  /// Keeps the results of an extraction of `requests` (as planned, or the
  /// asked-for fields alone) and copies the asked-for ones into `fields`.
  ///
  /// # Safety
  /// As [`Prefetch::plan`]; `requests` were just filled by the instance.
  pub unsafe fn keep(
    &mut self,
    fields: &mut [ss_plugin_extract_field],
    requests: &[ss_plugin_extract_field],
  ) {
    self.answers.clear();
    for r in requests {
      self.answers.push((FieldKey::of(r), *r));
    }
    for (f, r) in fields.iter_mut().zip(requests) {
      f.res = r.res;
      f.res_len = r.res_len;
    }
    self.note_asked(fields);
  }

  unsafe fn note_asked(&mut self, fields: &[ss_plugin_extract_field]) {
    for f in fields {
      if self.asked.len() < MAX_LEARNED && !self.asked.iter().any(|k| k.matches(f)) {
        self.asked.push(FieldKey::of(f));
      }
    }
  }

  unsafe fn is_current(&self, event: &ss_plugin_event_input) -> bool {
    match event_bytes(event) {
      Some(bytes) => {
        self.event.len() == 8 + bytes.len()
          && self.event[..8] == event.evtnum.to_le_bytes()
          && &self.event[8..] == bytes
      }
      None => false,
    }
  }

  unsafe fn set_current(&mut self, event: &ss_plugin_event_input) {
    self.forget();
    if let Some(bytes) = event_bytes(event) {
      self.event.extend_from_slice(&event.evtnum.to_le_bytes());
      self.event.extend_from_slice(bytes);
    }
  }
}

/// The whole event, by the length in its header.
unsafe fn event_bytes(event: &ss_plugin_event_input) -> Option<&[u8]> {
  crate::scap::event_at(event.evt as *const u8)
}
