/**
 * http: the process is healthy when an HTTP(S) request to it answers with
 * an expected status (and, with --expect-body, a body containing a string)
 * within the timeout. Flags of the original supervisor_http_check, plus
 * --host, https, --expect-status, --expect-body, --ca-file and the env/file
 * forms of the password.
 */
import {
  CheckConfigError,
  type CheckDefinition,
  healthy,
  type ProcessInfo,
  unhealthy,
  unknown,
  type Verdict,
} from "../lib/check.ts";
import { nonEmpty, option, OptionError, options, text, type Values } from "../lib/option.ts";
import {
  caClient,
  CREDENTIALS,
  headerProblem,
  host,
  portOption,
  resolveCredentials,
  retriesOption,
  secretFrom,
  timeoutOption,
} from "../lib/options.ts";
import { type PortSpec, resolvePort } from "../lib/ports.ts";
import {
  describeFetchError,
  FETCH_BLOCKED_PORTS,
  fetchUrlProblem,
  requestRefused,
} from "../lib/net.ts";
import { maskSecrets } from "../lib/redact.ts";
import { DeadlineError, scanFor } from "../lib/bounded_read.ts";

/** Methods fetch refuses to send. */
const FORBIDDEN_METHODS = ["CONNECT", "TRACE", "TRACK"];

/** `200-299,301` → predicate and canonical text. */
export function parseStatusList(text: string): { accepts: (s: number) => boolean; text: string } {
  const ranges: [number, number][] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (!m) throw new Error(`'${part}' is not a status code or range like 200-299`);
    const low = Number(m[1]);
    const high = Number(m[2] ?? m[1]);
    if (low < 100 || high > 599 || low > high) {
      throw new Error(`'${part}' is not a range of status codes within 100-599`);
    }
    ranges.push([low, high]);
  }
  return { accepts: (s) => ranges.some(([lo, hi]) => s >= lo && s <= hi), text };
}

/** `{"X-Check":"1"}` (text or object) → headers; a string says what is wrong. */
function headerObject(value: unknown): Record<string, string> | string {
  if (typeof value !== "string" && (typeof value !== "object" || value === null)) {
    return `must be a JSON object like {"X-Check":"1"}`;
  }
  let parsed: unknown = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch (e) {
      return `not valid JSON: ${(e as Error).message}`;
    }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return `must be a JSON object like {"X-Check":"1"}`;
  }
  const headers = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  for (const [name, value] of Object.entries(headers)) {
    const problem = headerProblem(name, value);
    if (problem) return problem;
  }
  return headers;
}

/** Request headers (JSON text, or an object in a file). */
function headers(raw: unknown): Record<string, string> {
  const parsed = headerObject(raw);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
}

const SPEC = {
  url: option({
    short: "u",
    metavar: "URL",
    help: "Path to query (/ping), or a full http(s):// URL.",
    parse: nonEmpty,
    default: "/",
  }),
  port: portOption("Required unless -u is a full URL."),
  host: option({ metavar: "HOST", help: "Host to connect to.", parse: host, default: "127.0.0.1" }),
  method: option({
    short: "m",
    metavar: "METHOD",
    help: "HTTP method (GET, POST, PUT…).",
    defaultText: "GET",
    parse: (raw) => {
      const m = text(raw).trim();
      if (!/^[A-Za-z]+$/.test(m)) throw new Error("must be an HTTP method name like GET");
      if (FORBIDDEN_METHODS.includes(m.toUpperCase())) {
        throw new Error(`fetch cannot send ${FORBIDDEN_METHODS.join(", ")} requests`);
      }
      return m.toUpperCase();
    },
  }),
  json: option({
    short: "j",
    metavar: "JSON",
    help: "JSON request body; sets Content-Type: application/json.",
    parse: (raw) => {
      if (raw !== null && typeof raw === "object") return JSON.stringify(raw);
      const value = text(raw);
      try {
        JSON.parse(value);
      } catch (e) {
        throw new Error(`not valid JSON: ${(e as Error).message}`);
      }
      return value;
    },
  }),
  body: option({
    short: "b",
    metavar: "BODY",
    help: "Request body; ignored when -j is given.",
    parse: text,
  }),
  headers: option({
    short: "H",
    metavar: "JSON",
    help: "Request headers as a JSON object (visible in ps: put an Authorization header in " +
      "--headers-env or --headers-file).",
    parse: headers,
  }),
  headers_env: option({
    metavar: "NAME",
    help: "More request headers, a JSON object read from environment variable NAME.",
    parse: nonEmpty,
  }),
  headers_file: option({
    metavar: "PATH",
    help: "More request headers, a JSON object read from a file.",
    parse: nonEmpty,
  }),
  ...CREDENTIALS,
  expect_status: option({
    metavar: "CODES",
    help: "Statuses that count as healthy: codes and ranges (200-299,301). " +
      "Redirects are not followed.",
    defaultText: "200",
    parse: (raw) => parseStatusList(text(raw)),
    default: parseStatusList("200"),
  }),
  expect_body: option({
    metavar: "TEXT",
    help: "Text the response body must contain.",
    parse: text,
  }),
  ca_file: option({
    metavar: "PATH",
    help: "PEM CA certificate(s) to trust for https (for self-signed services).",
    parse: (raw) => caClient(nonEmpty(raw)),
  }),
  timeout: timeoutOption("Time allowed for each attempt, connect to last body byte.", 15),
  num_retries: retriesOption(2),
};

