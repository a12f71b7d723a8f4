//! Raw ABI driver (dlopen + `falco_plugin_api` types), for what
//! falco_plugin_runner cannot do: driving one plugin from several threads in
//! turn (the runner is `!Send`), init/destroy cycles, direct error checks.
//! Calls mirror libsinsp: one `extract_fields` per field, `num_fields = 1`.

use crate::{cstr_opt, Lib};
use anyhow::{anyhow, bail, Result};
use falco_plugin_api as api;
use std::ffi::{c_char, CString};

/// One initialised plugin state. `Send` on purpose: the ABI lets a host call
/// a plugin from any thread as long as calls on one state do not overlap.
pub struct RawPlugin {
    pub lib: &'static Lib,
    pub state: *mut api::ss_plugin_t,
    fields: Vec<FieldDesc>,
}
unsafe impl Send for RawPlugin {}

#[derive(Clone, Debug)]
pub struct FieldDesc {
    pub name: String,
    pub ftype: u32,
    pub is_list: bool,
    pub arg_index: bool,
    pub arg_key: bool,
    pub arg_required: bool,
}

pub struct RawInstance(pub *mut api::ss_instance_t);
unsafe impl Send for RawInstance {}

/// A copied event (the plugin's batch memory only lives until the next call).
#[derive(Clone, Debug)]
pub struct OwnedEvent {
    pub bytes: Vec<u8>,
    pub num: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U64(u64),
    Str(String),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn canonical(&self, ftype: u32) -> String {
        match self {
            Value::U64(x) => x.to_string(),
            Value::Str(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Bytes(b) => {
                if ftype == 40 && b.len() == 4 {
                    std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
                } else if ftype == 40 && b.len() == 16 {
                    std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&b[..]).unwrap()).to_string()
                } else {
                    crate::hex(b)
                }
            }
        }
    }
}

const FT_STRING: u32 = 9;
const FT_BOOL: u32 = 25;
const FT_IPADDR: u32 = 40;
const FT_IPNET: u32 = 41;

fn ftype_of(s: &str) -> Option<u32> {
    Some(match s {
        "string" => 9,
        "uint64" => 8,
        "bool" => 25,
        "reltime" => 20,
        "abstime" => 21,
        "ipaddr" => 40,
        "ipnet" => 41,
        _ => return None,
    })
}

impl RawPlugin {
    /// plugin_init. On failure: Err((rc, last_error)), after destroying the
    /// returned handle (as libsinsp does) unless `destroy_failed` is false.
    pub fn init(
        lib: &'static Lib,
        config: &str,
        destroy_failed: bool,
    ) -> std::result::Result<Self, (i32, String)> {
        let cfg = CString::new(config).map_err(|_| (-1, "config contains NUL".to_string()))?;
        let input = api::ss_plugin_init_input {
            config: cfg.as_ptr(),
            owner: std::ptr::null_mut(),
            get_owner_last_error: None,
            tables: std::ptr::null(),
            log_fn: Some(log_fn),
        };
        let mut rc: i32 = -1;
        let s = unsafe { (lib.api.init.unwrap())(&input, &mut rc) };
        if rc != api::ss_plugin_rc_SS_PLUGIN_SUCCESS {
            let err = if s.is_null() {
                "(init returned a NULL handle: no error can be read)".to_string()
            } else {
                let e =
                    unsafe { cstr_opt((lib.api.get_last_error.unwrap())(s)) }.unwrap_or_default();
                if destroy_failed {
                    unsafe { (lib.api.destroy.unwrap())(s) };
                }
                e
            };
            return Err((rc, err));
        }
        if s.is_null() {
            return Err((rc, "init returned SUCCESS and a NULL handle".into()));
        }
        let mut fields = vec![];
        if let Some(gf) = lib.api.__bindgen_anon_2.get_fields {
            let txt = unsafe { cstr_opt(gf()) }.unwrap_or_default();
            let v: serde_json::Value =
                serde_json::from_str(&txt).map_err(|e| (-1, format!("get_fields JSON: {e}")))?;
            for f in v.as_array().cloned().unwrap_or_default() {
                let arg = &f["arg"];
                fields.push(FieldDesc {
                    name: f["name"].as_str().unwrap_or("").to_string(),
                    ftype: ftype_of(f["type"].as_str().unwrap_or("")).unwrap_or(0),
                    is_list: f["isList"].as_bool().unwrap_or(false),
                    arg_index: arg["isIndex"].as_bool().unwrap_or(false),
                    arg_key: arg["isKey"].as_bool().unwrap_or(false),
                    arg_required: arg["isRequired"].as_bool().unwrap_or(false),
                });
            }
        }
        Ok(RawPlugin {
            lib,
            state: s,
            fields,
        })
    }

