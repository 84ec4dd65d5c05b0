/**
 * exec: the process is healthy when a command exits with status 0 within
 * the timeout. Custom checks in any language, without writing TypeScript.
 *
 * The command runs per process through `/bin/sh -c`, so shell syntax works
 * (`test -e "$DIR/ok" && ./probe.py`). In a config file it may also be an
 * argv array (`["/usr/local/bin/probe", "--max", "100"]`), run as given,
 * without any shell expansion. It inherits the listener's environment and
 * working directory, plus, for the process being judged:
 *
 *   SUPERVISOR_CHECK_PROCESS_NAME  its name
 *   SUPERVISOR_CHECK_GROUP_NAME    its group
 *   SUPERVISOR_CHECK_PID           its pid
 *   SUPERVISOR_CHECK_PORT          its port (only with -p/--port)
 *
 * (supervisord's own SUPERVISOR_PROCESS_NAME/SUPERVISOR_GROUP_NAME, also
 * inherited, name the listener.) Its stdin is /dev/null; its stdout and
 * stderr are captured, never passed through: the listener's stdout is
 * supervisord's protocol channel. The end of that output goes into the
 * verdict message, so it lands in the log line.
 *
 * Exit status 0 is healthy; any other status, death by a signal, or no exit
 * within -t/--timeout is unhealthy. Statuses 126 and 127 (the shell could
 * not execute or find the command) are `unknown` instead: a broken command
 * is a configuration error, not a verdict on the process, and must not
 * restart it. The command runs in a process group of its own; on timeout
 * that whole group is killed (SIGKILL), and whatever the command leaves
 * running in it when the shell exits is killed too, so no orphans remain.
 */
import { z } from "zod";
import {
  type CheckDefinition,
  healthy,
  type OptionSpec,
  type ProcessInfo,
  unhealthy,
  unknown,
  type Verdict,
} from "../lib/check.ts";
import { count, portSpec, retriesOption, seconds, timeoutOption } from "../lib/options.ts";
import { type PortSpec, resolvePort } from "../lib/ports.ts";
import { outside } from "../lib/redact.ts";

const SHELL = "/bin/sh";
/** Longest rendering of the command's output in a verdict message. */
export const OUTPUT_CHARS = 500;
/** Output kept while the command runs; only its end is shown. */
const TAIL_BYTES = 16 * 1024;
/** Time allowed to collect the output once the command and its group are gone. */
const OUTPUT_GRACE_MS = 1000;
/** Set only with -p; never inherited from the listener. */
const PORT_VARIABLE = "SUPERVISOR_CHECK_PORT";

const OPTIONS: OptionSpec[] = [
  {
    key: "command",
    long: "command",
    type: "string",
    metavar: "CMD",
    help: "Shell command run per process through /bin/sh -c; exit status 0 is healthy. " +
      "It sees SUPERVISOR_CHECK_PROCESS_NAME, SUPERVISOR_CHECK_GROUP_NAME, " +
      "SUPERVISOR_CHECK_PID and, with -p, SUPERVISOR_CHECK_PORT. Required.",
  },
  {
    key: "port",
    long: "port",
    short: "p",
    type: "string",
    metavar: "PORT",
    help: "Port for SUPERVISOR_CHECK_PORT: an integer, or a regex with one capture group " +
      'applied to the process name (".+_(\\d+)").',
  },
  timeoutOption("Time allowed for each run; then the command and its children are killed.", 15),
  retriesOption(0),
];

