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
const BUFFER_BYTES = 16 * 1024;
/**
 * Buffers of finished reads, handed to the next ones (at most
 * SPARE_BUFFERS kept): a round of checks reads as many bodies as it has
 * processes, and a buffer each would be garbage outside the V8 heap,
 * collected late.
 */
const spare: ArrayBuffer[] = [];
const SPARE_BUFFERS = 8;

/**
 * The chunks of `source`, each valid only until the next one is asked for
 * (or the iteration ends). A byte stream (a fetch body) is read into one
 * reused buffer, taken from and given back to the spares: reading gigabytes
 * this way keeps the process near its idle size, where a chunk per read
 * lets garbage pile up faster than it is collected. Past
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
  let buffer = spare.pop() ?? new ArrayBuffer(BUFFER_BYTES);
  try {
    for (;;) {
      const next = await byob.read(new Uint8Array(buffer));
      // a read takes the buffer over and hands it back in its answer
      if (next.value) buffer = next.value.buffer as ArrayBuffer;
      if (next.done) {
        done = true;
        return;
      }
      check();
      yield next.value;
    }
  } finally {
    if (!done) await byob.cancel().catch(() => {});
    byob.releaseLock();
    // a failed read leaves it detached (length 0)
    if (buffer.byteLength === BUFFER_BYTES && spare.length < SPARE_BUFFERS) spare.push(buffer);
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

/** Whether `needle` occurs in `hay`. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return true;
  const last = hay.length - needle.length;
  for (let i = hay.indexOf(needle[0]); i !== -1 && i <= last; i = hay.indexOf(needle[0], i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return true;
  }
  return false;
}

/**
 * Reads `source` to its end and returns which of `needles` it contains,
 * comparing UTF-8 bytes (the same matches as in the decoded text). Only the
 * current chunk plus the last (longest needle − 1) bytes before it are held,
 * in one reused window, so a needle split across chunks is found and memory
 * stays bounded however long the body is. Past `deadline` it throws
 * DeadlineError.
 */
export async function scanFor(
  source: ByteSource,
  needles: readonly string[],
  deadline?: number,
): Promise<Set<string>> {
  const found = new Set<string>();
  const encoded = needles.map((n) => new TextEncoder().encode(n));
  const keep = Math.max(0, ...encoded.map((n) => n.length - 1));
  // nothing to look for: the body is only drained
  let window = new Uint8Array(needles.length === 0 ? 0 : keep + BUFFER_BYTES);
  let end = 0;
  for await (const chunk of chunksOf(source, deadline)) {
    if (found.size === needles.length) continue; // drained to the end, unread
    const kept = Math.min(keep, end);
    if (kept + chunk.length > window.length) {
      const larger = new Uint8Array(kept + chunk.length);
      larger.set(window.subarray(end - kept, end));
      window = larger;
    } else window.copyWithin(0, end - kept, end);
    window.set(chunk, kept);
    end = kept + chunk.length;
    const hay = window.subarray(0, end);
    needles.forEach((needle, i) => {
      if (!found.has(needle) && contains(hay, encoded[i])) found.add(needle);
    });
  }
  if (needles.includes("")) found.add("");
  return found;
}

/**
 * The text of a regular file of at most `limit` bytes (a config, a secret, a
 * CA bundle read at start-up): a FIFO, a device (/dev/zero) or a file that
 * is or grows too large is refused with an Error saying so (`not a regular
 * file`, `larger than …`; `cannot read: …` when the system refuses), never
 * read without bound.
 */
export function readSmallFile(path: string, limit: number): string {
  const tooLarge = () => new SmallFileError(`larger than ${formatBytes(limit)}, the most read`);
  let file: Deno.FsFile;
  try {
    // stat before open: opening a FIFO would wait for a writer
    if (!Deno.statSync(path).isFile) throw new SmallFileError("not a regular file");
    file = Deno.openSync(path);
  } catch (e) {
    if (e instanceof SmallFileError) throw e;
    throw new SmallFileError(`cannot read: ${(e as Error).message}`);
  }
  try {
    if (file.statSync().size > limit) throw tooLarge();
    const bytes = new Uint8Array(limit + 1);
    let size = 0;
    for (;;) {
      const n = file.readSync(bytes.subarray(size));
      if (n === null) break;
      size += n;
      if (size > limit) throw tooLarge(); // it grew meanwhile
    }
    return new TextDecoder().decode(bytes.subarray(0, size));
  } catch (e) {
    if (e instanceof SmallFileError) throw e;
    throw new SmallFileError(`cannot read: ${(e as Error).message}`);
  } finally {
    file.close();
  }
}

/** Why readSmallFile refused a file. */
export class SmallFileError extends Error {
  override name = "SmallFileError";
}

/** `cannot read PATH: why` for a file readSmallFile refused. */
export function smallFileProblem(path: string, e: unknown): string {
  const why = (e as Error).message.replace(/^cannot read: /, "");
  return `cannot read ${path}: ${why}`;
}
