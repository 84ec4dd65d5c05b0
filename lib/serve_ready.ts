/**
 * The application side of `serve`'s GET /health/ready: asks the
 * --application-health-ready-url and turns its answer into the probe's.
 * The request has a time limit covering the body too, so a hung
 * application makes the probe answer 422, never hang.
 */
import { maskSecrets } from "./redact.ts";
import { DeadlineError, readAtMost, TooLargeError } from "./bounded_read.ts";
import { describeFetchError, fetchUrlProblem } from "./net.ts";

/** Where to ask, parsed once at start-up. */
export interface ReadyTarget {
  /** The URL without credentials (fetch refuses them in the URL). */
  url: string;
  /** For messages and logs: no credentials, no query string. */
  display: string;
  /** Basic auth from the URL's user:password, if it had one. */
  headers: Record<string, string>;
  timeoutSeconds: number;
}

/** Parses the flag's URL; throws an Error saying what is wrong. */
export function readyTarget(text: string, timeoutSeconds: number): ReadyTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`'${maskSecrets(text)}' is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`must be an http:// or https:// URL, not ${url.protocol}`);
  }
  const problem = fetchUrlProblem(url);
  if (problem) throw new Error(problem);
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    const bytes = new TextEncoder().encode(credentials);
    headers["Authorization"] = `Basic ${btoa(String.fromCharCode(...bytes))}`;
    url.username = "";
    url.password = "";
  }
  return {
    url: url.href,
    display: `${url.origin}${url.pathname}`,
    headers,
    timeoutSeconds,
  };
}

/** What /health/ready answers after the worker gate passed. */
export interface ReadyAnswer {
  status: 200 | 422;
  /** JSON text of the response body. */
  body: string;
}

/**
 * Largest application answer relayed: a readiness answer is a small JSON
 * document; a larger one is "not ready", and no more of it is read.
 */
export const READY_BODY_LIMIT = 64 * 1024;

/** Longest application text quoted back in non_field_errors. */
const MAX_QUOTED = 1000;

function notReady(description: string, extra: Record<string, unknown> = {}): ReadyAnswer {
  return {
    status: 422,
    body: JSON.stringify({ code: "ServiceNotReady", description, ...extra }),
  };
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/**
 * Asks the application. HTTP 200 with a JSON body: 200 with that body.
 * Anything else: 422 ServiceNotReady, with the application's JSON as
 * `fields` or its text as `non_field_errors`; no answer in time, or no
 * connection: 422 with the reason in `description`.
 */
export async function askApplication(target: ReadyTarget, stop: AbortSignal): Promise<ReadyAnswer> {
  const deadline = performance.now() + target.timeoutSeconds * 1000;
  const timeout = AbortSignal.timeout(target.timeoutSeconds * 1000);
  const where = `GET ${target.display}`;
  let status = 0;
  let text: string;
  try {
    const response = await fetch(target.url, {
      headers: { Accept: "application/json", ...target.headers },
      redirect: "manual",
      signal: AbortSignal.any([stop, timeout]),
    });
    status = response.status;
    text = new TextDecoder().decode(await readAtMost(response.body, READY_BODY_LIMIT, deadline));
  } catch (e) {
    if (stop.aborted) return notReady(`${where}: the sidecar is stopping`);
    if (e instanceof TooLargeError) {
      return notReady(
        `${where}: HTTP ${status} but the body is ${e.message} (the limit for a readiness answer)`,
      );
    }
    if (timeout.aborted || e instanceof DeadlineError) {
      return notReady(`${where}: no complete answer within ${target.timeoutSeconds}s`);
    }
    return notReady(`${where}: ${describeFetchError(e)}`);
  }
  const json = parseJson(text);
  if (status === 200) {
    if (json) return { status: 200, body: text };
    return notReady(`${where}: HTTP 200 but the body is not JSON`, {
      non_field_errors: [text.slice(0, MAX_QUOTED)],
    });
  }
  if (json) return notReady(`${where}: HTTP ${status}`, { fields: json.value });
  const quoted = text.trim().slice(0, MAX_QUOTED);
  return notReady(`${where}: HTTP ${status}`, { non_field_errors: quoted ? [quoted] : [] });
}
