/**
 * Randomized input for the event-listener protocol layer (lib/protocol.ts
 * and lib/listener.ts): events with header keys in any order and unknown
 * extra keys, payloads of 0 to ~70 KB mixing 1- to 4-byte UTF-8 characters
 * and text that looks like headers or READY/RESULT tokens, concatenated and
 * split at random places (and, for small streams, at every byte boundary).
 *
 * Deterministic: a seeded PRNG (mulberry32) drives everything and every
 * assertion message names the seed, so a failure is reproduced by running
 * that seed again (FUZZ_SEED=<n> adds one seed to the fixed list).
 */
import assert from "node:assert/strict";
import { runEventListener } from "../../lib/listener.ts";
import { Logger } from "../../lib/log.ts";
import { EventParser, type ListenerEvent } from "../../lib/protocol.ts";

const enc = new TextEncoder();

/** mulberry32: a tiny 32-bit PRNG; returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

const SEEDS = [1, 2, 3, 42, 1337, 0xc0ffee, 20240601, 0xdeadbeef];

function seeds(): number[] {
  try {
    const extra = Deno.env.get("FUZZ_SEED");
    if (extra !== undefined && /^\d+$/.test(extra)) return [Number(extra), ...SEEDS];
  } catch {
    // no env permission: the fixed seeds only
  }
  return SEEDS;
}

/** Text that a naive parser could take for protocol structure. */
const TRAPS = [
  "READY\n",
  "RESULT 2\nOK",
  "RESULT 4\nFAIL",
  "RESULT 2\nOKREADY\n",
  "ver:3.0 server:supervisor serial:7 pool:p poolserial:7 eventname:TICK_5 len:15\n",
  "len:0\n",
  "len:99999 eventname:TICK_60\n",
  "processname:web groupname:web pid:12 channel:stdout\n",
  "\n\n",
  "\r\n",
  "\u0000",
  "\uFEFF", // a BOM in the middle of a payload must survive decoding
];

const EMOJI = ["🚀", "🔥", "✅", "𝄞", "👩‍💻", "🇩🇪", "😀", "\u{10FFFF}", "\u{1F9FF}"];

/** One random code point of 1, 2, 3 or 4 UTF-8 bytes (never a lone surrogate). */
function randomChar(rng: Rng): string {
  switch (rng.int(0, 5)) {
    case 0:
    case 1:
      return String.fromCodePoint(rng.int(0x20, 0x7e));
    case 2:
      return String.fromCodePoint(rng.int(0x80, 0x7ff));
    case 3: {
      let cp = rng.int(0x800, 0xfffd);
      if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800; // surrogates are not characters
      return String.fromCodePoint(cp);
    }
    case 4:
      return String.fromCodePoint(rng.int(0x10000, 0x10ffff));
    default:
      return rng.pick([...EMOJI, "\n", "\t", "é", "ü", "日", "✓", "€"]);
  }
}

/** A payload of about `bytes` UTF-8 bytes. */
function randomPayload(rng: Rng, bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const part = rng.chance(0.03) ? rng.pick(TRAPS) : randomChar(rng);
    parts.push(part);
    size += enc.encode(part).length;
  }
  return parts.join("");
}

/** Payload size in bytes: mostly small, some medium, a few large (up to ~70 KB). */
function randomSize(rng: Rng, maxBytes: number): number {
  const r = rng.next();
  const size = r < 0.1
    ? 0
    : r < 0.55
    ? rng.int(1, 64)
    : r < 0.85
    ? rng.int(64, 2_000)
    : r < 0.96
    ? rng.int(2_000, 16_000)
    : rng.int(16_000, 70_000);
  return Math.min(size, maxBytes);
}

const EVENT_NAMES = [
  "TICK_5",
  "TICK_60",
  "TICK_3600",
  "PROCESS_LOG_STDOUT",
  "PROCESS_LOG_STDERR",
  "PROCESS_STATE_RUNNING",
  "PROCESS_STATE_STOPPED",
  "REMOTE_COMMUNICATION",
  "SUPERVISOR_STATE_CHANGE_RUNNING",
  "A_FUTURE_EVENT_TYPE",
];

