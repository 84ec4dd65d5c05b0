/**
 * `supervisor-checks serve`: a long-running HTTP sidecar (run it as a
 * supervisord [program:x], or anywhere) answering liveness and readiness
 * probes, check results, metrics and an environment dump. This file turns
 * flags into settings and runs the process: it opens the StatsD listener
 * and the HTTP server around lib/serve_app.ts, and stops on SIGTERM/SIGINT.
 */
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
import { MODES } from "../lib/modes.ts";
import {
  HELP_ROW,
  helpRows,
  list,
  nonEmpty,
  option,
  OptionError,
  options,
  parse,
  seconds,
  text,
  toggle,
} from "../lib/option.ts";
import { secretFrom } from "../lib/options.ts";
import { ProcessSelector } from "../lib/select.ts";
import { ServeApp, type ServeSettings } from "../lib/serve_app.ts";
import { processName, serveConfigFrom, serveConfigHelp } from "../lib/serve_config.ts";
import { type ReadyTarget, readyTarget } from "../lib/serve_ready.ts";
import { StatsdListener } from "../lib/statsd.ts";
import { SupervisorClient } from "../lib/supervisor.ts";

/** A TCP/UDP port to bind, 0 for any free one. */
function bindPort(raw: unknown): number {
  const value = text(raw).trim();
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new Error(`'${value}' is not a port number 0-65535`);
  }
  return Number(value);
}

const DEFAULT_STATSD = { host: "localhost", port: 8125 };

/**
 * serve's options, declared once: flags only (its config file has keys of
 * its own, lib/serve_config.ts). The StatsD options have no default in the
 * declaration, so that --no-statsd can refuse them when given; their
 * defaults (DEFAULT_STATSD, never for --workers-ttl) apply after.
 */
const SPEC = {
  host: option({
    short: "H",
    metavar: "HOST",
    help: "The host that the HTTP server binds on.",
    parse: nonEmpty,
    default: "localhost",
  }),
  port: option({
    short: "P",
    metavar: "PORT",
    help: "The port that the HTTP server binds on (0: any free port, logged at start-up).",
    parse: bindPort,
    default: 8000,
  }),
  statsd_host: option({
    metavar: "HOST",
    help: "The host the StatsD UDP listener binds on.",
    defaultText: DEFAULT_STATSD.host,
    parse: nonEmpty,
  }),
  statsd_port: option({
    metavar: "PORT",
    help: "The port of the StatsD UDP listener (0: any free port, logged).",
    defaultText: String(DEFAULT_STATSD.port),
    parse: bindPort,
  }),
  no_statsd: toggle({
    defaultText: undefined,
    help: "No StatsD listener and no workers gate: liveness comes from --group/--process alone.",
  }),
  workers_ttl: option({
    metavar: "SECONDS",
    help: "Count no workers once the workers gauge has not been updated for this long: " +
      "a dead gunicorn master sends nothing. gunicorn sends its gauge only when the count " +
      "changes, so the sender must repeat it (see examples/gunicorn_conf.py).",
    defaultText: "never",
    parse: seconds(),
  }),
  application_health_ready_url: option({
    metavar: "URL",
    help: "The application URL which provides a readiness status (optional; `user:pass@` " +
      "becomes basic auth, visible in ps: prefer the next two).",
    parse: text,
  }),
  application_health_ready_url_env: option({
    metavar: "NAME",
    help: "Read the readiness URL from environment variable NAME.",
    parse: nonEmpty,
  }),
  application_health_ready_url_file: option({
    metavar: "PATH",
    help: "Read the readiness URL from a file (one trailing newline dropped).",
    parse: nonEmpty,
  }),
  application_health_ready_timeout: option({
    metavar: "SECONDS",
    help: "Time allowed for the application to answer, body included.",
    parse: seconds(),
    default: 5,
  }),
  group: list({
    metavar: "GROUP",
    help: "/health/live also needs every process of this supervisord group RUNNING (repeatable).",
    parse: nonEmpty,
  }),
  process: list({
    metavar: "NAME",
    help: "/health/live also needs this process (name or group:name) RUNNING (repeatable).",
    parse: processName,
  }),
  config: option({
    metavar: "FILE",
    help: "Checks for /healthcheck and /environment settings, YAML (JSON if *.json).",
    parse: text,
  }),
  environment: toggle({ help: "Serve GET /environment (secrets masked)." }),
  verbose: toggle({ short: "v", help: "Log every request, malformed datagram and passed check." }),
  validate: MODES.spec.validate,
};

