/**
 * supervisord's event-listener protocol (listener side): supervisord writes a
 * header line `ver:3.0 server:… eventname:TICK_5 len:15\n` followed by a
 * payload; the listener answers `RESULT 2\nOK` and then `READY\n`.
 */

export interface ListenerEvent {
  headers: Record<string, string>;
  eventName: string;
  /** Decoded payload text. */
  payload: string;
}

export const READY = "READY\n";
export const RESULT_OK = "RESULT 2\nOK";

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
 *
 * `len` is Python's len() of the payload *string*: a count of Unicode code
 * points, not bytes (read off supervisor/process.py, `_eventEnvelope`; the
 * payload is then written as UTF-8). A payload with multi-byte text is
 * therefore longer in bytes than `len` says; this parser counts code points
 * over the UTF-8 byte stream.
 */
export class EventParser {
  /** Received bytes live in #buffer[#start, #end); the rest is spare capacity. */
  #buffer = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  /** ignoreBOM keeps a leading U+FEFF of a payload (the default would drop it). */
  #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** The header of the event whose payload is still arriving, and how far it was counted. */
  #header?: { headers: Record<string, string>; codePoints: number; payloadStart: number };
  #scanOffset = 0;
  #scanned = 0;

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
    return this.#end - this.#start;
  }

  /** Copies the chunk in (the caller may reuse it), compacting or growing: amortized O(n). */
  #append(chunk: Uint8Array) {
    if (this.#end + chunk.length > this.#buffer.length) {
      const live = this.#end - this.#start;
      if (live + chunk.length <= this.#buffer.length / 2) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(2 * (live + chunk.length));
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      }
      this.#shift(this.#start);
      this.#start = 0;
      this.#end = live;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Moves the remembered offsets left by `by` bytes after a compaction. */
  #shift(by: number) {
    if (this.#header) {
      this.#header.payloadStart -= by;
      this.#scanOffset -= by;
    }
  }

  #next(): ListenerEvent | undefined {
    if (!this.#header) {
      const newline = this.#buffer.subarray(this.#start, this.#end).indexOf(0x0a);
      if (newline < 0) {
        if (this.pending > MAX_HEADER_BYTES) {
          throw new ProtocolError(`no header line within ${MAX_HEADER_BYTES} bytes`);
        }
        return undefined;
      }
      const line = this.#decoder.decode(this.#buffer.subarray(this.#start, this.#start + newline));
      const headers = parseHeaderLine(line);
      const lenText = headers.len;
      if (lenText === undefined || !/^\d+$/.test(lenText)) {
        throw new ProtocolError(`header without a valid len: '${line}'`);
      }
      const payloadStart = this.#start + newline + 1;
      this.#header = { headers, codePoints: Number(lenText), payloadStart };
      this.#scanOffset = payloadStart;
      this.#scanned = 0;
    }
    const end = this.#payloadEnd();
    if (end === undefined) return undefined;
    const { headers, payloadStart } = this.#header;
    const payload = this.#decoder.decode(this.#buffer.subarray(payloadStart, end));
    this.#header = undefined;
    this.#start = end;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return { headers, eventName: headers.eventname ?? "", payload };
  }

  /**
   * Byte offset after the current event's code points, if all arrived.
   * Counting resumes where the previous read left it, so a large payload
   * arriving in many reads is scanned once.
   */
  #payloadEnd(): number | undefined {
    const count = this.#header!.codePoints;
    while (this.#scanned < count) {
      if (this.#scanOffset >= this.#end) return undefined;
      const next = this.#scanOffset + utf8SequenceLength(this.#buffer[this.#scanOffset]);
      if (next > this.#end) return undefined; // the last character is not complete yet
      this.#scanOffset = next;
      this.#scanned++;
    }
    return this.#scanOffset;
  }
}
