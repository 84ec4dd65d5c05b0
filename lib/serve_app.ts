/**
 * The HTTP side of the `serve` sidecar: its endpoints as a list of routes
 * (lib/route.ts) over the state they read (the StatsD workers gauge,
 * supervisord's process list, the /healthcheck suite). Opening sockets and
 * stopping on signals are the command's (commands/serve.ts).
 *
 * The flags and answers of /health/* are those of approck's `healthcheck`
 * sidecar; the rest follows Runscope's `healthcheck` for Flask.
 */
import { environmentDump } from "./environment.ts";
import type { Logger } from "./log.ts";
import {
  METRICS_CONTENT_TYPE,
  processFamilies,
  renderMetrics,
  supervisordUpFamily,
} from "./metrics.ts";
import { pathOf, type Route, route } from "./route.ts";
import type { ProcessSelector } from "./select.ts";
import { CheckSuite } from "./serve_checks.ts";
import type { ServeConfig } from "./serve_config.ts";
import { checkFamilies, workersFamilies } from "./serve_metrics.ts";
import { notRunning, ProcessList } from "./serve_processes.ts";
import { askApplication, type ReadyTarget } from "./serve_ready.ts";
import { type StatsdListener, WORKER_GAUGES, WorkersGauge } from "./statsd.ts";
import type { SupervisorClient } from "./supervisor.ts";

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

/** Why the sidecar is not live: the `code` and `description` of a 422. */
interface Problem {
  code: string;
  description: string;
}

const JSON_TYPE = { "content-type": "application/json" };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_TYPE, ...headers } });
}

/** Every endpoint answers GET, and HEAD (its headers alone); any other method is a 405. */
const READ = ["GET", "HEAD"];

/** The request handling of `serve`; state lives here, sockets in the command. */
export class ServeApp {
  readonly #hostname = Deno.hostname();
  readonly #gauge: WorkersGauge | undefined;
  readonly #processes: ProcessList | undefined;
  readonly #suite: CheckSuite;
  readonly #routes: Route[];
  readonly #router: (req: Request) => Response | Promise<Response>;
  /** Whether the last look at the gauge saw workers (for transition logs). */
  #hadWorkers = false;
  /** Set by the command once the StatsD listener is open (its counters go to /metrics). */
  statsd: StatsdListener | undefined;

  constructor(
    readonly settings: ServeSettings,
    private readonly logger: Logger,
    /** Aborted when the sidecar stops: checks and readiness requests in flight give up. */
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
    this.#routes = [
      // 200 `{}` while the workers gauge is positive and every --group/--process is RUNNING,
      // else 422 `{"code": "NoWorkers" | "ProcessNotRunning" | "SupervisorUnavailable", …}`
      { method: READ, pattern: "/health/live", handler: () => this.#live() },
      // the same gate, then the application's --application-health-ready-url
      { method: READ, pattern: "/health/ready", handler: () => this.#ready() },
      // the --config checks (lib/serve_checks.ts)
      { method: READ, pattern: "/healthcheck", handler: () => this.#healthcheck() },
      // Prometheus text; with supervisord access, its processes as a listener exports them
      { method: READ, pattern: "/metrics", handler: () => this.#metrics() },
      // with --environment only, secrets masked (lib/environment.ts)
      ...(settings.environment
        ? [{ method: READ, pattern: "/environment", handler: () => this.#environment() }]
        : []),
    ];
    this.#router = route(this.#routes, (req, allowed) => this.#unrouted(req, allowed));
  }

  get gauge(): WorkersGauge | undefined {
    return this.#gauge;
  }

  /** The handler for Deno.serve. */
  handle = (req: Request): Response | Promise<Response> => {
    if (this.settings.verbose) this.logger.debug(`${req.method} ${pathOf(req.url)}`);
    return this.#router(req);
  };

  /** Deno.serve's onError: a handler that threw is logged and answered 500. */
  onError = (e: unknown): Response => {
    this.logger.error(`request failed: ${(e as Error)?.stack ?? String(e)}`);
    return json(500, { code: "InternalError", description: "see the sidecar's log" });
  };

  /** 405 (with Allow) on a known path, else 404 naming the endpoints. */
  #unrouted(req: Request, allowed: string[]): Response {
    const path = pathOf(req.url);
    if (allowed.length) {
      return json(405, { code: "MethodNotAllowed", description: `${req.method} ${path}` }, {
        Allow: allowed.join(", "),
      });
    }
    const endpoints = this.#routes.map((r) => r.pattern).join(", ");
    return json(404, { code: "NotFound", description: `no endpoint ${path}; try ${endpoints}` });
  }

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

  async #metrics(): Promise<Response> {
    const outcome = await this.#processes?.get();
    const families = [
      ...(outcome
        ? [
          supervisordUpFamily("processes" in outcome),
          ...processFamilies("processes" in outcome ? outcome.processes : []),
        ]
        : []),
      ...(this.#gauge && this.statsd ? workersFamilies(this.#gauge, this.statsd.counters) : []),
      ...checkFamilies(this.#suite.latest.values()),
    ];
    return new Response(renderMetrics(families), {
      headers: { "content-type": METRICS_CONTENT_TYPE },
    });
  }

  #environment(): Response {
    return json(200, environmentDump(this.settings.config.environment, this.settings.shown));
  }
}
