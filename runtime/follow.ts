/**
 * Following a file that another program appends to (`tail -F`), on the
 * `Deno.open`/`Deno.stat` calls that exist both under `deno test` and inside
 * the plugin library. Needs read permission on the file.
 *
 * @module
 */

/** How {@linkcode followFile} reads. */
export interface FollowOptions {
  /** Where to start: `"end"` (only lines written from now on, the default) or `"start"`. */
  from?: "start" | "end";
  /**
   * `true` (default): wait for more lines forever, across rotation and
   * truncation. `false`: stop at the end of the file (the last line need
   * not end with a newline).
   */
  follow?: boolean;
  /** How often to look for new data when there is none, in ms (default 200). */
  pollMs?: number;
  /** Bytes per read (default 64 KiB). */
  chunkSize?: number;
  /** Stops the follower when aborted. */
  signal?: AbortSignal;
}

/**
 * Lines of a followed file, as an async iterator or in batches
 * ({@linkcode FileFollower.nextLines}).
 *
 * Rotation (the path renamed away and a new file created there): the old
 * file is read to its end first, a last line without newline included, then
 * the new file from its start. Truncation (the file shrinks below what was
 * read): reading restarts at its start. Neither loses nor repeats a line,
 * provided the new file or the truncated one has not already grown past the
 * old position between two polls.
 */
export class FileFollower implements AsyncIterableIterator<string> {
  readonly path: string;
  #options: Required<Omit<FollowOptions, "signal">>;
  #file: Deno.FsFile | undefined;
  #ino: number | null = null;
  #offset = 0;
  #decoder = new TextDecoder();
  #partial = "";
  #lines: string[] = [];
  #closed = false;
  #ended = false;
  #wasMissing = false;
  /** The last bytes read, to notice a file truncated and refilled to the same size. */
  #tail = new Uint8Array(0);
  #mtime: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #buffer: Uint8Array;

