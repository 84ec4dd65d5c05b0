/**
 * xmlrpc: the process is healthy when a call to its XML-RPC server returns
 * any value within the timeout; a fault, a transport error (refused, no
 * socket, HTTP 401…) or a timeout is a failure. Flags of the original
 * supervisor_xmlrpc_check, plus --host, -t/--timeout, full http(s):// URLs
 * and the env/file forms of the password.
 */
import { join } from "node:path";
import {
  type CheckDefinition,
  healthy,
  type ProcessInfo,
  unhealthy,
  unknown,
  type Verdict,
} from "../lib/check.ts";
import { nonEmpty, option, OptionError, options, type Values } from "../lib/option.ts";
import {
  CREDENTIALS,
  host,
  portOption,
  resolveCredentials,
  retriesOption,
  timeoutOption,
} from "../lib/options.ts";
import { type PortSpec, resolvePort } from "../lib/ports.ts";
import {
  endpointLabel,
  xmlrpcCall,
  type XmlRpcEndpoint,
  XmlRpcFault,
  XmlRpcTransportError,
} from "../lib/xmlrpc.ts";

/** The request path when -u does not give one. */
const DEFAULT_PATH = "/RPC2";
/** Longest unix socket path the kernel takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;
/** Longest rendering of a response value in a verdict message. */
const VALUE_CHARS = 100;

const SPEC = {
  url: option({
    short: "u",
    metavar: "URL",
    help: "HTTP path of the XML-RPC endpoint (/status) with -p, -s or -S; or a full " +
      "http(s):// URL on its own.",
    defaultText: DEFAULT_PATH,
    parse: nonEmpty,
  }),
  port: portOption("With a full -u URL, replaces the URL's port."),
  host: option({
    metavar: "HOST",
    help: "Host to connect to with -p.",
    defaultText: "127.0.0.1",
    parse: host,
  }),
  sock_path: option({
    flag: "socket-path",
    short: "s",
    metavar: "PATH",
    help: "Unix socket of the XML-RPC server (unix:// prefix optional).",
    parse: nonEmpty,
  }),
  sock_dir: option({
    flag: "socket-dir",
    short: "S",
    metavar: "DIR",
    help: "Directory of per-process unix sockets: DIR/<process name>.sock.",
    parse: nonEmpty,
  }),
  method: option({
    short: "m",
    metavar: "METHOD",
    help: "XML-RPC method to call, without arguments; any returned value is healthy.",
    parse: (raw) => {
      const method = nonEmpty(raw);
      if (!/^[A-Za-z0-9_.:/]+$/.test(method)) {
        throw new Error("must be an XML-RPC method name like status");
      }
      return method;
    },
    default: "status",
  }),
  ...CREDENTIALS,
  timeout: timeoutOption("Time allowed for each call, connect to last byte of the answer.", 15),
  num_retries: retriesOption(2),
};

/** Where to call, before the process is known. */
export type XmlRpcTarget =
  | { kind: "port"; port: PortSpec; host: string; path: string }
  | { kind: "url"; url: URL; port?: PortSpec }
  | { kind: "socket"; socketPath: string; path: string }
  | { kind: "socket-dir"; dir: string; path: string };

/**
 * The settings of one xmlrpc check: exactly one endpoint, one of -p PORT
 * (with -u PATH, default /RPC2), -u http(s)://URL, -s SOCKET or -S DIR
 * (socket `DIR/<process name>.sock`, with -u PATH optional). -p with a full
 * URL replaces the URL's port, as in the http check.
 */
