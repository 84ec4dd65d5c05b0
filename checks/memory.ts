/**
 * memory: the process is unhealthy when its resident memory (RSS, VmRSS from
 * /proc/<pid>/status) exceeds -m/--max-rss; with -c/--cumulative, the RSS of
 * the process and all its descendants summed. Flags of the original
 * supervisor_memory_check; sizes in KB as there, or with a unit.
 */
import { type CheckDefinition, healthy, unhealthy, unknown, type Verdict } from "../lib/check.ts";
import { option, OptionError, options, type Result, toggle } from "../lib/option.ts";
import { descendantsOf, hasProc, readRssKb } from "../lib/proc.ts";

const UNITS_KB: Record<string, number> = { "": 1, k: 1, m: 1024, g: 1024 * 1024 };

/**
 * `102400` (KB), `512MB`, `2 GiB`, `1.5g` → KB. A plain number is KB, as in
 * the original; units K/KB/KiB, M/MB/MiB, G/GB/GiB (any case) are all powers
 * of 1024, so `100MB` = `102400`. Throws a message for the user.
 */
export function parseSizeKb(value: number | string): number {
  let kb: number;
  if (typeof value === "number") {
    kb = value;
  } else {
    const m = /^(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?)?$/i.exec(value.trim());
    if (!m) {
      throw new Error(
        `expected a size in KB (102400) or with a unit KB, MB or GB (512MB), got '${value}'`,
      );
    }
    kb = Number(m[1]) * UNITS_KB[(m[2] ?? "").toLowerCase()];
  }
  if (!Number.isFinite(kb) || kb <= 0) throw new Error(`must be greater than 0, got '${value}'`);
  return kb;
}

/**
 * The resident memory of `pid` in KB; with `cumulative`, summed with every
 * descendant's (one that exits during the scan is left out). `counted`: how
 * many processes the sum covers. An `unknown` verdict when `pid` itself has
 * exited.
 */
export async function measureRssKb(
  pid: number,
  cumulative: boolean,
): Promise<{ kb: number; counted: number } | Verdict> {
  const own = await readRssKb(pid);
  if (own === undefined) {
    return unknown(`cannot read the memory of pid ${pid}: the process has exited`);
  }
  let kb = own;
  let counted = 1;
  if (cumulative) {
    for (const rss of await Promise.all((await descendantsOf(pid)).map((d) => readRssKb(d)))) {
      if (rss === undefined) continue; // exited during the scan
      kb += rss;
      counted++;
    }
  }
  return { kb, counted };
}

/** `cumulative over 3 processes` */
export function cumulativeOver(counted: number): string {
  return `cumulative over ${counted} process${counted === 1 ? "" : "es"}`;
}

/** KB → `840 KB`, `612 MB`, `1.5 GB` (one decimal at most). */
export function formatKb(kb: number): string {
  const [amount, unit] = kb >= 1024 * 1024
    ? [kb / (1024 * 1024), "GB"]
    : kb >= 1024
    ? [kb / 1024, "MB"]
    : [kb, "KB"];
  return `${Math.round(amount * 10) / 10} ${unit}`;
}

/** true/false, also as 1/0 or the strings "true"/"false" of hand-written JSON. */
function flag(value: unknown): boolean {
  const text = String(value).trim().toLowerCase();
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw new Error(`expected true or false, got '${value}'`);
}

const OPTIONS = options({
  max_rss: option({
    short: "m",
    aliases: ["msx-rss"], // the original's typo, still accepted
    metavar: "SIZE",
    help: "Most resident memory allowed: KB (102400), or with a unit, powers of 1024 " +
      "(512MB, 2GB, 800K).",
    required: true,
    parse: (raw) => {
      if (typeof raw !== "number" && typeof raw !== "string") {
        throw new Error(`expected a size in KB (102400) or with a unit KB, MB or GB (512MB)`);
      }
      return parseSizeKb(raw);
    },
  }),
  // a flag here: the original declared a value for -c but used it as a flag
  cumulative: {
    ...toggle({ short: "c", help: "Count the process and all its descendants together." }),
    parse: flag,
  },
}, (o) => {
  // without /proc the own RSS comes from pidusage, descendants from nowhere
  if (o.cumulative && !hasProc()) {
    throw new OptionError("cumulative", "needs Linux /proc to find descendants");
  }
  return o;
});

/** `max_rss` in KB. */
export type MemoryOptions = Result<typeof OPTIONS>;

export const memoryCheck: CheckDefinition<MemoryOptions> = {
  name: "memory",
  description: "Restart processes whose resident memory (optionally with their descendants') " +
    "exceeds a limit.",
  options: OPTIONS,
  async run(process, o) {
    const measured = await measureRssKb(process.pid, o.cumulative);
    if ("status" in measured) return measured;
    const { kb: total, counted } = measured;
    const over = o.cumulative ? ` (${cumulativeOver(counted)})` : "";
    let [rss, limit] = [formatKb(total), formatKb(o.max_rss)];
    if (rss === limit) [rss, limit] = [`${total} KB`, `${o.max_rss} KB`];
    // exceeded means strictly greater
    return total > o.max_rss
      ? unhealthy(`rss ${rss}${over} exceeds ${limit}`)
      : healthy(`rss ${rss}${over}, limit ${limit}`);
  },
};
