/**
 * `supervisor-checks serve`: a long-running HTTP sidecar (run it as a
 * supervisord [program:x], or anywhere) answering liveness and readiness
 * probes, check results, metrics and an environment dump.
 *
 * - GET /health/live: 200 `{}` while the StatsD workers gauge (`workers` or
 *   `gunicorn.workers`) is positive and every --group/--process is RUNNING,
 *   else 422 `{"code": "NoWorkers" | "ProcessNotRunning" |
 *   "SupervisorUnavailable", "description": …}`.
 * - GET /health/ready: the same gate, then the application's
 *   --application-health-ready-url (lib/serve_ready.ts).
 * - GET /healthcheck: the --config checks (lib/serve_checks.ts).
 * - GET /environment: with --environment only (lib/environment.ts).
 * - GET /metrics: Prometheus text (with supervisord access: its processes, as a
 *   listener's --metrics-listen exports them).
 *
 * The flags and answers of /health/* are those of approck's `healthcheck`
 * sidecar; the rest follows Runscope's `healthcheck` for Flask.
 */
import { z } from "zod";
import { describeConfig } from "./validate.ts";
import { CHECKS } from "../checks/mod.ts";
import type { CheckDefinition } from "../lib/check.ts";
import { readConfigFile, withConfigReference } from "../lib/check_config.ts";
import { renderHelp } from "../lib/cli.ts";
import { SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { HELP_EXAMPLES } from "./examples.ts";
import { PROGRAM, reportUsageError, warnUnlessSigusr1Ignored } from "../lib/listen.ts";
import { environmentDump } from "../lib/environment.ts";
import { UsageError } from "../lib/errors.ts";
import { Logger } from "../lib/log.ts";
import {
  type MetricFamily,
  METRICS_CONTENT_TYPE,
  processFamilies,
  renderMetrics,
  supervisordUpFamily,
} from "../lib/metrics.ts";
import {
  describeIssues,
  legacyRows,
  type OptionSpec,
  parseFlags,
  seconds,
  VALIDATE_OPTION,
} from "../lib/legacy_options.ts";
import { resolveSecret } from "../lib/options.ts";
import { ProcessSelector } from "../lib/select.ts";
import { CheckSuite } from "../lib/serve_checks.ts";
import { type ServeConfig, serveConfigFrom } from "../lib/serve_config.ts";
import { notRunning, ProcessList } from "../lib/serve_processes.ts";
import { askApplication, type ReadyTarget, readyTarget } from "../lib/serve_ready.ts";
import { StatsdListener, WORKER_GAUGES, WorkersGauge } from "../lib/statsd.ts";
import { SupervisorClient } from "../lib/supervisor.ts";

export const SERVE_OPTIONS: OptionSpec[] = [
  {
    key: "host",
    long: "host",
    short: "H",
    type: "string",
    metavar: "HOST",
    help: "The host that the HTTP server binds on.",
    defaultText: "localhost",
  },
  {
    key: "port",
    long: "port",
    short: "P",
    type: "string",
    metavar: "PORT",
    help: "The port that the HTTP server binds on (0: any free port, logged at start-up).",
    defaultText: "8000",
  },
  {
    key: "statsd_host",
    long: "statsd-host",
    type: "string",
    metavar: "HOST",
    help: "The host the StatsD UDP listener binds on.",
    defaultText: "localhost",
  },
  {
    key: "statsd_port",
    long: "statsd-port",
    type: "string",
    metavar: "PORT",
    help: "The port of the StatsD UDP listener (0: any free port, logged).",
    defaultText: "8125",
  },
  {
    key: "no_statsd",
    long: "no-statsd",
    type: "boolean",
    help: "No StatsD listener and no workers gate: liveness comes from --group/--process alone.",
  },
  {
    key: "workers_ttl",
    long: "workers-ttl",
    type: "string",
    metavar: "SECONDS",
    help: "Count no workers once the workers gauge has not been updated for this long: " +
      "a dead gunicorn master sends nothing. gunicorn sends its gauge only when the count " +
      "changes, so the sender must repeat it (see the README's gunicorn hook).",
    defaultText: "never",
  },
  {
    key: "application_health_ready_url",
    long: "application-health-ready-url",
    type: "string",
    metavar: "URL",
    help: "The application URL which provides a readiness status (optional; `user:pass@` " +
      "becomes basic auth, visible in ps: prefer the next two).",
  },
  {
    key: "application_health_ready_url_env",
    long: "application-health-ready-url-env",
    type: "string",
    metavar: "NAME",
    help: "Read the readiness URL from environment variable NAME.",
  },
  {
    key: "application_health_ready_url_file",
    long: "application-health-ready-url-file",
    type: "string",
    metavar: "PATH",
    help: "Read the readiness URL from a file (one trailing newline dropped).",
  },
  {
    key: "application_health_ready_timeout",
    long: "application-health-ready-timeout",
    type: "string",
    metavar: "SECONDS",
    help: "Time allowed for the application to answer, body included.",
    defaultText: "5",
  },
  {
    key: "group",
    long: "group",
    type: "string",
    multiple: true,
    metavar: "GROUP",
    help: "/health/live also needs every process of this supervisord group RUNNING (repeatable).",
  },
  {
    key: "process",
    long: "process",
    type: "string",
    multiple: true,
    metavar: "NAME",
    help: "/health/live also needs this process (name or group:name) RUNNING (repeatable).",
  },
  {
    key: "config",
    long: "config",
    type: "string",
    metavar: "FILE",
    help: "Checks for /healthcheck and /environment settings, YAML (JSON if *.json).",
  },
  {
    key: "environment",
    long: "environment",
    type: "boolean",
    help: "Serve GET /environment (secrets masked).",
  },
  {
    key: "verbose",
    long: "verbose",
    short: "v",
    type: "boolean",
    help: "Log every request, malformed datagram and passed check.",
  },
  VALIDATE_OPTION,
  { key: "help", long: "help", short: "h", type: "boolean", help: "Show this help and exit." },
];

const DESCRIPTION =
  "A sidecar answering HTTP probes: /health/live (workers from StatsD gauges `workers` / " +
  "`gunicorn.workers`, supervisord processes), /health/ready (plus the application's " +
  "readiness URL), /healthcheck (checks from --config), /metrics (Prometheus) and " +
  "/environment. Stops on SIGTERM or SIGINT.";

/** A TCP/UDP port given on the command line. */
function port(fallback: number) {
  return z.string().default(String(fallback)).transform((value, ctx) => {
    const n = Number(value.trim());
    if (!/^\d+$/.test(value.trim()) || n > 65535) {
      ctx.addIssue({ code: "custom", message: `'${value}' is not a port number 0-65535` });
      return z.NEVER;
    }
    return n;
  });
}

const hostName = z.string().trim().min(1, "must not be empty").default("localhost");

const flagSchema = z.object({
  host: hostName,
  port: port(8000),
  statsd_host: hostName,
  statsd_port: port(8125),
  no_statsd: z.boolean().default(false),
  /** Infinity: never (the default). */
  workers_ttl: seconds(Infinity),
  application_health_ready_url: z.string().optional(),
  application_health_ready_url_env: z.string().trim().min(1, "must not be empty").optional(),
  application_health_ready_url_file: z.string().trim().min(1, "must not be empty").optional(),
  application_health_ready_timeout: seconds(5),
  group: z.array(z.string().trim().min(1, "must not be empty")).default([]),
  process: z.array(z.string()).default([]),
  config: z.string().optional(),
  environment: z.boolean().default(false),
  verbose: z.boolean().default(false),
});

/** Everything `serve` needs, validated. */
export interface ServeSettings {
  host: string;
  port: number;
  /** undefined with --no-statsd. workersTtl: seconds, Infinity for never. */
  statsd?: { host: string; port: number; workersTtl: number };
  ready?: ReadyTarget;
  /** --group / --process: what /health/live requires RUNNING. */
  selectors: ProcessSelector[];
  /** Present when --group/--process or a config entry needs supervisord. */
  client?: SupervisorClient;
  config: ServeConfig;
  environment: boolean;
  verbose: boolean;
  /** The `config` section of GET /environment: the flags and the config file. */
  shown: Record<string, unknown>;
}

/** Parses and validates `serve`'s argv (and its config file); "help" for --help. */
export async function parseServeArgs(
  argv: string[],
  kinds: CheckDefinition[] = Object.values(CHECKS),
  env: { get(name: string): string | undefined } = Deno.env,
): Promise<ServeSettings | "help"> {
  const { values } = parseFlags(SERVE_OPTIONS, argv);
  if (values.help) return "help";
  const parsed = flagSchema.safeParse(values);
  if (!parsed.success) {
    throw new UsageError(describeIssues(parsed.error, SERVE_OPTIONS, values).join("; "));
  }
  const f = parsed.data;
  if (f.no_statsd) {
    for (const key of ["statsd_host", "statsd_port", "workers_ttl"]) {
      const spec = SERVE_OPTIONS.find((s) => s.key === key)!;
      if (values[key] !== undefined) {
        throw new UsageError(`--${spec.long}: has no effect with --no-statsd`);
      }
    }
    if (f.group.length === 0 && f.process.length === 0) {
      throw new UsageError(
        "--no-statsd: give --group or --process, else nothing decides liveness",
      );
    }
  }
  let ready: ReadyTarget | undefined;
  const readyFlags = {
    inline: "--application-health-ready-url",
    env: "--application-health-ready-url-env",
    file: "--application-health-ready-url-file",
  };
  const readyUrl = resolveSecret({
    inline: f.application_health_ready_url,
    env: f.application_health_ready_url_env,
    file: f.application_health_ready_url_file,
  }, readyFlags);
  if (readyUrl.error) {
    throw new UsageError(`${readyFlags[readyUrl.error.source]}: ${readyUrl.error.message}`);
  }
  if (readyUrl.value !== undefined) {
    const source = f.application_health_ready_url !== undefined
      ? "inline"
      : f.application_health_ready_url_env !== undefined
      ? "env"
      : "file";
    try {
      ready = readyTarget(readyUrl.value.trim(), f.application_health_ready_timeout);
    } catch (e) {
      throw new UsageError(`${readyFlags[source]}: ${(e as Error).message}`);
    }
  }
  const selectors = [
    ...f.group.map((g) => ProcessSelector.fromFlags(g)),
    ...f.process.map((p) => {
      try {
        return ProcessSelector.fromFlags(undefined, p);
      } catch {
        throw new UsageError(`--process: '${p}' is not a process name (name or group:name)`);
      }
    }),
  ];
  const file = f.config;
  const rawConfig = file === undefined
    ? {}
    : await withConfigReference("serve", () => readConfigFile(file));
  const config = await withConfigReference(
    "serve",
    () => serveConfigFrom(rawConfig, kinds, `--config ${file}`),
  );
  const needers = [
    ...(f.group.length ? ["--group"] : []),
    ...(f.process.length ? ["--process"] : []),
    ...config.checks.flatMap((c, i) =>
      c.target.kind === "supervisord" ? [`--config ${f.config}: checks.${i}`] : []
    ),
  ];
  if (needers.length && !env.get("SUPERVISOR_SERVER_URL")) {
    throw new UsageError(
      `${needers[0]}: needs supervisord's API, but SUPERVISOR_SERVER_URL is not set: run serve ` +
        "as a supervisord [program:x] (supervisord sets it from serverurl=) or set it to " +
        "unix:///path/to/supervisor.sock or http://host:port",
    );
  }
  return {
    host: f.host,
    port: f.port,
    statsd: f.no_statsd
      ? undefined
      : { host: f.statsd_host, port: f.statsd_port, workersTtl: f.workers_ttl },
    ready,
    selectors,
    client: needers.length ? SupervisorClient.fromEnv(env) : undefined,
    config,
    environment: f.environment,
    verbose: f.verbose,
    shown: { flags: f, file: rawConfig },
  };
}

/** --validate's output: the listening addresses, the liveness rule, each /healthcheck entry. */
function describeServeSettings(settings: ServeSettings, kinds: CheckDefinition[]): string {
  const s = settings;
  const live = [
    ...(s.statsd
      ? [`a positive workers gauge from StatsD on ${s.statsd.host}:${s.statsd.port}`]
      : []),
    ...s.selectors.map((sel) => `${sel.describe()} RUNNING`),
  ];
  const lines = [
    `serve on http://${s.host}:${s.port}; live while ${live.join(" and ")}` +
    (s.ready ? "; ready also asks the application's ready URL" : ""),
  ];
  const file = (s.shown.flags as { config?: string }).config;
  if (file !== undefined) {
    lines.push(...describeConfig(s.shown.file, "serve", kinds, `--config ${file}`));
  }
  return [...lines, "OK: valid"].join("\n");
}

export interface ServeHandle {
  /** Stops listening, aborts checks in flight and waits for open requests. */
  stop(): Promise<void>;
}

interface Problem {
  code: string;
  description: string;
}

const JSON_TYPE = { "content-type": "application/json" };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_TYPE, ...headers } });
}

