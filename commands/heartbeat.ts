/**
 * `supervisor-checks heartbeat`: touches the heartbeat file (lib/heartbeat.ts)
 * of the supervisord process it runs under, for shell scripts.
 */
import { parseArgs } from "node:util";
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
import { ignoreSigusr1 } from "../lib/sigusr1.ts";
import { HELP_EXAMPLES } from "./examples.ts";

interface CommandFlag {
  long: string;
  short?: string;
  metavar?: string;
  help: string;
}

const COMMAND_FLAGS: CommandFlag[] = [
  {
    long: "root-dir",
    short: "d",
    metavar: "DIR",
    help: "Directory of heartbeat files. Default: the OS temp dir ($TMPDIR, else /tmp)",
  },
  {
    long: "filepath",
    short: "f",
    metavar: "PATH",
    help: "File to touch, with placeholders %(process_group)s, %(process_name)s, " +
      "%(process_pid)s, %(root_directory)s; relative to the root dir. " +
      "Default: %(root_directory)s/%(process_group)s-%(process_name)s-%(process_pid)s",
  },
  {
    long: "pid",
    metavar: "PID",
    help: "pid of the supervised process. Default: the parent of this command " +
      "(the shell script supervisord started)",
  },
  {
    long: "every",
    metavar: "SECONDS",
    help: "Keep beating every SECONDS; stop when killed, when this command's parent exits " +
      "or when the --pid process is gone. It beats even while the script's work hangs: " +
      "prefer a beat from the work loop. Default: beat once and exit",
  },
  { long: "help", short: "h", help: "Show this help and exit." },
];

function commandHelp(command: string): string {
  return renderHelp(
    command,
    "Touches the heartbeat file the `file` check watches, for the supervisord process this " +
      "runs under.",
    [{
      title: "Options",
      options: COMMAND_FLAGS.map((f) => ({
        ...f,
        key: f.long,
        type: f.metavar ? "string" : "boolean",
      })),
    }],
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

/** Where and how often the subcommand beats. */
interface CommandSettings {
  path: string;
  pid: number;
  everySeconds?: number;
}

function parseCommandArgs(argv: string[]): CommandSettings | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries(COMMAND_FLAGS.map((f) => [
        f.long,
        {
          type: f.metavar ? "string" as const : "boolean" as const,
          ...(f.short ? { short: f.short } : {}),
        },
      ])),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return "help";
  const pidText = values.pid as string | undefined;
  const everyText = values.every as string | undefined;
  const pid = pidText === undefined ? Deno.ppid : Number(pidText);
  if (pidText !== undefined && !(/^\d+$/.test(pidText.trim()) && pid > 0)) {
    throw new UsageError(`--pid: expected a process id, got '${pidText}'`);
  }
  // a beater for no process would stop at once, and the file check restart a healthy service
  if (pidText !== undefined && everyText !== undefined && !processExists(pid)) {
    throw new UsageError(`--pid: no process ${pid} to beat for`);
  }
  const everySeconds = everyText === undefined ? undefined : Number(everyText);
  if (everySeconds !== undefined && !(everyText!.trim() !== "" && everySeconds > 0)) {
    throw new UsageError(
      `--every: expected a number of seconds greater than 0, got '${everyText}'`,
    );
  }
  if (everySeconds !== undefined && everySeconds > MAX_SECONDS) {
    throw new UsageError(`--every: must be at most ${MAX_SECONDS} seconds (7 days)`);
  }
  const filepath = values.filepath as string | undefined;
  const rootDir = values["root-dir"] as string | undefined;
  if (rootDir?.trim() === "") throw new UsageError("-d/--root-dir: must not be empty");
  if (filepath !== undefined) {
    let template: FilepathTemplate;
    try {
      template = writerTemplate(filepath);
    } catch (e) {
      throw new UsageError(`-f/--filepath: ${(e as Error).message}`);
    }
    if (rootDir !== undefined && !template.usesRootDir) {
      throw new UsageError(
        "-d/--root-dir: has no effect: -f/--filepath is absolute and has no %(root_directory)s",
      );
    }
  }
  try {
    return { path: heartbeatPath({ pid, rootDir, filepath }), pid, everySeconds };
  } catch (e) {
    // the template parsed above: what is left is a missing environment variable
    throw new UsageError((e as Error).message);
  }
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
