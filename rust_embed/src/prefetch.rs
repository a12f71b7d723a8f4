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
//!
//! When the event is one of the last batch this instance returned (found
//! by its bytes, from where the previous one was), the same hop also
//! extracts those fields for up to [`MAX_AHEAD`] events that follow it in
//! the batch, numbered as the host numbers events: one after the other. The
//! host's calls for those events are then answered here too, if the event
//! number and bytes are the guessed ones; a hop per event became a hop per
//! [`MAX_AHEAD`] + 1 events. An event extracted ahead whose extraction
//! fails is not kept and nothing is reported: the host's own call extracts
//! it again.

use crate::field_key::FieldKey;
use falco_plugin_api::*;

/// Fields remembered from one event to the next.
const MAX_LEARNED: usize = 64;

/// Events of a batch extracted ahead in one hop, after the asked-for one.
pub const MAX_AHEAD: usize = 63;

/// How far past the expected one an event is looked for in the batch.
const BATCH_SEARCH: usize = 4;

/// One event extracted ahead: what the instance thread is asked to fill,
/// and, once filled, what the host's calls for that event are answered
/// with.
pub struct AheadEvent {
  /// The batch event, with the event number the host is expected to give.
  pub event: ss_plugin_event_input,
  /// The requests to fill; they borrow the key strings of `learned`.
  pub requests: Vec<ss_plugin_extract_field>,
  /// Set by the instance thread when `requests` were filled.
  pub ok: bool,
  answers: Vec<(FieldKey, ss_plugin_extract_field)>,
  /// Where the event is in the batch.
  index: usize,
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
  /// The events of the last batch (the instance thread's memory, valid
  /// until the next call that may change state).
  batch: Vec<*const ss_plugin_event>,
  /// Where in `batch` the next event is expected.
  cursor: usize,
  /// Events after the current one, extracted in the same hop.
  ahead: Vec<AheadEvent>,
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
    self.clear_event();
    self.ahead.clear();
    self.batch.clear();
    self.cursor = 0;
  }

  fn clear_event(&mut self) {
    self.event.clear();
    self.answers.clear();
    self.asked.clear();
  }

  /// Notes the batch `next_batch` just returned: its events may be
  /// extracted ahead.
  ///
  /// # Safety
  /// `events` points to `count` events that stay valid until the next call
  /// that may change state, which calls [`Prefetch::forget`].
  pub unsafe fn set_batch(&mut self, events: *mut *mut ss_plugin_event, count: u32) {
    self.forget();
    if !events.is_null() {
      let events = std::slice::from_raw_parts(events, count as usize);
      self
        .batch
        .extend(events.iter().map(|&e| e as *const ss_plugin_event));
    }
  }

  /// The events to extract ahead in the planned hop, for the instance
  /// thread to fill.
  pub fn ahead_mut(&mut self) -> &mut [AheadEvent] {
    &mut self.ahead
  }

  /// Drops the events planned ahead (before a hop for the asked-for fields
  /// alone).
  pub fn drop_ahead(&mut self) {
    self.ahead.clear();
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
      if self.answer(fields) {
        self.note_asked(fields);
        return Plan::Answered;
      }
    } else {
      if !self.asked.is_empty() {
        self.learned = std::mem::take(&mut self.asked);
      }
      let extracted_ahead = self.take_ahead(event);
      self.set_current(event);
      if let Some(answers) = extracted_ahead {
        self.answers = answers;
        if self.answer(fields) {
          self.note_asked(fields);
          return Plan::Answered;
        }
      }
    }
    // A hop: the instance thread reuses the storage of what was extracted
    // ahead.
    self.ahead.clear();
    let mut requests: Vec<ss_plugin_extract_field> = fields.to_vec();
    if !same_event {
      for key in &self.learned {
        if !requests.iter().any(|r| key.matches(r)) {
          requests.push(key.request());
        }
      }
      self.plan_ahead(event);
    }
    Plan::Extract(requests)
  }

  /// Fills every field from `answers`; whether all were there.
  unsafe fn answer(&self, fields: &mut [ss_plugin_extract_field]) -> bool {
    let mut hits = 0;
    for f in fields.iter_mut() {
      if let Some((_, a)) = self.answers.iter().find(|(k, _)| k.matches(f)) {
        f.res = a.res;
        f.res_len = a.res_len;
        hits += 1;
      }
    }
    hits == fields.len()
  }

  /// The answers extracted ahead for `event`, if its number and bytes are
  /// the ones guessed.
  unsafe fn take_ahead(
    &mut self,
    event: &ss_plugin_event_input,
  ) -> Option<Vec<(FieldKey, ss_plugin_extract_field)>> {
    let bytes = event_bytes(event)?;
    let found = self
      .ahead
      .iter_mut()
      .find(|a| a.ok && a.event.evtnum == event.evtnum && event_bytes(&a.event) == Some(bytes))?;
    self.cursor = found.index + 1;
    Some(std::mem::take(&mut found.answers))
  }

  /// Plans the events that follow `event` in the batch, if it is one of
  /// the batch's, to be extracted with it.
  unsafe fn plan_ahead(&mut self, event: &ss_plugin_event_input) {
    if self.learned.is_empty() {
      return;
    }
    let Some(bytes) = event_bytes(event) else {
      return;
    };
    let search = self.cursor..self.batch.len().min(self.cursor + BATCH_SEARCH);
    let Some(at) = search
      .clone()
      .find(|&j| crate::scap::event_at(self.batch[j] as *const u8) == Some(bytes))
    else {
      return;
    };
    self.cursor = at + 1;
    let following = at + 1..self.batch.len().min(at + 1 + MAX_AHEAD);
    for (n, j) in following.enumerate() {
      // SAFETY: an all-zero event input is valid; the fields that matter
      // are set below.
      let mut input: ss_plugin_event_input = std::mem::zeroed();
      input.evt = self.batch[j] as *mut ss_plugin_event;
      input.evtnum = event.evtnum.wrapping_add(n as u64 + 1);
      input.evtsrc = event.evtsrc;
      self.ahead.push(AheadEvent {
        event: input,
        requests: self.learned.iter().map(FieldKey::request).collect(),
        ok: false,
        answers: Vec::new(),
        index: j,
      });
    }
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
    // Keyed now, while the key strings the requests borrow are alive.
    for a in &mut self.ahead {
      let requests = std::mem::take(&mut a.requests);
      if a.ok {
        a.answers = requests.iter().map(|r| (FieldKey::of(r), *r)).collect();
      }
    }
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
    self.clear_event();
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

#[cfg(test)]
mod tests {
  use super::*;

  /// A scap event of `len` bytes whose last byte is `tag`.
  fn event(tag: u8) -> Vec<u8> {
    let len = crate::scap::HEADER_LEN + 8;
    let mut bytes = vec![0u8; len];
    bytes[16..20].copy_from_slice(&(len as u32).to_le_bytes());
    bytes[len - 1] = tag;
    bytes
  }

  fn input(bytes: &[u8], evtnum: u64) -> ss_plugin_event_input {
    // SAFETY: all-zero is a valid event input; `evt` is set below.
    let mut e: ss_plugin_event_input = unsafe { std::mem::zeroed() };
    e.evt = bytes.as_ptr() as *mut ss_plugin_event;
    e.evtnum = evtnum;
    e
  }

  fn field(id: u32) -> ss_plugin_extract_field {
    // SAFETY: all-zero is a valid request.
    let mut f: ss_plugin_extract_field = unsafe { std::mem::zeroed() };
    f.field_id = id;
    f.ftype = ss_plugin_field_type_FTYPE_UINT64;
    f
  }

  /// What the instance thread does with a planned hop: every request and
  /// every event ahead answered with `value`.
  unsafe fn serve(p: &mut Prefetch, requests: &mut [ss_plugin_extract_field], value: &mut u64) {
    for r in requests.iter_mut() {
      r.res.u64_ = value;
      r.res_len = 1;
    }
    for a in p.ahead_mut() {
      for r in &mut a.requests {
        r.res.u64_ = value;
        r.res_len = 1;
      }
      a.ok = true;
    }
  }

  /// The batch as `next_batch` hands it out: an array of event pointers.
  fn pointers_to(batch: &[Vec<u8>]) -> Vec<*mut ss_plugin_event> {
    batch
      .iter()
      .map(|b| b.as_ptr() as *mut ss_plugin_event)
      .collect()
  }

  #[test]
  fn events_after_the_asked_one_are_answered_from_one_hop() {
    let batch: Vec<Vec<u8>> = (0..4).map(event).collect();
    let mut pointers = pointers_to(&batch);
    // The host's copies: other addresses, same bytes.
    let copies = batch.clone();
    let mut value = 7u64;
    let mut p = Prefetch::default();
    unsafe {
      p.set_batch(pointers.as_mut_ptr(), 4);
      // Event 0 teaches which field is asked; nothing is planned ahead yet.
      let mut asked = [field(1)];
      let Plan::Extract(mut requests) = p.plan(&input(&copies[0], 10), &mut asked) else {
        panic!("event 0 needs a hop");
      };
      assert!(p.ahead_mut().is_empty());
      serve(&mut p, &mut requests, &mut value);
      p.keep(&mut asked, &requests);
      // Event 1: one hop, with events 2 and 3 planned ahead, numbered 12, 13.
      let Plan::Extract(mut requests) = p.plan(&input(&copies[1], 11), &mut asked) else {
        panic!("event 1 needs a hop");
      };
      let numbers: Vec<u64> = p.ahead_mut().iter().map(|a| a.event.evtnum).collect();
      assert_eq!(numbers, [12, 13]);
      serve(&mut p, &mut requests, &mut value);
      p.keep(&mut asked, &requests);
      // Event 2, numbered as guessed: answered without a hop.
      asked[0].res_len = 0;
      assert!(matches!(
        p.plan(&input(&copies[2], 12), &mut asked),
        Plan::Answered
      ));
      assert_eq!((asked[0].res_len, *asked[0].res.u64_), (1, 7));
      // Event 3 numbered otherwise: its answer is not served.
      assert!(matches!(
        p.plan(&input(&copies[3], 99), &mut asked),
        Plan::Extract(_)
      ));
    }
  }

  #[test]
  fn a_field_not_extracted_ahead_takes_a_hop_and_new_state_forgets_the_batch() {
    let batch: Vec<Vec<u8>> = (0..3).map(event).collect();
    let mut pointers = pointers_to(&batch);
    let mut value = 1u64;
    let mut p = Prefetch::default();
    unsafe {
      p.set_batch(pointers.as_mut_ptr(), 3);
      for (i, evtnum) in [(0usize, 1u64), (1, 2)] {
        let mut asked = [field(1)];
        let Plan::Extract(mut requests) = p.plan(&input(&batch[i], evtnum), &mut asked) else {
          panic!("event {i} needs a hop");
        };
        serve(&mut p, &mut requests, &mut value);
        p.keep(&mut asked, &requests);
      }
      let mut other = [field(2)];
      assert!(matches!(
        p.plan(&input(&batch[2], 3), &mut other),
        Plan::Extract(_)
      ));
      p.forget();
      assert!(p.ahead_mut().is_empty() && p.batch.is_empty());
    }
  }
}
