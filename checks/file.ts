/**
 * file: the process is healthy while its heartbeat file keeps changing, i.e.
 * while the freshest matching file's max(mtime, ctime) is within --timeout of
 * now, the process's start counting as its first heartbeat. Flags of the
 * original supervisor_file_check. The naming rule and the writers (a
 * TypeScript class, the `heartbeat` subcommand) are in lib/heartbeat.ts.
 */
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  type CheckDefinition,
  healthy,
  type ProcessInfo,
  unhealthy,
  unknown,
  type Verdict,
} from "../lib/check.ts";
import {
  DEFAULT_FILEPATH,
  FilepathTemplate,
  NOTIFICATION_FILEPATH,
  type PlaceholderValues,
  processExists,
} from "../lib/heartbeat.ts";
import { hasProc, readUid } from "../lib/proc.ts";
import {
  nonEmpty,
  option,
  OptionError,
  options,
  type Result,
  seconds,
  text,
  toggle,
} from "../lib/option.ts";

const OPTIONS = options({
  timeout: option({
    short: "t",
    metavar: "SECONDS",
    help: "Seconds without a change of the file after which the process counts as dead " +
      "(a missing file: seconds since the process started).",
    // required, as in the original
    required: true,
    parse: seconds(),
  }),
  fail_on_error: {
    ...toggle({
      short: "x",
      help: "Count errors other than a missing file (permission denied…) as unhealthy " +
        "instead of unknown.",
    }),
    parse: (raw: unknown) => {
      if (typeof raw !== "boolean") throw new Error("must be true or false");
      return raw;
    },
  },
  filepath: option({
    short: "f",
    metavar: "PATH",
    help: "Heartbeat file: placeholders %(process_group)s, %(process_name)s, %(process_pid)s, " +
      "%(root_directory)s, and * in the file name; relative to the root dir.",
    defaultText: "<root>/<group>-<name>-<pid>, also with a -* suffix",
    parse: (raw) => FilepathTemplate.parse(text(raw)),
  }),
  root_dir: option({
    short: "d",
    metavar: "DIR",
    help: "Directory of the heartbeat files.",
    defaultText: "the OS temp dir ($TMPDIR, else /tmp)",
    parse: nonEmpty,
  }),
}, (o, name) => {
  // without -f, both the default name and the original NotificationFile's
  // `-*` names count; the freshest match wins (newestBeat).
  // -d must be an existing directory when the path uses it, and must not be
  // given when it does not: both are start-up errors.
  const templates = o.filepath
    ? [o.filepath]
    : [DEFAULT_FILEPATH, NOTIFICATION_FILEPATH].map((t) => FilepathTemplate.parse(t));
  const rootDir = resolve(o.root_dir ?? tmpdir());
  if (!templates.some((t) => t.usesRootDir)) {
    if (o.root_dir !== undefined) {
      throw new OptionError(
        "root_dir",
        `has no effect: ${name("filepath")} is absolute and has no %(root_directory)s`,
      );
    }
  } else {
    // without -d the problem is about no one option
    const key = o.root_dir === undefined ? "" : "root_dir";
    const what = o.root_dir === undefined ? `the OS temp dir ${rootDir} (TMPDIR)` : rootDir;
    let isDirectory = false;
    try {
      isDirectory = Deno.statSync(rootDir).isDirectory;
    } catch (e) {
      throw new OptionError(
        key,
        e instanceof Deno.errors.NotFound
          ? `${what} does not exist`
          : `cannot use ${what}: ${(e as Error).message}`,
      );
    }
    if (!isDirectory) throw new OptionError(key, `${what} is not a directory`);
  }
  return {
    timeout: o.timeout,
    failOnError: o.fail_on_error,
    templates,
    rootDir,
    defaultNames: o.filepath === undefined,
  };
});

export type FileOptions = Result<typeof OPTIONS>;

/** A heartbeat file found, and when it last changed (unix seconds). */
export interface Beat {
  path: string;
  changed: number;
}

/** What a search found: the freshest beat, and the files ignored as someone else's. */
export interface Search {
  beat?: Beat;
  /** `<path> (uid N)` for each match owned by a uid other than the one asked for. */
  foreign: string[];
}

type Entry = Beat | { foreign: string } | undefined;

/**
 * The file's last change, max(mtime, ctime), through a symlink to its target;
 * undefined when it does not exist. With `uid`, a file (or link) owned by
 * another uid is foreign: anyone who can write the directory (/tmp) could
 * have put it there to keep a hung process "alive".
 *
 * Symbolic links are followed (the original used lstat): a link's own times
 * never change, its target's do; the link itself must be owned by `uid`.
 * Deno reports ctime in whole seconds (rounded down), so a heartbeat that
 * changes only the ctime (a chmod) may look up to 1 s older than it is.
 */
async function lastChange(path: string, uid: number | undefined): Promise<Entry> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
    if (uid !== undefined && info.uid !== null && info.uid !== uid) {
      return { foreign: `${path} (uid ${info.uid})` };
    }
    if (info.isSymlink) info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const times = [info.mtime, info.ctime].filter((t) => t !== null).map((t) => t.getTime());
  return { path, changed: Math.max(0, ...times) / 1000 };
}

/** Every existing file `template` names for these values. */
async function findBeats(
  template: FilepathTemplate,
  values: PlaceholderValues,
  uid: number | undefined,
): Promise<Entry[]> {
  if (!template.isGlob) return [await lastChange(template.expand(values), uid)];
  const { dir, name } = template.glob(values);
  const paths: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (name.test(entry.name)) paths.push(join(dir, entry.name));
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  // a file removed between the listing and the stat is simply not there
  return await Promise.all(paths.map((p) => lastChange(p, uid)));
}

