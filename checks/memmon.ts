/**
 * memmon: superlance's memmon limits as a check. A process is judged against
 * the one limit that applies to it ({@link limitFor}: program, else group,
 * else any), its RSS measured as the memory check measures it
 * (checks/memory.ts) and reported in bytes as memmon reports it.
 */
import {
  type CheckDefinition,
  healthy,
  namespec,
  type ProcessInfo,
  unhealthy,
} from "../lib/check.ts";
import { list, option, OptionError, options, toggle } from "../lib/option.ts";
import { hasProc } from "../lib/proc.ts";
import { cumulativeOver, formatKb, measureRssKb } from "./memory.ts";

const BYTE_UNITS: Record<string, number> = { "": 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/**
 * memmon's byte size: `1048576`, `200MB`, `1gb`, `512KB` → bytes: a whole
 * number of bytes, or with the suffix KB, MB or GB (any case, powers of 1024).
 */
export function parseByteSize(raw: unknown): number {
  const text = typeof raw === "number" ? String(raw) : typeof raw === "string" ? raw.trim() : "";
  const m = /^(\d+)(kb|mb|gb)?$/i.exec(text);
  if (!m) {
    throw new Error(
      `expected a size in bytes (1048576) or with KB, MB or GB (200MB), got '${String(raw)}'`,
    );
  }
  const bytes = Number(m[1]) * BYTE_UNITS[(m[2] ?? "").toLowerCase()];
  if (bytes <= 0) throw new Error(`must be greater than 0, got '${text}'`);
  if (!Number.isSafeInteger(bytes)) throw new Error(`is too large, got '${text}'`);
  return bytes;
}

/** One limit and what set it, as the user wrote it (`-p/--program web=200MB`). */
export interface Limit {
  bytes: number;
  by: string;
}

/** `NAME=SIZE` as written, split and checked (the name's shape by `nameProblem`). */
interface Pair {
  name: string;
  bytes: number;
  text: string;
}

function pair(what: string, nameProblem: (name: string) => boolean) {
  return (raw: unknown): Pair => {
    const text = typeof raw === "string" ? raw.trim() : String(raw);
    const at = text.lastIndexOf("=");
    const name = text.slice(0, Math.max(at, 0)).trim();
    if (at < 0 || nameProblem(name)) {
      throw new Error(`expected ${what}=SIZE (e.g. ${what.toLowerCase()}=200MB), got '${text}'`);
    }
    return { name, bytes: parseByteSize(text.slice(at + 1)), text };
  };
}

/** `name` or `group:name`, neither part empty. */
const badProgram = (name: string) => {
  const parts = name.split(":");
  return parts.length > 2 || parts.some((p) => p === "");
};
const badGroup = (name: string) => name === "" || name.includes(":");

/** The limits of one memmon, each keyed as it is looked up. */
export interface MemmonLimits {
  /** By `group:name` or `name`. */
  programs: Map<string, Limit>;
  groups: Map<string, Limit>;
  any?: Limit;
  cumulative: boolean;
}

/** memmon's -p, -g, -a and -c, with their long forms (and the spellings of the documentation). */
export const MEMMON_OPTIONS = options({
  program: list({
    short: "p",
    metavar: "NAME=SIZE",
    help: "Restart the program NAME (or group:NAME) when its RSS exceeds SIZE (repeatable). " +
      "SIZE: bytes, or with KB, MB or GB (200MB).",
    parse: pair("NAME", badProgram),
  }),
  groupname: list({
    short: "g",
    aliases: ["group"],
    metavar: "GROUP=SIZE",
    help: "Restart any process of GROUP whose RSS exceeds SIZE (repeatable).",
    parse: pair("GROUP", badGroup),
  }),
  any: option({
    short: "a",
    metavar: "SIZE",
    help: "Restart any process (but the event listeners) whose RSS exceeds SIZE.",
    parse: (raw) => ({ bytes: parseByteSize(raw), text: String(raw).trim() }),
  }),
  cumulative: toggle({
    short: "c",
    help: "Count the RSS of each process and all its descendants together.",
  }),
}, (v, name): MemmonLimits => {
  const keyed = (key: "program" | "groupname", pairs: Pair[]) => {
    const map = new Map<string, Limit>();
    for (const p of pairs) {
      if (map.has(p.name)) {
        throw new OptionError(
          key,
          `'${p.name}' is given twice (${map.get(p.name)!.by}, ${p.text})`,
        );
      }
      map.set(p.name, { bytes: p.bytes, by: `${name(key)} ${p.text}` });
    }
    return map;
  };
  const programs = keyed("program", v.program);
  const groups = keyed("groupname", v.groupname);
  if (programs.size === 0 && groups.size === 0 && v.any === undefined) {
    throw new OptionError(
      "program",
      `give at least one limit: ${name("program")}, ${name("groupname")} or ${name("any")}`,
    );
  }
  if (v.cumulative && !hasProc()) {
    throw new OptionError("cumulative", "needs Linux /proc to find descendants");
  }
  const any = v.any && { bytes: v.any.bytes, by: `${name("any")} ${v.any.text}` };
  return { programs, groups, any, cumulative: v.cumulative };
});

/**
 * The limit that applies to `p`: its `group:name` program limit, else its
 * `name` program limit, else its group's, else -a's; undefined when none:
 *
 *   -p group:name=SIZE  >  -p name=SIZE  >  -g group=SIZE  >  -a SIZE
 *
 * A per-program limit is never overridden by a group or "any" limit, and a
 * group limit never by "any" (superlance's memmon restarts when any matching
 * limit is exceeded, so `-p big=2GB -a 200MB` restarted `big` at 200 MB;
 * users asked for the per-program limit to win).
 */
export function limitFor(
  p: Pick<ProcessInfo, "group" | "name">,
  limits: MemmonLimits,
): Limit | undefined {
  return limits.programs.get(namespec(p)) ?? limits.programs.get(p.name) ??
    limits.groups.get(p.group) ?? limits.any;
}

/** What the limits cover, for the log: `-p/--program web=1GB, -g/--groupname workers=200MB`. */
export function describeLimits(limits: MemmonLimits): string {
  return [...limits.programs.values(), ...limits.groups.values(), ...[limits.any ?? []].flat()]
    .map((l) => l.by).join(", ") + (limits.cumulative ? ", cumulative" : "");
}

export const memmonCheck: CheckDefinition<MemmonLimits> = {
  name: "memmon",
  description: "superlance's memmon: restart processes whose resident memory exceeds the " +
    "limit of their program (-p), else of their group (-g), else of any process (-a).",
  // not a kind of complex or run: commands/memmon.ts parses these beside memmon's other flags
  options: MEMMON_OPTIONS,
  async run(process, limits) {
    const limit = limitFor(process, limits);
    if (limit === undefined) return healthy("no memmon limit applies");
    const measured = await measureRssKb(process.pid, limits.cumulative);
    if ("status" in measured) return measured;
    const { kb, counted } = measured;
    const bytes = kb * 1024;
    const over = limits.cumulative ? `, ${cumulativeOver(counted)}` : "";
    const rss = `${bytes} bytes RSS (${formatKb(kb)}${over})`;
    // exceeded means strictly greater
    return bytes > limit.bytes
      ? unhealthy(`${rss} exceeds ${limit.bytes} bytes (${limit.by})`)
      : healthy(`${rss}, limit ${limit.bytes} bytes (${limit.by})`);
  },
};
