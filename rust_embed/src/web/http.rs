//! The HTTP server behind `Deno.serve`: hyper 1 (HTTP/1.1) on the
//! instance's tokio runtime, over TLS (tokio-rustls) when `cert`/`key` are
//! given. Requests go to JavaScript through a channel
//! that the glue in `bootstrap.js` drains with `op_falco_http_next`; the
//! handler's `Response` comes back through `op_falco_http_respond_*`.
//!
//! Limits are enforced here, before JavaScript sees a request: body size
//! (413, checked on `content-length` and while reading), requests pending
//! (queued or in the handler: 503 with `Retry-After`), body read time
//! (408), header read time (hyper closes the connection), open
//! connections (closed at once), TLS handshake time (the connection is
//! closed; a failed handshake, such as plain HTTP sent to an HTTPS port,
//! only closes its own connection). Each refusal is counted
//! (`op_falco_http_stats`) and, up to a bound of notes in flight, handed to
//! JavaScript, which logs it (rate-limited).
//!
//! The listener lives in the server resource: closing it drops the socket
//! at once (the port is free when `shutdown()` returns), and aborts the
//! accept loop, whose `JoinSet` owns the connections.

use super::permissions::denied;
use bytes::Bytes;
use deno_core::convert::Uint8Array;
use deno_core::{
  op2, AsyncRefCell, CancelFuture, CancelHandle, OpState, RcRef, Resource, ResourceId,
};
use deno_error::JsErrorBox;
use deno_permissions::PermissionsContainer;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::borrow::Cow;
use std::cell::RefCell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Refusal notes waiting for JavaScript, at most (the counters stay exact).
const MAX_NOTES: usize = 64;
/// Time allowed for a request's headers, then for its body.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

struct Shared {
  max_body: usize,
  max_pending: usize,
  max_connections: usize,
  pending: AtomicUsize,
  connections: AtomicUsize,
  notes: AtomicUsize,
  refused_413: AtomicU64,
  refused_503: AtomicU64,
  refused_408: AtomicU64,
  refused_400: AtomicU64,
  refused_connections: AtomicU64,
  tls_handshake_failures: AtomicU64,
  requests: AtomicU64,
  /// `http` or `https`, for the request URLs.
  scheme: &'static str,
}

struct Served {
  method: String,
  url: String,
  headers: Vec<(String, String)>,
  body: Bytes,
  remote: SocketAddr,
  reply: oneshot::Sender<Reply>,
}

struct Reply {
  status: u16,
  headers: Vec<(String, String)>,
  body: Bytes,
}

enum Msg {
  Request(Served),
  Refused {
    status: u16,
    reason: &'static str,
    remote: SocketAddr,
  },
}

/// Decrements a gauge when dropped.
struct Slot<'a>(&'a AtomicUsize);
impl Drop for Slot<'_> {
  fn drop(&mut self) {
    self.0.fetch_sub(1, Ordering::Relaxed);
  }
}

fn plain(status: u16, text: &str) -> Response<Full<Bytes>> {
  let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
  *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
  r.headers_mut().insert(
    hyper::header::CONTENT_TYPE,
    HeaderValue::from_static("text/plain;charset=UTF-8"),
  );
  r
}

fn refuse(
  shared: &Shared,
  tx: &mpsc::UnboundedSender<Msg>,
  remote: SocketAddr,
  status: u16,
  reason: &'static str,
) -> Response<Full<Bytes>> {
  let counter = match status {
    413 => &shared.refused_413,
    503 => &shared.refused_503,
    408 => &shared.refused_408,
    _ => &shared.refused_400,
  };
  counter.fetch_add(1, Ordering::Relaxed);
  if shared.notes.fetch_add(1, Ordering::Relaxed) < MAX_NOTES {
    let _ = tx.send(Msg::Refused {
      status,
      reason,
      remote,
    });
  } else {
    shared.notes.fetch_sub(1, Ordering::Relaxed);
  }
  let mut r = plain(status, reason);
  if status == 503 {
    r.headers_mut()
      .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
  }
  // The body may be left unread: the connection cannot be reused.
  r.headers_mut()
    .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
  r
}