/**
 * The freshest heartbeat among all the files the templates name; with
 * `uid`, files owned by another uid are left out (and listed).
 */
export async function newestBeat(
  templates: FilepathTemplate[],
  values: PlaceholderValues,
  uid?: number,
): Promise<Search> {
  const found = (await Promise.all(templates.map((t) => findBeats(t, values, uid)))).flat();
  const search: Search = { foreign: [] };
  for (const entry of found) {
    if (entry === undefined) continue;
    if ("foreign" in entry) search.foreign.push(entry.foreign);
    else if (!search.beat || entry.changed > search.beat.changed) search.beat = entry;
  }
  return search;
}

/**
 * Removes `<root>/<group>-<name>-<pid>` files, the default name, of pids
 * that no longer exist and owned by `uid`: what this program's earlier
 * instances left, which restarts would otherwise pile up. The pid is
 * everything after the last `-`, so no other program's live file can match;
 * NotificationFile-style names and -f names are left alone (the caller runs
 * this without -f only). Returns the paths removed. Best effort: a file that
 * cannot be removed stays.
 */
export async function removeStaleBeats(
  values: PlaceholderValues,
  uid: number,
): Promise<string[]> {
  const prefix = `${values.process_group}-${values.process_name}-`;
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(values.root_directory)) {
      if (!entry.name.startsWith(prefix)) continue;
      const pid = entry.name.slice(prefix.length);
      if (!/^[1-9]\d*$/.test(pid) || pid === values.process_pid || processExists(Number(pid))) {
        continue;
      }
      const path = join(values.root_directory, entry.name);
      try {
        // lstat and remove act on the entry itself, never on a link's target
        const info = await Deno.lstat(path);
        if (info.uid !== uid || !(info.isFile || info.isSymlink)) continue;
        await Deno.remove(path);
        removed.push(path);
      } catch { /* gone meanwhile, or not ours to remove */ }
    }
  } catch { /* no listing, no clean-up */ }
  return removed;
}

const secs = (s: number) => `${Math.max(0, s).toFixed(1)}s`;

/**
 * The verdict on the freshest heartbeat (or none): healthy while the last
 * sign of life, the heartbeat or else the process's start, is at most
 * `timeout` seconds old. `where` names the file(s) looked for.
 *
 * The start counts as the first heartbeat, so a missing file (or directory on
 * the way to it), or one last changed before the process started (left by an
 * earlier instance when -f has no %(process_pid)s), is unhealthy only once
 * the process has run longer than `timeout`: a process just started has not
 * had time to write, but one that never writes (hung at start-up) is caught.
 * The original called a missing file an error, which never caught the latter.
 */
export function judgeBeat(
  beat: Beat | undefined,
  process: Pick<ProcessInfo, "start">,
  timeout: number,
  now: number,
  where: string,
): Verdict {
  if (beat && beat.changed >= process.start) {
    const age = now - beat.changed;
    return age <= timeout ? healthy(`heartbeat ${beat.path} changed ${secs(age)} ago`) : unhealthy(
      `heartbeat ${beat.path} last changed ${secs(age)} ago, over the ${timeout}s timeout`,
    );
  }
  const running = now - process.start;
  const none = beat
    ? `heartbeat ${beat.path} last changed before the process started`
    : `no heartbeat file ${where}`;
  return running <= timeout
    ? healthy(`${none}; started ${secs(running)} ago, within the ${timeout}s timeout`)
    : unhealthy(`${none}; running for ${secs(running)}, over the ${timeout}s timeout`);
}

/** No retries: looking at a file again a moment later changes nothing. */
export const fileCheck: CheckDefinition<FileOptions> = {
  name: "file",
  description: "Restart processes whose heartbeat file has not changed within the timeout.",
  options: OPTIONS,
  async run(process, o) {
    const values: PlaceholderValues = {
      process_group: process.group,
      process_name: process.name,
      process_pid: String(process.pid),
      root_directory: o.rootDir,
    };
    const where = o.templates.map((t) => t.expand(values)).join(" or ");
    // whose files count: the process's effective uid's, from
    // /proc/<pid>/status (without /proc: anyone's); ignored ones are named
    // in the verdict
    const uid = hasProc() ? await readUid(process.pid) : undefined;
    if (hasProc() && uid === undefined) return unknown(`pid ${process.pid} is gone`);
    let search: Search;
    try {
      search = await newestBeat(o.templates, values, uid);
    } catch (e) {
      // any other error (permission denied, a file where a directory should
      // be) says nothing about the process: unknown, unless -x
      const message = `cannot look for heartbeat file ${where}: ${(e as Error).message}`;
      return o.failOnError ? unhealthy(message) : unknown(message);
    }
    const verdict = judgeBeat(search.beat, process, o.timeout, Date.now() / 1000, where);
    const notes = [];
    if (search.foreign.length > 0) {
      notes.push(
        `ignored ${search.foreign.join(", ")}: not owned by the process's uid ${uid}`,
      );
    }
    if (o.defaultNames && uid !== undefined) {
      const removed = await removeStaleBeats(values, uid);
      if (removed.length > 0) notes.push(`removed files of exited pids: ${removed.join(", ")}`);
    }
    return notes.length === 0
      ? verdict
      : { ...verdict, message: `${verdict.message} (${notes.join("; ")})` };
  },
};
