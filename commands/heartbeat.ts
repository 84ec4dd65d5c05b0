/**
 * `supervisor-checks heartbeat`: touches the heartbeat file (lib/heartbeat.ts)
 * of the supervisord process it runs under, for shell scripts.
 */
import { UsageError } from "../lib/errors.ts";
import { renderHelp } from "../lib/help.ts";
import {
  type FilepathTemplate,
  heartbeatPath,
  processExists,
  touch,
  writerTemplate,
} from "../lib/heartbeat.ts";
import { MAX_SECONDS } from "../lib/limits.ts";
import {
  HELP_ROW,
  helpRows,
  nonEmpty,
  number,
  option,
  OptionError,
  options,
  parse,
  text,
} from "../lib/option.ts";
import { ignoreSigusr1 } from "../lib/sigusr1.ts";
import { HELP_EXAMPLES } from "./examples.ts";

/** Where and how often the subcommand beats. */
interface CommandSettings {
  path: string;
  pid: number;
  everySeconds?: number;
}

const OPTIONS = options({
  root_dir: option({
    short: "d",
    metavar: "DIR",
    help: "Directory of heartbeat files.",
    defaultText: "the OS temp dir ($TMPDIR, else /tmp)",
    parse: nonEmpty,
  }),
  filepath: option({
    short: "f",
    metavar: "PATH",
    help: "File to touch, with placeholders %(process_group)s, %(process_name)s, " +
      "%(process_pid)s, %(root_directory)s; relative to the root dir.",
    defaultText: "%(root_directory)s/%(process_group)s-%(process_name)s-%(process_pid)s",
    parse: text,
  }),
  pid: option({
    metavar: "PID",
    help: "pid of the supervised process.",
    defaultText: "the parent of this command (the shell script supervisord started)",
    parse: (raw) => {
      const pid = Number(text(raw).trim());
      if (!(/^\d+$/.test(text(raw).trim()) && pid > 0)) {
        throw new Error(`expected a process id, got '${raw}'`);
      }
      return pid;
    },
  }),
  every: option({
    metavar: "SECONDS",
    help: "Keep beating every SECONDS; stop when killed, when this command's parent exits " +
      "or when the --pid process is gone. It beats even while the script's work hangs: " +
      "prefer a beat from the work loop.",
    defaultText: "beat once and exit",
    parse: (raw) => {
      const n = number(raw, "a number of seconds greater than 0");
      if (!(n > 0)) throw new Error(`expected a number of seconds greater than 0, got '${raw}'`);
      if (n > MAX_SECONDS) throw new Error(`must be at most ${MAX_SECONDS} seconds (7 days)`);
      return n;
    },
  }),
}, (v, name): CommandSettings => {
  const pid = v.pid ?? Deno.ppid;
  // a beater for no process would stop at once, and the file check restart a healthy service
  if (v.pid !== undefined && v.every !== undefined && !processExists(pid)) {
    throw new OptionError("pid", `no process ${pid} to beat for`);
  }
  if (v.filepath !== undefined) {
    let template: FilepathTemplate;
    try {
      template = writerTemplate(v.filepath);
    } catch (e) {
      throw new OptionError("filepath", (e as Error).message);
    }
    if (v.root_dir !== undefined && !template.usesRootDir) {
      throw new OptionError(
        "root_dir",
        `has no effect: ${name("filepath")} is absolute and has no %(root_directory)s`,
      );
    }
  }
  try {
    return {
      path: heartbeatPath({ pid, rootDir: v.root_dir, filepath: v.filepath }),
      pid,
      everySeconds: v.every,
    };
  } catch (e) {
    // the template parsed above: what is left is a missing environment variable
    throw new UsageError((e as Error).message);
  }
});

function commandHelp(command: string): string {
  return renderHelp(
    command,
    "Touches the heartbeat file the `file` check watches, for the supervisord process this " +
      "runs under.",
    [{ title: "Options", rows: [...helpRows([OPTIONS.spec])[0], HELP_ROW] }],
    {
      examples: HELP_EXAMPLES.heartbeat,
      environment: [
        ["SUPERVISOR_GROUP_NAME", "Group of the process (supervisord sets it)."],
        ["SUPERVISOR_PROCESS_NAME", "Name of the process (supervisord sets it)."],
        ["TMPDIR", "The default root dir, else /tmp."],
      ],
    },
  );
}

function parseCommandArgs(argv: string[]): CommandSettings | "help" {
  const parsed = parse(OPTIONS, argv, { help: true });
  return parsed === "help" ? "help" : parsed.values;
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
const LIVENESS_POLL_MS = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `supervisor-checks heartbeat`: touches the heartbeat file of the process it
 * runs under, once, or with --every N every N seconds until killed. The loop
 * also ends (status 0) when the parent it started under dies or the --pid
 * process is gone, so a service's background beater never outlives it.
 * Resolves to the exit status: 0, 1 when the first beat fails, 2 for bad
 * flags or environment.
 */
export async function runHeartbeatCommand(
  argv: string[],
  command = "supervisor-checks heartbeat",
): Promise<number> {
  let settings: CommandSettings | "help";
  try {
    settings = parseCommandArgs(argv);
  } catch (e) {
    // reportUsageError (lib/listen.ts) formats the same way; importing it would
    // pull the listener's npm dependencies into this importable module.
    if (!(e instanceof UsageError)) throw e;
    console.error(`${command}: error: ${e.message}`);
    console.error(`Try '${command} --help'.`);
    return 2;
  }
  if (settings === "help") {
    console.log(commandHelp(command));
    return 0;
  }
  const { path, pid, everySeconds } = settings;
  try {
    await touch(path);
  } catch (e) {
    console.error(`${command}: cannot touch ${path}: ${(e as Error).message}`);
    return 1;
  }
  if (everySeconds === undefined) return 0;
  const warning = ignoreSigusr1();
  if (warning) console.error(`${command}: warning: ${warning}`);
  const parent = Deno.ppid;
  const alive = () => Deno.ppid === parent && (pid === parent || processExists(pid));
  for (let next = Date.now() + everySeconds * 1000;;) {
    await sleep(Math.max(0, Math.min(LIVENESS_POLL_MS, next - Date.now())));
    if (!alive()) return 0;
    if (Date.now() < next) continue;
    next = Date.now() + everySeconds * 1000;
    try {
      await touch(path);
    } catch (e) {
      console.error(`${command}: cannot touch ${path}: ${(e as Error).message}`);
    }
  }
}