/** The path of an absolute request URL, without the query string. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

const ENDPOINTS = ["/health/live", "/health/ready", "/healthcheck", "/metrics", "/environment"];

/** The request handling of `serve`; state lives here, sockets in startServe. */
class ServeApp {
  readonly #hostname = Deno.hostname();
  readonly #gauge: WorkersGauge | undefined;
  readonly #processes: ProcessList | undefined;
  readonly #suite: CheckSuite;
  /** Whether the last look at the gauge saw workers (for transition logs). */
  #hadWorkers = false;
  statsd: StatsdListener | undefined;

  constructor(
    readonly settings: ServeSettings,
    private readonly logger: Logger,
    private readonly stopping: AbortSignal,
  ) {
    this.#gauge = settings.statsd ? new WorkersGauge(settings.statsd.workersTtl) : undefined;
    this.#processes = settings.client ? new ProcessList(settings.client) : undefined;
    this.#suite = new CheckSuite(
      settings.config.checks,
      settings.config.healthcheck,
      this.#processes,
      stopping,
      logger,
    );
  }

  get gauge(): WorkersGauge | undefined {
    return this.#gauge;
  }

  handle = (req: Request): Response | Promise<Response> => {
    const path = pathOf(req.url);
    if (this.settings.verbose) this.logger.debug(`${req.method} ${path}`);
    const known = ENDPOINTS.includes(path) &&
      (path !== "/environment" || this.settings.environment);
    if (!known) {
      return json(404, {
        code: "NotFound",
        description: `no endpoint ${path}; try ${
          ENDPOINTS.filter((e) => e !== "/environment" || this.settings.environment).join(", ")
        }`,
      });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return json(405, { code: "MethodNotAllowed", description: `${req.method} ${path}` }, {
        Allow: "GET, HEAD",
      });
    }
    switch (path) {
      case "/health/live":
        return this.#live();
      case "/health/ready":
        return this.#ready();
      case "/healthcheck":
        return this.#healthcheck();
      case "/metrics":
        return this.#metrics().then((text) =>
          new Response(text, { headers: { "content-type": METRICS_CONTENT_TYPE } })
        );
      default:
        return json(200, environmentDump(this.settings.config.environment, this.settings.shown));
    }
  };

  /** Logs when the gauge starts or stops showing workers. */
  noteWorkers(): void {
    if (!this.#gauge) return;
    const problem = this.#workersProblem();
    if (problem === undefined && !this.#hadWorkers) {
      this.logger.info(`workers: ${this.#gauge.value()} reported over StatsD`);
    } else if (problem !== undefined && this.#hadWorkers) {
      this.logger.warn(problem.description);
    }
    this.#hadWorkers = problem === undefined;
  }

  #workersProblem(): Problem | undefined {
    const gauge = this.#gauge;
    if (!gauge) return undefined;
    const value = gauge.value();
    if (value > 0) return undefined;
    let description: string;
    if (gauge.updatedAt === undefined) {
      description = `no workers: no ${WORKER_GAUGES.join(" or ")} gauge received over StatsD yet`;
    } else if (gauge.expired()) {
      const age = ((Date.now() - gauge.updatedAt) / 1000).toFixed(1);
      description = `no workers: the workers gauge was last updated ${age}s ago ` +
        `(--workers-ttl ${gauge.ttlSeconds}s)`;
    } else {
      description = `no workers: the workers gauge is ${value}`;
    }
    return { code: "NoWorkers", description };
  }

  /** Why the process is not live (undefined: it is). */
  #gate(): Problem | undefined | Promise<Problem | undefined> {
    const workers = this.#workersProblem();
    if (workers) {
      if (this.#hadWorkers) this.noteWorkers();
      return workers;
    }
    if (this.settings.selectors.length === 0 || !this.#processes) return undefined;
    return this.#processes.get().then((list): Problem | undefined => {
      if ("error" in list) return { code: "SupervisorUnavailable", description: list.error };
      const problem = notRunning(list.processes, this.settings.selectors);
      return problem ? { code: "ProcessNotRunning", description: problem } : undefined;
    });
  }

  #live(): Response | Promise<Response> {
    const answer = (problem: Problem | undefined) =>
      problem ? json(422, problem) : new Response("{}", { headers: JSON_TYPE });
    const problem = this.#gate();
    return problem instanceof Promise ? problem.then(answer) : answer(problem);
  }

  async #ready(): Promise<Response> {
    const problem = await this.#gate();
    if (problem) return json(422, problem);
    if (!this.settings.ready) return new Response("{}", { headers: JSON_TYPE });
    const answer = await askApplication(this.settings.ready, this.stopping);
    if (answer.status !== 200) this.logger.debug(`not ready: ${answer.body}`);
    return new Response(answer.body, { status: answer.status, headers: JSON_TYPE });
  }

  async #healthcheck(): Promise<Response> {
    const report = await this.#suite.run();
    const options = this.settings.config.healthcheck;
    return json(
      report.passed ? options.successStatus : options.failedStatus,
      {
        hostname: this.#hostname,
        status: report.passed ? "success" : "failure",
        timestamp: Date.now() / 1000,
        results: report.results,
      },
      report.passed ? options.successHeaders : options.failedHeaders,
    );
  }

  async #metrics(): Promise<string> {
    const families: MetricFamily[] = [];
    // with supervisord access (--group, --process, a supervisord check): its processes too
    const outcome = await this.#processes?.get();
    if (outcome) {
      const processes = "processes" in outcome ? outcome.processes : [];
      families.push(supervisordUpFamily("processes" in outcome), ...processFamilies(processes));
    }
    const gauge = this.#gauge;
    if (gauge && this.statsd) {
      families.push(
        {
          name: "supervisor_checks_workers",
          help: "Workers as /health/live sees them: the last StatsD workers gauge, " +
            "0 before the first and after --workers-ttl.",
          type: "gauge",
          samples: [{ value: gauge.value() }],
        },
        {
          name: "supervisor_checks_workers_updated_timestamp_seconds",
          help: "Unix time of the last StatsD workers gauge update.",
          type: "gauge",
          samples: gauge.updatedAt === undefined ? [] : [{ value: gauge.updatedAt / 1000 }],
        },
        {
          name: "supervisor_checks_statsd_datagrams_total",
          help: "StatsD datagrams received.",
          type: "counter",
          samples: [{ value: this.statsd.counters.datagrams }],
        },
        {
          name: "supervisor_checks_statsd_malformed_datagrams_total",
          help: "StatsD datagrams with at least one line that is not a metric (ignored).",
          type: "counter",
          samples: [{ value: this.statsd.counters.malformed }],
        },
      );
    }
    const latest = [...this.#suite.latest.values()];
    families.push(
      {
        name: "supervisor_checks_check_passed",
        help: "Whether the last run of each /healthcheck check passed (1) or failed (0).",
        type: "gauge",
        samples: latest.map((r) => ({ labels: { checker: r.checker }, value: r.passed ? 1 : 0 })),
      },
      {
        name: "supervisor_checks_check_duration_seconds",
        help: "How long the last run of each /healthcheck check took, retries included.",
        type: "gauge",
        samples: latest.map((r) => ({ labels: { checker: r.checker }, value: r.response_time })),
      },
    );
    return renderMetrics(families);
  }
}

