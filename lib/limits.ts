/**
 * Bounds of the values options take, shared by every subcommand (and by
 * lib/heartbeat.ts, which imports nothing but Deno and node: built-ins).
 */

/**
 * Longest duration any option takes, in seconds: 7 days. Timers (setTimeout,
 * AbortSignal.timeout) cannot wait longer than 2^31-1 ms (24.8 days): past
 * that they fire at once, so a longer value would time out every request.
 */
export const MAX_SECONDS = 604_800;
/** Shortest duration a timeout may have: the timers' resolution, 1 ms. */
export const MIN_SECONDS = 0.001;
/** Largest whole number a count option takes (retries, thresholds, limits). */
export const MAX_COUNT = 1_000_000;
