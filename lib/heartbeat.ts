/**
 * Heartbeat files: the naming rule the `file` check reads and the writers that
 * follow it, {@link Heartbeat} for Deno applications and the `heartbeat`
 * subcommand (commands/heartbeat.ts) for shell scripts. The rule and snippets
 * for other languages are in docs/commands/file.md. This module imports only
 * `node:` built-ins and ./limits.ts, so a Deno application can import it
 * without this project's import map.
 */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { geteuid, kill } from "node:process";
import { MAX_SECONDS, MIN_SECONDS } from "./limits.ts";

/** The placeholders a `--filepath` template may contain. */
export const PLACEHOLDERS = [
  "process_group",
  "process_name",
  "process_pid",
  "root_directory",
] as const;

export type Placeholder = typeof PLACEHOLDERS[number];

/** Values for every placeholder of a template. */
export type PlaceholderValues = Record<Placeholder, string>;

/** The default heartbeat file: `<root>/<group>-<name>-<pid>`. */
export const DEFAULT_FILEPATH =
  "%(root_directory)s/%(process_group)s-%(process_name)s-%(process_pid)s";

/**
 * The names the original's NotificationFile creates: the default plus
 * `-<random>`. The check accepts them too, so applications using it keep working.
 */
export const NOTIFICATION_FILEPATH = `${DEFAULT_FILEPATH}-*`;

const ENV_OF: Partial<Record<Placeholder, string>> = {
  process_group: "SUPERVISOR_GROUP_NAME",
  process_name: "SUPERVISOR_PROCESS_NAME",
};

type Token = { text: string } | { placeholder: Placeholder } | { star: true };

/** Where a glob template looks: a directory and a pattern for entry names. */
export interface GlobLocation {
  dir: string;
  name: RegExp;
}

/**
 * A parsed `--filepath` template, which replaces the default name on both
 * sides (check and writers). It may contain the original's Python-style
 * placeholders {@link PLACEHOLDERS} (`%(process_group)s`…; the trailing `s`
 * may be left out, as in the original's help text); a relative result is
 * taken relative to the root dir. For the check only, `*` in the file-name
 * part matches any run of characters. Parsing rejects unknown placeholders
 * and a `*` outside the file-name part, so mistakes surface at start-up.
 */
export class FilepathTemplate {
  private constructor(
    readonly source: string,
    private readonly tokens: Token[],
    /** Index of the first token of the file-name part. */
    private readonly nameStart: number,
  ) {}

  /** Throws an Error saying what is wrong with `source`. */
  static parse(source: string): FilepathTemplate {
    if (source.trim() === "") throw new Error("must not be empty");
    const tokens: Token[] = [];
    let last = 0;
    for (const m of source.matchAll(/%\((\w*)\)s?|\*/g)) {
      if (m.index > last) tokens.push({ text: source.slice(last, m.index) });
      last = m.index + m[0].length;
      if (m[0] === "*") {
        tokens.push({ star: true });
      } else if ((PLACEHOLDERS as readonly string[]).includes(m[1])) {
        tokens.push({ placeholder: m[1] as Placeholder });
      } else {
        throw new Error(
          `unknown placeholder ${m[0]}; known: ${PLACEHOLDERS.map((p) => `%(${p})s`).join(", ")}`,
        );
      }
    }
    if (last < source.length) tokens.push({ text: source.slice(last) });
    const lastSlash = tokens.findLastIndex((t) => "text" in t && t.text.includes("/"));
    const nameStart = lastSlash + 1;
    if (lastSlash >= 0) {
      // split the token holding the last slash into directory and name parts
      const text = (tokens[lastSlash] as { text: string }).text;
      const cut = text.lastIndexOf("/") + 1;
      const parts: Token[] = [{ text: text.slice(0, cut) }];
      if (cut < text.length) parts.push({ text: text.slice(cut) });
      tokens.splice(lastSlash, 1, ...parts);
    }
    if (tokens.slice(0, nameStart).some((t) => "star" in t)) {
      throw new Error(`'${source}': * is allowed in the file name only, not in directories`);
    }
    if (nameStart === tokens.length) {
      throw new Error(`'${source}' names a directory, not a file`);
    }
    return new FilepathTemplate(source, tokens, nameStart);
  }

  /** Whether the template contains a `*`. */
  get isGlob(): boolean {
    return this.tokens.some((t) => "star" in t);
  }

  /** Whether the template contains this placeholder. */
  uses(placeholder: Placeholder): boolean {
    return this.tokens.some((t) => "placeholder" in t && t.placeholder === placeholder);
  }

