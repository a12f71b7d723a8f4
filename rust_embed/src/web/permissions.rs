//! Deno's permission model for one plugin instance: the operator's grants
//! (the reserved `falco_deno` member of the init config) become one
//! `deno_permissions::PermissionsContainer`, with prompts off. Nothing is
//! granted by default. A denied call fails with `NotCapable`, naming the
//! permission and the falco.yaml setting that grants it.

use deno_error::JsErrorBox;
use deno_permissions::{
  PermissionCheckError, Permissions, PermissionsContainer, PermissionsOptions,
  RuntimePermissionDescriptorParser,
};
use std::sync::Arc;

/// One grant as written in the init config: a list of the same strings as
/// `deno test --allow-read=...`, or `true` for everything (`--allow-read`).
/// `false`, `[]` and absence grant nothing.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum Grant {
  All(bool),
  List(Vec<String>),
}

/// The grants of one instance, as `PermissionsOptions` lists (`None`:
/// nothing, `Some([])`: everything).
#[derive(Debug, Clone, Default)]
pub struct Grants {
  pub read: Option<Vec<String>>,
  pub write: Option<Vec<String>>,
  pub net: Option<Vec<String>>,
  pub env: Option<Vec<String>>,
}

fn list(grant: &Option<Grant>) -> Option<Vec<String>> {
  match grant {
    None | Some(Grant::All(false)) => None,
    Some(Grant::All(true)) => Some(Vec::new()),
    // An empty list must not mean "everything", as it does for Deno.
    Some(Grant::List(v)) if v.is_empty() => None,
    Some(Grant::List(v)) => Some(v.clone()),
  }
}

impl crate::config::EmbedOptions {
  /// The grants of the reserved config member.
  pub fn grants(&self) -> Grants {
    Grants {
      read: list(&self.allow_read),
      write: list(&self.allow_write),
      net: list(&self.allow_net),
      env: list(&self.allow_env),
    }
  }
}

impl Grants {
  /// Checks what Deno would resolve against the working directory: Falco's
  /// is not the plugin's, so paths must be absolute.
  pub fn check(&self) -> Result<(), String> {
    for (name, paths) in [("allowRead", &self.read), ("allowWrite", &self.write)] {
      for p in paths.iter().flatten() {
        if !std::path::Path::new(p).is_absolute() {
          return Err(format!(
            "falco_deno.{name}: \"{p}\" is not an absolute path (Falco's working directory is not the plugin's)"
          ));
        }
      }
    }
    Ok(())
  }

  /// The permission container of one instance.
  pub fn container(&self) -> Result<PermissionsContainer, String> {
    self.check()?;
    let parser = Arc::new(RuntimePermissionDescriptorParser::new(
      sys_traits::impls::RealSys,
    ));
    let options = PermissionsOptions {
      allow_read: self.read.clone(),
      allow_write: self.write.clone(),
      allow_net: self.net.clone(),
      allow_env: self.env.clone(),
      prompt: false,
      ..Default::default()
    };
    let permissions = Permissions::from_options(parser.as_ref(), &options)
      .map_err(|e| format!("invalid permission grant in falco_deno: {e}"))?;
    Ok(PermissionsContainer::new(parser, permissions))
  }
}

/// The config member that grants a permission (`read` -> `allowRead`).
fn member(name: &str) -> String {
  let mut c = name.chars();
  match c.next() {
    Some(f) => format!("allow{}{}", f.to_ascii_uppercase(), c.as_str()),
    None => "allow".into(),
  }
}

/// A permission check's failure as the script sees it: `NotCapable` for a
/// denial, with the falco.yaml hint in place of Deno's `--allow-*` one.
pub fn denied(e: PermissionCheckError) -> JsErrorBox {
  match e {
    PermissionCheckError::PermissionDenied(d) => JsErrorBox::new(
      "NotCapable",
      format!(
        "Requires {}, grant it in falco.yaml: init_config: {{\"falco_deno\": {{\"{}\": [...]}}}} (as deno's --allow-{})",
        d.access,
        member(d.name),
        d.name
      ),
    ),
    other => JsErrorBox::from_err(other),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn grants(json: &str) -> Grants {
    let options: crate::config::EmbedOptions = serde_json::from_str(json).unwrap();
    options.grants()
  }

  #[test]
  fn nothing_is_granted_by_default() {
    let g = grants("{}");
    assert!(g.read.is_none() && g.write.is_none() && g.net.is_none() && g.env.is_none());
    let g = grants(r#"{"allowRead": [], "allowNet": false}"#);
    assert!(g.read.is_none() && g.net.is_none());
    let c = g.container().unwrap();
    let e = c.check_env("HOME").unwrap_err();
    let msg = denied(e).to_string();
    assert!(msg.contains("env access to \"HOME\""), "{msg}");
    assert!(msg.contains("\"allowEnv\""), "{msg}");
  }

  #[test]
  fn grants_use_deno_strings() {
    let g =
      grants(r#"{"allowRead": ["/var/log/x"], "allowNet": ["127.0.0.1:9000"], "allowEnv": true}"#);
    let mut c = g.container().unwrap();
    assert!(c.check_env("ANYTHING").is_ok());
    assert!(c.check_net(&("127.0.0.1", Some(9000)), "t").is_ok());
    assert!(c.check_net(&("127.0.0.1", Some(9001)), "t").is_err());
    let ok = c.check_open(
      std::borrow::Cow::Borrowed(std::path::Path::new("/var/log/x/a.log")),
      deno_permissions::OpenAccessKind::Read,
      Some("t"),
    );
    assert!(ok.is_ok());
    let no = c.check_open(
      std::borrow::Cow::Borrowed(std::path::Path::new("/etc/passwd")),
      deno_permissions::OpenAccessKind::Read,
      Some("t"),
    );
    assert!(no.is_err());
  }

  #[test]
  fn relative_paths_are_refused() {
    let e = grants(r#"{"allowRead": ["logs"]}"#)
      .container()
      .unwrap_err();
    assert!(e.contains("not an absolute path"), "{e}");
  }
}