/** Opens the StatsD listener and the HTTP server; rejects with a UsageError naming the flags. */
export async function startServe(settings: ServeSettings, logger: Logger): Promise<ServeHandle> {
  const stopping = new AbortController();
  const app = new ServeApp(settings, logger, stopping.signal);
  if (settings.statsd && app.gauge) {
    const { host, port } = settings.statsd;
    try {
      app.statsd = await StatsdListener.listen(
        host,
        port,
        app.gauge,
        logger,
        () => app.noteWorkers(),
      );
    } catch (e) {
      throw new UsageError(
        `--statsd-host/--statsd-port: cannot listen on udp ${host}:${port}: ${
          (e as Error).message
        }`,
      );
    }
    const a = app.statsd.address;
    logger.info(`StatsD listening on udp://${a.host}:${a.port}`);
  }
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: settings.host,
      port: settings.port,
      onListen() {},
      onError(e) {
        logger.error(`request failed: ${(e as Error)?.stack ?? String(e)}`);
        return json(500, { code: "InternalError", description: "see the sidecar's log" });
      },
    }, app.handle);
  } catch (e) {
    await app.statsd?.close();
    throw new UsageError(
      `-H/--host/-P/--port: cannot listen on ${settings.host}:${settings.port}: ${
        (e as Error).message
      }`,
    );
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  logger.info(`HTTP listening on http://${host}:${addr.port}`);
  if (settings.ready) logger.info(`readiness from GET ${settings.ready.display}`);
  if (settings.client) logger.info(`supervisord at ${settings.client.display}`);
  return {
    async stop() {
      stopping.abort();
      await server.shutdown();
      await app.statsd?.close();
    },
  };
}