  /** Whether the root dir takes part in the result (placeholder or relative path). */
  get usesRootDir(): boolean {
    return this.uses("root_directory") || !isAbsolute(this.#render(this.tokens, () => "x"));
  }

  /** The absolute path, with any `*` left in place (for messages, or the file itself). */
  expand(values: PlaceholderValues): string {
    return resolve(values.root_directory, this.#render(this.tokens, (p) => values[p]));
  }

  /** For a glob template: the directory to list and the pattern its entries must match. */
  glob(values: PlaceholderValues): GlobLocation {
    const dir = resolve(
      values.root_directory,
      this.#render(this.tokens.slice(0, this.nameStart), (p) => values[p]),
    );
    const pattern = this.tokens.slice(this.nameStart).map((t) =>
      "star" in t ? ".*" : escapeRegExp("text" in t ? t.text : values[t.placeholder])
    ).join("");
    return { dir, name: new RegExp(`^${pattern}$`, "s") };
  }

  #render(tokens: Token[], value: (p: Placeholder) => string): string {
    return tokens.map((t) => "text" in t ? t.text : "star" in t ? "*" : value(t.placeholder))
      .join("");
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

/** Parses a template for a writer, which needs one file name: no `*`. */
export function writerTemplate(source: string): FilepathTemplate {
  const template = FilepathTemplate.parse(source);
  if (template.isGlob) throw new Error(`'${source}': a writer needs one file name, without *`);
  return template;
}

/** The process a heartbeat file belongs to, and where the file goes. */
export interface HeartbeatTarget {
  /** supervisord group name. Default: $SUPERVISOR_GROUP_NAME. */
  group?: string;
  /** supervisord process name. Default: $SUPERVISOR_PROCESS_NAME. */
  name?: string;
  /** pid of the process supervisord started. Default: this process (Deno.pid). */
  pid?: number;
  /** Default: the OS temp dir (node:os tmpdir(), which honours TMPDIR). */
  rootDir?: string;
  /** A template (see {@link FilepathTemplate}); default `<root>/<group>-<name>-<pid>`. */
  filepath?: string;
}

/**
 * The heartbeat file of `target` (defaults filled in from this process and
 * its environment). Throws an Error naming what is missing or malformed.
 */
export function heartbeatPath(target: HeartbeatTarget = {}): string {
  const template = writerTemplate(target.filepath ?? DEFAULT_FILEPATH);
  const values: PlaceholderValues = {
    process_group: target.group ?? "",
    process_name: target.name ?? "",
    process_pid: String(target.pid ?? Deno.pid),
    root_directory: resolve(target.rootDir ?? tmpdir()),
  };
  for (const key of ["process_group", "process_name"] as const) {
    if (values[key] !== "" || !template.uses(key)) continue;
    const env = Deno.env.get(ENV_OF[key]!);
    if (!env) {
      throw new Error(
        `${ENV_OF[key]} is not set (not running under supervisord?); ` +
          `the file name needs it for %(${key})s`,
      );
    }
    values[key] = env;
  }
  return template.expand(values);
}

/**
 * Creates `path` if missing, else sets its mtime (and so its ctime) to now;
 * never through a symbolic link, and only on a regular file of this user.
 *
 * Race-free in a directory others can write: the existing file is opened
 * with O_NOFOLLOW (and O_NONBLOCK, so a planted FIFO cannot block) and
 * checked and touched through that descriptor; a missing one is created with
 * O_EXCL, which fails on anything that appeared at the name meanwhile,
 * symlinks included. Throws an Error saying what is in the way otherwise.
 */
export async function touch(path: string): Promise<void> {
  for (let attempt = 0;; attempt++) {
    let file: FileHandle;
    try {
      file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "ELOOP") {
        throw new Error(`${path} is a symbolic link: not followed (a heartbeat is a regular file)`);
      }
      if (code !== "ENOENT" || attempt > 0) throw e;
      try {
        // createNew: O_CREAT|O_EXCL, never follows a symlink
        (await Deno.open(path, { createNew: true, write: true })).close();
        return;
      } catch (e) {
        // something appeared at the name meanwhile: look again
        if (e instanceof Deno.errors.AlreadyExists) continue;
        throw e;
      }
    }
    try {
      const info = await file.stat();
      if (!info.isFile()) throw new Error(`${path} is not a regular file: not touched`);
      const uid = geteuid?.();
      if (uid !== undefined && info.uid !== uid) {
        throw new Error(
          `${path} belongs to uid ${info.uid}, not to this user (uid ${uid}): not touched`,
        );
      }
      const now = new Date();
      await file.utimes(now, now);
      return;
    } finally {
      await file.close();
    }
  }
}

/**
 * A heartbeat writer for Deno applications run by supervisord. Beat from the
 * application's own work loop, so that a hung loop stops the beats:
 *
 *     import { Heartbeat } from "<this repository>/lib/heartbeat.ts";
 *     const heartbeat = new Heartbeat({ rootDir: "/run/workers/heartbeats" });
 *     for (;;) { await doSomeWork(); await heartbeat.beat(); }
 *
 * `start(5)` beats from a timer instead: it keeps beating while the work
 * loop hangs, so it proves only that the process exists. Defaults to this
 * process: Deno.pid and the SUPERVISOR_* environment names. Needs
 * `--allow-env` (the names, TMPDIR) and `--allow-read --allow-write` on the file.
 */
export class Heartbeat {
  /** The file this writer touches. */
  readonly path: string;

  constructor(target: HeartbeatTarget = {}) {
    this.path = heartbeatPath(target);
  }

  /** One heartbeat: creates the file or updates its mtime. */
  beat(): Promise<void> {
    return touch(this.path);
  }

  /**
   * Beats now and then every `everySeconds` until the returned function is
   * called. The timer does not keep the program alive. A failed beat goes to
   * `onError` (default: a line on stderr) and the next one is tried anyway.
   */
  start(
    everySeconds: number,
    onError: (e: Error) => void = (e) => console.error(`heartbeat ${this.path}: ${e.message}`),
  ): () => void {
    if (!(everySeconds >= MIN_SECONDS && everySeconds <= MAX_SECONDS)) {
      throw new RangeError(`everySeconds must be from ${MIN_SECONDS} to ${MAX_SECONDS}`);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async () => {
      try {
        await this.beat();
      } catch (e) {
        onError(e as Error);
      }
      if (stopped) return;
      const next = setTimeout(tick, everySeconds * 1000);
      Deno.unrefTimer(next);
      timer = next;
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }
}

export function processExists(pid: number): boolean {
  try {
    kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** How often the --every loop checks that the process it beats for is still there. */