/** Start-up check of the command's shell syntax (`sh -n`), without running it. */
function syntaxError(command: string): string | undefined {
  const { success, stderr } = new Deno.Command(SHELL, {
    args: ["-n", "-c", command],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (success) return undefined;
  return summarizeOutput(new TextDecoder().decode(stderr)) || "rejected by /bin/sh -n";
}

/** An argv list as a /bin/sh command that runs it with no expansion at all. */
function shellQuote(argv: string[]): string {
  return argv.map((arg) => `'${arg.replaceAll("'", `'"'"'`)}'`).join(" ");
}

const schema = z.object({
  command: z.union([z.string(), z.array(z.string())], {
    error: "must be a shell command, or (in a config file) an argv array of strings",
  }).transform((given, ctx) => {
    const problem = (message: string) => {
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    };
    if (Array.isArray(given) && given.length === 0) return problem("must name a program");
    const command = Array.isArray(given) ? shellQuote(given) : given;
    if (command.trim() === "") return problem("must not be empty");
    const error = syntaxError(command);
    return error === undefined ? command : problem(`not valid /bin/sh syntax: ${error}`);
  }),
  port: portSpec.optional(),
  timeout: seconds(15),
  num_retries: count(0),
}).strict();

export type ExecOptions = z.output<typeof schema>;

/** The environment of the command run for `process`. */
function commandEnv(process: ProcessInfo, port: PortSpec | undefined): Record<string, string> {
  const env = Deno.env.toObject();
  delete env[PORT_VARIABLE];
  env.SUPERVISOR_CHECK_PROCESS_NAME = process.name;
  env.SUPERVISOR_CHECK_GROUP_NAME = process.group;
  env.SUPERVISOR_CHECK_PID = String(process.pid);
  if (port) env[PORT_VARIABLE] = String(resolvePort(port, process.name));
  return env;
}

/** Keeps the last `limit` bytes of what is pushed into it. */
class Tail {
  #chunks: Uint8Array[] = [];
  #size = 0;

  constructor(readonly limit: number) {}

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0].length >= this.limit) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }

  text(): string {
    const all = new Uint8Array(this.#size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return new TextDecoder().decode(all.subarray(Math.max(0, this.#size - this.limit)));
  }
}

/** Reads a stream into `tail` until its end, or until the reader is cancelled. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, tail: Tail): Promise<void> {
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      tail.push(value);
    }
  } catch {
    // cancelled: what was read is kept
  }
}

/**
 * Output as one log-friendly line: blank lines skipped, lines trimmed and
 * joined with " | ", control characters made visible, and only the last
 * `max` characters kept (the end of the output usually says what went
 * wrong), as lib/redact.ts's outside does for all outside text.
 */
export function summarizeOutput(raw: string, max = OUTPUT_CHARS): string {
  const line = raw.split(/\r\n|\r|\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join(" | ");
  return outside(line, max, "end");
}

export const execCheck: CheckDefinition<ExecOptions> = {
  name: "exec",
  description: "Restart processes for which a shell command (run with the process's name, " +
    "group, pid and port in its environment) does not exit with status 0.",
  options: OPTIONS,
  schema,
  retries: (o) => o.num_retries,
  async run(process, o, ctx): Promise<Verdict> {
    const env = commandEnv(process, o.port);
    const started = performance.now();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(SHELL, {
        args: ["-c", o.command],
        env,
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        // a new session: the command and its children form a group we can kill
        detached: true,
      }).spawn();
    } catch (e) {
      return unknown(`cannot start ${SHELL}: ${(e as Error).message}`);
    }
    const tail = new Tail(TAIL_BYTES);
    const readers = [child.stdout.getReader(), child.stderr.getReader()];
    const reading = Promise.all(readers.map((r) => drain(r, tail)));
    const killGroup = () => {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // the group is empty: nothing left to kill
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, o.timeout * 1000);
    ctx.signal.addEventListener("abort", killGroup, { once: true });
    if (ctx.signal.aborted) killGroup();
    let status: Deno.CommandStatus;
    try {
      status = await child.status;
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", killGroup);
    }
    // whatever the command left running in its group goes with it
    killGroup();
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      reading,
      new Promise<void>((resolve) => grace = setTimeout(resolve, OUTPUT_GRACE_MS)),
    ]);
    clearTimeout(grace);
    // a process that left the group may still hold the pipes open
    for (const reader of readers) reader.cancel().catch(() => {});

    const ms = Math.round(performance.now() - started);
    const output = summarizeOutput(tail.text());
    const shown = output ? `; output: ${output}` : "; no output";
    if (ctx.signal.aborted) return unknown("listener is stopping: command killed");
    if (timedOut) {
      return unhealthy(
        `command did not exit within ${o.timeout}s: killed it and its children${shown}`,
      );
    }
    if (status.success) return healthy(`command exited 0 in ${ms} ms${shown}`);
    if (status.signal) {
      return unhealthy(`command killed by ${status.signal} after ${ms} ms${shown}`);
    }
    if (status.code === 126 || status.code === 127) {
      return unknown(
        `command exited ${status.code}: the shell could not ${
          status.code === 127 ? "find" : "execute"
        } it, a configuration error${shown}`,
      );
    }
    return unhealthy(`command exited ${status.code} in ${ms} ms${shown}`);
  },
};