    pub fn last_error(&self) -> String {
        unsafe { cstr_opt((self.lib.api.get_last_error.unwrap())(self.state)) }.unwrap_or_default()
    }

    pub fn fields(&self) -> &[FieldDesc] {
        &self.fields
    }

    pub fn open(&self, params: &str) -> Result<RawInstance> {
        let open = self
            .lib
            .api
            .__bindgen_anon_1
            .open
            .ok_or_else(|| anyhow!("no plugin_open"))?;
        let p = CString::new(params)?;
        let mut rc = -1;
        let h = unsafe { open(self.state, p.as_ptr(), &mut rc) };
        if rc != api::ss_plugin_rc_SS_PLUGIN_SUCCESS {
            bail!("open failed rc={rc}: {}", self.last_error());
        }
        Ok(RawInstance(h))
    }

    pub fn close(&self, h: RawInstance) {
        if let Some(close) = self.lib.api.__bindgen_anon_1.close {
            unsafe { close(self.state, h.0) }
        }
    }

    /// One next_batch call; Ok(None) at EOF, Ok(Some(vec![])) on TIMEOUT.
    pub fn next_batch(&self, h: &RawInstance, first_num: u64) -> Result<Option<Vec<OwnedEvent>>> {
        let nb = self
            .lib
            .api
            .__bindgen_anon_1
            .next_batch
            .ok_or_else(|| anyhow!("no plugin_next_batch"))?;
        let mut n: u32 = 0;
        let mut evts: *mut *mut api::ss_plugin_event = std::ptr::null_mut();
        let rc = unsafe { nb(self.state, h.0, &mut n, &mut evts) };
        // Like libscap's source-plugin engine, events returned together with
        // EOF or TIMEOUT are delivered (the Go SDK does that: a partial batch
        // comes with TIMEOUT, the last one with EOF).
        match rc {
            api::ss_plugin_rc_SS_PLUGIN_EOF if n == 0 => return Ok(None),
            api::ss_plugin_rc_SS_PLUGIN_TIMEOUT if n == 0 => return Ok(Some(vec![])),
            api::ss_plugin_rc_SS_PLUGIN_SUCCESS
            | api::ss_plugin_rc_SS_PLUGIN_EOF
            | api::ss_plugin_rc_SS_PLUGIN_TIMEOUT => {}
            _ => bail!("next_batch rc={rc}: {}", self.last_error()),
        }
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n as usize {
            let e = unsafe { *evts.add(i) };
            let len = unsafe { std::ptr::read_unaligned(e) }.len as usize;
            let bytes = unsafe { std::slice::from_raw_parts(e as *const u8, len) }.to_vec();
            out.push(OwnedEvent {
                bytes,
                num: first_num + i as u64,
            });
        }
        Ok(Some(out))
    }

