/**
 * `supervisor-checks serve`: a long-running HTTP sidecar (run it as a
 * supervisord [program:x], or anywhere) answering liveness and readiness
 * probes, check results, metrics and an environment dump. This file turns
 * flags into settings and runs the process: it opens the StatsD listener
 * and the HTTP server around lib/serve_app.ts, and stops on SIGTERM/SIGINT.
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
import { UsageError } from "../lib/errors.ts";
import { Logger } from "../lib/log.ts";
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
import { ServeApp, type ServeSettings } from "../lib/serve_app.ts";
import { serveConfigFrom } from "../lib/serve_config.ts";
import { type ReadyTarget, readyTarget } from "../lib/serve_ready.ts";
import { StatsdListener } from "../lib/statsd.ts";
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
      "changes, so the sender must repeat it (see examples/gunicorn_conf.py).",
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
      onError: app.onError,
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