async fn handle(
  req: Request<Incoming>,
  shared: Arc<Shared>,
  tx: mpsc::UnboundedSender<Msg>,
  remote: SocketAddr,
  local: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
  shared.requests.fetch_add(1, Ordering::Relaxed);
  let declared = req
    .headers()
    .get(hyper::header::CONTENT_LENGTH)
    .and_then(|v| v.to_str().ok())
    .and_then(|v| v.parse::<u64>().ok());
  if declared.is_some_and(|n| n > shared.max_body as u64) {
    return Ok(refuse(&shared, &tx, remote, 413, "Payload Too Large"));
  }
  let taken = shared.pending.fetch_add(1, Ordering::Relaxed);
  let _slot = Slot(&shared.pending);
  if taken >= shared.max_pending {
    return Ok(refuse(
      &shared,
      &tx,
      remote,
      503,
      "Service Unavailable: too many pending requests",
    ));
  }
  let (parts, body) = req.into_parts();
  let body =
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, shared.max_body).collect()).await {
      Err(_) => return Ok(refuse(&shared, &tx, remote, 408, "Request Timeout")),
      Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
        return Ok(refuse(&shared, &tx, remote, 413, "Payload Too Large"))
      }
      Ok(Err(_)) => return Ok(refuse(&shared, &tx, remote, 400, "Bad Request")),
      Ok(Ok(c)) => c.to_bytes(),
    };
  let host = parts
    .headers
    .get(hyper::header::HOST)
    .and_then(|h| h.to_str().ok())
    .map(str::to_owned)
    .unwrap_or_else(|| local.to_string());
  let path = parts
    .uri
    .path_and_query()
    .map(|p| p.as_str())
    .unwrap_or("/");
  let url = format!("{}://{host}{path}", shared.scheme);
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
  let (reply, answer) = oneshot::channel();
  let served = Served {
    method: parts.method.as_str().to_owned(),
    url,
    headers,
    body,
    remote,
    reply,
  };
  if tx.send(Msg::Request(served)).is_err() {
    return Ok(plain(503, "Service Unavailable"));
  }
  let Ok(reply) = answer.await else {
    return Ok(plain(500, "Internal Server Error"));
  };
  let mut r = Response::new(Full::new(reply.body));
  *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
  for (k, v) in reply.headers {
    if let (Ok(k), Ok(v)) = (
      HeaderName::from_bytes(k.as_bytes()),
      HeaderValue::from_str(&v),
    ) {
      r.headers_mut().append(k, v);
    }
  }
  Ok(r)
}

type Listener = Rc<RefCell<Option<tokio::net::TcpListener>>>;

/// Serves the requests of one connection, plain or TLS.
async fn serve_connection<I>(
  io: I,
  shared: Arc<Shared>,
  tx: mpsc::UnboundedSender<Msg>,
  remote: SocketAddr,
  local: SocketAddr,
) where
  I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
  let service =
    hyper::service::service_fn(move |req| handle(req, shared.clone(), tx.clone(), remote, local));
  let _ = hyper::server::conn::http1::Builder::new()
    .timer(TokioTimer::new())
    .header_read_timeout(HEADER_TIMEOUT)
    .serve_connection(TokioIo::new(io), service)
    .await;
}

