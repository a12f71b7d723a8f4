//! No way out of a grant through a symbolic link (issue 15): Falco runs as
//! root, so the `.so` checks the file it actually opened, not only the path
//! it was given, against `allowRead`. Through the packed `.so` of
//! `tests/fixtures/hardening_probe.ts` (`FALCO_DENO_HARDENING_PLUGIN`:
//! `Deno.readTextFileSync`) and of `plugins/jsonl.ts`
//! (`FALCO_DENO_JSONL_PLUGIN`: `followFile` across a rotation). Both must
//! be set: a test that cannot run fails.

use falco_deno_host::raw::{plugin_event, RawPlugin, Value};
use falco_deno_host::Lib;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn required(var: &str) -> &'static Lib {
    falco_deno_host::plugin_from_env(var, "the .so named in this file's header")
}

/// A granted directory and, beside it, an outside one holding a secret.
struct Layout {
    root: PathBuf,
    granted: PathBuf,
    outside: PathBuf,
}

impl Layout {
    fn new(what: &str) -> Layout {
        let root = std::env::temp_dir().join(format!("fdeno-links-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let granted = root.join("granted");
        let outside = root.join("outside");
        std::fs::create_dir_all(&granted).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "SECRET").unwrap();
        std::fs::write(outside.join("secret.jsonl"), "{\"secret\":\"SECRET\"}\n").unwrap();
        std::fs::write(granted.join("plain.txt"), "PLAIN").unwrap();
        Layout {
            root,
            granted,
            outside,
        }
    }

    fn config(&self, extra: &str) -> String {
        format!(
            r#"{{{extra}"falco_deno": {{"allowRead": ["{}"]}}}}"#,
            self.granted.display()
        )
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn read(p: &RawPlugin, path: &Path) -> Result<String, String> {
    match p.extract(
        &plugin_event(1, b"x", 1),
        &format!("harden.read[{}]", path.display()),
    ) {
        Ok(Some(v)) => match &v[0] {
            Value::Str(s) => Ok(s.clone()),
            other => Err(format!("not a string: {other:?}")),
        },
        Ok(None) => Ok(String::new()),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn a_link_to_a_file_outside_the_grant_is_refused() {
    let l = Layout::new("file");
    symlink(l.outside.join("secret.txt"), l.granted.join("link.txt")).unwrap();
    symlink(l.granted.join("plain.txt"), l.granted.join("inside.txt")).unwrap();
    let p = RawPlugin::init(required("FALCO_DENO_HARDENING_PLUGIN"), &l.config(""), true).unwrap();
    assert_eq!(read(&p, &l.granted.join("plain.txt")), Ok("PLAIN".into()));
    assert_eq!(
        read(&p, &l.granted.join("inside.txt")),
        Ok("PLAIN".into()),
        "a link that stays inside is fine"
    );
    let e = read(&p, &l.granted.join("link.txt")).expect_err("read a secret through a link");
    assert!(e.contains("outside the paths granted"), "{e}");
    assert!(
        e.contains(&l.outside.join("secret.txt").display().to_string()),
        "{e}"
    );
    assert!(
        read(&p, &l.outside.join("secret.txt")).is_err(),
        "the outside file itself"
    );
    p.destroy();
}

#[test]
fn a_linked_directory_on_the_way_is_refused() {
    let l = Layout::new("dir");
    symlink(&l.outside, l.granted.join("dirlink")).unwrap();
    let p = RawPlugin::init(required("FALCO_DENO_HARDENING_PLUGIN"), &l.config(""), true).unwrap();
    let e = read(&p, &l.granted.join("dirlink/secret.txt"))
        .expect_err("read a secret through a linked directory");
    assert!(e.contains("outside the paths granted"), "{e}");
    p.destroy();
}

/// `jsonl.ts` follows `granted/app.jsonl`; the file is rotated and a link
/// to an outside file takes its name. The follower reopens the name and must
/// be refused: no line of the outside file becomes an event.
#[test]
fn a_link_swapped_in_between_two_reads_is_refused() {
    let l = Layout::new("swap");
    let app = l.granted.join("app.jsonl");
    std::fs::write(&app, "{\"n\":1}\n").unwrap();
    let p = RawPlugin::init(
        required("FALCO_DENO_JSONL_PLUGIN"),
        &l.config(r#""pollMs": 10, "#),
        true,
    )
    .unwrap();
    let h = p.open(app.to_str().unwrap()).unwrap();
    let mut payloads: Vec<String> = vec![];
    let mut errors: Vec<String> = vec![];
    let pump = |until: Duration, payloads: &mut Vec<String>, errors: &mut Vec<String>| {
        let t0 = Instant::now();
        while t0.elapsed() < until {
            match p.next_batch(&h, 1) {
                Ok(Some(batch)) => {
                    for e in batch {
                        let payload =
                            falco_deno_host::raw::plugin_payload(&e.bytes).unwrap_or_default();
                        payloads.push(String::from_utf8_lossy(payload).into_owned());
                    }
                }
                Ok(None) => break,
                Err(e) => errors.push(e.to_string()),
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    pump(Duration::from_millis(500), &mut payloads, &mut errors);
    assert_eq!(payloads, vec!["{\"n\":1}".to_string()]);
    std::fs::rename(&app, l.granted.join("app.jsonl.1")).unwrap();
    symlink(l.outside.join("secret.jsonl"), &app).unwrap();
    pump(Duration::from_millis(1500), &mut payloads, &mut errors);
    assert!(
        payloads.iter().all(|p| !p.contains("SECRET")),
        "the outside file's lines became events: {payloads:?}"
    );
    eprintln!(
        "after the swap: {} errors, e.g. {:?}",
        errors.len(),
        errors.first()
    );
    p.close(h);
    p.destroy();
}
