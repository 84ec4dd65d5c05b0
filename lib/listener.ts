/**
 * The event-listener loop: READY, read an event, acknowledge it at once,
 * READY again. TICK events trigger a round on the runner, which runs in
 * the background so supervisord's queue for this listener never backs up;
 * other events are acknowledged and ignored.
 *
 * stdout carries protocol tokens only. console.log and friends are sent to
 * stderr while the listener runs, so no library can corrupt the stream.
 */
import process from "node:process";
import type { Logger } from "./log.ts";
import { writeAllSync } from "./log.ts";
import { EventParser, type ListenerEvent, ProtocolError, READY, RESULT_OK } from "./protocol.ts";

export interface ListenerIO {
  input: ReadableStream<Uint8Array>;
  /** Writes protocol tokens; must write everything or throw. */
  output: (text: string) => void;
}

export interface EventHandler {
  onEvent(event: ListenerEvent): void;
  /** Called once when the listener ends (signal or end of input). */
  stop(): Promise<void>;
}

const encoder = new TextEncoder();

export function stdio(): ListenerIO {
  return {
    input: Deno.stdin.readable,
    output: (text) => writeAllSync(Deno.stdout, encoder.encode(text)),
  };
}

/**
 * Keeps anything printed through console (every method but error, warn,
 * trace and assert, which write to stderr already) or node's
 * process.stdout off stdout: only protocol tokens may go there.
 */
export function guardStdout(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  const viaStderr = new Set(["error", "warn", "trace", "assert"]);
  const out = console as unknown as Record<string, unknown>;
  for (const name of Object.keys(console)) {
    if (typeof out[name] === "function" && !viaStderr.has(name)) out[name] = toStderr;
  }
  const stdout = process.stdout as unknown as { write: unknown };
  stdout.write = process.stderr.write.bind(process.stderr);
}

const SHUTDOWN_SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGHUP"];

/**
 * Runs until end of input or a shutdown signal; resolves to the exit code.
 */
export async function runEventListener(
  handler: EventHandler,
  logger: Logger,
  io: ListenerIO = stdio(),
  signals: Deno.Signal[] = SHUTDOWN_SIGNALS,
): Promise<number> {
  const parser = new EventParser();
  const reader = io.input.getReader();
  let stopping: string | undefined;

  const onSignal = (name: Deno.Signal) => () => {
    if (stopping) return;
    stopping = name;
    logger.info(`received ${name}, stopping`);
    reader.cancel().catch(() => {});
  };
  const installed = signals.map((s) => [s, onSignal(s)] as const);
  for (const [s, fn] of installed) Deno.addSignalListener(s, fn);

  let exitCode = 0;
  try {
    io.output(READY);
    while (!stopping) {
      const { value, done } = await reader.read();
      if (done) {
        if (!stopping) logger.info("supervisord closed our stdin, stopping");
        break;
      }
      for (const event of parser.push(value)) {
        handler.onEvent(event);
        io.output(RESULT_OK + READY);
      }
    }
  } catch (e) {
    if (!(e instanceof ProtocolError) && stopping) {
      // reading was cancelled by the shutdown signal
    } else {
      logger.error(`event stream unusable, exiting: ${(e as Error).message}`);
      exitCode = 1;
    }
  } finally {
    for (const [s, fn] of installed) Deno.removeSignalListener(s, fn);
    await handler.stop();
  }
  return exitCode;
}
