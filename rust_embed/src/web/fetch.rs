//! The HTTP client behind `fetch`: hyper-util's client (HTTP/1.1) on the
//! instance's tokio runtime, with hyper-rustls for `https:` (the system
//! roots; `Deno.createHttpClient({ caCerts })` adds trust anchors). Each
//! client is made on first use: an instance that only fetches `http:`
//! never builds a TLS configuration. The
//! URL is checked against the `net` grant (`check_net_url`, as Deno does);
//! redirects are not followed (the 3xx response is returned, like
//! `redirect: "manual"`). The whole response body is read, up to
//! `MAX_BODY`, into a resource that JavaScript takes once.

use super::permissions::denied;
use bytes::Bytes;
use deno_core::convert::Uint8Array;
use deno_core::url::Url;
use deno_core::{op2, CancelFuture, CancelHandle, OpState, RcRef, Resource, ResourceId};
use deno_error::JsErrorBox;
use deno_permissions::PermissionsContainer;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

/// Largest response body read by `fetch`.
const MAX_BODY: usize = 64 << 20;

type HttpClient = Client<HttpConnector, Full<Bytes>>;
type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

fn https_client(config: std::sync::Arc<rustls::ClientConfig>) -> HttpsClient {
  let connector = HttpsConnectorBuilder::new()
    .with_tls_config((*config).clone())
    .https_or_http()
    .enable_http1()
    .build();
  Client::builder(TokioExecutor::new()).build(connector)
}

/// The client one fetch goes through.
enum Chosen {
  Plain(HttpClient),
  Tls(HttpsClient),
}

/// A client of `Deno.createHttpClient`: its own trust anchors, its own
/// connection pool (dropped on `close()`).
pub struct HttpClientResource(HttpsClient);
impl Resource for HttpClientResource {
  fn name(&self) -> Cow<'_, str> {
    "httpClient".into()
  }
}

/// `Deno.createHttpClient({ caCerts })`: the system roots plus `caCerts`.
#[op2]
#[smi]
pub fn op_falco_fetch_create_client(
  state: &mut OpState,
  #[serde] ca_certs: Vec<String>,
) -> Result<ResourceId, JsErrorBox> {
  let config = super::tls::client_config(&ca_certs)?;
  Ok(
    state
      .resource_table
      .add(HttpClientResource(https_client(config))),
  )
}

/// A cancel handle for one `fetch` (its `AbortSignal`): closing it cancels.
pub struct FetchCancel(CancelHandle);
impl Resource for FetchCancel {
  fn name(&self) -> Cow<'_, str> {
    "fetchCancel".into()
  }
  fn close(self: Rc<Self>) {
    self.0.cancel();
  }
}

/// A response body waiting to be taken.
pub struct FetchBody(RefCell<Option<Bytes>>);
impl Resource for FetchBody {
  fn name(&self) -> Cow<'_, str> {
    "fetchBody".into()
  }
}