const KEY_CHARS = "abcdefghijklmnopqrstuvwxyz_0123456789";
/** Characters allowed in a header value: no whitespace (the token separator). */
const VALUE_CHARS = [..."abcXYZ0189-_.:/=+@%é日🚀"];

function randomToken(rng: Rng, chars: readonly string[] | string, min: number, max: number) {
  const alphabet = typeof chars === "string" ? [...chars] : chars;
  return Array.from({ length: rng.int(min, max) }, () => rng.pick(alphabet)).join("");
}

interface Generated {
  event: ListenerEvent;
  bytes: Uint8Array;
}

/** One envelope: known keys, 0-3 unknown ones, in random order; len in code points. */
function randomEvent(rng: Rng, serial: number, maxBytes: number): Generated {
  const payload = randomPayload(rng, randomSize(rng, maxBytes));
  const eventName = rng.pick(EVENT_NAMES);
  const headers: Record<string, string> = {
    ver: "3.0",
    server: "supervisor",
    serial: String(serial),
    pool: rng.pick(["checker", "p", "web_check"]),
    poolserial: String(serial),
    eventname: eventName,
    len: String([...payload].length),
  };
  for (let i = rng.int(0, 3); i > 0; i--) {
    let key: string;
    do key = randomToken(rng, KEY_CHARS, 1, 12); while (key in headers);
    headers[key] = randomToken(rng, VALUE_CHARS, 0, 20);
  }
  const tokens = rng.shuffle(Object.entries(headers).map(([k, v]) => `${k}:${v}`));
  const separator = () => rng.chance(0.9) ? " " : rng.pick(["  ", "\t", " \t "]);
  let line = tokens.join(separator());
  if (rng.chance(0.1)) line = ` ${line} `; // surrounding blanks are tolerated
  return {
    event: { headers, eventName, payload },
    bytes: enc.encode(`${line}\n${payload}`),
  };
}

interface Stream {
  events: ListenerEvent[];
  bytes: Uint8Array;
  /** Byte offset after each event. */
  ends: number[];
}

function randomStream(rng: Rng, count: number, maxBytes: number): Stream {
  const generated = Array.from(
    { length: count },
    (_, i) => randomEvent(rng, rng.int(0, 1e6) + i, maxBytes),
  );
  const bytes = new Uint8Array(generated.reduce((n, g) => n + g.bytes.length, 0));
  const ends: number[] = [];
  let offset = 0;
  for (const g of generated) {
    bytes.set(g.bytes, offset);
    offset += g.bytes.length;
    ends.push(offset);
  }
  return { events: generated.map((g) => g.event), bytes, ends };
}

type Splitter = (rng: Rng, stream: Stream) => number[];

/** Cut points (exclusive ends of chunks, ascending, last = length) by strategy. */
const SPLITTERS: Record<string, Splitter> = {
  "one read for all events": (_rng, s) => [s.bytes.length],
  "random chunks of 1..4096 bytes, some empty": (rng, s) => {
    const cuts: number[] = [];
    for (let at = 0; at < s.bytes.length;) {
      at = Math.min(s.bytes.length, at + (rng.chance(0.05) ? 0 : rng.int(1, 4096)));
      cuts.push(at);
    }
    return cuts;
  },
  "random chunks of up to 70 KB": (rng, s) => {
    const cuts: number[] = [];
    for (let at = 0; at < s.bytes.length;) {
      at = Math.min(s.bytes.length, at + rng.int(1, 70_000));
      cuts.push(at);
    }
    return cuts;
  },
  "cuts near event boundaries (-3..+3 bytes)": (rng, s) => {
    const cuts = s.ends.map((e) => Math.max(0, Math.min(s.bytes.length, e + rng.int(-3, 3))));
    return [...new Set([...cuts, s.bytes.length])].sort((a, b) => a - b);
  },
};

