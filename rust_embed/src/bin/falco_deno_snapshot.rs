//! Writes the V8 startup snapshot of this build to the path given as the
//! only argument (see `falco_deno_embed::snapshot`); run by
//! `runtime/engines.ts` right after the library is built.

fn main() -> std::process::ExitCode {
  let Some(path) = std::env::args_os().nth(1) else {
    eprintln!("usage: falco_deno_snapshot <output file>");
    return std::process::ExitCode::from(2);
  };
  match falco_deno_embed::snapshot::create()
    .and_then(|blob| std::fs::write(&path, blob).map_err(|e| e.to_string()))
  {
    Ok(()) => std::process::ExitCode::SUCCESS,
    Err(e) => {
      eprintln!("falco_deno_snapshot: {e}");
      std::process::ExitCode::FAILURE
    }
  }
}
