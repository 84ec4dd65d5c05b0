/**
 * supervisord's XML-RPC API, over `unix://` or `http(s)://`, as a child of
 * supervisord sees it: SUPERVISOR_SERVER_URL, plus SUPERVISOR_USERNAME and
 * SUPERVISOR_PASSWORD which the user sets in the listener's `environment=`.
 */
import type { ProcessInfo } from "./check.ts";
import { listenerMetrics } from "./metrics.ts";
import {
  xmlrpcCall,
  XmlRpcConnections,
  type XmlRpcEndpoint,
  XmlRpcFault,
  XmlRpcTransportError,
} from "./xmlrpc.ts";

/** supervisord's fault codes (supervisor/xmlrpc.py, class Faults). */
export const FAULT_NAMES: Record<number, string> = {
  1: "UNKNOWN_METHOD",
  2: "INCORRECT_PARAMETERS",
  3: "BAD_ARGUMENTS",
  4: "SIGNATURE_UNSUPPORTED",
  6: "SHUTDOWN_STATE",
  10: "BAD_NAME",
  11: "BAD_SIGNAL",
  20: "NO_FILE",
  21: "NOT_EXECUTABLE",
  30: "FAILED",
  40: "ABNORMAL_TERMINATION",
  50: "SPAWN_ERROR",
  60: "ALREADY_STARTED",
  70: "NOT_RUNNING",
  80: "SUCCESS",
  90: "ALREADY_ADDED",
  91: "STILL_RUNNING",
  92: "CANT_REREAD",
};

export const STATE_RUNNING = 20;

/** supervisord answered with an XML-RPC fault (e.g. NOT_RUNNING). */
export class SupervisorFault extends Error {
  override name = "SupervisorFault";
  constructor(readonly code: number, readonly faultString: string) {
    super(faultString);
  }
  /** `NOT_RUNNING` etc. */
  get faultName(): string {
    return FAULT_NAMES[this.code] ?? `FAULT_${this.code}`;
  }
}

/** supervisord could not be asked at all: unreachable, credentials, timeout. */
export class SupervisorUnavailable extends Error {
  override name = "SupervisorUnavailable";
}

/** SUPERVISOR_SERVER_URL or the credentials are unusable. */
export class SupervisorConfigError extends Error {
  override name = "SupervisorConfigError";
}

function parseServerUrl(url: string): { endpoint: XmlRpcEndpoint; display: string } {
  if (url.startsWith("unix://")) {
    const socketPath = url.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new SupervisorConfigError(
        `SUPERVISOR_SERVER_URL '${url}' must name an absolute socket path (unix:///path/to/supervisor.sock)`,
      );
    }
    return { endpoint: { socketPath, path: "/RPC2" }, display: url };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SupervisorConfigError(
      `SUPERVISOR_SERVER_URL '${url}' is neither unix:///path nor http://host:port`,
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new SupervisorConfigError(
      `SUPERVISOR_SERVER_URL '${url}' has scheme ${parsed.protocol}; use unix:// or http://`,
    );
  }
  const display = `${parsed.protocol}//${parsed.host}`;
  const path = parsed.pathname.endsWith("/RPC2") ? parsed.pathname : "/RPC2";
  return { endpoint: { url: new URL(path, display) }, display };
}

/** Time allowed for a query (getAllProcessInfo, getProcessInfo). */
export const QUERY_TIMEOUT_MS = 10_000;
/**
 * Time allowed for stopProcess/startProcess with wait=true: supervisord
 * answers after the program's stopwaitsecs/startsecs, which may be long.
 * The bound only keeps a wedged supervisord from holding a round forever.
 */
export const CONTROL_TIMEOUT_MS = 600_000;

/**
 * Methods that only read, safe to send twice: they go over a connection
 * kept open between calls and rounds. Every other call (stopProcess,
 * startProcess, …) gets a connection of its own and is never sent twice.
 */
const READ_ONLY =
  /^(supervisor\.(get|read|tail)\w*|system\.(listMethods|methodHelp|methodSignature))$/;

export class SupervisorClient {
  readonly #endpoint: XmlRpcEndpoint;
  readonly #display: string;
  readonly #auth?: { username: string; password: string };
  /** Kept open for read-only calls. */
  readonly #connections = new XmlRpcConnections();
  /** A getAllProcessInfo under way, shared by callers that ask meanwhile. */
  #allInFlight?: Promise<ProcessInfo[]>;