    /// Reads up to `max` events (TIMEOUT: retried for up to 10 s).
    pub fn read_events(&self, open_params: &str, max: u64) -> Result<Vec<OwnedEvent>> {
        let h = self.open(open_params)?;
        let mut out = vec![];
        let start = std::time::Instant::now();
        let res = (|| {
            while (out.len() as u64) < max {
                match self.next_batch(&h, out.len() as u64 + 1)? {
                    None => break,
                    Some(b) if b.is_empty() => {
                        if start.elapsed().as_secs() > 10 {
                            bail!("TIMEOUT for 10 s");
                        }
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                    Some(b) => out.extend(b),
                }
            }
            Ok(())
        })();
        self.close(h);
        res.map(|_| {
            out.truncate(max as usize);
            out
        })
    }

    /// One extract_fields call, num_fields = 1, field written as
    /// `name` or `name[arg]`. Ok(None): no value.
    pub fn extract(&self, evt: &OwnedEvent, field: &str) -> Result<Option<Vec<Value>>> {
        let (name, arg) = match field.find('[') {
            Some(i) if field.ends_with(']') => (&field[..i], Some(&field[i + 1..field.len() - 1])),
            Some(_) => bail!("malformed field '{field}'"),
            None => (field, None),
        };
        let (id, d) = self
            .fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == name)
            .ok_or_else(|| anyhow!("unknown field '{name}'"))?;
        let mut arg_index = 0u64;
        let mut key: Option<CString> = None;
        if let Some(a) = arg {
            if d.arg_index {
                arg_index = a
                    .parse()
                    .map_err(|_| anyhow!("field '{name}': index argument '{a}' is not a number"))?;
            } else if d.arg_key {
                key = Some(CString::new(a)?);
            } else {
                bail!("field '{name}' takes no argument");
            }
        } else if d.arg_required {
            bail!("field '{name}' requires an argument");
        }
        let cname = CString::new(name)?;
        let mut req = api::ss_plugin_extract_field {
            res: api::ss_plugin_extract_field__bindgen_ty_1 {
                u64_: std::ptr::null_mut(),
            },
            res_len: 0,
            field_id: id as u32,
            field: cname.as_ptr(),
            arg_key: key.as_ref().map(|k| k.as_ptr()).unwrap_or(std::ptr::null()),
            arg_index,
            arg_present: arg.is_some() as u32,
            ftype: d.ftype,
            flist: d.is_list as u32,
        };
        let rc = self.extract_request(evt, &mut req)?;
        if rc != api::ss_plugin_rc_SS_PLUGIN_SUCCESS {
            bail!("extract_fields('{field}') rc={rc}: {}", self.last_error());
        }
        if req.res_len == 0 {
            return Ok(None);
        }
        let n = req.res_len as usize;
        let mut vals = Vec::with_capacity(n);
        unsafe {
            for i in 0..n {
                vals.push(match d.ftype {
                    FT_STRING => Value::Str(cstr_opt(*req.res.str_.add(i)).unwrap_or_default()),
                    FT_BOOL => Value::Bool(*req.res.boolean.add(i) != 0),
                    FT_IPADDR | FT_IPNET => {
                        let b = &*req.res.buf.add(i);
                        Value::Bytes(
                            std::slice::from_raw_parts(b.ptr as *const u8, b.len as usize).to_vec(),
                        )
                    }
                    _ => Value::U64(*req.res.u64_.add(i)),
                });
            }
        }
        Ok(Some(vals))
    }

    /// One extract_fields call for `req` alone (num_fields = 1), as libsinsp
    /// makes it, without checking the request first; `req` gets the results.
    pub fn extract_request(
        &self,
        evt: &OwnedEvent,
        req: &mut api::ss_plugin_extract_field,
    ) -> Result<api::ss_plugin_rc> {
        let ef = self
            .lib
            .api
            .__bindgen_anon_2
            .extract_fields
            .ok_or_else(|| anyhow!("no plugin_extract_fields"))?;
        let input = api::ss_plugin_field_extract_input {
            owner: std::ptr::null_mut(),
            get_owner_last_error: None,
            num_fields: 1,
            fields: req,
            table_reader: unsafe { std::mem::zeroed() },
            table_reader_ext: std::ptr::null_mut(),
            value_offsets: std::ptr::null_mut(),
        };
        let ein = self.event_input(evt);
        Ok(unsafe { ef(self.state, &ein, &input) })
    }

