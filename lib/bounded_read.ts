/**
 * Reading what another program sends (an HTTP body, an XML-RPC answer)
 * without ever holding more than a fixed amount of it, whatever it sends:
 * either the whole of it up to a byte cap, or a scan for a few strings
 * that keeps only a sliding window.
 */

/** What was sent is larger than the cap; the stream was cancelled. */
export class TooLargeError extends Error {
  override name = "TooLargeError";
  constructor(readonly limit: number) {
    super(`larger than ${formatBytes(limit)}`);
  }
}

/** `64 KiB`, `4 MiB`, `512 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** A fetch body (a web stream), a node stream (node:http), or none. */
type ByteSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null | undefined;

/** The stream went on past its deadline; it was cancelled. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
  constructor() {
    super("not complete in time");
  }
}

/** Bytes read into one reused buffer when the source is a byte stream. */
const BUFFER_BYTES = 64 * 1024;

/**
 * The chunks of `source`, each valid only until the next one is asked for.
 * A byte stream (a fetch body) is read into one reused buffer: reading
 * gigabytes this way keeps the process near its idle size, where a chunk
 * per read lets garbage pile up faster than it is collected. Past
 * `deadline` (a performance.now() time) it throws DeadlineError: a body
 * that is always ready starves timers, so an AbortSignal.timeout alone
 * would never fire. Leaving early cancels the source.
 */
async function* chunksOf(source: ByteSource, deadline = Infinity): AsyncGenerator<Uint8Array> {
  const check = () => {
    if (performance.now() > deadline) throw new DeadlineError();
  };
  if (!source) return;
  if (!(source instanceof ReadableStream)) {
    for await (const chunk of source) {
      check();
      yield chunk;
    }
    return;
  }
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = source.getReader({ mode: "byob" });
  } catch {
    // not a byte stream
  }
  if (!byob) {
    for await (const chunk of source) {
      check();
      yield chunk;
    }
    return;
  }
  let done = false;
  try {
    let buffer = new Uint8Array(BUFFER_BYTES);
    for (;;) {
      const next = await byob.read(buffer);
      if (next.done) {
        done = true;
        return;
      }
      check();
      yield next.value;
      buffer = new Uint8Array(next.value.buffer);
    }
  } finally {
    if (!done) await byob.cancel().catch(() => {});
    byob.releaseLock();
  }
}

/**
 * Reads `source` to its end and returns its bytes, or throws TooLargeError as
 * soon as more than `limit` bytes arrived (DeadlineError past `deadline`);
 * either way the source is cancelled, so nothing more is read.
 */
export async function readAtMost(
  source: ByteSource,
  limit: number,
  deadline?: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunksOf(source, deadline)) {
    size += chunk.length;
    if (size > limit) throw new TooLargeError(limit);
    chunks.push(chunk.slice());
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

/**
 * Reads `source` (UTF-8 text) to its end and returns which of `needles` it
 * contains. Only the current chunk plus the last (longest needle − 1)
 * characters before it are held, so a needle split across chunks is found
 * and memory stays bounded however long the text is. Past `deadline` it
 * throws DeadlineError.
 */
export async function scanFor(
  source: ByteSource,
  needles: readonly string[],
  deadline?: number,
): Promise<Set<string>> {
  const found = new Set<string>();
  const keep = Math.max(0, ...needles.map((n) => n.length - 1));
  const decoder = new TextDecoder();
  let tail = "";
  const look = (text: string) => {
    const window = tail + text;
    for (const needle of needles) if (window.includes(needle)) found.add(needle);
    tail = keep > 0 ? window.slice(-keep) : "";
  };
  for await (const chunk of chunksOf(source, deadline)) {
    if (found.size === needles.length) continue; // drained to the end, unread
    look(decoder.decode(chunk, { stream: true }));
  }
  look(decoder.decode());
  return found;
}
