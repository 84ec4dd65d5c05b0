/**
 * Restarts that outlive the listener. A restart is a stop, then a start; if
 * the listener dies in between (supervisord's SIGKILL after its stopwaitsecs,
 * `kill -9`, the OOM killer), nobody would send the start and the service
 * would stay STOPPED. So each restart is first handed to a finisher process
 * that starts it if the listener cannot. The guarantee, as users see it, is
 * in docs/behaviour.md ("A restart once begun is always finished").
 */
import { type LogFormat, Logger, writeAllSync } from "./log.ts";
import { completeRestart, completionText, useFinisher } from "./restart.ts";
import { SupervisorClient } from "./supervisor.ts";

/** Set (to the log format) in the finisher's environment: run as the finisher. */
export const FINISHER_ENV = "SUPERVISOR_CHECKS_FINISHER";

interface Begin {
  begin: string;
  pid: number;
  check: string;
}

const encoder = new TextEncoder();
const line = (message: Begin | { end: string }) => encoder.encode(JSON.stringify(message) + "\n");

/** The command that runs this program again with the same arguments. */
export function selfCommand(): string[] {
  return Deno.build.standalone
    ? [Deno.execPath(), ...Deno.args]
    : [Deno.execPath(), "run", "-A", "--no-prompt", Deno.mainModule, ...Deno.args];
}

/**
 * The listener's side: hands restarts under way to a finisher process, this
 * same program run again ({@link selfCommand}) with FINISHER_ENV set, in a
 * session of its own (out of reach of supervisord's stopasgroup/killasgroup),
 * stdout and stderr on /dev/null, the listener at the other end of its stdin.
 * The listener writes one line when a restart begins and one when it is done.
 * The finisher is started with the first restart and ends when none is
 * pending, so between restarts there is no extra process. Credentials reach
 * it through the environment it inherits, never its command line.
 */
export class Finisher {
  #child?: Deno.ChildProcess;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<string, Begin>();
  #spawnFailureLogged = false;

  constructor(
    private readonly logger: Logger,
    private readonly format: LogFormat,
    private readonly command: string[] = selfCommand(),
  ) {}

  /** The finisher's pid, while one runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Hands `spec` over before its stop is requested. false when no finisher
   * could be started (logged once): the restart goes on unguarded.
   */
  async begin(spec: string, pid: number, check: string): Promise<boolean> {
    const message: Begin = { begin: spec, pid, check };
    // pending from now on, so that an end() meanwhile does not close the finisher's input
    this.#pending.set(spec, message);
    // a finisher that died (killed by hand) is replaced once, and told everything pending
    for (let attempt = 0; attempt < 2; attempt++) {
      let writer = this.#writer;
      let messages = [message];
      if (writer === undefined) {
        writer = this.#spawn();
        if (writer === undefined) break;
        messages = [...this.#pending.values()];
      }
      try {
        await Promise.all(messages.map((m) => writer.write(line(m))));
        return true;
      } catch {
        if (this.#writer === writer) this.#writer = this.#child = undefined;
      }
    }
    this.#pending.delete(spec);
    return false;
  }

  /** The restart of `spec` is over, whatever its outcome: nothing left to finish. */
  async end(spec: string): Promise<void> {
    if (!this.#pending.delete(spec)) return;
    const writer = this.#writer;
    if (writer === undefined) return;
    const last = this.#pending.size === 0;
    // with nothing pending, the end of its input ends it; the next restart starts another
    if (last) this.#writer = this.#child = undefined;
    try {
      await writer.write(line({ end: spec }));
      if (last) await writer.close();
    } catch {
      // it is gone: there was nothing left for it to do about `spec`
    }
  }

  #spawn(): WritableStreamDefaultWriter<Uint8Array> | undefined {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.command[0], {
        args: this.command.slice(1),
        env: { [FINISHER_ENV]: this.format },
        stdin: "piped",
        stdout: "null",
        stderr: "null",
        detached: true,
      }).spawn();
    } catch (e) {
      if (!this.#spawnFailureLogged) {
        this.logger.error(
          `cannot start the restart finisher (${this.command[0]}): ${(e as Error).message}; ` +
            "a restart under way when this listener is stopped or killed may leave its " +
            "process STOPPED",
        );
      }
      this.#spawnFailureLogged = true;
      return undefined;
    }
    child.unref();
    child.status.catch(() => {});
    this.#child = child;
    return this.#writer = child.stdin.getWriter();
  }
}

