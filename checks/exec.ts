/**
 * exec: the process is healthy when a command exits with status 0 within the
 * timeout: custom checks in any language, without writing TypeScript. The
 * command (shell text, or in a config file an argv array run as given) runs
 * per process through lib/subprocess.ts, with the process described in its
 * environment; its output ends up in the verdict message, never on stdout.
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
import {
  runCommand,
  SHELL,
  shellCommand,
  shellQuote,
  shellSyntaxError,
} from "../lib/subprocess.ts";

/** Longest rendering of the command's output in a verdict message. */
export const OUTPUT_CHARS = 500;
/** Set only with -p; never inherited from the listener. */
const PORT_VARIABLE = "SUPERVISOR_CHECK_PORT";

/** The command as given: shell text, or (in a config file) an argv array; its syntax checked. */
function command(given: unknown): string {
  const argv = Array.isArray(given) && given.every((a) => typeof a === "string");
  if (typeof given !== "string" && !argv) {
    throw new Error("must be a shell command, or (in a config file) an argv array of strings");
  }
  if (Array.isArray(given) && given.length === 0) throw new Error("must name a program");
  const text = Array.isArray(given) ? shellQuote(given) : given as string;
  if (text.trim() === "") throw new Error("must not be empty");
  const error = shellSyntaxError(text);
  if (error === undefined) return text;
  throw new Error(
    `not valid ${SHELL} syntax: ${summarizeOutput(error) || `rejected by ${SHELL} -n`}`,
  );
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

/**
 * The environment of the command run for `process`: the listener's, plus
 * SUPERVISOR_CHECK_PROCESS_NAME, _GROUP_NAME, _PID and, with -p only,
 * SUPERVISOR_CHECK_PORT (supervisord's own SUPERVISOR_PROCESS_NAME and
 * SUPERVISOR_GROUP_NAME, inherited, name the listener).
 */
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
    // stdin /dev/null, stdout and stderr merged and captured; on timeout it is killed with its
    // whole tree, even a descendant that called setsid; what it leaves in its group goes too
    const r = await runCommand(shellCommand(o.command), {
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
    // the shell could not execute or find the command: a configuration
    // error, not a verdict on the process, and must not restart it
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
