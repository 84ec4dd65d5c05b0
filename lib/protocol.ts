/**
 * supervisord's event-listener protocol (listener side).
 *
 * supervisord writes a header line `ver:3.0 server:… eventname:TICK_5 len:15\n`
 * followed by a payload. `len` is Python's len() of the payload *string*:
 * a count of Unicode code points, not bytes (read off supervisor/process.py,
 * `_eventEnvelope`; the payload is then written as UTF-8). A payload with
 * multi-byte text is therefore longer in bytes than `len` says; this parser
 * counts code points over the UTF-8 byte stream.
 *
 * The listener answers `RESULT 2\nOK` and then `READY\n`.
 */

export interface ListenerEvent {
  headers: Record<string, string>;
  eventName: string;
  /** Decoded payload text. */
  payload: string;
}

export const READY = "READY\n";
export const RESULT_OK = "RESULT 2\nOK";
export const RESULT_FAIL = "RESULT 4\nFAIL";

/** Largest header line accepted before the stream is declared corrupt. */
const MAX_HEADER_BYTES = 64 * 1024;

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** Parses `key:value key:value` header tokens. */
export function parseHeaderLine(line: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const token of line.trim().split(/\s+/)) {
    if (token === "") continue;
    const colon = token.indexOf(":");
    if (colon <= 0) throw new ProtocolError(`malformed header token '${token}' in '${line}'`);
    headers[token.slice(0, colon)] = token.slice(colon + 1);
  }
  return headers;
}

/** Bytes in the UTF-8 sequence a lead byte starts (1 for stray bytes). */
function utf8SequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xf0 && lead < 0xf8) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1; // a continuation byte where a lead was expected: count it as one
}

/**
 * Incremental parser: feed it chunks as they arrive from stdin, in any
 * split; it yields each complete event once.
 */
export class EventParser {
  #buffer = new Uint8Array(0);
  #decoder = new TextDecoder();

  push(chunk: Uint8Array): ListenerEvent[] {
    this.#append(chunk);
    const events: ListenerEvent[] = [];
    for (;;) {
      const event = this.#next();
      if (!event) break;
      events.push(event);
    }
    return events;
  }

  /** Bytes received but not yet part of a complete event. */
  get pending(): number {
    return this.#buffer.length;
  }

  #append(chunk: Uint8Array) {
    if (this.#buffer.length === 0) {
      this.#buffer = chunk.slice();
      return;
    }
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    this.#buffer = joined;
  }

  #next(): ListenerEvent | undefined {
    const newline = this.#buffer.indexOf(0x0a);
    if (newline < 0) {
      if (this.#buffer.length > MAX_HEADER_BYTES) {
        throw new ProtocolError(`no header line within ${MAX_HEADER_BYTES} bytes`);
      }
      return undefined;
    }
    const line = this.#decoder.decode(this.#buffer.subarray(0, newline));
    const headers = parseHeaderLine(line);
    const lenText = headers.len;
    if (lenText === undefined || !/^\d+$/.test(lenText)) {
      throw new ProtocolError(`header without a valid len: '${line}'`);
    }
    const codePoints = Number(lenText);
    const start = newline + 1;
    const end = this.#payloadEnd(start, codePoints);
    if (end === undefined) return undefined;
    const payload = this.#decoder.decode(this.#buffer.subarray(start, end));
    this.#buffer = this.#buffer.slice(end);
    return { headers, eventName: headers.eventname ?? "", payload };
  }

  /** Byte offset after `count` UTF-8 code points from `start`, if all arrived. */
  #payloadEnd(start: number, count: number): number | undefined {
    let offset = start;
    for (let seen = 0; seen < count; seen++) {
      if (offset >= this.#buffer.length) return undefined;
      offset += utf8SequenceLength(this.#buffer[offset]);
    }
    return offset <= this.#buffer.length ? offset : undefined;
  }
}