#[op2(fast)]
#[smi]
pub fn op_falco_fetch_cancel_handle(state: &mut OpState) -> ResourceId {
  state
    .resource_table
    .add(FetchCancel(CancelHandle::default()))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fetched {
  status: u16,
  status_text: String,
  headers: Vec<(String, String)>,
  body_rid: ResourceId,
}

/// A failed request as Deno reports it, with the causes (hyper's own
/// message is only "client error (Connect)"; the certificate problem is
/// in the source chain).
fn err(e: &(dyn std::error::Error + 'static), url: &str) -> JsErrorBox {
  let mut text = format!("error sending request for url ({url}): {e}");
  let mut source = e.source();
  while let Some(s) = source {
    text.push_str(&format!(": {s}"));
    source = s.source();
  }
  JsErrorBox::type_error(text)
}

#[op2]
#[serde]
pub async fn op_falco_fetch(
  state: Rc<RefCell<OpState>>,
  #[string] method: String,
  #[string] url: String,
  #[serde] headers: Vec<(String, String)>,
  #[buffer(copy)] body: Vec<u8>,
  #[smi] cancel_rid: ResourceId,
  #[smi] client_rid: ResourceId,
) -> Result<Fetched, JsErrorBox> {
  let parsed =
    Url::parse(&url).map_err(|e| JsErrorBox::type_error(format!("Invalid URL: '{url}': {e}")))?;
  let https = match parsed.scheme() {
    "http" => false,
    "https" => true,
    s => {
      return Err(JsErrorBox::type_error(format!(
        "scheme '{s}' not supported"
      )))
    }
  };
  let (client, cancel) = {
    let mut s = state.borrow_mut();
    s.borrow_mut::<PermissionsContainer>()
      .check_net_url(&parsed, "fetch()")
      .map_err(denied)?;
    let client = if client_rid != 0 {
      let r = s
        .resource_table
        .get::<HttpClientResource>(client_rid)
        .map_err(JsErrorBox::from_err)?;
      Chosen::Tls(r.0.clone())
    } else if https {
      if !s.has::<HttpsClient>() {
        let client = https_client(super::tls::default_client_config()?);
        s.put(client);
      }
      Chosen::Tls(s.borrow::<HttpsClient>().clone())
    } else {
      if !s.has::<HttpClient>() {
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        s.put(client);
      }
      Chosen::Plain(s.borrow::<HttpClient>().clone())
    };
    let cancel = if cancel_rid == 0 {
      None
    } else {
      s.resource_table.get::<FetchCancel>(cancel_rid).ok()
    };
    (client, cancel)
  };
  let mut req = hyper::Request::builder()
    .method(
      hyper::Method::from_bytes(method.as_bytes())
        .map_err(|e| JsErrorBox::type_error(e.to_string()))?,
    )
    .uri(parsed.as_str())
    .body(Full::new(Bytes::from(body)))
    .map_err(|e| JsErrorBox::type_error(e.to_string()))?;
  for (k, v) in headers {
    let k =
      HeaderName::from_bytes(k.as_bytes()).map_err(|e| JsErrorBox::type_error(e.to_string()))?;
    let v = HeaderValue::from_str(&v).map_err(|e| JsErrorBox::type_error(e.to_string()))?;
    req.headers_mut().append(k, v);
  }
  let work = async {
    let res = match client {
      Chosen::Plain(c) => c.request(req).await,
      Chosen::Tls(c) => c.request(req).await,
    }
    .map_err(|e| err(&e, &url))?;
    let (parts, body) = res.into_parts();
    let body = Limited::new(body, MAX_BODY)
      .collect()
      .await
      .map_err(|e| err(e.as_ref(), &url))?
      .to_bytes();
    Ok::<_, JsErrorBox>((parts, body))
  };
  let (parts, body) = match cancel {
    Some(c) => {
      let handle = RcRef::map(&c, |c| &c.0);
      match work.or_cancel(handle).await {
        Ok(r) => r?,
        Err(_) => return Err(JsErrorBox::new("AbortError", "The signal has been aborted")),
      }
    }
    None => work.await?,
  };
  let headers = parts
    .headers
    .iter()
    .map(|(k, v)| {
      (
        k.as_str().to_owned(),
        String::from_utf8_lossy(v.as_bytes()).into_owned(),
      )
    })
    .collect();
  let body_rid = state
    .borrow_mut()
    .resource_table
    .add(FetchBody(RefCell::new(Some(body))));
  Ok(Fetched {
    status: parts.status.as_u16(),
    status_text: parts.status.canonical_reason().unwrap_or("").to_owned(),
    headers,
    body_rid,
  })
}

fn take(state: &mut OpState, rid: ResourceId) -> Result<Bytes, JsErrorBox> {
  let r = state
    .resource_table
    .take::<FetchBody>(rid)
    .map_err(JsErrorBox::from_err)?;
  let b = r.0.borrow_mut().take().unwrap_or_default();
  Ok(b)
}

#[op2]
pub fn op_falco_fetch_body(
  state: &mut OpState,
  #[smi] rid: ResourceId,
) -> Result<Uint8Array, JsErrorBox> {
  Ok(Uint8Array::from(take(state, rid)?.to_vec()))
}

#[op2]
#[string]
pub fn op_falco_fetch_body_text(
  state: &mut OpState,
  #[smi] rid: ResourceId,
) -> Result<String, JsErrorBox> {
  Ok(String::from_utf8_lossy(&take(state, rid)?).into_owned())
}