async fn accept_loop(
  listener: Listener,
  local: SocketAddr,
  shared: Arc<Shared>,
  tx: mpsc::UnboundedSender<Msg>,
  tls: Option<tokio_rustls::TlsAcceptor>,
) {
  let mut connections = tokio::task::JoinSet::new();
  loop {
    while connections.try_join_next().is_some() {}
    let accepted = std::future::poll_fn(|cx| match &*listener.borrow() {
      None => std::task::Poll::Ready(None),
      Some(l) => l.poll_accept(cx).map(Some),
    })
    .await;
    let (stream, remote) = match accepted {
      None => return,
      Some(Ok(s)) => s,
      Some(Err(_)) => {
        // Out of file descriptors and the like: back off.
        tokio::time::sleep(Duration::from_millis(50)).await;
        continue;
      }
    };
    if shared.connections.load(Ordering::Relaxed) >= shared.max_connections {
      shared.refused_connections.fetch_add(1, Ordering::Relaxed);
      drop(stream);
      continue;
    }
    let _ = stream.set_nodelay(true);
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let shared = shared.clone();
    let tx = tx.clone();
    let tls = tls.clone();
    connections.spawn(async move {
      let _slot = Slot(&shared.connections);
      let s = shared.clone();
      match tls {
        None => serve_connection(stream, s, tx, remote, local).await,
        // The handshake shares the header deadline: a client that connects
        // and sends nothing holds a connection no longer than over HTTP.
        Some(acceptor) => match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await
        {
          Ok(Ok(stream)) => serve_connection(stream, s, tx, remote, local).await,
          _ => {
            shared
              .tls_handshake_failures
              .fetch_add(1, Ordering::Relaxed);
          }
        },
      }
    });
  }
}

/// A server of `Deno.serve`.
pub struct ServerResource {
  listener: Listener,
  accept: RefCell<Option<deno_core::unsync::JoinHandle<()>>>,
  rx: AsyncRefCell<mpsc::UnboundedReceiver<Msg>>,
  shared: Arc<Shared>,
  cancel: CancelHandle,
}

impl ServerResource {
  fn stop(&self) {
    self.listener.borrow_mut().take();
    if let Some(h) = self.accept.borrow_mut().take() {
      h.abort();
    }
    self.cancel.cancel();
  }
}

impl Resource for ServerResource {
  fn name(&self) -> Cow<'_, str> {
    "httpServer".into()
  }
  fn close(self: Rc<Self>) {
    self.stop();
  }
}

impl Drop for ServerResource {
  fn drop(&mut self) {
    self.stop();
  }
}

/// One request waiting for its response; holds the body until taken.
pub struct RequestResource {
  body: RefCell<Option<Bytes>>,
  reply: RefCell<Option<oneshot::Sender<Reply>>>,
}

impl Resource for RequestResource {
  fn name(&self) -> Cow<'_, str> {
    "httpRequest".into()
  }
}

#[derive(serde::Serialize)]
pub struct Listening {
  rid: ResourceId,
  hostname: String,
  port: u16,
}

