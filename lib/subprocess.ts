/**
 * External commands, written and run: the exec check's command, the
 * sendmail command, httpok's gcore and --restart-command. One module so that
 * every command line is split, quoted and bounded the same way: argv without
 * a shell or shell text through /bin/sh, output captured, a timeout killing
 * the whole tree.
 */
import { descendantsOf } from "./proc.ts";

export interface CommandResult {
  /** Exit status; absent when it could not start or died of a signal. */
  code?: number;
  /** Signal that ended it (SIGKILL after a timeout). */
  signal?: string;
  /** The last OUTPUT_LIMIT bytes of each stream (of both, with mergeOutput). */
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Killed because the caller's signal aborted; absent otherwise. */
  aborted?: true;
  /** Why it could not be started (not found, not executable). */
  spawnError?: string;
}

export interface RunOptions {
  /** Written to its stdin, which is then closed; stdin is /dev/null without it. */
  input?: string;
  /** Added to the inherited environment (replacing it with clearEnv). */
  env?: Record<string, string>;
  clearEnv?: boolean;
  /** Then the command and everything it started is killed. */
  timeoutMs: number;
  /** Aborting kills it as the timeout does. */
  signal?: AbortSignal;
  /** stderr goes into `stdout` too, in the order written. */
  mergeOutput?: boolean;
  /**
   * When it exits, kill what it left running in its process group (a check's
   * stray children); off for a mailer, whose background delivery must live.
   */
  killLeftovers?: boolean;
}

/** Output kept per stream: its end, which usually says what went wrong. */
export const OUTPUT_LIMIT = 64 * 1024;
/**
 * After the command exits, how long its pipes may stay open (a background
 * child holding them) before we stop reading.
 */
const PIPE_GRACE_MS = 1_000;
/** Walks of the tree looking for descendants forked meanwhile, at most. */
const KILL_PASSES = 5;
/** The shell that runs shell text (exec's --command, --restart-command). */
export const SHELL = "/bin/sh";

const encoder = new TextEncoder();

function delay(ms: number): { done: Promise<void>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  return { done, cancel: () => clearTimeout(timer) };
}

/** Keeps the last `limit` bytes of what is pushed into it. */
class Tail {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #dropped = false;

  constructor(readonly limit = OUTPUT_LIMIT) {}

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0].length >= this.limit) {
      this.#size -= this.#chunks.shift()!.length;
      this.#dropped = true;
    }
  }

  text(): string {
    const all = new Uint8Array(this.#size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    const start = Math.max(0, this.#size - this.limit);
    const truncated = this.#dropped || start > 0;
    return (truncated ? "[output truncated]\n" : "") +
      new TextDecoder().decode(all.subarray(start));
  }
}

/** Reads a stream into `tail` until its end, or until the reader is cancelled. */
function collect(stream: ReadableStream<Uint8Array>, tail: Tail) {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        tail.push(value);
      }
    } catch {
      // cancelled after the grace period: keep what arrived
    }
  })();
  return { done, cancel: () => reader.cancel().catch(() => {}) };
}

async function feed(stdin: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = stdin.getWriter();
  try {
    await writer.write(encoder.encode(text));
    await writer.close();
  } catch {
    // it exited (or was killed) without reading everything: its status tells
  }
}

function send(pid: number, signal: Deno.Signal) {
  try {
    Deno.kill(pid, signal);
  } catch {
    // gone already
  }
}

/**
 * Kills `pid`, its process group and all its descendants, including those
 * in other groups or sessions: freezes them, walks the tree again until no
 * new one appears (at most KILL_PASSES times), then SIGKILLs them all.
 * Without /proc, only the group is reached.
 */
export async function killTree(pid: number): Promise<void> {
  const found = new Set<number>();
  send(-pid, "SIGSTOP");
  send(pid, "SIGSTOP");
  try {
    for (let pass = 0; pass < KILL_PASSES; pass++) {
      const fresh = (await descendantsOf(pid)).filter((p) => !found.has(p));
      if (fresh.length === 0) break;
      for (const p of fresh) {
        found.add(p);
        send(p, "SIGSTOP");
      }
    }
  } catch {
    // no /proc: the group is all we can reach
  }
  send(-pid, "SIGKILL");
  send(pid, "SIGKILL");
  for (const p of found) send(p, "SIGKILL");
}

