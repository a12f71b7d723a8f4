//! Files for the script, shaped like Deno's: `Deno.readFile`,
//! `Deno.readTextFile`, `Deno.readTextFileSync`, `Deno.open` (read, seek, stat, close), `Deno.stat`,
//! `Deno.lstat`, `Deno.readDir`, and `Deno.env.get`. Every call checks the
//! instance's permissions first and uses the path the check returns.
//!
//! Reads return fresh bytes that JavaScript copies where it wants them: on
//! QuickJS-ng, memory handed over from Rust is copied anyway, and writing
//! into a JS buffer from an async op is not safe there.

use super::permissions::denied;
use deno_core::convert::Uint8Array;
use deno_core::{
  op2, AsyncRefCell, CancelHandle, CancelTryFuture, OpState, RcRef, Resource, ResourceId,
};
use deno_error::JsErrorBox;
use deno_permissions::{OpenAccessKind, PermissionsContainer};
use std::borrow::Cow;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Largest single read, as Deno caps `read` on a file.
const MAX_READ: usize = 16 << 20;

fn check_read(state: &mut OpState, path: &str, api: &str) -> Result<PathBuf, JsErrorBox> {
  let perms = state.borrow_mut::<PermissionsContainer>();
  let checked = perms
    .check_open(
      Cow::Borrowed(Path::new(path)),
      OpenAccessKind::Read,
      Some(api),
    )
    .map_err(denied)?;
  Ok(checked.to_path_buf())
}

fn io_error(e: std::io::Error, what: &str, path: &str) -> JsErrorBox {
  let class = deno_error::JsErrorClass::get_class(&e);
  JsErrorBox::new(class, format!("{e}: {what} '{path}'"))
}

#[op2]
pub async fn op_falco_read_file(
  state: Rc<RefCell<OpState>>,
  #[string] path: String,
) -> Result<Uint8Array, JsErrorBox> {
  let checked = check_read(&mut state.borrow_mut(), &path, "Deno.readFile()")?;
  let bytes = tokio::fs::read(&checked)
    .await
    .map_err(|e| io_error(e, "readfile", &path))?;
  Ok(Uint8Array::from(bytes))
}

#[op2]
#[string]
pub async fn op_falco_read_text_file(
  state: Rc<RefCell<OpState>>,
  #[string] path: String,
) -> Result<String, JsErrorBox> {
  let checked = check_read(&mut state.borrow_mut(), &path, "Deno.readTextFile()")?;
  let bytes = tokio::fs::read(&checked)
    .await
    .map_err(|e| io_error(e, "readfile", &path))?;
  Ok(match String::from_utf8(bytes) {
    Ok(s) => s,
    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
  })
}

/// `Deno.readTextFileSync`: blocks the instance thread while it reads, as
/// it blocks Deno's; for small files read once where no `await` is possible
/// (a plugin's TLS certificate and key in its synchronous `open`).
#[op2]
#[string]
pub fn op_falco_read_text_file_sync(
  state: &mut OpState,
  #[string] path: String,
) -> Result<String, JsErrorBox> {
  let checked = check_read(state, &path, "Deno.readTextFileSync()")?;
  let bytes = std::fs::read(&checked).map_err(|e| io_error(e, "readfile", &path))?;
  Ok(match String::from_utf8(bytes) {
    Ok(s) => s,
    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
  })
}

/// An open file (`Deno.FsFile`).
pub struct FileResource {
  file: AsyncRefCell<tokio::fs::File>,
  cancel: CancelHandle,
}

impl Resource for FileResource {
  fn name(&self) -> Cow<'_, str> {
    "fsFile".into()
  }
  fn close(self: Rc<Self>) {
    self.cancel.cancel();
  }
}

#[op2]
#[smi]
pub async fn op_falco_open(
  state: Rc<RefCell<OpState>>,
  #[string] path: String,
) -> Result<ResourceId, JsErrorBox> {
  let checked = check_read(&mut state.borrow_mut(), &path, "Deno.open()")?;
  let file = tokio::fs::File::open(&checked)
    .await
    .map_err(|e| io_error(e, "open", &path))?;
  let rid = state.borrow_mut().resource_table.add(FileResource {
    file: AsyncRefCell::new(file),
    cancel: CancelHandle::default(),
  });
  Ok(rid)
}

fn file(state: &Rc<RefCell<OpState>>, rid: ResourceId) -> Result<Rc<FileResource>, JsErrorBox> {
  state
    .borrow()
    .resource_table
    .get::<FileResource>(rid)
    .map_err(JsErrorBox::from_err)
}

/// Reads up to `len` bytes; an empty result is the end of the file.
#[op2]
pub async fn op_falco_file_read(
  state: Rc<RefCell<OpState>>,
  #[smi] rid: ResourceId,
  #[smi] len: u32,
) -> Result<Uint8Array, JsErrorBox> {
  let resource = file(&state, rid)?;
  let mut buf = vec![0u8; (len as usize).min(MAX_READ)];
  let n = {
    let mut f = RcRef::map(&resource, |r| &r.file).borrow_mut().await;
    f.read(&mut buf)
      .try_or_cancel(RcRef::map(&resource, |r| &r.cancel))
      .await
      .map_err(|e| JsErrorBox::new(deno_error::JsErrorClass::get_class(&e), e.to_string()))?
  };
  buf.truncate(n);
  Ok(Uint8Array::from(buf))
}