/** The settings of one http check, from its options (rules across them; secrets read). */
function settings(o: Values<typeof SPEC>, name: (key: string) => string) {
  const credentials = resolveCredentials(o, name);
  const absolute = /^https?:\/\//i.test(o.url);
  if (!absolute && !o.url.startsWith("/")) {
    throw new OptionError(
      "url",
      `'${o.url}' must be a path starting with / or a full http(s):// URL`,
    );
  }
  if (o.port?.kind === "fixed" && FETCH_BLOCKED_PORTS.has(o.port.port)) {
    throw new OptionError(
      "port",
      `fetch refuses port ${o.port.port} (a blocked port of the Fetch standard); ` +
        "the tcp check can watch it",
    );
  }
  if (absolute) {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new OptionError("url", `'${o.url}' is not a valid URL`);
    }
    const problem = o.port ? undefined : fetchUrlProblem(url);
    if (problem) throw new OptionError("url", problem);
  } else if (!o.port) {
    throw new OptionError("port", `is required when ${name("url")} is a path`);
  }
  const body = o.json ?? o.body;
  const method = o.method ?? "GET";
  if (body !== undefined && (method === "GET" || method === "HEAD")) {
    throw new OptionError(
      "method",
      `${method} requests carry no body; give ${name("method")} POST (or PUT, …) with ` +
        `${name("json")} or ${name("body")}`,
    );
  }
  if (method === "HEAD" && o.expect_body !== undefined) {
    throw new OptionError(
      "expect_body",
      `a HEAD response has no body; give ${name("method")} GET (or leave out ` +
        `${name("expect_body")})`,
    );
  }
  if (o.headers_env !== undefined && o.headers_file !== undefined) {
    throw new OptionError(
      "headers_file",
      `give only one of ${name("headers_env")}, ${name("headers_file")}`,
    );
  }
  const secret = secretFrom(
    { env: o.headers_env, file: o.headers_file },
    { env: "headers_env", file: "headers_file" },
    name,
  );
  // the headers' text is never quoted: it holds credentials
  const secretHeaders = secret === undefined ? {} : headerObject(secret);
  if (typeof secretHeaders === "string") {
    throw new OptionError(
      o.headers_env !== undefined ? "headers_env" : "headers_file",
      secretHeaders.replace(/^not valid JSON: .*/, "not valid JSON"),
    );
  }
  const headers: Record<string, string> = { ...o.headers, ...secretHeaders };
  if (o.json !== undefined) headers["Content-Type"] = "application/json";
  if (credentials) {
    const pair = new TextEncoder().encode(`${credentials.username}:${credentials.password}`);
    headers["Authorization"] = `Basic ${btoa(String.fromCharCode(...pair))}`;
  }
  return {
    url: o.url,
    port: o.port,
    host: o.host,
    method,
    body,
    headers,
    expectStatus: o.expect_status,
    expectBody: o.expect_body,
    client: o.ca_file,
    timeout: o.timeout,
    numRetries: o.num_retries,
  };
}

export type HttpOptions = ReturnType<typeof settings>;

/** The URL to query for one process. */
export function targetUrl(
  options: Pick<HttpOptions, "url" | "port" | "host">,
  process: ProcessInfo,
): URL {
  const port = options.port ? resolvePort(options.port as PortSpec, process.name) : undefined;
  if (/^https?:\/\//i.test(options.url)) {
    const url = new URL(options.url);
    if (port !== undefined) url.port = String(port);
    return url;
  }
  if (port === undefined) throw new CheckConfigError("no port to query");
  const hostPart = options.host.includes(":") ? `[${options.host}]` : options.host;
  return new URL(`http://${hostPart}:${port}${options.url}`);
}

/** One request and what to expect of its answer. */
export interface HttpRequest {
  url: URL;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  client?: Deno.HttpClient;
  /** Seconds, connect to the body's last byte. */
  timeout: number;
  expectStatus: (status: number) => boolean;
  /** Text the body must contain. */
  expectBody?: string;
  /** Texts the body must not contain. */
  failBody?: string[];
}

