/**
 * The error type of falco-deno: every failure reported to the host names the
 * plugin (and the field, for extraction).
 *
 * @module
 */

/**
 * An error raised by a plugin or by the runtime on its behalf. Its message
 * starts with `Plugin "<name>"`.
 *
 * @example Catching a plugin error
 * ```ts
 * import { PluginError } from "./plugin_error.ts";
 * const err = new PluginError("demo", "init failed: boom");
 * console.assert(err.message === 'Plugin "demo": init failed: boom');
 * ```
 */
export class PluginError extends Error {
  /** The plugin's name. */
  readonly plugin: string;

  /**
   * Builds an error for plugin `plugin`.
   *
   * @param plugin The plugin's name.
   * @param detail What went wrong.
   * @param options `cause`: the original exception.
   */
  constructor(plugin: string, detail: string, options?: { cause?: unknown }) {
    super(`Plugin "${plugin}": ${detail}`, options);
    this.name = "PluginError";
    this.plugin = plugin;
  }
}

/** Text of any thrown value. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return "unknown error";
  }
}

/**
 * Wraps an exception thrown by plugin code: the message says which plugin and
 * which callback, and the stack keeps the plugin's own frames so that the
 * first frame points into the plugin.
 */
export function wrapPluginError(
  plugin: string,
  what: string,
  err: unknown,
): PluginError {
  if (err instanceof PluginError && err.plugin === plugin) return err;
  const wrapped = new PluginError(
    plugin,
    `${what}: ${errorText(err)}`,
    { cause: err },
  );
  if (err instanceof Error) {
    // The plugin's frames, read only when somebody reads the stack: on
    // QuickJS-ng every stack formatted costs memory for good, and the embed
    // formats only a bounded number (rust_embed/src/bridge.rs).
    Object.defineProperty(wrapped, "stack", {
      configurable: true,
      get() {
        const frames = typeof err.stack === "string"
          ? err.stack.split("\n").filter((l) => /^\s+at /.test(l))
          : [];
        const stack = [`PluginError: ${wrapped.message}`, ...frames].join(
          "\n",
        );
        Object.defineProperty(wrapped, "stack", {
          configurable: true,
          writable: true,
          value: stack,
        });
        return stack;
      },
    });
  }
  return wrapped;
}
