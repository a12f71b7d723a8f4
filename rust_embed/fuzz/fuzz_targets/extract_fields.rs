//! `plugin_extract_fields` (and `plugin_event_to_string`) with arbitrary
//! event bytes and field requests, on one long-lived plugin state.
//! The event's `len` header always equals its buffer (the host's duty);
//! type, nparams, parameter lengths, payload, event number, field ids,
//! types, list flags and arguments are arbitrary.
#![no_main]

use arbitrary::Arbitrary;
use falco_deno_fuzz::*;
use falco_plugin_api as api;
use libfuzzer_sys::fuzz_target;
use std::ffi::CString;

#[derive(Arbitrary, Debug)]
struct Request {
  /// Field id; mostly valid (taken modulo the field count + 2).
  field: u8,
  /// Use the field's own type (else one of all types).
  own_type: bool,
  ftype: u8,
  flist: bool,
  arg: Arg,
}

#[derive(Arbitrary, Debug)]
enum Arg {
  None,
  Index(u64),
  Key(Vec<u8>),
  /// arg_present set, no key, index 0
  PresentEmpty,
}

#[derive(Arbitrary, Debug)]
struct Input {
  /// Build a well-formed plugin event around `payload` (else raw bytes).
  well_formed: bool,
  /// For a well-formed event: use the plugin's own id.
  own_id: bool,
  plugin_id: u32,
  evtnum: u64,
  ts: u64,
  /// For raw events: the header fields written over the raw bytes.
  etype: u16,
  nparams: u32,
  lens: [u32; 2],
  bytes: Vec<u8>,
  requests: Vec<Request>,
  to_string: bool,
}

fn event(i: &Input, p: &Plugin) -> Vec<u8> {
  let mut b = Vec::new();
  b.extend_from_slice(&i.ts.to_le_bytes());
  b.extend_from_slice(&u64::MAX.to_le_bytes());
  b.extend_from_slice(&0u32.to_le_bytes()); // len, set below
  if i.well_formed {
    let id = if i.own_id {
      p.get_id.map(|f| unsafe { f() }).unwrap_or(999)
    } else {
      i.plugin_id
    };
    b.extend_from_slice(&322u16.to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&(i.bytes.len() as u32).to_le_bytes());
    b.extend_from_slice(&id.to_le_bytes());
    b.extend_from_slice(&i.bytes);
  } else {
    b.extend_from_slice(&i.etype.to_le_bytes());
    b.extend_from_slice(&i.nparams.to_le_bytes());
    b.extend_from_slice(&i.lens[0].to_le_bytes());
    b.extend_from_slice(&i.lens[1].to_le_bytes());
    b.extend_from_slice(&i.bytes);
  }
  let len = b.len() as u32;
  b[16..20].copy_from_slice(&len.to_le_bytes());
  b
}

fuzz_target!(|input: Input| {
  let p = plugin();
  let s = shared_state();
  let Some(extract) = p.extract_fields else {
    return;
  };
  let evt = event(&input, p);
  let ein = api::ss_plugin_event_input {
    evt: evt.as_ptr() as *const api::ss_plugin_event,
    evtnum: input.evtnum,
    evtsrc: c"fuzz".as_ptr(),
  };
  let nf = p.fields.len().max(1);
  let keys: Vec<Option<CString>> = input
    .requests
    .iter()
    .map(|r| match &r.arg {
      Arg::Key(k) => Some(c_string(k)),
      _ => None,
    })
    .collect();
  let unknown = CString::new("fuzz.unknown").unwrap();
  let mut reqs: Vec<api::ss_plugin_extract_field> = input
    .requests
    .iter()
    .take(64)
    .zip(&keys)
    .map(|(r, key)| {
      let id = r.field as usize % (nf + 2);
      let (name, own_type, own_list) = p
        .fields
        .get(id)
        .map(|(n, t, l)| (n.as_ptr(), *t, *l))
        .unwrap_or((unknown.as_ptr(), FTYPES[0], false));
      let ftype = if r.own_type {
        own_type
      } else {
        FTYPES[r.ftype as usize % FTYPES.len()]
      };
      let (present, index, key) = match &r.arg {
        Arg::None => (0, 0, std::ptr::null()),
        Arg::Index(i) => (1, *i, std::ptr::null()),
        Arg::Key(_) => (1, 0, key.as_ref().unwrap().as_ptr()),
        Arg::PresentEmpty => (1, 0, std::ptr::null()),
      };
      api::ss_plugin_extract_field {
        res: api::ss_plugin_extract_field__bindgen_ty_1 {
          u64_: std::ptr::null_mut(),
        },
        res_len: 0,
        field_id: id as u32,
        field: name,
        arg_key: key,
        arg_index: index,
        arg_present: present,
        ftype,
        flist: (if r.own_type { own_list } else { r.flist }) as u32,
      }
    })
    .collect();
  let fin = api::ss_plugin_field_extract_input {
    owner: std::ptr::null_mut(),
    get_owner_last_error: None,
    num_fields: reqs.len() as u32,
    fields: reqs.as_mut_ptr(),
    table_reader: unsafe { std::mem::zeroed() },
    table_reader_ext: std::ptr::null_mut(),
    value_offsets: std::ptr::null_mut(),
  };
  let rc = unsafe { extract(s, &ein, &fin) };
  if rc == api::ss_plugin_rc_SS_PLUGIN_SUCCESS {
    // every result must be readable
    for r in &reqs {
      let n = r.res_len as usize;
      if n == 0 {
        continue;
      }
      unsafe {
        match r.ftype {
          api::ss_plugin_field_type_FTYPE_STRING => {
            for i in 0..n {
              let c = *r.res.str_.add(i);
              assert!(!c.is_null());
              std::hint::black_box(std::ffi::CStr::from_ptr(c).to_bytes().len());
            }
          }
          api::ss_plugin_field_type_FTYPE_BOOL => {
            std::hint::black_box(
              std::slice::from_raw_parts(r.res.u32_, n)
                .iter()
                .sum::<u32>(),
            );
          }
          api::ss_plugin_field_type_FTYPE_IPADDR | api::ss_plugin_field_type_FTYPE_IPNET => {
            for i in 0..n {
              let b = &*r.res.buf.add(i);
              let sl = std::slice::from_raw_parts(b.ptr as *const u8, b.len as usize);
              std::hint::black_box(sl.iter().map(|&x| x as u32).sum::<u32>());
            }
          }
          _ => {
            std::hint::black_box(
              std::slice::from_raw_parts(r.res.u64_, n)
                .iter()
                .sum::<u64>(),
            );
          }
        }
      }
    }
  } else {
    assert_eq!(rc, api::ss_plugin_rc_SS_PLUGIN_FAILURE, "extract rc {rc}");
    assert!(
      !unsafe { last_error(s) }.is_empty(),
      "extract FAILURE with an empty error"
    );
  }
  if input.to_string {
    if let Some(ets) = p.event_to_string {
      let t = unsafe { ets(s, &ein) };
      assert!(!t.is_null(), "event_to_string returned NULL");
      std::hint::black_box(unsafe { std::ffi::CStr::from_ptr(t) }.to_bytes().len());
    }
  }
});