/** An answer's status line and how long it took. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  ms: number;
}

/** What one request found, before a check words it. */
export type HttpOutcome =
  /** the caller's signal aborted it */
  | { kind: "aborted" }
  /** no answer within the timeout */
  | { kind: "no-answer" }
  /** fetch refused to send it (a blocked port): configuration, not the service */
  | { kind: "refused"; why: string }
  /** connection refused, reset, TLS… */
  | { kind: "error"; why: string }
  | ({ kind: "bad-status" } & HttpAnswer)
  /** the body did not end within the timeout */
  | ({ kind: "incomplete" } & HttpAnswer)
  | ({ kind: "unreadable"; why: string } & HttpAnswer)
  | ({ kind: "lacks" | "contains"; text: string } & HttpAnswer)
  | ({ kind: "ok" } & HttpAnswer);

/**
 * Sends one request, redirects not followed. The timeout runs to the body's
 * last byte: the body is always read to its end (so headers followed by a
 * stall fail), through a sliding window, never held whole.
 */
export async function request(r: HttpRequest, signal: AbortSignal): Promise<HttpOutcome> {
  const timeout = AbortSignal.timeout(r.timeout * 1000);
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(r.url, {
      method: r.method,
      headers: r.headers,
      body: r.body,
      redirect: "manual",
      signal: AbortSignal.any([signal, timeout]),
      client: r.client,
    });
  } catch (e) {
    if (signal.aborted) return { kind: "aborted" };
    if (timeout.aborted) return { kind: "no-answer" };
    const refused = requestRefused(e);
    return refused
      ? { kind: "refused", why: refused }
      : { kind: "error", why: describeFetchError(e) };
  }
  const answer = () => ({
    status: response.status,
    statusText: response.statusText,
    ms: Math.round(performance.now() - started),
  });
  if (!r.expectStatus(response.status)) {
    const bad = answer();
    await response.body?.cancel().catch(() => {});
    return { kind: "bad-status", ...bad };
  }
  const failBody = r.failBody ?? [];
  let found: Set<string>;
  try {
    const needles = r.expectBody === undefined ? failBody : [r.expectBody, ...failBody];
    found = await scanFor(response.body, needles, started + r.timeout * 1000);
  } catch (e) {
    if (signal.aborted) return { kind: "aborted" };
    if (timeout.aborted || e instanceof DeadlineError) return { kind: "incomplete", ...answer() };
    return { kind: "unreadable", why: describeFetchError(e), ...answer() };
  }
  if (r.expectBody !== undefined && !found.has(r.expectBody)) {
    return { kind: "lacks", text: r.expectBody, ...answer() };
  }
  const unwanted = failBody.find((s) => found.has(s));
  if (unwanted !== undefined) return { kind: "contains", text: unwanted, ...answer() };
  return { kind: "ok", ...answer() };
}

/** The http check's wording of an outcome. */
function httpVerdict(target: string, o: HttpOptions, r: HttpOutcome): Verdict {
  switch (r.kind) {
    case "aborted":
      return unknown(`${target}: aborted`);
    case "no-answer":
      return unhealthy(`${target}: no answer within ${o.timeout}s`);
    case "refused":
      return unknown(`${target}: configuration error: ${r.why}`);
    case "error":
      return unhealthy(`${target}: ${r.why}`);
    case "bad-status":
      return unhealthy(
        `${target}: HTTP ${r.status} in ${r.ms} ms, expected ${o.expectStatus.text}`,
      );
    case "incomplete":
      return unhealthy(
        `${target}: HTTP ${r.status} but the body was not complete within ${o.timeout}s`,
      );
    case "unreadable":
      return unhealthy(`${target}: reading the body failed: ${r.why}`);
    case "lacks":
    case "contains":
      return unhealthy(
        `${target}: HTTP ${r.status} in ${r.ms} ms but the body ${r.kind} ${
          JSON.stringify(r.text)
        }`,
      );
    case "ok":
      return healthy(`${target}: HTTP ${r.status} in ${r.ms} ms`);
  }
}

export const httpCheck: CheckDefinition<HttpOptions> = {
  name: "http",
  description: "Restart processes whose HTTP endpoint does not answer as expected.",
  options: options(SPEC, settings),
  retries: (o) => o.numRetries,
  async run(process, o, ctx): Promise<Verdict> {
    const url = targetUrl(o, process);
    // a password in -u is sent, never shown
    const target = `${o.method} ${maskSecrets(url.href)}`;
    const outcome = await request({
      url,
      method: o.method,
      headers: o.headers,
      body: o.body,
      client: o.client,
      timeout: o.timeout,
      expectStatus: o.expectStatus.accepts,
      expectBody: o.expectBody,
    }, ctx.signal);
    return httpVerdict(target, o, outcome);
  },
};
