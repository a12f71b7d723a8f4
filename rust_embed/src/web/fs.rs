//! Files for the script, shaped like Deno's: `Deno.readFile`,
//! `Deno.readTextFile`, `Deno.readTextFileSync`, `Deno.open` (read, seek, stat, close), `Deno.stat`,
//! `Deno.lstat`, `Deno.readDir`, and `Deno.env.get`. Every call checks the
//! instance's permissions first and uses the path the check returns.
//!
//! Stricter than Deno (Falco runs as root): a path is also checked as it
//! resolves. Each call opens the file, finds what it actually opened from
//! the descriptor (`/proc/self/fd`), and refuses it unless that path is
//! granted too, so a symbolic link in a granted directory, or a linked
//! directory on the way, cannot lead outside the grant, and swapping a link
//! between the check and the open changes nothing.
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
use deno_permissions::{OpenAccessKind, PermissionCheckError, PermissionsContainer};
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

/// Checks where `path` really leads (`resolved`) against the read grants.
fn check_resolved(
  state: &mut OpState,
  resolved: &Path,
  path: &str,
  api: &str,
) -> Result<(), JsErrorBox> {
  let perms = state.borrow_mut::<PermissionsContainer>();
  match perms.check_open(Cow::Borrowed(resolved), OpenAccessKind::Read, Some(api)) {
    Ok(_) => Ok(()),
    Err(PermissionCheckError::PermissionDenied(_)) => Err(JsErrorBox::new(
      "NotCapable",
      format!(
        "'{path}' resolves to '{}', outside the paths granted to read: falco-deno follows no symbolic link out of a grant (grant the target itself in falco.yaml: init_config: {{\"falco_deno\": {{\"allowRead\": [...]}}}})",
        resolved.display()
      ),
    )),
    Err(other) => Err(JsErrorBox::from_err(other)),
  }
}

/// Opens `path` for reading after both checks (see the module's doc); a
/// FIFO is opened without blocking, then read blocking as usual.
fn open_granted(
  state: &mut OpState,
  path: &str,
  api: &str,
  what: &str,
) -> Result<std::fs::File, JsErrorBox> {
  use std::os::unix::fs::OpenOptionsExt;
  use std::os::unix::io::AsRawFd;
  let checked = check_read(state, path, api)?;
  // Refused before the open where the link is plain to see (opening a
  // device can have effects); the check on the descriptor below is the one
  // no race can get around.
  if let Ok(resolved) = std::fs::canonicalize(&checked) {
    check_resolved(state, &resolved, path, api)?;
  }
  let file = std::fs::OpenOptions::new()
    .read(true)
    .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
    .open(&checked)
    .map_err(|e| io_error(e, what, path))?;
  let fd = file.as_raw_fd();
  let opened =
    std::fs::read_link(format!("/proc/self/fd/{fd}")).map_err(|e| io_error(e, what, path))?;
  check_resolved(state, &opened, path, api)?;
  // SAFETY: `fd` is ours and open.
  unsafe {
    let flags = libc::fcntl(fd, libc::F_GETFL);
    if flags >= 0 {
      libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
    }
  }
  Ok(file)
}

/// The whole content of a granted file.
async fn read_granted(
  state: &Rc<RefCell<OpState>>,
  path: &str,
  api: &str,
) -> Result<Vec<u8>, JsErrorBox> {
  let file = open_granted(&mut state.borrow_mut(), path, api, "readfile")?;
  let mut bytes = Vec::new();
  tokio::fs::File::from_std(file)
    .read_to_end(&mut bytes)
    .await
    .map_err(|e| io_error(e, "readfile", path))?;
  Ok(bytes)
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
  Ok(Uint8Array::from(
    read_granted(&state, &path, "Deno.readFile()").await?,
  ))
}

#[op2]
#[string]
pub async fn op_falco_read_text_file(
  state: Rc<RefCell<OpState>>,
  #[string] path: String,
) -> Result<String, JsErrorBox> {
  let bytes = read_granted(&state, &path, "Deno.readTextFile()").await?;
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
  use std::io::Read;
  let mut bytes = Vec::new();
  open_granted(state, &path, "Deno.readTextFileSync()", "readfile")?
    .read_to_end(&mut bytes)
    .map_err(|e| io_error(e, "readfile", &path))?;
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
  let file = tokio::fs::File::from_std(open_granted(
    &mut state.borrow_mut(),
    &path,
    "Deno.open()",
    "open",
  )?);
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
  if !lstat {
    let file = open_granted(&mut state.borrow_mut(), &path, "Deno.stat()", "stat")?;
    let m = file.metadata().map_err(|e| io_error(e, "stat", &path))?;
    return Ok(info(&m));
  }
  // The link itself, in its directory as that directory resolves.
  let api = "Deno.lstat()";
  let checked = check_read(&mut state.borrow_mut(), &path, api)?;
  let resolved = match (checked.parent(), checked.file_name()) {
    (Some(dir), Some(name)) => std::fs::canonicalize(dir)
      .map_err(|e| io_error(e, "lstat", &path))?
      .join(name),
    _ => checked.to_path_buf(),
  };
  check_resolved(&mut state.borrow_mut(), &resolved, &path, api)?;
  let m = tokio::fs::symlink_metadata(&resolved)
    .await
    .map_err(|e| io_error(e, "lstat", &path))?;
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
  use std::os::unix::io::AsRawFd;
  let opened = open_granted(&mut state.borrow_mut(), &path, "Deno.readDir()", "readdir")?;
  // The directory that was opened and checked, not the path again.
  let mut dir = tokio::fs::read_dir(format!("/proc/self/fd/{}", opened.as_raw_fd()))
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