/** Whether this process was started as a finisher. */
function isFinisher(): boolean {
  try {
    return Deno.env.get(FINISHER_ENV) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Called first by every listener entry point (whatever the main module):
 * in a process started as a finisher, runs it and resolves to its exit
 * status; otherwise resolves to undefined at once.
 */
export async function finisherIfAsked(): Promise<number | undefined> {
  return isFinisher() ? await runFinisher(() => SupervisorClient.fromEnv()) : undefined;
}

/** From now on, every restart of this process is handed to a finisher before its stop. */
export function guardRestarts(logger: Logger, format: LogFormat) {
  useFinisher(new Finisher(logger, format));
}

/** Reads the listener's lines until its end; what is left pending. */
async function readPending(input: ReadableStream<Uint8Array>): Promise<Map<string, Begin>> {
  const pending = new Map<string, Begin>();
  const decoder = new TextDecoder();
  let buffer = "";
  const take = (text: string) => {
    buffer += text;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const message = JSON.parse(buffer.slice(0, newline)) as Partial<Begin & { end: string }>;
      buffer = buffer.slice(newline + 1);
      if (message.begin !== undefined) pending.set(message.begin, message as Begin);
      else if (message.end !== undefined) pending.delete(message.end);
    }
  };
  try {
    for await (const chunk of input) take(decoder.decode(chunk, { stream: true }));
  } catch {
    // the listener died mid-write: what arrived complete counts
  }
  return pending;
}

/** The listener's stderr log file (supervisord's stderr_logfile), opened for appending. */
async function listenerLogSink(client: SupervisorClient): Promise<(text: string) => void> {
  const discard = () => {};
  const name = Deno.env.get("SUPERVISOR_PROCESS_NAME");
  const group = Deno.env.get("SUPERVISOR_GROUP_NAME") ?? name;
  if (name === undefined) return discard;
  try {
    const info = await client.call("supervisor.getProcessInfo", [`${group}:${name}`]) as {
      stderr_logfile?: string;
    };
    if (!info.stderr_logfile) return discard;
    const file = await Deno.open(info.stderr_logfile, { append: true });
    return (text) => {
      try {
        writeAllSync(file, encoder.encode(text));
      } catch {
        // the log is unwritable now: the restart matters more than its line
      }
    };
  } catch {
    return discard;
  }
}

/** Completes `b.begin`'s restart ({@link completeRestart}) and logs what it did. */
async function finishOne(client: SupervisorClient, b: Begin, logger: Logger): Promise<void> {
  const log = logger.named(b.check);
  const fields = { process: b.begin, pid: b.pid };
  const c = await completeRestart(client, b.begin, b.pid);
  const text = `finisher: ${completionText(c)}`;
  if (c.ended === "gave-up") log.error(text, fields);
  else log.warn(text, fields);
}

/**
 * The finisher's whole life: reads the listener's lines from stdin until
 * their end, then completes the restarts left pending. Nothing pending (the
 * listener closed it) → it exits; restarts begun and not done (the listener
 * exited or was killed) → for each, it waits up to 10 minutes for the
 * process to leave STOPPING, starts it if it is STOPPED, appends what it did
 * to the listener's stderr log file (asked from supervisord; discarded when
 * there is none) and exits. Resolves to the exit status.
 */
export async function runFinisher(
  connect: () => SupervisorClient,
  input: ReadableStream<Uint8Array> = Deno.stdin.readable,
): Promise<number> {
  const pending = await readPending(input);
  if (pending.size === 0) return 0;
  let client: SupervisorClient;
  try {
    client = connect();
  } catch {
    return 1;
  }
  const format = Deno.env.get(FINISHER_ENV) === "json" ? "json" : "text";
  const logger = new Logger("finisher", "info", await listenerLogSink(client), format);
  logger.warn(
    `the listener ended during the restart of ${[...pending.keys()].join(", ")}: ` +
      `finishing (finisher pid ${Deno.pid})`,
  );
  await Promise.all([...pending.values()].map((b) => finishOne(client, b, logger)));
  return 0;
}