/// Binds and starts serving; the port is checked against the `net` grant.
/// `cert` and `key` are PEM texts, both empty for plain HTTP.
#[allow(clippy::too_many_arguments)]
#[op2]
#[serde]
pub fn op_falco_http_serve(
  state: &mut OpState,
  #[string] hostname: String,
  #[smi] port: u32,
  #[smi] max_body: u32,
  #[smi] max_pending: u32,
  #[smi] max_connections: u32,
  #[string] cert: String,
  #[string] key: String,
) -> Result<Listening, JsErrorBox> {
  let port =
    u16::try_from(port).map_err(|_| JsErrorBox::range_error(format!("invalid port {port}")))?;
  state
    .borrow_mut::<PermissionsContainer>()
    .check_net(&(hostname.as_str(), Some(port)), "Deno.serve()")
    .map_err(denied)?;
  // Checked before binding: a bad certificate leaves no port taken.
  let tls = match (cert.is_empty(), key.is_empty()) {
    (true, true) => None,
    (false, false) => Some(tokio_rustls::TlsAcceptor::from(super::tls::server_config(
      &cert, &key,
    )?)),
    _ => {
      return Err(JsErrorBox::type_error(
        "Both 'cert' and 'key' must be provided to enable HTTPS",
      ))
    }
  };
  let io = |e: std::io::Error| {
    let class = deno_error::JsErrorClass::get_class(&e);
    JsErrorBox::new(class, format!("{e}: listen {hostname}:{port}"))
  };
  let std_listener = std::net::TcpListener::bind((hostname.as_str(), port)).map_err(io)?;
  std_listener.set_nonblocking(true).map_err(io)?;
  let listener = tokio::net::TcpListener::from_std(std_listener).map_err(io)?;
  let local = listener.local_addr().map_err(io)?;
  let shared = Arc::new(Shared {
    max_body: max_body as usize,
    max_pending: (max_pending as usize).max(1),
    max_connections: (max_connections as usize).max(1),
    pending: AtomicUsize::new(0),
    connections: AtomicUsize::new(0),
    notes: AtomicUsize::new(0),
    refused_413: AtomicU64::new(0),
    refused_503: AtomicU64::new(0),
    refused_408: AtomicU64::new(0),
    refused_400: AtomicU64::new(0),
    refused_connections: AtomicU64::new(0),
    tls_handshake_failures: AtomicU64::new(0),
    requests: AtomicU64::new(0),
    scheme: if tls.is_some() { "https" } else { "http" },
  });
  let (tx, rx) = mpsc::unbounded_channel();
  let listener: Listener = Rc::new(RefCell::new(Some(listener)));
  let accept = deno_core::unsync::spawn(accept_loop(
    listener.clone(),
    local,
    shared.clone(),
    tx,
    tls,
  ));
  let rid = state.resource_table.add(ServerResource {
    listener,
    accept: RefCell::new(Some(accept)),
    rx: AsyncRefCell::new(rx),
    shared,
    cancel: CancelHandle::default(),
  });
  Ok(Listening {
    rid,
    hostname: local.ip().to_string(),
    port: local.port(),
  })
}

/// What `op_falco_http_next` hands to JavaScript: a request (`rid` set) or
/// a refusal note (`status` set).
#[derive(serde::Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Next {
  rid: Option<ResourceId>,
  method: Option<String>,
  url: Option<String>,
  headers: Option<Vec<(String, String)>>,
  status: Option<u16>,
  reason: Option<&'static str>,
  remote_hostname: String,
  remote_port: u16,
}

fn server(state: &Rc<RefCell<OpState>>, rid: ResourceId) -> Result<Rc<ServerResource>, JsErrorBox> {
  state
    .borrow()
    .resource_table
    .get::<ServerResource>(rid)
    .map_err(JsErrorBox::from_err)
}

/// The next request or refusal note; null once the server is closed.
#[op2]
#[serde]
pub async fn op_falco_http_next(
  state: Rc<RefCell<OpState>>,
  #[smi] rid: ResourceId,
) -> Result<Option<Next>, JsErrorBox> {
  let resource = server(&state, rid)?;
  let cancel = RcRef::map(&resource, |r| &r.cancel);
  let msg = {
    let mut rx = RcRef::map(&resource, |r| &r.rx).borrow_mut().await;
    rx.recv().or_cancel(cancel).await.unwrap_or_default()
  };
  Ok(match msg {
    None => None,
    Some(Msg::Refused {
      status,
      reason,
      remote,
    }) => {
      resource.shared.notes.fetch_sub(1, Ordering::Relaxed);
      Some(Next {
        status: Some(status),
        reason: Some(reason),
        remote_hostname: remote.ip().to_string(),
        remote_port: remote.port(),
        ..Default::default()
      })
    }
    Some(Msg::Request(s)) => {
      let rid = state.borrow_mut().resource_table.add(RequestResource {
        body: RefCell::new(Some(s.body)),
        reply: RefCell::new(Some(s.reply)),
      });
      Some(Next {
        rid: Some(rid),
        method: Some(s.method),
        url: Some(s.url),
        headers: Some(s.headers),
        remote_hostname: s.remote.ip().to_string(),
        remote_port: s.remote.port(),
        ..Default::default()
      })
    }
  })
}

