//! TLS for `Deno.serve` (`cert`/`key` as PEM strings) and `fetch` of
//! `https:` URLs: rustls on ring. Nothing here runs until a script asks for
//! TLS, so `plugin_init` pays nothing for it: the system roots
//! (`/etc/ssl/certs` and the like, through `rustls-native-certs`) are read
//! on the first https fetch of the process and shared from then on.
//!
//! Bad PEM fails with `InvalidData` and the messages Deno gives.

use deno_error::JsErrorBox;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::{Arc, OnceLock};

/// Only HTTP/1.1 is served.
const ALPN: &[u8] = b"http/1.1";

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> JsErrorBox {
  JsErrorBox::new("InvalidData", message)
}

/// The process's ring provider, passed explicitly: nothing depends on a
/// process-wide default that another library in Falco could install.
fn provider() -> Arc<CryptoProvider> {
  static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
  PROVIDER
    .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
    .clone()
}

/// Every certificate of a PEM text; none is an error (`what` names the input).
fn certificates(text: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, JsErrorBox> {
  let certs = CertificateDer::pem_slice_iter(text.as_bytes())
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| invalid(format!("Unable to decode {what}: {e}")))?;
  if certs.is_empty() {
    return Err(invalid(format!("No certificates found in {what}")));
  }
  Ok(certs)
}

/// The configuration of an HTTPS server from `Deno.serve`'s `cert` (the
/// chain, leaf first) and `key` (PKCS#8, PKCS#1 or SEC1).
pub fn server_config(cert: &str, key: &str) -> Result<Arc<ServerConfig>, JsErrorBox> {
  let chain = certificates(cert, "certificate data")?;
  let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| match e {
    pem::Error::NoItemsFound => invalid("No keys found in key data"),
    e => invalid(format!("Unable to decode key data: {e}")),
  })?;
  let mut config = ServerConfig::builder_with_provider(provider())
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| invalid(format!("Invalid certificate or key: {e}")))?;
  config.alpn_protocols = vec![ALPN.to_vec()];
  Ok(Arc::new(config))
}

/// The system's trust anchors, read once per process. Unreadable or
/// unparsable entries are skipped, as every TLS client does: an empty store
/// only makes https fetches fail with "UnknownIssuer".
fn system_roots() -> &'static RootCertStore {
  static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
  ROOTS.get_or_init(|| {
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    store
  })
}

fn client_config_with(roots: RootCertStore) -> Result<Arc<ClientConfig>, JsErrorBox> {
  // No ALPN here: hyper-rustls sets it (http/1.1) and panics if it is set.
  let config = ClientConfig::builder_with_provider(provider())
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
  Ok(Arc::new(config))
}

/// The client configuration of a plain `fetch`: the system roots, built once.
pub fn default_client_config() -> Result<Arc<ClientConfig>, JsErrorBox> {
  static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
  if let Some(c) = CONFIG.get() {
    return Ok(c.clone());
  }
  let config = client_config_with(system_roots().clone())?;
  Ok(CONFIG.get_or_init(|| config).clone())
}

/// The client configuration of `Deno.createHttpClient({ caCerts })`: the
/// system roots plus every certificate of each PEM text.
pub fn client_config(ca_certs: &[String]) -> Result<Arc<ClientConfig>, JsErrorBox> {
  let mut roots = system_roots().clone();
  for (i, text) in ca_certs.iter().enumerate() {
    for cert in certificates(text, &format!("caCerts[{i}]"))? {
      roots
        .add(cert)
        .map_err(|e| invalid(format!("caCerts[{i}] is not a usable CA certificate: {e}")))?;
    }
  }
  client_config_with(roots)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn bad_pem_is_invalid_data() {
    let e = server_config("junk", "junk").unwrap_err();
    assert_eq!(deno_error::JsErrorClass::get_class(&e), "InvalidData");
    assert_eq!(e.to_string(), "No certificates found in certificate data");
    let e = client_config(&["junk".into()]).unwrap_err();
    assert_eq!(e.to_string(), "No certificates found in caCerts[0]");
  }

  #[test]
  fn truncated_pem_is_invalid_data() {
    let text = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    let e = server_config(text, "").unwrap_err();
    assert!(
      e.to_string()
        .starts_with("Unable to decode certificate data"),
      "{e}"
    );
  }
}
