/**
 * Encoding of plugin events (scap event type 322) into a byte buffer, and
 * decoding for the harness and the hosts.
 *
 * Layout (little endian, packed): `ts u64`, `tid u64` (2^64-1), `len u32`
 * (whole event), `type u16` (322), `nparams u32` (2), then the parameter
 * lengths `u32 4` and `u32 payloadLength`, then the plugin id `u32` and the
 * payload bytes.
 *
 * @module
 */

/** Scap event type of plugin events (`PPME_PLUGINEVENT_E`). */
export const PLUGIN_EVENT_TYPE = 322;
/** Bytes before the payload: 26 header + 2 * 4 lengths + 4 plugin id. */
export const PLUGIN_EVENT_HEADER_SIZE = 38;
/** Timestamp meaning "let the host stamp the event". */
export const TS_UNSET = 0xffff_ffff_ffff_ffffn;
/** Thread id of plugin events. */
export const TID_NONE = 0xffff_ffff_ffff_ffffn;

/** A decoded plugin event. */
export interface DecodedEvent {
  /** Timestamp (ns); {@linkcode TS_UNSET} if the plugin left it to the host. */
  ts: bigint;
  /** Thread id (2^64-1 for plugin events). */
  tid: bigint;
  /** Total length of the event in bytes. */
  len: number;
  /** Event type (322). */
  type: number;
  /** Id of the plugin that produced the event. */
  pluginId: number;
  /** The payload bytes (a copy). */
  payload: Uint8Array;
}

/**
 * Writes one plugin event at `offset` of `bytes`. The payload is written
 * by `writePayload(dst, at)`, which returns the payload length or -1 when
 * it does not fit. Returns the offset after the event, or -1 when it does
 * not fit (nothing useful is written then).
 */
export function writePluginEvent(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  ts: bigint,
  pluginId: number,
  writePayload: (dst: Uint8Array, at: number) => number,
): number {
  const payloadAt = offset + PLUGIN_EVENT_HEADER_SIZE;
  if (payloadAt > bytes.length) return -1;
  const payloadLen = writePayload(bytes, payloadAt);
  if (payloadLen < 0) return -1;
  const len = PLUGIN_EVENT_HEADER_SIZE + payloadLen;
  view.setBigUint64(offset, ts, true);
  view.setBigUint64(offset + 8, TID_NONE, true);
  view.setUint32(offset + 16, len, true);
  view.setUint16(offset + 20, PLUGIN_EVENT_TYPE, true);
  view.setUint32(offset + 22, 2, true);
  view.setUint32(offset + 26, 4, true);
  view.setUint32(offset + 30, payloadLen, true);
  view.setUint32(offset + 34, pluginId, true);
  return offset + len;
}

/**
 * Encodes one plugin event as a new byte array.
 *
 * @example Encoding and decoding an event
 * ```ts
 * import { decodePluginEvent, encodePluginEvent } from "./event_encoding.ts";
 * const bytes = encodePluginEvent(999, new Uint8Array([0x31]), 5n);
 * const ev = decodePluginEvent(bytes);
 * console.assert(ev.pluginId === 999 && ev.ts === 5n && ev.len === 39);
 * ```
 *
 * @param pluginId Id of the producing plugin.
 * @param payload The payload bytes.
 * @param ts Timestamp in ns ({@linkcode TS_UNSET} by default).
 * @returns The whole event.
 */
export function encodePluginEvent(
  pluginId: number,
  payload: Uint8Array,
  ts: bigint = TS_UNSET,
): Uint8Array {
  const out = new Uint8Array(PLUGIN_EVENT_HEADER_SIZE + payload.length);
  writePluginEvent(new DataView(out.buffer), out, 0, ts, pluginId, (d, at) => {
    d.set(payload, at);
    return payload.length;
  });
  return out;
}

/**
 * Decodes the plugin event at `offset` of `bytes`, checking its framing.
 *
 * @param bytes A buffer holding the event.
 * @param offset Where the event starts.
 * @returns The event.
 */
export function decodePluginEvent(
  bytes: Uint8Array,
  offset = 0,
): DecodedEvent {
  if (offset + PLUGIN_EVENT_HEADER_SIZE > bytes.length) {
    throw new RangeError(
      `Event at offset "${offset}" is truncated: "${
        bytes.length - offset
      }" bytes left`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = view.getUint32(offset + 16, true);
  const type = view.getUint16(offset + 20, true);
  const nparams = view.getUint32(offset + 22, true);
  if (type !== PLUGIN_EVENT_TYPE) {
    throw new RangeError(`Event type is "${type}", not "${PLUGIN_EVENT_TYPE}"`);
  }
  if (nparams !== 2 || view.getUint32(offset + 26, true) !== 4) {
    throw new RangeError(`Plugin event has malformed parameters`);
  }
  const payloadLen = view.getUint32(offset + 30, true);
  if (len !== PLUGIN_EVENT_HEADER_SIZE + payloadLen) {
    throw new RangeError(
      `Event length "${len}" does not match its payload length "${payloadLen}"`,
    );
  }
  if (offset + len > bytes.length) {
    throw new RangeError(`Event of "${len}" bytes overruns its buffer`);
  }
  return {
    ts: view.getBigUint64(offset, true),
    tid: view.getBigUint64(offset + 8, true),
    len,
    type,
    pluginId: view.getUint32(offset + 34, true),
    payload: bytes.slice(
      offset + PLUGIN_EVENT_HEADER_SIZE,
      offset + PLUGIN_EVENT_HEADER_SIZE + payloadLen,
    ),
  };
}
