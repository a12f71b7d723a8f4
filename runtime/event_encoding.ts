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

const TWO_32 = 4294967296;

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
 * The 38 header bytes of a plugin event of `pluginId`, with the timestamp
 * {@linkcode TS_UNSET} and both lengths 0: what
 * {@linkcode writePluginEventHeader} copies before filling in the rest.
 *
 * @param pluginId Id of the producing plugin.
 * @returns The header bytes.
 */
export function pluginEventHeader(pluginId: number): Uint8Array {
  const out = new Uint8Array(PLUGIN_EVENT_HEADER_SIZE);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, TS_UNSET, true);
  view.setBigUint64(8, TID_NONE, true);
  view.setUint16(20, PLUGIN_EVENT_TYPE, true);
  view.setUint32(22, 2, true);
  view.setUint32(26, 4, true);
  view.setUint32(34, pluginId, true);
  return out;
}

/**
 * Writes the header of a plugin event at `offset` whose payload of
 * `payloadLen` bytes is already in place after it (at `offset +`
 * {@linkcode PLUGIN_EVENT_HEADER_SIZE}), the same bytes as
 * {@linkcode writePluginEvent}, with a few calls: a copy of `header` (from
 * {@linkcode pluginEventHeader}), the lengths and the timestamp. Returns the
 * offset after the event. The caller checks that the event fits.
 *
 * @param view The buffer.
 * @param bytes The same buffer.
 * @param offset Where the event starts.
 * @param header The plugin's header bytes.
 * @param ts The timestamp, a u64 as a safe integer number or a bigint;
 *   `undefined` for {@linkcode TS_UNSET}.
 * @param payloadLen The payload's length.
 * @returns The offset after the event.
 */
export function writePluginEventHeader(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  header: Uint8Array,
  ts: number | bigint | undefined,
  payloadLen: number,
): number {
  bytes.set(header, offset);
  if (typeof ts === "number") {
    const lo = ts % TWO_32;
    view.setUint32(offset, lo, true);
    view.setUint32(offset + 4, (ts - lo) / TWO_32, true);
  } else if (ts !== undefined) {
    view.setBigUint64(offset, ts, true);
  }
  const len = PLUGIN_EVENT_HEADER_SIZE + payloadLen;
  view.setUint32(offset + 16, len, true);
  view.setUint32(offset + 30, payloadLen, true);
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