  constructor(path: string, options: FollowOptions = {}) {
    this.path = path;
    this.#options = {
      from: options.from ?? "end",
      follow: options.follow ?? true,
      pollMs: options.pollMs ?? 200,
      chunkSize: options.chunkSize ?? 65536,
    };
    this.#buffer = new Uint8Array(this.#options.chunkSize);
    options.signal?.addEventListener("abort", () => this.close(), {
      once: true,
    });
  }

  /** Opens the file if it is not open yet; false when it does not exist yet. */
  async #open(fromStart: boolean): Promise<boolean> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound && this.#options.follow) {
        this.#wasMissing = true;
        return false;
      }
      throw e;
    }
    const info = await file.stat();
    this.#file = file;
    this.#ino = info.ino;
    this.#offset = fromStart ? 0 : await file.seek(0, Deno.SeekMode.End);
    this.#decoder = new TextDecoder();
    this.#tail = new Uint8Array(0);
    this.#mtime = undefined;
    return true;
  }

  /** Reads one chunk into lines; false at the end of the current file. */
  async #readChunk(): Promise<boolean> {
    const n = await this.#file!.read(this.#buffer);
    if (n === null || n === 0) return false;
    this.#offset += n;
    const keep = Math.min(n, 64);
    const tail = new Uint8Array(Math.min(this.#tail.length + keep, 64));
    tail.set(this.#tail.subarray(this.#tail.length - (tail.length - keep)));
    tail.set(this.#buffer.subarray(n - keep, n), tail.length - keep);
    this.#tail = tail;
    this.#mtime = undefined;
    this.#take(
      this.#decoder.decode(this.#buffer.subarray(0, n), { stream: true }),
    );
    return true;
  }

  #take(text: string) {
    const parts = (this.#partial + text).split("\n");
    this.#partial = parts.pop()!;
    for (const line of parts) {
      this.#lines.push(line.endsWith("\r") ? line.slice(0, -1) : line);
    }
  }

  /** Ends the current file: a last line without newline is still a line. */
  #flushPartial() {
    this.#take(this.#decoder.decode());
    if (this.#partial !== "") {
      this.#lines.push(this.#partial);
      this.#partial = "";
    }
  }

  /** Looks for rotation or truncation after reaching the end; true if reading should go on. */
  async #checkPath(): Promise<boolean> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false; // mid-rotation
      throw e;
    }
    if (info.ino !== this.#ino) {
      // Rotated: finish the old file, then switch to the new one.
      while (await this.#readChunk());
      this.#flushPartial();
      this.#file!.close();
      this.#file = undefined;
      return await this.#open(true);
    }
    const mtime = info.mtime?.getTime();
    let truncated = info.size < this.#offset;
    if (
      !truncated && info.size === this.#offset &&
      (this.#mtime === undefined || mtime !== this.#mtime)
    ) {
      // Unchanged size but written to: truncated and refilled to the same size?
      truncated = !(await this.#tailUnchanged());
    }
    this.#mtime = mtime;
    if (truncated) {
      // Truncated: start again from the beginning.
      this.#flushPartial();
      this.#offset = await this.#file!.seek(0, Deno.SeekMode.Start);
      this.#decoder = new TextDecoder();
      this.#tail = new Uint8Array(0);
      return true;
    }
    return false;
  }

  /** Whether the bytes before the position are still the ones read. */
  async #tailUnchanged(): Promise<boolean> {
    const k = this.#tail.length;
    if (k === 0) return true;
    const file = this.#file!;
    await file.seek(this.#offset - k, Deno.SeekMode.Start);
    const got = new Uint8Array(k);
    let at = 0;
    while (at < k) {
      const n = await file.read(got.subarray(at));
      if (n === null) break;
      at += n;
    }
    await file.seek(this.#offset, Deno.SeekMode.Start);
    return at === k && got.every((b, i) => b === this.#tail[i]);
  }

  /** Reads whatever is there now; false when there was nothing new. */
  async #poll(): Promise<boolean> {
    if (this.#file === undefined) {
      const fromStart = this.#options.from === "start" || this.#ino !== null ||
        this.#wasMissing;
      if (!(await this.#open(fromStart))) {
        return false;
      }
    }
    if (await this.#readChunk()) return true;
    if (!this.#options.follow) {
      this.#flushPartial();
      this.#ended = true;
      return this.#lines.length > 0;
    }
    return await this.#checkPath();
  }

  #sleep(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#wake = undefined;
        resolve();
      }, this.#options.pollMs);
    });
  }

  /**
   * Waits for at least one line, then returns up to `max` of them; `null`
   * once the follower is closed (or, without `follow`, at the end).
   */
  async nextLines(max = 1024): Promise<string[] | null> {
    while (this.#lines.length === 0) {
      if (this.#closed || this.#ended) return null;
      if (!(await this.#poll()) && this.#lines.length === 0) {
        if (this.#ended || this.#closed) return null;
        await this.#sleep();
      }
    }
    return this.#lines.splice(0, max);
  }

  /** The next line. */
  async next(): Promise<IteratorResult<string>> {
    const lines = await this.nextLines(1);
    return lines === null
      ? { done: true, value: undefined }
      : { done: false, value: lines[0] };
  }

  /** Stops following (as `break` in a `for await` does). */
  return(): Promise<IteratorResult<string>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<string> {
    return this;
  }

  /** Closes the file and ends the iteration; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wake?.();
    this.#wake = undefined;
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Follows the file at `path` line by line, like `tail -F`: survives
 * rotation and truncation without losing or repeating a line.
 *
 * @example Print lines as they are appended
 * ```ts ignore
 * import { followFile } from "@falco-deno/falco-deno";
 * for await (const line of followFile("/var/log/app.jsonl", { from: "start" })) {
 *   console.log(line);
 * }
 * ```
 *
 * @param path Absolute path of the file (it may not exist yet).
 * @param options Where to start, polling interval, abort signal.
 * @returns The follower, an async iterator of lines.
 */
export function followFile(
  path: string,
  options?: FollowOptions,
): FileFollower {
  return new FileFollower(path, options);
}