    /// plugin_get_metrics, copied out (the plugin owns the array until the
    /// next call). None when the library does not export the symbol.
    pub fn get_metrics(&self) -> Option<Vec<Metric>> {
        let gm = self.lib.api.get_metrics?;
        let mut n: u32 = u32::MAX;
        let arr = unsafe { gm(self.state, &mut n) };
        if n == 0 {
            return Some(vec![]);
        }
        assert!(!arr.is_null(), "get_metrics: {n} metrics but a NULL array");
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n as usize {
            let m = unsafe { &*arr.add(i) };
            let value = unsafe {
                match m.value_type {
                    api::ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_U32 => {
                        MetricValue::U64(m.value.u32_ as u64)
                    }
                    api::ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_U64 => {
                        MetricValue::U64(m.value.u64_)
                    }
                    api::ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_S32 => {
                        MetricValue::S64(m.value.s32 as i64)
                    }
                    api::ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_S64 => {
                        MetricValue::S64(m.value.s64)
                    }
                    api::ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_D => {
                        MetricValue::F64(m.value.d)
                    }
                    api::ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_F => {
                        MetricValue::F64(m.value.f as f64)
                    }
                    api::ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_I => {
                        MetricValue::S64(m.value.i as i64)
                    }
                    t => panic!("get_metrics: unknown value type {t}"),
                }
            };
            out.push(Metric {
                name: unsafe { cstr_opt(m.name) }.expect("metric without a name"),
                monotonic: m.type_ == api::ss_plugin_metric_type_SS_PLUGIN_METRIC_TYPE_MONOTONIC,
                value,
            });
        }
        Some(out)
    }

    pub fn destroy(self) {
        unsafe { (self.lib.api.destroy.unwrap())(self.state) }
    }
}

/// One metric from `plugin_get_metrics`, copied.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: String,
    pub monotonic: bool,
    pub value: MetricValue,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricValue {
    U64(u64),
    S64(i64),
    F64(f64),
}

unsafe extern "C-unwind" fn log_fn(
    _o: *mut api::ss_plugin_owner_t,
    component: *const c_char,
    msg: *const c_char,
    sev: api::ss_plugin_log_severity,
) {
    if std::env::var_os("FALCO_DENO_HOST_QUIET").is_none() {
        eprintln!(
            "[plugin log sev={sev}] {}: {}",
            cstr_opt(component).unwrap_or_default(),
            cstr_opt(msg).unwrap_or_default()
        );
    }
}

/// Builds a scap plugin event (type 322, params: plugin id u32, payload)
/// the way a source plugin would, for extract-only plugins.
pub fn plugin_event(plugin_id: u32, payload: &[u8], num: u64) -> OwnedEvent {
    let len = 26 + 8 + 4 + payload.len();
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(&u64::MAX.to_le_bytes()); // ts
    b.extend_from_slice(&u64::MAX.to_le_bytes()); // tid
    b.extend_from_slice(&(len as u32).to_le_bytes());
    b.extend_from_slice(&322u16.to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend_from_slice(&plugin_id.to_le_bytes());
    b.extend_from_slice(payload);
    OwnedEvent { bytes: b, num }
}

impl RawPlugin {
    /// The event input for `evt`, with the plugin's own source (`syscall`
    /// for a plugin without one), as libsinsp passes it.
    fn event_input(&self, evt: &OwnedEvent) -> api::ss_plugin_event_input {
        let src = self
            .lib
            .api
            .__bindgen_anon_1
            .get_event_source
            .map(|f| unsafe { f() })
            .unwrap_or(c"syscall".as_ptr() as *const c_char);
        api::ss_plugin_event_input {
            evt: evt.bytes.as_ptr() as *const api::ss_plugin_event,
            evtnum: evt.num,
            evtsrc: src,
        }
    }

    /// plugin_event_to_string; None when the plugin has no such export.
    pub fn event_to_string(&self, evt: &OwnedEvent) -> Option<String> {
        let f = self.lib.api.__bindgen_anon_1.event_to_string?;
        let ein = self.event_input(evt);
        Some(unsafe { cstr_opt(f(self.state, &ein)) }.unwrap_or_default())
    }
}

/// The payload of a plugin event (type 322: after the header, the two
/// parameter lengths and the plugin id). None if the bytes are no such event.
pub fn plugin_payload(evt: &[u8]) -> Option<&[u8]> {
    if evt.len() < 26 + 8 + 4 || u16::from_le_bytes([evt[20], evt[21]]) != 322 {
        return None;
    }
    let l1 = u32::from_le_bytes(evt[30..34].try_into().ok()?) as usize;
    evt.get(26 + 8 + 4..26 + 8 + 4 + l1)
}
