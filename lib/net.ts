/** Network error wording shared by the checks. */

/** Short reason for a failed connection or request (`connection refused`). */
export function describeFetchError(e: unknown): string {
  let err = e as { message?: string; cause?: unknown; code?: string } | undefined;
  // fetch wraps the OS error: TypeError("error sending request…", { cause })
  while (err?.cause && typeof err.cause === "object") {
    err = err.cause as typeof err;
  }
  const message = err?.message ?? String(e);
  if (err && (err as Error).name === "ConnectionRefused" || /refused/i.test(message)) {
    return "connection refused";
  }
  if (/reset/i.test(message)) return "connection reset";
  return message.split("\n")[0];
}
