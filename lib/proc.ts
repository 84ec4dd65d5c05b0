/**
 * What the memory and cpu checks need to know about a process, read from
 * Linux /proc (CPU and start time, resident memory, descendants). A process
 * that exits while it is read is not an error: readers return `undefined`
 * and lists leave it out. Only without /proc (not Linux) do the CPU and RSS
 * readers fall back to the pidusage package (which asks `ps`).
 */

export const PROC_ROOT = "/proc";

/**
 * USER_HZ, the unit of every CPU time in /proc: 100 on all architectures
 * Deno runs on (the kernel converts from its internal HZ).
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of `/proc/<pid>/stat` the checks use. */
export interface ProcStat {
  pid: number;
  /** Executable name, up to 15 bytes; may contain spaces and parentheses. */
  comm: string;
  /** R, S, D, Z, T, … */
  state: string;
  ppid: number;
  /** User plus system CPU time of all threads, in seconds. */
  cpuSeconds: number;
  /** Start time in clock ticks after boot: with the pid, names one process. */
  startTicks: number;
}

/**
 * Parses one `/proc/<pid>/stat` line. comm is everything between the first
 * `(` and the last `)`, since a process may name itself `a) (b`.
 */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const pid = Number(text.slice(0, Math.max(open, 0)).trim());
  const fields = text.slice(close + 1).trim().split(" ");
  // fields[0] is field 3 of proc(5) (state): field n is fields[n - 3]
  const field = (n: number) => Number(fields[n - 3]);
  const stat = {
    pid,
    comm: text.slice(open + 1, close),
    state: fields[0],
    ppid: field(4),
    cpuSeconds: (field(14) + field(15)) / CLOCK_TICKS_PER_SECOND,
    startTicks: field(22),
  };
  const numbers = [stat.pid, stat.ppid, field(14), field(15), stat.startTicks];
  if (open < 1 || close < open || !numbers.every(Number.isInteger)) {
    throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 120))}`);
  }
  return stat;
}

/**
 * Resident set size in KB from the text of `/proc/<pid>/status`. A zombie
 * or a kernel thread has no memory of its own and no VmRSS line: 0.
 */
export function parseStatusRssKb(text: string): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** ENOENT (no such pid), or ESRCH (it exited between open and read). */
function vanished(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound ||
    (e instanceof Error && /\(os error 3\)/.test(e.message));
}

async function readProcText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (vanished(e)) return undefined;
    throw e;
  }
}

const procPresent = new Map<string, boolean>();

/** Whether `root` is a mounted /proc (checked once per root). */
export function hasProc(root = PROC_ROOT): boolean {
  let present = procPresent.get(root);
  if (present === undefined) {
    try {
      Deno.statSync(`${root}/self/stat`);
      present = true;
    } catch {
      present = false;
    }
    procPresent.set(root, present);
  }
  return present;
}

/** `/proc/<pid>/stat`, or undefined when there is no such process. */
export async function readStat(pid: number, root = PROC_ROOT): Promise<ProcStat | undefined> {
  const text = await readProcText(`${root}/${pid}/stat`);
  return text === undefined ? undefined : parseStat(text);
}

interface PidUsage {
  /** bytes */
  memory: number;
  /** CPU time, ms */
  ctime: number;
}

/**
 * pidusage through `ps`, without its history (we keep our own; its /proc
 * reader would loop without one). undefined: no such process.
 */
async function pidusageOf(pid: number): Promise<PidUsage | undefined> {
  // loaded on first use: on Linux (with /proc) it never is
  const { default: pidusage } = await import("npm:pidusage@4.1.0");
  try {
    return await pidusage(pid, { usePs: true, maxage: 0 }) as PidUsage;
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw e;
  }
}

export interface CpuTime {
  /** User plus system CPU time so far, in seconds. */
  cpuSeconds: number;
  /** Start time in clock ticks (from /proc); undefined from pidusage. */
  startTicks?: number;
}

/**
 * CPU time used so far by `pid` (all threads), or undefined when there is
 * no such process. Falls back to pidusage where `root` does not exist.
 */
export async function readCpuTime(pid: number, root = PROC_ROOT): Promise<CpuTime | undefined> {
  if (!hasProc(root)) {
    const usage = await pidusageOf(pid);
    return usage && { cpuSeconds: usage.ctime / 1000 };
  }
  const stat = await readStat(pid, root);
  return stat && { cpuSeconds: stat.cpuSeconds, startTicks: stat.startTicks };
}

/**
 * Resident memory of `pid` in KB, or undefined when there is no such
 * process. Falls back to pidusage where `root` does not exist.
 */
export async function readRssKb(pid: number, root = PROC_ROOT): Promise<number | undefined> {
  if (!hasProc(root)) {
    const usage = await pidusageOf(pid);
    return usage && usage.memory / 1024;
  }
  const text = await readProcText(`${root}/${pid}/status`);
  return text === undefined ? undefined : parseStatusRssKb(text);
}

/**
 * The effective uid of `pid` (the `Uid` line of `/proc/<pid>/status`), or
 * undefined when there is no such process.
 */
export async function readUid(pid: number, root = PROC_ROOT): Promise<number | undefined> {
  const text = await readProcText(`${root}/${pid}/status`);
  const m = text === undefined ? null : /^Uid:\s+\d+\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Direct children of `pid`: the union of its threads' `children` files
 * (a child belongs to the thread that forked it). Empty when `pid` or all
 * its threads exited meanwhile.
 */
export async function childrenOf(pid: number, root = PROC_ROOT): Promise<number[]> {
  const tids: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${root}/${pid}/task`)) tids.push(entry.name);
  } catch (e) {
    if (vanished(e)) return [];
    throw e;
  }
  const lists = await Promise.all(
    tids.map((tid) => readProcText(`${root}/${pid}/task/${tid}/children`)),
  );
  return lists.flatMap((text) => (text ?? "").split(" ").filter((s) => s !== "").map(Number));
}