function settings(o: Values<typeof SPEC>, name: (key: string) => string) {
  const fail = (key: string, message: string): never => {
    throw new OptionError(key, message);
  };
  const auth = resolveCredentials(o, name);
  const absolute = o.url !== undefined && /^https?:\/\//i.test(o.url);
  if (o.url !== undefined && !absolute && !o.url.startsWith("/")) {
    return fail("url", `'${o.url}' must be a path starting with / or a full http(s):// URL`);
  }
  const path = absolute ? DEFAULT_PATH : o.url ?? DEFAULT_PATH;
  let target: XmlRpcTarget;
  if (o.sock_path !== undefined || o.sock_dir !== undefined) {
    if (o.sock_path !== undefined && o.sock_dir !== undefined) {
      return fail("sock_dir", `give only one of ${name("sock_path")}, ${name("sock_dir")}`);
    }
    const socketFlag = name(o.sock_path !== undefined ? "sock_path" : "sock_dir");
    if (o.port !== undefined) return fail("port", `not used with ${socketFlag}`);
    if (o.host !== undefined) return fail("host", `not used with ${socketFlag}`);
    if (absolute) {
      return fail("url", `with ${socketFlag}, give only the HTTP path (/RPC2), not a full URL`);
    }
    target = o.sock_path !== undefined
      ? { kind: "socket", socketPath: o.sock_path.replace(/^unix:\/\//, ""), path }
      : { kind: "socket-dir", dir: o.sock_dir!, path };
    // the shortest socket path -S can give: DIR/x.sock
    const shortest = target.kind === "socket" ? target.socketPath : join(target.dir, "x.sock");
    if (new TextEncoder().encode(shortest).length > MAX_SOCKET_PATH) {
      return fail(
        o.sock_path !== undefined ? "sock_path" : "sock_dir",
        `'${shortest}' is longer than the ${MAX_SOCKET_PATH} bytes a unix socket path can have`,
      );
    }
  } else if (absolute) {
    let url: URL;
    try {
      url = new URL(o.url!);
    } catch {
      return fail("url", `'${o.url}' is not a valid URL`);
    }
    if (url.username || url.password) {
      return fail(
        "url",
        `must not carry credentials: give ${name("username")} and ${name("password_env")} or ` +
          name("password_file"),
      );
    }
    if (o.host !== undefined) {
      return fail("host", `not used with a full ${name("url")}; put the host in the URL`);
    }
    target = { kind: "url", url, port: o.port };
  } else if (o.port !== undefined) {
    target = { kind: "port", port: o.port, host: o.host ?? "127.0.0.1", path };
  } else {
    return fail(
      "",
      `no XML-RPC endpoint: give ${name("port")} (with ${name("url")} PATH), a full ` +
        `${name("url")} http(s):// URL, ${name("sock_path")} or ${name("sock_dir")}`,
    );
  }
  return {
    target,
    method: o.method,
    auth,
    timeout: o.timeout,
    numRetries: o.num_retries,
  };
}

export type XmlRpcOptions = ReturnType<typeof settings>;

/** The endpoint to call for one process. */
function processEndpoint(target: XmlRpcTarget, process: ProcessInfo): XmlRpcEndpoint {
  switch (target.kind) {
    case "port": {
      const host = target.host.includes(":") ? `[${target.host}]` : target.host;
      const port = resolvePort(target.port, process.name);
      return { url: new URL(`http://${host}:${port}${target.path}`) };
    }
    case "url": {
      const url = new URL(target.url);
      if (target.port) url.port = String(resolvePort(target.port, process.name));
      return { url };
    }
    case "socket":
      return { socketPath: target.socketPath, path: target.path };
    case "socket-dir":
      return { socketPath: join(target.dir, `${process.name}.sock`), path: target.path };
  }
}

/** A response value in at most VALUE_CHARS characters. */
function summarize(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > VALUE_CHARS ? `${json.slice(0, VALUE_CHARS)}…` : json;
}

export const xmlrpcCheck: CheckDefinition<XmlRpcOptions> = {
  name: "xmlrpc",
  description: "Restart processes whose XML-RPC server does not answer a call, or answers " +
    "with a fault. Give exactly one server: -p PORT (with -u PATH), a full -u http(s)://URL, " +
    "-s SOCKET or -S DIR (with -u PATH optional).",
  options: options(SPEC, settings),
  retries: (o) => o.numRetries,
  async run(process, o, ctx): Promise<Verdict> {
    const endpoint = processEndpoint(o.target, process);
    const target = `${o.method}() at ${endpointLabel(endpoint)}`;
    const started = performance.now();
    let value: unknown;
    try {
      value = await xmlrpcCall(endpoint, o.method, [], {
        timeoutMs: o.timeout * 1000,
        signal: ctx.signal,
        auth: o.auth,
      });
    } catch (e) {
      if (e instanceof XmlRpcFault) return unhealthy(`${target}: ${e.message}`);
      if (!(e instanceof XmlRpcTransportError)) throw e;
      if (e.failure === "aborted") return unknown(`${target}: aborted`);
      if (e.failure === "too-large") {
        // it answers, so it is alive; but the answer cannot be judged
        return unknown(
          `${target}: ${e.message}, not read: call a method with a smaller answer (-m)`,
        );
      }
      if (e.details.code === "EINVAL") {
        // the socket path -S makes of this process's name is not one the kernel takes
        return unknown(`${target}: configuration error: ${e.message}`);
      }
      if (e.failure !== "unauthorized") return unhealthy(`${target}: ${e.message}`);
      return unhealthy(
        o.auth
          ? `${target}: ${e.message}: the server refused user '${o.auth.username}'; check ` +
            "-U/--username and the password"
          : `${target}: ${e.message}: the server wants credentials; give -U/--username and ` +
            "--password-env or --password-file",
      );
    }
    const ms = Math.round(performance.now() - started);
    return healthy(`${target}: answered in ${ms} ms: ${summarize(value)}`);
  },
};