  constructor(readonly url: string, username?: string, password?: string) {
    ({ endpoint: this.#endpoint, display: this.#display } = parseServerUrl(url));
    if (username !== undefined && username !== "") {
      this.#auth = { username, password: password ?? "" };
    }
  }

  /** From the environment supervisord gives its children. */
  static fromEnv(env: { get(name: string): string | undefined } = Deno.env): SupervisorClient {
    const url = env.get("SUPERVISOR_SERVER_URL");
    if (!url) {
      throw new SupervisorConfigError(
        "SUPERVISOR_SERVER_URL is not set: run supervisor-checks as a supervisord [eventlistener:x] " +
          "(supervisord sets it from serverurl=), or set it to unix:///path/to/supervisor.sock or http://host:port",
      );
    }
    return new SupervisorClient(
      url,
      env.get("SUPERVISOR_USERNAME"),
      env.get("SUPERVISOR_PASSWORD"),
    );
  }

  /** The server URL for messages; never carries credentials. */
  get display(): string {
    return this.#display;
  }

  /** One XML-RPC call; rejects with SupervisorFault or SupervisorUnavailable. */
  async call(method: string, params: unknown[], timeoutMs = QUERY_TIMEOUT_MS): Promise<unknown> {
    try {
      return await xmlrpcCall(this.#endpoint, method, params, {
        timeoutMs,
        auth: this.#auth,
        connections: READ_ONLY.test(method) ? this.#connections : undefined,
      });
    } catch (e) {
      throw this.#explain(method, e, timeoutMs);
    }
  }

  /** Closes the connection kept open; a later call opens a new one. */
  close() {
    this.#connections.close();
  }

  /** Words a failed call for the listener's log, saying what to check. */
  #explain(method: string, error: unknown, timeoutMs: number): Error {
    if (error instanceof XmlRpcFault) return new SupervisorFault(error.code, error.faultString);
    if (!(error instanceof XmlRpcTransportError)) return error as Error;
    const where = `supervisord at ${this.display}`;
    const { status, code, cause } = error.details;
    switch (error.failure) {
      case "unauthorized": {
        const who = this.#auth
          ? `the credentials of user '${this.#auth.username}' from SUPERVISOR_USERNAME/SUPERVISOR_PASSWORD`
          : "a request without credentials (SUPERVISOR_USERNAME is not set)";
        return new SupervisorUnavailable(
          `${where} refused ${who} (HTTP 401 Unauthorized): set SUPERVISOR_USERNAME and ` +
            `SUPERVISOR_PASSWORD in the listener's environment= to the username/password of ` +
            `supervisord's [unix_http_server] or [inet_http_server] section`,
        );
      }
      case "timeout":
      case "aborted":
        return new SupervisorUnavailable(
          `${where} did not answer ${method} within ${timeoutMs / 1000}s`,
        );
      case "http-status":
        return new SupervisorUnavailable(
          `${where} answered ${method} with HTTP ${status}: is SUPERVISOR_SERVER_URL supervisord's RPC address?`,
        );
      case "connection":
        return new SupervisorUnavailable(
          `cannot reach ${where} (${code}: ${cause}): check SUPERVISOR_SERVER_URL ` +
            `(supervisord sets it from [supervisorctl] serverurl or the listener's serverurl=) and that supervisord runs`,
        );
      case "too-large":
        return new SupervisorUnavailable(
          `${where} sent ${error.message} for ${method}, not read further`,
        );
      case "bad-response":
        return new SupervisorUnavailable(
          `${where} gave an unusable answer to ${method}: ${cause}`,
        );
    }
  }

  /**
   * Every process. Callers asking while a call is under way (the entries of
   * `run --config` on the same TICK) share its answer instead of each
   * sending the same request; treat the list as read-only.
   */
  getAllProcessInfo(): Promise<ProcessInfo[]> {
    this.#allInFlight ??= this.call("supervisor.getAllProcessInfo", [])
      .then((list) => (list as Record<string, unknown>[]).map(toProcessInfo))
      // whether supervisord answered, and what it said, for /metrics (lib/metrics.ts)
      .then((all) => {
        listenerMetrics.sawProcesses(all);
        return all;
      }, (e) => {
        listenerMetrics.sawProcesses(undefined);
        throw e;
      })
      .finally(() => {
        this.#allInFlight = undefined;
      });
    return this.#allInFlight;
  }

  async getProcessInfo(spec: string): Promise<ProcessInfo> {
    return toProcessInfo(
      await this.call("supervisor.getProcessInfo", [spec]) as Record<string, unknown>,
    );
  }

  async stopProcess(spec: string, wait = true): Promise<void> {
    await this.call("supervisor.stopProcess", [spec, wait], CONTROL_TIMEOUT_MS);
  }

  async startProcess(spec: string, wait = true): Promise<void> {
    await this.call("supervisor.startProcess", [spec, wait], CONTROL_TIMEOUT_MS);
  }
}

/** One struct of getAllProcessInfo/getProcessInfo as a ProcessInfo. */
export function toProcessInfo(raw: Record<string, unknown>): ProcessInfo {
  return {
    name: String(raw.name),
    group: String(raw.group),
    pid: Number(raw.pid),
    state: Number(raw.state),
    statename: String(raw.statename),
    start: Number(raw.start),
    exitstatus: Number(raw.exitstatus),
  };
}