function chunks(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  let from = 0;
  return cuts.map((to) => {
    const chunk = bytes.slice(from, to);
    from = to;
    return chunk;
  });
}

/**
 * Pushes the pieces in order. With `reuse`, every piece is first copied into
 * one scratch buffer that is overwritten by the next read, as a reader with
 * its own buffer does: the parser must not keep a view of a chunk it was given.
 */
function parseAll(
  pieces: Uint8Array[],
  reuse = false,
): { events: ListenerEvent[]; pending: number } {
  const parser = new EventParser();
  const scratch = new Uint8Array(reuse ? Math.max(0, ...pieces.map((p) => p.length)) : 0);
  const events = pieces.flatMap((piece) => {
    if (!reuse) return parser.push(piece);
    scratch.fill(0x0a); // newlines: stale bytes would be misread as header ends
    scratch.set(piece);
    const out = parser.push(scratch.subarray(0, piece.length));
    scratch.fill(0x0a);
    return out;
  });
  return { events, pending: parser.pending };
}

/** Compares event by event, so a failure names the event and not a 1 MB diff. */
function assertSameEvents(actual: ListenerEvent[], expected: ListenerEvent[], context: string) {
  assert.equal(actual.length, expected.length, `${context}: number of events`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    assert.equal(a.eventName, e.eventName, `${context}: event ${i} name`);
    assert.deepEqual(a.headers, e.headers, `${context}: event ${i} headers`);
    if (a.payload !== e.payload) {
      assert.fail(
        `${context}: event ${i} payload differs (got ${[...a.payload].length} code points, ` +
          `expected ${e.headers.len}); first difference at UTF-16 index ${
            [...e.payload].findIndex((_, k) => a.payload[k] !== e.payload[k])
          }`,
      );
    }
  }
}

Deno.test("fuzz parser: random events in random splits are parsed exactly as generated", () => {
  for (const seed of seeds()) {
    const rng = new Rng(seed);
    const stream = randomStream(rng, 60, 70_000);
    for (const [name, split] of Object.entries(SPLITTERS)) {
      const context = `seed ${seed}, ${name}`;
      const pieces = chunks(stream.bytes, split(rng, stream));
      for (const reuse of [false, true]) {
        const where = reuse ? `${context}, one read buffer reused` : context;
        const { events, pending } = parseAll(pieces, reuse);
        assertSameEvents(events, stream.events, where);
        assert.equal(pending, 0, `${where}: bytes left over`);
      }
    }
  }
});

Deno.test("fuzz parser: small random streams split at every byte boundary, and byte by byte", () => {
  for (const seed of seeds()) {
    const rng = new Rng(seed);
    const stream = randomStream(rng, 6, 48);
    const { bytes } = stream;
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { events, pending } = parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
      assertSameEvents(events, stream.events, `seed ${seed}, cut at ${cut} of ${bytes.length}`);
      assert.equal(pending, 0, `seed ${seed}, cut at ${cut}: bytes left over`);
    }
    // three pieces: two random cuts, many times
    for (let i = 0; i < 200; i++) {
      const [a, b] = [rng.int(0, bytes.length), rng.int(0, bytes.length)].sort((x, y) => x - y);
      const { events } = parseAll([bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)]);
      assertSameEvents(events, stream.events, `seed ${seed}, cuts at ${a} and ${b}`);
    }
    // one byte at a time: each event comes out exactly when its last byte arrives
    const parser = new EventParser();
    const seen: ListenerEvent[] = [];
    for (let at = 0; at < bytes.length; at++) {
      seen.push(...parser.push(bytes.subarray(at, at + 1)));
      const complete = stream.ends.filter((end) => end <= at + 1).length;
      assert.equal(seen.length, complete, `seed ${seed}, byte by byte, after byte ${at}`);
    }
    assertSameEvents(seen, stream.events, `seed ${seed}, byte by byte`);
  }
});

