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

/**
 * The Fetch standard's "bad ports": fetch refuses to connect to them
 * (`Requests to port 6665 are blocked`), whatever answers there.
 */
export const FETCH_BLOCKED_PORTS: ReadonlySet<number> = new Set(
  (
    "0 1 7 9 11 13 15 17 19 20 21 22 23 25 37 42 43 53 69 77 79 87 95 101 102 103 104 109 110 " +
    "111 113 115 117 119 123 135 137 139 143 161 179 389 427 465 512 513 514 515 526 530 531 532 " +
    "540 548 554 556 563 587 601 636 989 990 993 995 1719 1720 1723 2049 3659 4045 4190 5060 " +
    "5061 6000 6566 6665 6666 6667 6668 6669 6679 6697 10080"
  ).split(" ").map(Number),
);

/** What is wrong with fetching `url` whatever the server does, or undefined. */
export function fetchUrlProblem(url: URL): string | undefined {
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  return FETCH_BLOCKED_PORTS.has(port)
    ? `fetch refuses port ${port} (a blocked port of the Fetch standard)`
    : undefined;
}

/**
 * Why fetch rejected the request itself rather than failing to reach the
 * server, or undefined. A network failure is a TypeError whose `cause` is
 * the OS or TLS error; a TypeError without a cause comes from fetch
 * refusing the request before any connection (a blocked port, a forbidden
 * method or header): a configuration error, not a verdict on the server.
 */
export function requestRefused(e: unknown): string | undefined {
  return e instanceof TypeError && e.cause === undefined ? e.message : undefined;
}
