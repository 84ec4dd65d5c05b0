/**
 * One XML-RPC call over http(s):// or a unix socket, shared by the
 * supervisord client (lib/supervisor.ts) and the xmlrpc check. node:http is
 * the only HTTP stack here that reaches a unix socket; the answer is read
 * with a byte cap before the npm `xmlrpc` deserializer sees it. Every call
 * is bounded by a timeout and ends in a value, an XmlRpcFault or an
 * XmlRpcTransportError.
 */
import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import Deserializer from "npm:xmlrpc@1.3.2/lib/deserializer.js";
import Serializer from "npm:xmlrpc@1.3.2/lib/serializer.js";
import { readAtMost, TooLargeError } from "./bounded_read.ts";

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
  /**
   * Keep-alive connections to reuse. Only for calls that are safe to repeat
   * (reads): when a kept connection closes before the answer, the runtime
   * sends the call once more on a new one, though the server may have read it.
   */
  connections?: XmlRpcConnections;
}

/**
 * Connections kept open between calls to one server (HTTP/1.1 keep-alive,
 * which supervisord's server honours); without one, a call gets a
 * connection of its own, closed after the answer. Deno's node:http sends a
 * request once more, on a new connection, when the kept connection it went
 * out on closes before an answer (even if the server had read it): only
 * calls that are safe to repeat may be given one. At most one idle
 * connection is kept (rounds ask one thing at a time); more are opened for
 * calls made at once and closed after their answers. Idle connections do
 * not keep the process alive.
 */
export class XmlRpcConnections {
  #agent?: http.Agent;

  /** The agent that pools them (https: an https agent). */
  agent(secure: boolean): http.Agent {
    this.#agent ??= new (secure ? https : http).Agent({ keepAlive: true, maxFreeSockets: 1 });
    return this.#agent;
  }

  /** Closes every kept connection; later calls open new ones. */
  close() {
    this.#agent?.destroy();
    this.#agent = undefined;
  }
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
  | "bad-response"
  /** HTTP 200, but the body is larger than XMLRPC_ANSWER_LIMIT or nests deeper than XMLRPC_MAX_DEPTH */
  | "too-large";

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

/** Node-style request options for node:http(s); `agent` false: a connection of the request's own. */
function requestOptions(
  endpoint: XmlRpcEndpoint,
  auth: XmlRpcCallOptions["auth"],
  agent: (secure: boolean) => http.Agent | false,
): { secure: boolean; options: Record<string, unknown> } {
  const headers: Record<string, string> = {};
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
        agent: agent(false),
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
      agent: agent(secure),
    },
  };
}

/** Sorts what a request or the `xmlrpc` deserializer reported into a fault or a transport error. */
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

/** Largest XML-RPC answer read (supervisord's getAllProcessInfo: about 1.4 KB a process). */
export const XMLRPC_ANSWER_LIMIT = 4 * 1024 * 1024;

/** Deepest nesting of arrays and structs parsed (supervisord's answers use 2). */
export const XMLRPC_MAX_DEPTH = 32;

/** How deep arrays and structs nest in `xml`, stopping once past `limit`. */
function nestingDepth(xml: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  for (const m of xml.matchAll(/<(\/?)(?:array|struct)\s*>/gi)) {
    depth += m[1] ? -1 : 1;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) break;
  }
  return deepest;
}

const UTF8 = new TextDecoder();

/** Parses a methodResponse; rejects with what the deserializer reported. */
function parseAnswer(bytes: Uint8Array): Promise<unknown> {
  const xml = UTF8.decode(bytes);
  if (nestingDepth(xml, XMLRPC_MAX_DEPTH) > XMLRPC_MAX_DEPTH) {
    return Promise.reject(
      new XmlRpcTransportError(
        "too-large",
        `an answer with arrays and structs nested deeper than ${XMLRPC_MAX_DEPTH} levels`,
      ),
    );
  }
  return new Promise((resolve, reject) => {
    new Deserializer("utf8").deserializeMethodResponse(
      Readable.from([Buffer.from(bytes)]),
      (error: unknown, value: unknown) => error ? reject(error) : resolve(value),
    );
  });
}

/**
 * One POST of `xml`; resolves to the answer's bytes when it is HTTP 200 and
 * at most XMLRPC_ANSWER_LIMIT long. Rejects with a TooLargeError, or with
 * what classify() sorts: a node error with a `code`, or `{ res }` for
 * another status. `signal` ends the request (and its connection) while it
 * is under way.
 */
function post(
  endpoint: XmlRpcEndpoint,
  xml: string,
  signal: AbortSignal,
  auth: XmlRpcCallOptions["auth"],
  connections: XmlRpcConnections | undefined,
): Promise<Uint8Array> {
  const { secure, options } = requestOptions(
    endpoint,
    auth,
    (secure) => connections?.agent(secure) ?? false,
  );
  const body = Buffer.from(xml, "utf8");
  const headers = {
    ...options.headers as Record<string, string>,
    "Content-Type": "text/xml",
    "Content-Length": String(body.length),
    // a connection of its own is closed by the server after the answer
    ...connections ? {} : { Connection: "close" },
  };
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<Uint8Array>((resolve, reject) => {
    // the signal is handled here, not given to node:http: a request done with
    // must never be destroyed later, its connection may serve another call
    const onAbort = () => request.destroy(new Error("aborted"));
    const fail = (e: unknown) => {
      signal.removeEventListener("abort", onAbort);
      reject(e);
    };
    const request = (secure ? https : http).request(
      { ...options, method: "POST", headers },
      (response) => {
        if (response.statusCode !== 200) {
          response.destroy();
          const { statusCode, statusMessage } = response;
          fail({ message: `HTTP ${statusCode}`, res: { statusCode, statusMessage } });
          return;
        }
        readAtMost(response, XMLRPC_ANSWER_LIMIT).then((bytes) => {
          signal.removeEventListener("abort", onAbort);
          resolve(bytes);
        }, (e) => {
          response.destroy();
          fail(e);
        });
      },
    );
    signal.addEventListener("abort", onAbort, { once: true });
    request.on("error", fail);
    request.end(body);
  });
}

/**
 * Calls `method(...params)`; resolves to the response value, rejects with an
 * XmlRpcFault or an XmlRpcTransportError. Settles when the timeout or the
 * caller's signal fires even if the server never answers. An answer over
 * XMLRPC_ANSWER_LIMIT bytes is not read further, and one nested deeper than
 * XMLRPC_MAX_DEPTH is not parsed (both "too-large").
 */
export function xmlrpcCall(
  endpoint: XmlRpcEndpoint,
  method: string,
  params: unknown[],
  { timeoutMs, signal, auth, connections }: XmlRpcCallOptions,
): Promise<unknown> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
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
      } else if (error instanceof XmlRpcTransportError) reject(error);
      else if (error instanceof TooLargeError) {
        reject(new XmlRpcTransportError("too-large", `an answer ${error.message}`));
      } else reject(classify(error));
    };
    // a request may stay silent after an abort (a half-read body): settle here
    const onAbort = () => settle(combined.reason ?? new Error("aborted"));
    if (combined.aborted) return onAbort();
    combined.addEventListener("abort", onAbort, { once: true });
    post(endpoint, Serializer.serializeMethodCall(method, params), combined, auth, connections)
      .then(parseAnswer)
      .then((value) => settle(undefined, value), (error) => settle(error ?? new Error("failed")));
  });
}
