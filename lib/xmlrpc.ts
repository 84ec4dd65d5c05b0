/**
 * One XML-RPC call over http(s):// or a unix socket, shared by the
 * supervisord client (lib/supervisor.ts) and the xmlrpc check.
 *
 * Every call is bounded by a timeout (and an optional caller's signal) and
 * ends in exactly one of: the response value, an {@link XmlRpcFault} (the
 * server answered with a fault), or an {@link XmlRpcTransportError} (no
 * usable answer: connection refused, no socket file, HTTP 401 or another
 * status, a timeout, a body that is not XML-RPC).
 *
 * Built on the npm `xmlrpc` package's client, which speaks through
 * node:http, the only HTTP stack here that can reach a unix socket.
 */
import { Buffer } from "node:buffer";
import xmlrpc from "xmlrpc";

/** Where an XML-RPC server listens. */
export type XmlRpcEndpoint =
  /** An http: or https: URL; its path (and query) is the request path. */
  | { url: URL }
  /** A unix socket path and the HTTP request path to send over it. */
  | { socketPath: string; path: string };

/** Everything one call needs besides the endpoint. */
export interface XmlRpcCallOptions {
  /** Time allowed for the whole call, connect to last byte of the answer. */
  timeoutMs: number;
  /** The caller's cancellation (e.g. the listener stopping). */
  signal?: AbortSignal;
  /** HTTP basic-auth credentials. */
  auth?: { username: string; password: string };
}

/** The server answered with an XML-RPC fault. */
export class XmlRpcFault extends Error {
  override name = "XmlRpcFault";
  constructor(readonly code: number, readonly faultString: string) {
    super(`fault ${code}: ${faultString}`);
  }
}

/** Why no usable answer arrived. */
export type TransportFailure =
  /** no complete answer within `timeoutMs` */
  | "timeout"
  /** the caller's signal was aborted */
  | "aborted"
  /** HTTP 401: credentials missing or refused */
  | "unauthorized"
  /** another HTTP status than 200 */
  | "http-status"
  /** the connection failed: refused, no socket file, reset, unknown host… */
  | "connection"
  /** HTTP 200, but the body is not an XML-RPC method response */
  | "bad-response";

/** The call got no usable answer; `message` says why in a few words. */
export class XmlRpcTransportError extends Error {
  override name = "XmlRpcTransportError";
  constructor(
    readonly failure: TransportFailure,
    message: string,
    readonly details: {
      /** HTTP status, when a response arrived. */
      status?: number;
      /** The OS error code of a failed connection (`ECONNREFUSED`, `ENOENT`). */
      code?: string;
      /** The underlying error's own message (`connect ENOENT /run/x.sock`). */
      cause?: string;
    } = {},
  ) {
    super(message);
  }
}

/** `http://127.0.0.1:8080/RPC2` or `unix:///run/x.sock`; never carries credentials. */
export function endpointLabel(endpoint: XmlRpcEndpoint): string {
  if ("url" in endpoint) {
    const { protocol, host, pathname, search } = endpoint.url;
    return `${protocol}//${host}${pathname}${search}`;
  }
  return endpoint.path === "/RPC2"
    ? `unix://${endpoint.socketPath}`
    : `unix://${endpoint.socketPath} (path ${endpoint.path})`;
}

const CONNECTION_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOENT: "no such socket file",
  EACCES: "permission denied",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

/** Node-style request options for the `xmlrpc` client. */
function requestOptions(
  endpoint: XmlRpcEndpoint,
  signal: AbortSignal,
  auth: XmlRpcCallOptions["auth"],
): { secure: boolean; options: Record<string, unknown> } {
  // One request per connection, on a connection of its own (agent: false):
  // Deno's default agent may hand a call a socket that is still closing
  // after a burst of concurrent calls, which fails with ECONNRESET.
  const headers: Record<string, string> = { Connection: "close" };
  if (auth) {
    const credentials = Buffer.from(`${auth.username}:${auth.password}`, "utf8");
    headers.Authorization = `Basic ${credentials.toString("base64")}`;
  }
  if ("socketPath" in endpoint) {
    return {
      secure: false,
      options: {
        socketPath: endpoint.socketPath,
        path: endpoint.path,
        headers,
        signal,
        agent: false,
      },
    };
  }
  const { url } = endpoint;
  const secure = url.protocol === "https:";
  return {
    secure,
    options: {
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || (secure ? 443 : 80)),
      path: `${url.pathname}${url.search}`,
      headers,
      agent: false,
      signal,
    },
  };
}

/** Sorts what the `xmlrpc` client reported into a fault or a transport error. */
function classify(error: unknown): XmlRpcFault | XmlRpcTransportError {
  const e = error as {
    faultCode?: unknown;
    faultString?: unknown;
    code?: unknown;
    message?: string;
    res?: { statusCode?: number; statusMessage?: string };
  };
  if (typeof e.faultCode === "number") {
    return new XmlRpcFault(e.faultCode, String(e.faultString ?? ""));
  }
  const cause = e.message ?? String(error);
  const status = e.res?.statusCode;
  if (status === 401) {
    return new XmlRpcTransportError("unauthorized", "HTTP 401 Unauthorized", { status, cause });
  }
  if (status !== undefined && status !== 200) {
    const reason = e.res?.statusMessage ? ` ${e.res.statusMessage}` : "";
    return new XmlRpcTransportError("http-status", `HTTP ${status}${reason}`, { status, cause });
  }
  if (typeof e.code === "string") {
    const what = CONNECTION_ERRORS[e.code] ?? cause;
    return new XmlRpcTransportError("connection", `${what} (${e.code})`, {
      status,
      code: e.code,
      cause,
    });
  }
  return new XmlRpcTransportError("bad-response", `not an XML-RPC response: ${cause}`, {
    status,
    cause,
  });
}

/**
 * Calls `method(...params)`; resolves to the response value, rejects with an
 * XmlRpcFault or an XmlRpcTransportError. Settles when the timeout or the
 * caller's signal fires even if the server never answers.
 */
export function xmlrpcCall(
  endpoint: XmlRpcEndpoint,
  method: string,
  params: unknown[],
  { timeoutMs, signal, auth }: XmlRpcCallOptions,
): Promise<unknown> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const { secure, options } = requestOptions(endpoint, combined, auth);
  const client = secure ? xmlrpc.createSecureClient(options) : xmlrpc.createClient(options);
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: unknown, value?: unknown) => {
      if (settled) return;
      settled = true;
      combined.removeEventListener("abort", onAbort);
      if (!error) resolve(value);
      else if (signal?.aborted) reject(new XmlRpcTransportError("aborted", "aborted"));
      else if (timeout.aborted) {
        reject(new XmlRpcTransportError("timeout", `no answer within ${timeoutMs / 1000}s`));
      } else reject(classify(error));
    };
    // the client may stay silent after an abort (a half-read body): settle here
    const onAbort = () => settle(combined.reason ?? new Error("aborted"));
    if (combined.aborted) return onAbort();
    combined.addEventListener("abort", onAbort, { once: true });
    client.methodCall(method, params, (error: unknown, value: unknown) => settle(error, value));
  });
}
