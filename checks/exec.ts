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
 * restart it. The command runs in a session of its own (lib/subprocess.ts);
 * on timeout it is killed with its whole process group and every descendant
 * still under it, even one that called setsid, and whatever the command
 * leaves running in its group when the shell exits is killed too.
 */
import {
  type CheckDefinition,
  healthy,
  type ProcessInfo,
  unhealthy,
  unknown,
  type Verdict,
} from "../lib/check.ts";
import { option, options, type Result } from "../lib/option.ts";
import { portOption, retriesOption, timeoutOption } from "../lib/options.ts";
import { type PortSpec, resolvePort } from "../lib/ports.ts";
import { outside } from "../lib/redact.ts";
import { runCommand } from "../lib/subprocess.ts";

const SHELL = "/bin/sh";
/** Longest rendering of the command's output in a verdict message. */
export const OUTPUT_CHARS = 500;
/** Set only with -p; never inherited from the listener. */
const PORT_VARIABLE = "SUPERVISOR_CHECK_PORT";

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

/** The command as given: shell text, or (in a config file) an argv array; its syntax checked. */
function command(given: unknown): string {
  const argv = Array.isArray(given) && given.every((a) => typeof a === "string");
  if (typeof given !== "string" && !argv) {
    throw new Error("must be a shell command, or (in a config file) an argv array of strings");
  }
  if (Array.isArray(given) && given.length === 0) throw new Error("must name a program");
  const text = Array.isArray(given) ? shellQuote(given) : given as string;
  if (text.trim() === "") throw new Error("must not be empty");
  const error = syntaxError(text);
  if (error !== undefined) throw new Error(`not valid /bin/sh syntax: ${error}`);
  return text;
}

const OPTIONS = options({
  command: option({
    metavar: "CMD",
    help: "Shell command run per process through /bin/sh -c; exit status 0 is healthy. " +
      "It sees SUPERVISOR_CHECK_PROCESS_NAME, SUPERVISOR_CHECK_GROUP_NAME, " +
      "SUPERVISOR_CHECK_PID and, with -p, SUPERVISOR_CHECK_PORT.",
    required: true,
    parse: command,
  }),
  port: {
    ...portOption(""),
    help: "Port for SUPERVISOR_CHECK_PORT: an integer, or a regex with one capture group " +
      'applied to the process name (".+_(\\d+)").',
  },
  timeout: timeoutOption(
    "Time allowed for each run; then the command and its children are killed.",
    15,
  ),
  num_retries: retriesOption(0),
});

export type ExecOptions = Result<typeof OPTIONS>;

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
  retries: (o) => o.num_retries,
  async run(process, o, ctx): Promise<Verdict> {
    const started = performance.now();
    const r = await runCommand([SHELL, "-c", o.command], {
      env: commandEnv(process, o.port),
      clearEnv: true,
      timeoutMs: o.timeout * 1000,
      signal: ctx.signal,
      mergeOutput: true,
      killLeftovers: true,
    });
    if (r.spawnError !== undefined) return unknown(`cannot start ${SHELL}: ${r.spawnError}`);
    const ms = Math.round(performance.now() - started);
    const output = summarizeOutput(r.stdout);
    const shown = output ? `; output: ${output}` : "; no output";
    if (r.aborted) return unknown("listener is stopping: command killed");
    if (r.timedOut) {
      return unhealthy(
        `command did not exit within ${o.timeout}s: killed it and its children${shown}`,
      );
    }
    if (r.code === 0) return healthy(`command exited 0 in ${ms} ms${shown}`);
    if (r.signal) return unhealthy(`command killed by ${r.signal} after ${ms} ms${shown}`);
    if (r.code === 126 || r.code === 127) {
      return unknown(
        `command exited ${r.code}: the shell could not ${
          r.code === 127 ? "find" : "execute"
        } it, a configuration error${shown}`,
      );
    }
    return unhealthy(`command exited ${r.code} in ${ms} ms${shown}`);
  },
};
