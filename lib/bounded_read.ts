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

type ByteSource = AsyncIterable<Uint8Array> | null | undefined;

/**
 * Reads `source` to its end and returns its bytes, or throws TooLargeError as
 * soon as more than `limit` bytes arrived; leaving the loop early cancels a
 * web stream and destroys a node stream, so nothing more is read.
 */
export async function readAtMost(source: ByteSource, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of source ?? []) {
    size += chunk.length;
    if (size > limit) throw new TooLargeError(limit);
    chunks.push(chunk);
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
 * and memory stays bounded however long the text is.
 */
export async function scanFor(
  source: ByteSource,
  needles: readonly string[],
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
  for await (const chunk of source ?? []) {
    if (found.size === needles.length) continue; // drained to the end, unread
    look(decoder.decode(chunk, { stream: true }));
  }
  look(decoder.decode());
  return found;
}
