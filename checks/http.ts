/**
 * http: the process is healthy when an HTTP(S) request to it answers with
 * an expected status (and, with --expect-body, a body containing a string)
 * within the timeout. Flags of the original supervisor_http_check, plus
 * --host, https, --expect-status, --expect-body, --ca-file and the env/file
 * forms of the password.
 */
import { z } from "zod";
import {
  CheckConfigError,
  type CheckDefinition,
  healthy,
  type OptionSpec,
  type ProcessInfo,
  unhealthy,
  unknown,
  type Verdict,
} from "../lib/check.ts";
import {
  caClient,
  count,
  CREDENTIAL_OPTIONS,
  credentialsShape,
  headerProblem,
  host,
  portSpec,
  resolveCredentials,
  resolveSecret,
  retriesOption,
  seconds,
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

const OPTIONS: OptionSpec[] = [
  {
    key: "url",
    long: "url",
    short: "u",
    type: "string",
    metavar: "URL",
    help: "Path to query (/ping), or a full http(s):// URL.",
    defaultText: "/",
  },
  {
    key: "port",
    long: "port",
    short: "p",
    type: "string",
    metavar: "PORT",
    help: "Port: an integer, or a regex with one capture group applied to the process " +
      'name (".+_(\\d+)"). Required unless -u is a full URL.',
  },
  {
    key: "host",
    long: "host",
    type: "string",
    metavar: "HOST",
    help: "Host to connect to.",
    defaultText: "127.0.0.1",
  },
  {
    key: "method",
    long: "method",
    short: "m",
    type: "string",
    metavar: "METHOD",
    help: "HTTP method (GET, POST, PUT…).",
    defaultText: "GET",
  },
  {
    key: "json",
    long: "json",
    short: "j",
    type: "string",
    metavar: "JSON",
    help: "JSON request body; sets Content-Type: application/json.",
  },
  {
    key: "body",
    long: "body",
    short: "b",
    type: "string",
    metavar: "BODY",
    help: "Request body; ignored when -j is given.",
  },
  {
    key: "headers",
    long: "headers",
    short: "H",
    type: "string",
    metavar: "JSON",
    help: "Request headers as a JSON object (visible in ps: put an Authorization header in " +
      "--headers-env or --headers-file).",
  },
  {
    key: "headers_env",
    long: "headers-env",
    type: "string",
    metavar: "NAME",
    help: "More request headers, a JSON object read from environment variable NAME.",
  },
  {
    key: "headers_file",
    long: "headers-file",
    type: "string",
    metavar: "PATH",
    help: "More request headers, a JSON object read from a file.",
  },
  ...CREDENTIAL_OPTIONS,
  {
    key: "expect_status",
    long: "expect-status",
    type: "string",
    metavar: "CODES",
    help: "Statuses that count as healthy: codes and ranges (200-299,301). " +
      "Redirects are not followed.",
    defaultText: "200",
  },
  {
    key: "expect_body",
    long: "expect-body",
    type: "string",
    metavar: "TEXT",
    help: "Text the response body must contain.",
  },
  {
    key: "ca_file",
    long: "ca-file",
    type: "string",
    metavar: "PATH",
    help: "PEM CA certificate(s) to trust for https (for self-signed services).",
  },
  timeoutOption("Time allowed for each attempt, connect to last body byte.", 15),
  retriesOption(2),
];

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

const schema = z.object({
  url: z.string().trim().min(1).default("/"),
  port: portSpec.optional(),
  host,
  method: z.string().trim().regex(/^[A-Za-z]+$/, "must be an HTTP method name like GET")
    .transform((m) => m.toUpperCase())
    .refine((m) => !FORBIDDEN_METHODS.includes(m), {
      message: `fetch cannot send ${FORBIDDEN_METHODS.join(", ")} requests`,
    }).optional(),
  json: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
    .transform((value, ctx) => {
      if (typeof value !== "string") return JSON.stringify(value);
      try {
        JSON.parse(value);
        return value;
      } catch (e) {
        ctx.addIssue({ code: "custom", message: `not valid JSON: ${(e as Error).message}` });
        return z.NEVER;
      }
    }).optional(),
  body: z.string().optional(),
  headers: z.union([z.string(), z.record(z.string(), z.unknown())]).transform((value, ctx) => {
    const headers = headerObject(value);
    if (typeof headers === "object") return headers;
    ctx.addIssue({ code: "custom", message: headers });
    return z.NEVER;
  }).optional(),
  headers_env: z.string().trim().min(1, "must not be empty").optional(),
  headers_file: z.string().trim().min(1, "must not be empty").optional(),
  ...credentialsShape,
  expect_status: z.union([z.string(), z.number()]).default("200").transform((value, ctx) => {
    try {
      return parseStatusList(String(value));
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  }),
  expect_body: z.string().optional(),
  ca_file: z.string().min(1).transform((path, ctx) => {
    try {
      return caClient(path);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  }).optional(),
  timeout: seconds(15),
  num_retries: count(2),
}).strict().transform((o, ctx) => {
  const credentials = resolveCredentials(o, ctx);
  if (credentials === z.NEVER) return z.NEVER;
  const absolute = /^https?:\/\//i.test(o.url);
  if (!absolute && !o.url.startsWith("/")) {
    ctx.addIssue({
      code: "custom",
      path: ["url"],
      message: `'${o.url}' must be a path starting with / or a full http(s):// URL`,
    });
    return z.NEVER;
  }
  if (o.port?.kind === "fixed" && FETCH_BLOCKED_PORTS.has(o.port.port)) {
    ctx.addIssue({
      code: "custom",
      path: ["port"],
      message: `fetch refuses port ${o.port.port} (a blocked port of the Fetch standard); ` +
        "the tcp check can watch it",
    });
    return z.NEVER;
  }
  if (absolute) {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      ctx.addIssue({ code: "custom", path: ["url"], message: `'${o.url}' is not a valid URL` });
      return z.NEVER;
    }
    const problem = o.port ? undefined : fetchUrlProblem(url);
    if (problem) {
      ctx.addIssue({ code: "custom", path: ["url"], message: problem });
      return z.NEVER;
    }
  } else if (!o.port) {
    ctx.addIssue({
      code: "custom",
      path: ["port"],
      message: "is required when -u/--url is a path",
    });
    return z.NEVER;
  }
  const body = o.json ?? o.body;
  const method = o.method ?? "GET";
  if (body !== undefined && (method === "GET" || method === "HEAD")) {
    ctx.addIssue({
      code: "custom",
      path: ["method"],
      message: `${method} requests carry no body; give -m POST (or PUT, …) with -j/-b`,
    });
    return z.NEVER;
  }
  if (method === "HEAD" && o.expect_body !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["expect_body"],
      message: "a HEAD response has no body; give -m GET (or leave out --expect-body)",
    });
    return z.NEVER;
  }
  if (o.headers_env !== undefined && o.headers_file !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["headers_file"],
      message: "give only one of --headers-env, --headers-file",
    });
    return z.NEVER;
  }
  const secret = resolveSecret({ env: o.headers_env, file: o.headers_file }, {
    inline: "-H/--headers",
    env: "--headers-env",
    file: "--headers-file",
  });
  // the headers' text is never quoted: it holds credentials
  const secretHeaders = secret.value === undefined ? {} : headerObject(secret.value);
  if (secret.error || typeof secretHeaders === "string") {
    const key = o.headers_env !== undefined ? "headers_env" : "headers_file";
    const message = secret.error?.message ??
      (secretHeaders as string).replace(/^not valid JSON: .*/, "not valid JSON");
    ctx.addIssue({ code: "custom", path: [key], message });
    return z.NEVER;
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
});

export type HttpOptions = z.output<typeof schema>;

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
  options: OPTIONS,
  schema,
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