/** The flags as parsed, and what follows from them alone (the config file is read after). */
export const SERVE_OPTIONS = options(SPEC, (f, name) => {
  if (f.no_statsd) {
    for (const key of ["statsd_host", "statsd_port", "workers_ttl"] as const) {
      if (f[key] !== undefined) {
        throw new OptionError(key, `has no effect with ${name("no_statsd")}`);
      }
    }
    if (f.group.length === 0 && f.process.length === 0) {
      throw new OptionError(
        "no_statsd",
        `give ${name("group")} or ${name("process")}, else nothing decides liveness`,
      );
    }
  }
  const sources = {
    inline: "application_health_ready_url",
    env: "application_health_ready_url_env",
    file: "application_health_ready_url_file",
  } as const;
  const readyUrl = secretFrom(
    {
      inline: f.application_health_ready_url,
      env: f.application_health_ready_url_env,
      file: f.application_health_ready_url_file,
    },
    sources,
    name,
  );
  let ready: ReadyTarget | undefined;
  if (readyUrl !== undefined) {
    const source = f.application_health_ready_url !== undefined
      ? sources.inline
      : f.application_health_ready_url_env !== undefined
      ? sources.env
      : sources.file;
    try {
      ready = readyTarget(readyUrl.trim(), f.application_health_ready_timeout);
    } catch (e) {
      throw new OptionError(source, (e as Error).message);
    }
  }
  const statsd = f.no_statsd ? undefined : {
    host: f.statsd_host ?? DEFAULT_STATSD.host,
    port: f.statsd_port ?? DEFAULT_STATSD.port,
    workersTtl: f.workers_ttl ?? Infinity,
  };
  return {
    flags: f,
    statsd,
    ready,
    selectors: [
      ...f.group.map((g) => ProcessSelector.fromFlags(g)),
      ...f.process.map((p) => ProcessSelector.fromFlags(undefined, p)),
    ],
  };
});

const DESCRIPTION =
  "A sidecar answering HTTP probes: /health/live (workers from StatsD gauges `workers` / " +
  "`gunicorn.workers`, supervisord processes), /health/ready (plus the application's " +
  "readiness URL), /healthcheck (checks from --config), /metrics (Prometheus) and " +
  "/environment. Stops on SIGTERM or SIGINT.";

/** Parses and validates `serve`'s argv (and its config file); "help" for --help. */
export async function parseServeArgs(
  argv: string[],
  kinds: CheckDefinition[] = Object.values(CHECKS),
  env: { get(name: string): string | undefined } = Deno.env,
): Promise<ServeSettings | "help"> {
  const parsed = parse(SERVE_OPTIONS, argv, { help: true });
  if (parsed === "help") return "help";
  const { flags: f, statsd, ready, selectors } = parsed.values;
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
      c.target.kind === "supervisord" ? [`--config ${file}: checks[${i}]`] : []
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
    statsd,
    ready,
    selectors,
    client: needers.length ? SupervisorClient.fromEnv(env) : undefined,
    config,
    environment: f.environment,
    verbose: f.verbose,
    shown: { flags: { ...f, ...(statsd && statsdFlags(statsd)) }, file: rawConfig },
  };
}

/** The StatsD flags as they apply (defaults included), for GET /environment. */
function statsdFlags(s: { host: string; port: number; workersTtl: number }) {
  return { statsd_host: s.host, statsd_port: s.port, workers_ttl: s.workersTtl };
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
          rows: [...helpRows([SERVE_OPTIONS.spec])[0], HELP_ROW],
        }, serveConfigHelp(kinds)], {
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
