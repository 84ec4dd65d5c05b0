/**
 * `--metrics-listen HOST:PORT`: a listener's Prometheus endpoint. It serves
 * /metrics from the in-memory registry (lib/metrics.ts): a scrape never waits
 * for a round, for supervisord or for a check, and a round never waits for a
 * scrape. Nothing of it reaches stdout (the protocol's channel).
 */
import { UsageError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { listenerMetrics, METRICS_CONTENT_TYPE } from "./metrics.ts";
import { nonEmpty, option, options, toggle } from "./option.ts";
import { pathOf, route } from "./route.ts";

export const METRICS = options({
  metrics_listen: option({
    metavar: "HOST:PORT",
    help: "Serve Prometheus metrics (restarts, verdicts, rounds, supervisord's processes) " +
      "at http://HOST:PORT/metrics; a loopback address unless --metrics-allow-remote.",
    defaultText: "off",
    parse: nonEmpty,
  }),
  metrics_allow_remote: toggle({
    help: "Let --metrics-listen bind a non-loopback address (its metrics name every process " +
      "of this host: firewall it to the Prometheus servers).",
  }),
}, (v, name) => {
  const allow = name("metrics_allow_remote");
  return parseMetricsListen(
    v.metrics_listen,
    v.metrics_allow_remote,
    name("metrics_listen"),
    allow.startsWith("-") ? allow : `${allow}: true`,
  );
});

/** Where to serve /metrics. */
export interface MetricsListen {
  hostname: string;
  port: number;
  /** The flag or key it came from, for errors. */
  label: string;
}

/** localhost, 127.0.0.0/8, ::1. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * The --metrics-listen value (or `metrics_listen` key), checked; undefined
 * when not given. UsageError names `label`. Loopback addresses only, unless
 * --metrics-allow-remote: /metrics names every supervisord process of the
 * host with its state, which is for the fleet's Prometheus, not for anyone
 * on the network.
 */
export function parseMetricsListen(
  value: unknown,
  allowRemote: unknown,
  label = "--metrics-listen",
  allowLabel = "--metrics-allow-remote",
): MetricsListen | undefined {
  if (value === undefined) return undefined;
  if (
    allowRemote !== undefined && typeof allowRemote !== "boolean" && allowRemote !== "true" &&
    allowRemote !== "false"
  ) {
    throw new UsageError(`${allowLabel}: expected true or false, got '${allowRemote}'`);
  }
  const text = String(value).trim();
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new UsageError(
      `${label}: '${text}' is not HOST:PORT (e.g. 127.0.0.1:9864, [::1]:9864; port 1 to 65535)`,
    );
  }
  const hostname = match[1] ?? match[2];
  if (!isLoopback(hostname) && allowRemote !== true && allowRemote !== "true") {
    throw new UsageError(
      `${label}: ${hostname} is not a loopback address; /metrics names every supervisord ` +
        `process of this host and its state, so it is served beyond the host only with ` +
        `${allowLabel} (then firewall it to the Prometheus servers)`,
    );
  }
  return { hostname, port, label };
}

const text = (status: number, body: string, headers: Record<string, string> = {}) =>
  new Response(body, { status, headers: { "content-type": "text/plain", ...headers } });

/**
 * The endpoint as a request handler: GET and HEAD /metrics, 404 elsewhere,
 * 405 for other methods; `render` gives the exposition text.
 */
export function metricsHandler(
  render: () => string,
): (req: Request) => Response | Promise<Response> {
  return route(
    [{
      method: ["GET", "HEAD"],
      pattern: "/metrics",
      handler: (req) => {
        const body = render();
        return new Response(req.method === "HEAD" ? null : body, {
          headers: {
            "content-type": METRICS_CONTENT_TYPE,
            "content-length": String(new TextEncoder().encode(body).length),
          },
        });
      },
    }],
    (req, allowed) =>
      allowed.length
        ? text(405, `${req.method} /metrics: use GET or HEAD\n`, { allow: allowed.join(", ") })
        : text(404, `no endpoint ${pathOf(req.url)}; try /metrics\n`),
  );
}

/**
 * Serves this process's listener metrics until `signal` aborts. A port that
 * cannot be bound is a UsageError naming the flag or key.
 */
export function serveListenerMetrics(at: MetricsListen, logger: Logger, signal: AbortSignal) {
  const url = `http://${at.hostname.includes(":") ? `[${at.hostname}]` : at.hostname}:${at.port}`;
  try {
    Deno.serve({
      hostname: at.hostname,
      port: at.port,
      signal,
      onListen: () => logger.info(`metrics at ${url}/metrics`),
      onError: (e) => {
        logger.error(`metrics: ${(e as Error)?.message ?? e}`);
        return text(500, "internal error\n");
      },
    }, metricsHandler(() => listenerMetrics.render()));
  } catch (e) {
    throw new UsageError(`${at.label}: cannot listen on ${url}: ${(e as Error).message}`);
  }
}
