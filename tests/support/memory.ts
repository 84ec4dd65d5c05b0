/** Memory figures of a running process, for the tests and benchmarks of the memory bounds. */

/** The peak resident set size (VmHWM) of `pid` so far, in MB (10^6 bytes). */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Math.round(kb * 1024 / 1e6);
}

/** The bound the issue sets: a listener or serve stays under this whatever one service sends. */
export const PEAK_RSS_LIMIT_MB = 150;