/// Moves the file position; returns the new one.
#[op2]
#[number]
pub async fn op_falco_file_seek(
  state: Rc<RefCell<OpState>>,
  #[smi] rid: ResourceId,
  #[number] offset: i64,
  #[smi] whence: u32,
) -> Result<u64, JsErrorBox> {
  let resource = file(&state, rid)?;
  let pos = match whence {
    0 => std::io::SeekFrom::Start(
      u64::try_from(offset).map_err(|_| JsErrorBox::type_error("negative seek offset"))?,
    ),
    1 => std::io::SeekFrom::Current(offset),
    2 => std::io::SeekFrom::End(offset),
    _ => {
      return Err(JsErrorBox::type_error(format!(
        "invalid seek mode: {whence}"
      )))
    }
  };
  let mut f = RcRef::map(&resource, |r| &r.file).borrow_mut().await;
  f.seek(pos).await.map_err(JsErrorBox::from_err)
}

/// What `Deno.stat` returns (times in ms since the epoch, or null).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
  is_file: bool,
  is_directory: bool,
  is_symlink: bool,
  size: u64,
  mtime: Option<f64>,
  atime: Option<f64>,
  birthtime: Option<f64>,
  ctime: Option<f64>,
  dev: u64,
  ino: u64,
  mode: u32,
  nlink: u64,
  uid: u32,
  gid: u32,
  rdev: u64,
  blksize: u64,
  blocks: u64,
  is_block_device: bool,
  is_char_device: bool,
  is_fifo: bool,
  is_socket: bool,
}

fn millis(t: std::io::Result<std::time::SystemTime>) -> Option<f64> {
  t.ok()
    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    .map(|d| d.as_secs_f64() * 1000.0)
}

fn info(m: &std::fs::Metadata) -> FileInfo {
  use std::os::unix::fs::{FileTypeExt, MetadataExt};
  let t = m.file_type();
  FileInfo {
    is_file: t.is_file(),
    is_directory: t.is_dir(),
    is_symlink: t.is_symlink(),
    size: m.len(),
    mtime: millis(m.modified()),
    atime: millis(m.accessed()),
    birthtime: millis(m.created()),
    ctime: Some(m.ctime() as f64 * 1000.0 + m.ctime_nsec() as f64 / 1e6),
    dev: m.dev(),
    ino: m.ino(),
    mode: m.mode(),
    nlink: m.nlink(),
    uid: m.uid(),
    gid: m.gid(),
    rdev: m.rdev(),
    blksize: m.blksize(),
    blocks: m.blocks(),
    is_block_device: t.is_block_device(),
    is_char_device: t.is_char_device(),
    is_fifo: t.is_fifo(),
    is_socket: t.is_socket(),
  }
}

#[op2]
#[serde]
pub async fn op_falco_file_stat(
  state: Rc<RefCell<OpState>>,
  #[smi] rid: ResourceId,
) -> Result<FileInfo, JsErrorBox> {
  let resource = file(&state, rid)?;
  let f = RcRef::map(&resource, |r| &r.file).borrow().await;
  let m = f.metadata().await.map_err(JsErrorBox::from_err)?;
  Ok(info(&m))
}

#[op2]
#[serde]
pub async fn op_falco_stat(
  state: Rc<RefCell<OpState>>,
  #[string] path: String,
  lstat: bool,
) -> Result<FileInfo, JsErrorBox> {
  let api = if lstat { "Deno.lstat()" } else { "Deno.stat()" };
  let checked = check_read(&mut state.borrow_mut(), &path, api)?;
  let m = if lstat {
    tokio::fs::symlink_metadata(&checked).await
  } else {
    tokio::fs::metadata(&checked).await
  }
  .map_err(|e| io_error(e, if lstat { "lstat" } else { "stat" }, &path))?;
  Ok(info(&m))
}

/// One entry of `Deno.readDir`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirEntry {
  name: String,
  is_file: bool,
  is_directory: bool,
  is_symlink: bool,
}

#[op2]
#[serde]
pub async fn op_falco_read_dir(
  state: Rc<RefCell<OpState>>,
  #[string] path: String,
) -> Result<Vec<DirEntry>, JsErrorBox> {
  let checked = check_read(&mut state.borrow_mut(), &path, "Deno.readDir()")?;
  let mut dir = tokio::fs::read_dir(&checked)
    .await
    .map_err(|e| io_error(e, "readdir", &path))?;
  let mut entries = Vec::new();
  while let Some(e) = dir.next_entry().await.map_err(JsErrorBox::from_err)? {
    let Ok(t) = e.file_type().await else { continue };
    entries.push(DirEntry {
      name: e.file_name().to_string_lossy().into_owned(),
      is_file: t.is_file(),
      is_directory: t.is_dir(),
      is_symlink: t.is_symlink(),
    });
  }
  Ok(entries)
}

/// `Deno.env.get`: granted names only.
#[op2]
#[string]
pub fn op_falco_env_get(
  state: &mut OpState,
  #[string] name: String,
) -> Result<Option<String>, JsErrorBox> {
  if name.is_empty() || name.contains('=') || name.contains('\0') {
    return Err(JsErrorBox::type_error(format!(
      "invalid environment variable name: \"{name}\""
    )));
  }
  state
    .borrow_mut::<PermissionsContainer>()
    .check_env(&name)
    .map_err(denied)?;
  Ok(std::env::var(&name).ok())
}