/** Breadth-first walk from `pid` over `childrenOf`; `pid` itself is not included. */
async function walk(
  pid: number,
  childrenOf: (pid: number) => Promise<number[]> | number[],
): Promise<number[]> {
  const seen = new Set([pid]);
  const found: number[] = [];
  let level = [pid];
  while (level.length > 0) {
    const next: number[] = [];
    for (const children of await Promise.all(level.map(childrenOf))) {
      for (const child of children) {
        if (seen.has(child)) continue;
        seen.add(child);
        found.push(child);
        next.push(child);
      }
    }
    level = next;
  }
  return found;
}

/** Descendants of `pid` (children, grandchildren, …) from the `children` files. */
export function descendantsByChildren(pid: number, root = PROC_ROOT): Promise<number[]> {
  return walk(pid, (p) => childrenOf(p, root));
}

/** Descendants of `pid` from one scan of every process's parent pid. */
export async function descendantsByScan(pid: number, root = PROC_ROOT): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (/^\d+$/.test(entry.name)) pids.push(Number(entry.name));
  }
  const byParent = new Map<number, number[]>();
  for (const stat of await Promise.all(pids.map((p) => readStat(p, root)))) {
    if (!stat) continue;
    const siblings = byParent.get(stat.ppid);
    if (siblings) siblings.push(stat.pid);
    else byParent.set(stat.ppid, [stat.pid]);
  }
  return walk(pid, (p) => byParent.get(p) ?? []);
}

const childrenFilesPresent = new Map<string, boolean>();

/**
 * Descendants of `pid`, not including it; a descendant that exits during
 * the walk is left out (and so are its own children, if it took them along).
 * Uses the `children` files where the kernel has them (CONFIG_PROC_CHILDREN),
 * else a scan of all processes.
 */
export function descendantsOf(pid: number, root = PROC_ROOT): Promise<number[]> {
  let present = childrenFilesPresent.get(root);
  if (present === undefined) {
    try {
      Deno.statSync(`${root}/self/task/${Deno.pid}/children`);
      present = true;
    } catch {
      present = false;
    }
    childrenFilesPresent.set(root, present);
  }
  return present ? descendantsByChildren(pid, root) : descendantsByScan(pid, root);
}