fn take_body(state: &mut OpState, rid: ResourceId) -> Result<Bytes, JsErrorBox> {
  let r = state
    .resource_table
    .get::<RequestResource>(rid)
    .map_err(|_| JsErrorBox::type_error("Body is unusable: the response was already sent"))?;
  let body = r
    .body
    .borrow_mut()
    .take()
    .ok_or_else(|| JsErrorBox::type_error("Body already consumed"))?;
  Ok(body)
}

/// The request body as bytes (once).
#[op2]
pub fn op_falco_http_body(
  state: &mut OpState,
  #[smi] rid: ResourceId,
) -> Result<Uint8Array, JsErrorBox> {
  Ok(Uint8Array::from(take_body(state, rid)?.to_vec()))
}

/// The request body as text, invalid UTF-8 replaced (once).
#[op2]
#[string]
pub fn op_falco_http_body_text(
  state: &mut OpState,
  #[smi] rid: ResourceId,
) -> Result<String, JsErrorBox> {
  let body = take_body(state, rid)?;
  Ok(String::from_utf8_lossy(&body).into_owned())
}

fn respond(
  state: &mut OpState,
  rid: ResourceId,
  status: u32,
  headers: Vec<(String, String)>,
  body: Bytes,
) -> Result<(), JsErrorBox> {
  let r = state
    .resource_table
    .take::<RequestResource>(rid)
    .map_err(JsErrorBox::from_err)?;
  let status = u16::try_from(status)
    .ok()
    .filter(|s| (200..=599).contains(s))
    .ok_or_else(|| JsErrorBox::range_error(format!("invalid status {status}")))?;
  if let Some(reply) = r.reply.borrow_mut().take() {
    // The client may be gone: nothing to do then.
    let _ = reply.send(Reply {
      status,
      headers,
      body,
    });
  }
  Ok(())
}

#[op2]
pub fn op_falco_http_respond_text(
  state: &mut OpState,
  #[smi] rid: ResourceId,
  #[smi] status: u32,
  #[serde] headers: Vec<(String, String)>,
  #[string] body: String,
) -> Result<(), JsErrorBox> {
  respond(state, rid, status, headers, Bytes::from(body))
}

#[op2]
pub fn op_falco_http_respond_bytes(
  state: &mut OpState,
  #[smi] rid: ResourceId,
  #[smi] status: u32,
  #[serde] headers: Vec<(String, String)>,
  #[buffer] body: &[u8],
) -> Result<(), JsErrorBox> {
  respond(state, rid, status, headers, Bytes::copy_from_slice(body))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
  requests: f64,
  pending: f64,
  connections: f64,
  refused413: f64,
  refused503: f64,
  refused408: f64,
  refused400: f64,
  refused_connections: f64,
  tls_handshake_failures: f64,
}

/// The server's counters.
#[op2]
#[serde]
pub fn op_falco_http_stats(
  state: &mut OpState,
  #[smi] rid: ResourceId,
) -> Result<Stats, JsErrorBox> {
  let r = state
    .resource_table
    .get::<ServerResource>(rid)
    .map_err(JsErrorBox::from_err)?;
  let s = &r.shared;
  let n = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
  Ok(Stats {
    requests: n(&s.requests),
    pending: s.pending.load(Ordering::Relaxed) as f64,
    connections: s.connections.load(Ordering::Relaxed) as f64,
    refused413: n(&s.refused_413),
    refused503: n(&s.refused_503),
    refused408: n(&s.refused_408),
    refused400: n(&s.refused_400),
    refused_connections: n(&s.refused_connections),
    tls_handshake_failures: n(&s.tls_handshake_failures),
  })
}

/// Stops the server: the port is free when this returns.
#[op2(fast)]
pub fn op_falco_http_close(state: &mut OpState, #[smi] rid: ResourceId) {
  if let Ok(r) = state.resource_table.take::<ServerResource>(rid) {
    r.stop();
  }
}