/**
 * Runs argv without a shell (shellCommand makes argv of shell text), in its
 * own session, stdout and stderr captured, never passed through (a
 * listener's stdout is the protocol channel), bounded by the timeout and the
 * caller's signal, which kill it with its whole tree (killTree). Never throws.
 */
export async function runCommand(argv: string[], options: RunOptions): Promise<CommandResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      env: options.env,
      clearEnv: options.clearEnv,
      stdin: options.input === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      // a new session: the command and its children form a group we can kill
      detached: true,
    }).spawn();
  } catch (e) {
    return { stdout: "", stderr: "", timedOut: false, spawnError: (e as Error).message };
  }
  const out = new Tail();
  const err = options.mergeOutput ? out : new Tail();
  const streams = [collect(child.stdout, out), collect(child.stderr, err)];
  const fed = options.input === undefined ? Promise.resolve() : feed(child.stdin, options.input);
  let timedOut = false;
  let aborted = false;
  let killing: Promise<void> | undefined;
  const kill = () => killing ??= killTree(child.pid);
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  const onAbort = () => {
    aborted = true;
    kill();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  let status: Deno.CommandStatus;
  try {
    status = await child.status;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
  await killing;
  // whatever it left running in its group goes with it
  if (options.killLeftovers) send(-child.pid, "SIGKILL");
  const grace = delay(PIPE_GRACE_MS);
  await Promise.race([Promise.all([...streams.map((s) => s.done), fed]), grace.done]);
  grace.cancel();
  // a process that left the group may still hold the pipes open
  await Promise.all(streams.map((s) => s.cancel()));
  return {
    code: status.signal ? undefined : status.code,
    signal: status.signal ?? undefined,
    stdout: out.text(),
    stderr: options.mergeOutput ? "" : err.text(),
    timedOut,
    ...(aborted ? { aborted: true as const } : {}),
  };
}

/** `exit status 1`, `timed out after 10s (killed)`, `could not start: …`. */
export function describeCommandResult(result: CommandResult, timeoutMs: number): string {
  if (result.spawnError !== undefined) return `could not start: ${result.spawnError}`;
  if (result.timedOut) return `timed out after ${timeoutMs / 1000}s (killed)`;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit status ${result.code}`;
}

// ---------------------------------------------------------------------------
// Command lines

/** argv that runs shell text through SHELL (`/bin/sh -c TEXT`). */
export function shellCommand(text: string): string[] {
  return [SHELL, "-c", text];
}

/** argv as shell text that runs it with no expansion at all (each word single-quoted). */
export function shellQuote(argv: string[]): string {
  return argv.map((arg) => `'${arg.replaceAll("'", `'"'"'`)}'`).join(" ");
}

/**
 * What SHELL says of the syntax of `text` (`sh -n`: parsed, not run), or
 * undefined when it is valid. Synchronous: it serves start-up validation.
 */
export function shellSyntaxError(text: string): string | undefined {
  const { success, stderr } = new Deno.Command(SHELL, {
    args: ["-n", "-c", text],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  return success ? undefined : new TextDecoder().decode(stderr);
}

/**
 * Splits a command line (sendmail, gcore) into argv as a POSIX shell would
 * for simple quoting: words separated by blanks, '…' taken literally, "…"
 * with \" \\ \$ \` escapes, a backslash outside quotes escaping the next
 * character. No expansions. Throws on unbalanced quotes and on no words.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in ${JSON.stringify(text)}`);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && '"\\$`'.includes(text[i + 1] ?? "")) i++;
        word += text[i++];
      }
      if (i >= text.length) throw new Error(`unterminated " in ${JSON.stringify(text)}`);
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 >= text.length) throw new Error(`trailing \\ in ${JSON.stringify(text)}`);
      word += text[++i];
      inWord = true;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) throw new Error("the command is empty");
  return words;
}