/** Resolves with the first of SIGTERM / SIGINT, then stops listening for them. */
function nextStopSignal(): Promise<Deno.Signal> {
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  return new Promise((resolve) => {
    const handlers = signals.map((signal) => {
      const handler = () => {
        signals.forEach((s, i) => Deno.removeSignalListener(s, handlers[i]));
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return handler;
    });
  });
}

/** `serve` from argv to exit code: 0 after SIGTERM/SIGINT, 2 on bad input. */
export async function runServeCommand(
  argv: string[],
  kinds: CheckDefinition[] = Object.values(CHECKS),
): Promise<number> {
  const command = `${PROGRAM} serve`;
  let handle: ServeHandle;
  let logger: Logger;
  try {
    // --validate: no supervisord needed, so SUPERVISOR_SERVER_URL may be unset
    const validate = argv.includes("--validate");
    const env = validate ? { get: (n: string) => Deno.env.get(n) || "unix:///unused" } : Deno.env;
    const settings = await parseServeArgs(argv, kinds, env);
    if (validate && settings !== "help") {
      console.log(describeServeSettings(settings, kinds));
      return 0;
    }
    if (settings === "help") {
      console.log(
        renderHelp(command, DESCRIPTION, [{
          title: "serve options",
          rows: legacyRows(SERVE_OPTIONS),
        }], {
          examples: HELP_EXAMPLES.serve,
          environment: [
            ...SUPERVISOR_ENVIRONMENT.map(([name, text]): [string, string] => [
              name,
              `${text} Needed with --group, --process or supervisord checks in --config.`,
            ]),
          ],
        }),
      );
      return 0;
    }
    logger = new Logger("serve", settings.verbose ? "debug" : "info");
    if (settings.config.environmentGiven && !settings.environment) {
      logger.warn("the config's environment settings have no effect without --environment");
    }
    handle = await startServe(settings, logger);
  } catch (e) {
    return reportUsageError(command, e);
  }
  warnUnlessSigusr1Ignored(logger);
  const signal = await nextStopSignal();
  logger.info(`${signal}: stopping`);
  await handle.stop();
  logger.info("stopped");
  return 0;
}