/**
 * Feeds `pieces` to runEventListener one read at a time (highWaterMark 0:
 * the next piece is produced only once the listener asks for it, i.e. after
 * it has handled the previous one) and checks, before each read, that every
 * complete event has been acknowledged already.
 */
async function runListenerOver(
  stream: Stream,
  pieces: Uint8Array[],
  context: string,
): Promise<{ output: string; events: ListenerEvent[]; logs: string[]; status: number }> {
  const output: string[] = [];
  const events: ListenerEvent[] = [];
  const logs: string[] = [];
  let delivered = 0;
  let next = 0;
  const input = new ReadableStream<Uint8Array>({
    pull(controller) {
      const complete = stream.ends.filter((end) => end <= delivered).length;
      assert.equal(
        output.length,
        1 + complete,
        `${context}: READY plus one acknowledgement per complete event before read ${next}`,
      );
      if (next === pieces.length) {
        controller.close();
        return;
      }
      delivered += pieces[next].length;
      controller.enqueue(pieces[next++]);
    },
  }, { highWaterMark: 0 });
  const status = await runEventListener(
    { onEvent: (e) => void events.push(e), stop: () => Promise.resolve() },
    new Logger("fuzz", "debug", (line) => logs.push(line)),
    { input, output: (text) => void output.push(text) },
    [],
  );
  return { output: output.join(""), events, logs, status };
}

Deno.test("fuzz listener: stdout carries READY and one RESULT 2 OK READY per event, nothing else", async () => {
  for (const seed of seeds()) {
    const rng = new Rng(seed);
    for (
      const [stream, splitters] of [
        [randomStream(rng, 30, 70_000), Object.entries(SPLITTERS)],
        // small events in tiny reads: many partial headers and split characters
        [randomStream(rng, 25, 300), [
          ["reads of 1..7 bytes", (r: Rng, s: Stream) => {
            const cuts: number[] = [];
            for (let at = 0; at < s.bytes.length;) {
              at = Math.min(s.bytes.length, at + r.int(1, 7));
              cuts.push(at);
            }
            return cuts;
          }],
        ] as [string, Splitter][]],
      ] as [Stream, [string, Splitter][]][]
    ) {
      for (const [name, split] of splitters) {
        const context = `seed ${seed}, ${name}`;
        const pieces = chunks(stream.bytes, split(rng, stream));
        const run = await runListenerOver(stream, pieces, context);
        assert.equal(run.status, 0, `${context}: exit status (log: ${run.logs.join("")})`);
        assert.ok(
          run.output === "READY\n" + "RESULT 2\nOKREADY\n".repeat(stream.events.length),
          `${context}: stdout must be READY\\n then RESULT 2\\nOKREADY\\n per event, got ` +
            JSON.stringify(run.output.slice(0, 200)),
        );
        assertSameEvents(run.events, stream.events, context);
        assert.deepEqual(
          run.logs.map((l) => l.replace(/^\S+ /, "")),
          ["INFO [fuzz] supervisord closed our stdin, stopping\n"],
          `${context}: log`,
        );
      }
    }
  }
});

/**
 * TextDecoder strips a leading U+FEFF (BOM) unless told not to: a payload
 * that starts with one must come back whole (found by this fuzzing).
 */
Deno.test("parser: a payload starting with U+FEFF keeps it", () => {
  for (const payload of ["\uFEFF", "\uFEFFwhen:1", "\uFEFF\uFEFFx"]) {
    const envelope = `ver:3.0 eventname:TICK_5 len:${[...payload].length}\n${payload}`;
    const parser = new EventParser();
    const events = parser.push(enc.encode(envelope + envelope));
    assert.deepEqual(events.map((e) => e.payload), [payload, payload], JSON.stringify(payload));
    assert.equal(parser.pending, 0);
  }
});
