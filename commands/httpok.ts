/**
 * `supervisor-checks httpok`: superlance's httpok, flag for flag.
 *
 * On every TICK_* event: GET one URL; a timeout, a connection error, an
 * unexpected status or a body lacking the -b text counts as a failure, and
 * the selected programs (-p, or -a: every RUNNING child but this listener)
 * that are RUNNING are restarted, after an optional core dump (-g/-d). A
 * report of what was wrong and what was done is logged, mailed (-m) and
 * POSTed to webhooks (--webhook) through lib/notify.ts.
 *
 * Beyond the original: -c takes lists and ranges, --fail-body,
 * --restart-command, --webhook, -v; this listener is never restarted; the
 * check runs in the background and rounds never overlap.
 *
 * The shared listener policy too (lib/settings.ts, lib/policy.ts), long
 * forms only since the short ones keep superlance's meaning: --interval,
 * --failure-threshold, --success-threshold, --start-grace, --max-restarts
 * with --restart-window, --dry-run, --revive, --max-parallel-restarts,
 * --log-format, -q, and a state dump on SIGUSR2. A ProcessTracker
 * per program counts the URL verdicts of its life (its pid) and keeps its
 * restart budget; one more tracks the URL itself, so that a tolerated
 * failure is logged but not mailed. Their defaults are the original's
 * behaviour: act on every TICK, restart on the first failure, mail every
 * failed check.
 */
import { join } from "node:path";
import { parseStatusList } from "../checks/http.ts";
import { namespec, type ProcessInfo } from "../lib/check.ts";
import { behaviourFrom, renderHelp } from "../lib/cli.ts";
import { SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { HELP_EXAMPLES } from "./examples.ts";
import { DeadlineError, scanFor } from "../lib/bounded_read.ts";
import { PROGRAM, reportUsageError, warnUnlessSigusr1Ignored } from "../lib/listen.ts";
import { UsageError } from "../lib/errors.ts";
import { finisherIfAsked, guardRestarts } from "../lib/finisher.ts";
import { guardStdout, runEventListener } from "../lib/listener.ts";
import { type Level, type LogFields, Logger } from "../lib/log.ts";
import { describeFetchError, fetchUrlProblem, requestRefused } from "../lib/net.ts";
import {
  DEFAULT_SENDMAIL,
  displayUrl,
  Notifier,
  type NotifyOptions,
  type RestartReport,
  splitCommandLine,
} from "../lib/notify.ts";
import { resolveSecret } from "../lib/options.ts";
import { redact } from "../lib/redact.ts";
import { recordVerdict } from "../lib/metrics.ts";
import {
  type MetricsListen,
  parseMetricsListen,
  serveListenerMetrics,
} from "../lib/metrics_server.ts";
import { type OnceProcess, type OnceRound, renderOnce } from "../lib/once.ts";
import { RoundScheduler } from "../lib/schedule.ts";
import { describeRestarts, describeStreak, ProcessTracker } from "../lib/policy.ts";
import {
  countRestart,
  needsRevival,
  restartProcess,
  type RestartResult,
  reviveProcess,
} from "../lib/restart.ts";
import { type LogSettings, type PolicySettings } from "../lib/settings.ts";
import {
  legacyRows,
  LOG_OPTIONS,
  METRICS_OPTIONS,
  NOTIFY_OPTIONS,
  ONCE_OPTION,
  type OptionSpec,
  parseFlags,
  parseNotifyOptions,
  POLICY_OPTIONS,
  seconds,
} from "../lib/legacy_options.ts";
import { type CommandResult, describeCommandResult, runCommand } from "../lib/subprocess.ts";
import { STATE_RUNNING, SupervisorClient, SupervisorFault } from "../lib/supervisor.ts";
import { VERSION } from "../lib/version.ts";

const DEFAULT_GCORE = "/usr/bin/gcore -o";
const DEFAULT_TIMEOUT = 10;
/** Time allowed for the gcore program and for --restart-command. */
export const EXTERNAL_COMMAND_TIMEOUT_MS = 300_000;

const OPTIONS: OptionSpec[] = [
  {
    key: "program",
    long: "program",
    short: "p",
    type: "string",
    multiple: true,
    metavar: "NAME",
    help: "Restart this supervisord program, `name` (in any group) or `group:name`, " +
      "when the URL check fails, if it is RUNNING (repeatable).",
  },
  {
    key: "any",
    long: "any",
    short: "a",
    type: "boolean",
    help: "Restart every RUNNING child of supervisord except this listener; overrides -p.",
  },
  {
    key: "timeout",
    long: "timeout",
    short: "t",
    type: "string",
    metavar: "SECONDS",
    help: "Time allowed for the response, body included.",
    defaultText: String(DEFAULT_TIMEOUT),
  },
  {
    key: "code",
    long: "code",
    short: "c",
    type: "string",
    multiple: true,
    metavar: "CODE",
    help: "Expected HTTP status (repeatable; lists and ranges too: 200,204 or 200-299). " +
      "Redirects are not followed.",
    defaultText: "200",
  },
  {
    key: "body",
    long: "body",
    short: "b",
    type: "string",
    metavar: "TEXT",
    help: "Text the response body must contain.",
  },
  {
    key: "fail_body",
    long: "fail-body",
    type: "string",
    multiple: true,
    metavar: "TEXT",
    help: "Fail when the response body contains TEXT (repeatable).",
  },
  {
    key: "email",
    long: "email",
    short: "m",
    type: "string",
    multiple: true,
    metavar: "ADDR",
    help: "Mail a report to ADDR whenever the check fails (repeatable). No mail without it.",
  },
  {
    key: "sendmail_program",
    long: "sendmail_program",
    short: "s",
    type: "string",
    metavar: "CMD",
    help: "Command that reads a mail message (headers included) on stdin and sends it.",
    defaultText: `"${DEFAULT_SENDMAIL}"`,
  },
  ...NOTIFY_OPTIONS.filter((o) => o.key.startsWith("webhook") || o.key.startsWith("smtp_")),
  {
    key: "gcore",
    long: "gcore",
    short: "g",
    type: "string",
    metavar: "CMD",
    help: "Program writing a core file, given a file name and a pid; used with -d.",
    defaultText: `"${DEFAULT_GCORE}"`,
  },
  {
    key: "coredir",
    long: "coredir",
    short: "d",
    type: "string",
    metavar: "DIR",
    help: "Before restarting a process, run `<gcore> DIR/group:name PID` and report its output.",
  },
  {
    key: "eager",
    long: "eager",
    short: "e",
    type: "boolean",
    help: "Check the URL (and act, and mail) even when none of the programs is RUNNING.",
    defaultText: "on",
  },
  {
    key: "not_eager",
    long: "not-eager",
    short: "E",
    type: "boolean",
    help: "Do not check the URL while none of the programs is RUNNING.",
  },
  {
    key: "name",
    long: "name",
    short: "n",
    type: "string",
    metavar: "NAME",
    help: "Name of this httpok: in every log line and in the mail subject (httpok [NAME]: …).",
  },
  {
    key: "url_env",
    long: "url-env",
    type: "string",
    metavar: "NAME",
    help: "Instead of the URL argument, the URL from environment variable NAME (keeps a " +
      "password in it out of ps).",
  },
  {
    key: "url_file",
    long: "url-file",
    type: "string",
    metavar: "PATH",
    help: "Instead of the URL argument, the URL from a file (one trailing newline dropped).",
  },
  {
    key: "restart_command",
    long: "restart-command",
    type: "string",
    metavar: "CMD",
    help: "Restart with CMD (run by /bin/sh -c, environment HTTPOK_PROCESS=group:name and " +
      "HTTPOK_PID) instead of supervisord's stopProcess/startProcess.",
  },
  {
    key: "verbose",
    long: "verbose",
    short: "v",
    type: "boolean",
    help: "Log every check result, not only failures.",
  },
  ONCE_OPTION,
  { key: "help", long: "help", short: "h", type: "boolean", help: "Show this help and exit." },
];

/**
 * The policy and log flags every listener shares. They have long forms only,
 * apart from -v/--verbose, which httpok already has, and -q/--quiet, which
 * collides with none of superlance's letters.
 */
export const HTTPOK_POLICY_OPTIONS: OptionSpec[] = [
  ...POLICY_OPTIONS,
  ...LOG_OPTIONS.filter((o) => o.key !== "verbose"),
  ...METRICS_OPTIONS,
];

/** Validated httpok settings. */
export interface HttpokConfig {
  url: URL;
  /** The URL for messages, its password (if any) hidden. */
  display: string;
  programs: string[];
  any: boolean;
  /** Seconds. */
  timeout: number;
  codes: { accepts: (status: number) => boolean; text: string };
  body?: string;
  failBody: string[];
  gcore: string[];
  coredir?: string;
  eager: boolean;
  name?: string;
  restartCommand?: string;
  notify: NotifyOptions;
  verbose: boolean;
  /** Timing, thresholds, budget, dry run, revival: the defaults keep the original's behaviour. */
  policy: PolicySettings;
  log: LogSettings;
  /** --once: one URL check now, printed; nothing restarted. */
  once: boolean;
  metrics?: MetricsListen;
}

function strings(value: unknown): string[] {
  return value === undefined ? [] : (value as string[]);
}

/** The URL argument, or --url-env / --url-file. */
function parseUrl(positionals: string[], values: Record<string, unknown>): URL {
  if (positionals.length > 1) {
    throw new UsageError(
      `give exactly one URL, got ${positionals.length}: ${positionals.join(" ")}`,
    );
  }
  const labels = { inline: "URL", env: "--url-env", file: "--url-file" };
  const given = resolveSecret({
    inline: positionals[0],
    env: values.url_env as string | undefined,
    file: values.url_file as string | undefined,
  }, labels);
  if (given.error) throw new UsageError(`${labels[given.error.source]}: ${given.error.message}`);
  if (given.value === undefined) {
    throw new UsageError("URL is required (the address to GET; or --url-env, --url-file)");
  }
  const text = given.value.trim();
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // reported below
  }
  if (url?.protocol !== "http:" && url?.protocol !== "https:") {
    const what = positionals.length ? `'${text}'` : "the URL read";
    throw new UsageError(`URL: ${what} is not an http:// or https:// URL`);
  }
  const problem = fetchUrlProblem(url);
  if (problem) throw new UsageError(`URL: ${problem}`);
  return url;
}

function parsePrograms(names: string[]): string[] {
  for (const name of names) {
    const parts = name.split(":");
    if (parts.length > 2 || parts.some((p) => p.trim() === "")) {
      throw new UsageError(`-p/--program: '${name}' is not a program name (name or group:name)`);
    }
  }
  return names;
}

/** argv → settings, or "help". Throws UsageError naming the flag at fault. */
export function parseHttpokArgs(argv: string[]): HttpokConfig | "help" {
  const { values, positionals } = parseFlags([...OPTIONS, ...HTTPOK_POLICY_OPTIONS], argv, true);
  if (values.help) return "help";
  const url = parseUrl(positionals, values);

  const timeout = seconds(DEFAULT_TIMEOUT).safeParse(values.timeout);
  if (!timeout.success) {
    throw new UsageError(`-t/--timeout: ${timeout.error.issues[0].message}`);
  }
  const codeText = strings(values.code).join(",") || "200";
  let codes: HttpokConfig["codes"];
  try {
    codes = parseStatusList(codeText);
  } catch (e) {
    throw new UsageError(`-c/--code: ${(e as Error).message}`);
  }
  if (values.eager && values.not_eager) {
    throw new UsageError("give only one of -e/--eager and -E/--not-eager");
  }
  const name = values.name as string | undefined;
  if (name !== undefined && name.trim() === "") throw new UsageError("-n/--name: is empty");
  const body = values.body as string | undefined;
  if (body === "") throw new UsageError("-b/--body: is empty");
  const failBody = strings(values.fail_body);
  if (failBody.includes("")) throw new UsageError("--fail-body: is empty");

  let gcore: string[];
  try {
    gcore = splitCommandLine((values.gcore as string | undefined) ?? DEFAULT_GCORE);
  } catch (e) {
    throw new UsageError(`-g/--gcore: ${(e as Error).message}`);
  }
  const coredir = values.coredir as string | undefined;
  if (coredir !== undefined) {
    let isDirectory = false;
    try {
      isDirectory = Deno.statSync(coredir).isDirectory;
    } catch {
      // reported below
    }
    if (!isDirectory) throw new UsageError(`-d/--coredir: '${coredir}' is not a directory`);
  }
  const restartCommand = values.restart_command as string | undefined;
  if (restartCommand !== undefined && restartCommand.trim() === "") {
    throw new UsageError("--restart-command: is empty");
  }
  const notify = parseNotifyOptions(values, OPTIONS);
  // only the policy and log keys: the notification flags are httpok's own (-m, -s)
  const behaviour = behaviourFrom(
    Object.fromEntries(
      [...HTTPOK_POLICY_OPTIONS, ...OPTIONS.filter((o) => o.key === "verbose")]
        .filter((o) => values[o.key] !== undefined)
        .map((o) => [o.key, values[o.key]]),
    ),
  );
  return {
    url,
    display: displayUrl(url),
    programs: parsePrograms(strings(values.program)),
    any: Boolean(values.any),
    timeout: timeout.data,
    codes,
    body,
    failBody,
    gcore,
    coredir,
    eager: !values.not_eager,
    name,
    restartCommand,
    notify,
    verbose: Boolean(values.verbose),
    policy: behaviour.policy,
    log: behaviour.log,
    once: Boolean(values.once),
    metrics: parseMetricsListen(values.metrics_listen, values.metrics_allow_remote),
  };
}

/** The outcome of one GET: what was wrong, as the original words it. */
interface UrlCheck {
  ok: boolean;
  /** Which subject the mail gets: `bad status returned` or `bad body returned`. */
  bad: "status" | "body";
  message: string;
  /** Set when the request itself was refused (configuration): never a restart. */
  unknown?: boolean;
}

/** This listener's own identity (SUPERVISOR_PROCESS_NAME / SUPERVISOR_GROUP_NAME). */
interface Self {
  name?: string;
  group?: string;
}

/** Signals that write the state to the log, as every listener's (lib/listen.ts). */

const nowSeconds = () => Date.now() / 1000;

/** What one round has done so far, for --max-parallel-restarts and --revive. */
interface Round {
  /** Restarts and revivals (done or, in a dry run, decided) per group this round. */
  perGroup: Map<string, number>;
  /** Programs --revive started this round: not judged by its URL check. */
  revived: Set<string>;
}

/**
 * What a failed round does about one target, decided (thresholds, grace,
 * budget, parallel limit) before anything is done.
 */
type Plan =
  | { kind: "self" }
  | { kind: "not-running" }
  | { kind: "revived" }
  | { kind: "grace"; age: number }
  | { kind: "waiting"; failures: number }
  | { kind: "suppressed"; first: boolean }
  | { kind: "deferred"; busy: number }
  | { kind: "restart" };

/**
 * A deliberate wait: a threshold not reached, a start grace, a suppression
 * already reported, a revival under way. A failed round whose targets all
 * wait is logged, not mailed: the failure is being tolerated.
 */
function waits(plan: Plan): boolean {
  return plan.kind === "revived" || plan.kind === "grace" || plan.kind === "waiting" ||
    (plan.kind === "suppressed" && !plan.first);
}

type Write = (line: string, level?: Level, fields?: LogFields) => void;

/** `bad status` / `bad body` URL checks and what follows them, one round per TICK (or --interval). */
class Httpok {
  #skipping = false;
  readonly #shutdown = new AbortController();
  readonly #scheduler: RoundScheduler<void>;
  readonly #check: string;
  readonly #prefix: string;
  readonly #host = Deno.hostname();
  /** The URL's own streak: reports (mail, webhook) wait for --failure-threshold failures. */
  readonly #url: ProcessTracker;
  /** Per program (`group:name`): streak of its life, restart budget, suppression. */
  readonly #trackers = new Map<string, ProcessTracker>();

  constructor(
    private readonly config: HttpokConfig,
    private readonly client: SupervisorClient,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly self: Self,
  ) {
    this.#check = config.name ?? "httpok";
    this.#prefix = config.name === undefined ? "httpok" : `httpok [${config.name}]`;
    this.#url = new ProcessTracker(config.policy.policy);
    this.#scheduler = new RoundScheduler(
      config.policy.interval,
      logger,
      () =>
        this.#round(this.#shutdown.signal).catch((e) =>
          this.logger.error(`round failed: ${(e as Error)?.message ?? e}`)
        ),
    );
  }

  /** What this listener does, for the start-up log line. */
  describe(): string {
    const c = this.config;
    const expect = [`status ${c.codes.text}`];
    if (c.body !== undefined) expect.push(`body containing ${JSON.stringify(c.body)}`);
    for (const s of c.failBody) expect.push(`body without ${JSON.stringify(s)}`);
    const targets = c.any
      ? "every RUNNING process but this listener"
      : c.programs.join(", ") || "nothing (no -p or -a: failures are only reported)";
    const when = c.policy.interval === undefined ? "on TICK events" : `every ${c.policy.interval}s`;
    return `GET ${c.display} ${when}, expecting ${expect.join(", ")} within ` +
      `${c.timeout}s${c.eager ? "" : " (not eager)"}; on failure restart ${targets}` +
      this.#describeLimits() +
      `${c.restartCommand !== undefined ? " with --restart-command" : ""}` +
      `${c.coredir !== undefined ? `, core files to ${c.coredir}` : ""}` +
      (c.policy.revive ? "; reviving FATAL and failed EXITED programs" : "") +
      (c.policy.dryRun ? "; DRY RUN (nothing is restarted)" : "") +
      "; " + this.notifier.describe();
  }

  /** The non-default restart limits, for describe(); empty with the defaults. */
  #describeLimits(): string {
    const s = this.config.policy;
    const { failureThreshold, successThreshold, maxRestarts, restartWindow } = s.policy;
    const limits: string[] = [];
    if (failureThreshold > 1) limits.push(`after ${failureThreshold} failed checks in a row`);
    if (successThreshold > 1) limits.push(`${successThreshold} passes ending a failure streak`);
    if (s.startGrace > 0) limits.push(`not within ${s.startGrace}s of its start`);
    if (maxRestarts !== undefined) {
      limits.push(`at most ${maxRestarts} times per program within ${restartWindow}s`);
    }
    if (s.maxParallelRestarts !== undefined) {
      limits.push(`at most ${s.maxParallelRestarts} per group per round`);
    }
    return limits.length ? ` (${limits.join(", ")})` : "";
  }

  /** Starts the own timer when --interval is set. */
  start() {
    this.#scheduler.start();
  }

  /** A TICK event or the timer: a round, unless one is running (see RoundScheduler). */
  trigger(reason: string): void {
    if (this.#shutdown.signal.aborted) return;
    void this.#scheduler.trigger(reason);
  }

  /**
   * Aborts a GET in flight; a restart under way ends as soon as the finisher
   * holds it (lib/restart.ts), and no other starts; notifications in flight
   * finish first.
   */
  async stop(): Promise<void> {
    this.#shutdown.abort();
    await this.#scheduler.stop();
    await this.notifier.flush();
  }

  #matches(p: ProcessInfo, program: string): boolean {
    return program.includes(":") ? namespec(p) === program : p.name === program;
  }

  #isSelf(p: ProcessInfo): boolean {
    return this.self.name !== undefined && p.name === this.self.name &&
      (this.self.group === undefined || p.group === this.self.group);
  }

  /** The selected programs, in any state: -a's every child but this listener, or -p's. */
  #selection(all: ProcessInfo[]): ProcessInfo[] {
    if (this.config.any) return all.filter((p) => !this.#isSelf(p));
    return all.filter((p) => this.config.programs.some((name) => this.#matches(p, name)));
  }

  /** The processes to restart on failure (not yet filtered by state). */
  #targets(all: ProcessInfo[]): ProcessInfo[] {
    const selected = this.#selection(all);
    return this.config.any ? selected.filter((p) => p.state === STATE_RUNNING) : selected;
  }

  /** Drops the state of programs no longer selected (removed from supervisord's config). */
  #forgetAllBut(all: ProcessInfo[]) {
    const present = new Set(this.#selection(all).map((p) => namespec(p)));
    for (const spec of this.#trackers.keys()) {
      if (!present.has(spec)) this.#trackers.delete(spec);
    }
  }

  #tracker(spec: string): ProcessTracker {
    let tracker = this.#trackers.get(spec);
    if (!tracker) {
      this.#trackers.set(spec, tracker = new ProcessTracker(this.config.policy.policy));
    }
    return tracker;
  }

  /**
   * Structured fields of a line about one program, in JSON logs only: text
   * lines name the program in the original's wording, and are mailed as such.
   */
  #fields(p: Pick<ProcessInfo, "group" | "name" | "pid">): LogFields {
    return this.config.log.format === "json"
      ? { process: namespec(p), pid: p.pid || undefined }
      : {};
  }

  #report(
    p: Pick<ProcessInfo, "group" | "name" | "pid">,
    reason: string,
    time: string,
    r: Pick<RestartReport, "outcome" | "detail">,
  ): RestartReport {
    return {
      check: this.#check,
      process: namespec(p),
      group: p.group,
      name: p.name,
      pid: p.pid,
      reason,
      time,
      host: this.#host,
      ...r,
    };
  }

  #footer(time: string): string {
    return `-- ${PROGRAM} ${VERSION} httpok on ${this.#host}, ${time}`;
  }

  /** Why a program over its --max-restarts budget is left alone. */
  #budgetText(tracker: ProcessTracker): string {
    const { maxRestarts, restartWindow } = this.config.policy.policy;
    return `already restarted ${tracker.restarts.length} times within ${restartWindow}s ` +
      `(--max-restarts ${maxRestarts}); resuming when the URL passes again or the window ` +
      "moves on";
  }

  /**
   * --once: the URL checked now (unless -E and none of the programs runs),
   * its verdict given to every selected program that is RUNNING, or to the
   * URL alone without -p/-a; nothing restarted, revived or mailed.
   */
  async once(): Promise<OnceRound> {
    const check = this.#check;
    let all: ProcessInfo[];
    try {
      all = await this.client.getAllProcessInfo();
    } catch (e) {
      return { check, error: (e as Error).message, processes: [] };
    }
    const { programs, any, eager } = this.config;
    const selected = this.#selection(all);
    const running = selected.filter((p) => p.state === STATE_RUNNING);
    const missing = programs.filter((name) => !all.some((p) => this.#matches(p, name)));
    const nothingSelected = missing.length > 0
      ? `-p ${missing.join(", ")}`
      : any && selected.length === 0
      ? "-a (no process but this listener)"
      : undefined;
    let results: OnceProcess["results"] = [];
    if (eager || running.length > 0) {
      const started = performance.now();
      const r = (await this.#get(this.#shutdown.signal))!;
      results = [{
        check: "url",
        status: r.ok ? "healthy" : "unhealthy",
        message: r.message,
        attempts: 1,
        durationMs: Math.round(performance.now() - started),
      }];
    }
    const url = { name: this.config.display, group: "", pid: 0, state: 0, statename: "", start: 0 };
    const processes = selected.length === 0
      ? [{ check, process: { ...url, statename: "RUNNING" }, results }]
      : selected.map((p) => ({
        check,
        process: p,
        results: p.state === STATE_RUNNING ? results : [],
      }));
    return { check, nothingSelected, processes };
  }

  async #round(signal: AbortSignal): Promise<void> {
    const round: Round = { perGroup: new Map(), revived: new Set() };
    const { eager } = this.config;
    const { revive } = this.config.policy;
    /** The process list at the start of the round, when --revive or -E needs it. */
    let all: ProcessInfo[] | undefined;
    if (revive || !eager) {
      try {
        all = await this.client.getAllProcessInfo();
      } catch (e) {
        const what = eager ? "nothing revived" : "URL not checked";
        this.logger.error(`${(e as Error).message}; ${what} this round`);
        if (!eager) return;
      }
      if (all !== undefined) this.#forgetAllBut(all);
      if (all !== undefined && revive) await this.#revive(all, round);
      if (all !== undefined && !eager && !this.#anyTargetRunning(all)) return;
    }
    const started = performance.now();
    const result = await this.#get(signal);
    if (result === undefined) return;
    const durationMs = Math.round(performance.now() - started);
    recordVerdict(
      "url",
      result.unknown ? "unknown" : result.ok ? "healthy" : "unhealthy",
      durationMs,
    );
    if (result.unknown) {
      this.logger.error(`${result.message}; nothing restarted`, { verdict: "unknown", durationMs });
      return;
    }
    const now = nowSeconds();
    this.#url.observe(result.ok ? "healthy" : "unhealthy", result.message, now);
    if (result.ok) {
      this.logger.debug(result.message, { verdict: "healthy", durationMs });
      this.#passed(result.message, now, all);
      return;
    }
    // every program's suppression already said (at ERROR): the failure is no news
    const known = this.#trackers.size > 0 &&
      [...this.#trackers.values()].every((t) => t.suppressed);
    this.logger.log(known ? "debug" : "warn", result.message, {
      verdict: "unhealthy",
      reason: `bad ${result.bad}`,
      durationMs,
    });
    await this.#act(result, new Date().toISOString(), round);
  }

  /**
   * The URL passed: a pass for every program judged so far (ending failure
   * streaks and suppressions), but, when the process list of this round is
   * at hand, only for those RUNNING: the URL says nothing of a FATAL one.
   */
  #passed(message: string, now: number, all?: ProcessInfo[]) {
    const running = all &&
      new Set(all.filter((p) => p.state === STATE_RUNNING).map((p) => namespec(p)));
    for (const [spec, tracker] of this.#trackers) {
      if (!running || running.has(spec)) tracker.observe("healthy", message, now);
    }
  }

  /** -E: is any target RUNNING? Logs the first skip at info, repeats at debug. */
  #anyTargetRunning(all: ProcessInfo[]): boolean {
    if (this.#targets(all).some((p) => p.state === STATE_RUNNING && !this.#isSelf(p))) {
      this.#skipping = false;
      return true;
    }
    const { any, programs } = this.config;
    const names = any ? "the processes" : programs.join(", ") || "the programs (no -p given)";
    const line = `not eager (-E) and none of ${names} is RUNNING: URL not checked`;
    if (this.#skipping) {
      this.logger.debug(line);
    } else {
      this.logger.info(`${line} (repeats are logged with -v)`);
    }
    this.#skipping = true;
    return false;
  }

  /** GETs the URL; undefined when the listener is stopping. */
  async #get(signal: AbortSignal): Promise<UrlCheck | undefined> {
    const { url, display, timeout, codes, body, failBody } = this.config;
    const started = performance.now();
    const timer = AbortSignal.timeout(timeout * 1000);
    const both = AbortSignal.any([signal, timer]);
    const failure = (bad: UrlCheck["bad"], message: string) => ({ ok: false, bad, message });
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { "User-Agent": `httpok (supervisor-checks/${VERSION})` },
        redirect: "manual",
        signal: both,
      });
    } catch (e) {
      if (signal.aborted) return undefined;
      const refused = timer.aborted ? undefined : requestRefused(e);
      if (refused) {
        const message = `configuration error: GET ${display} refused: ${refused}`;
        return { ok: false, bad: "status", message, unknown: true };
      }
      const why = timer.aborted
        ? `no answer within ${timeout}s`
        : describeFetchError(e).replaceAll(url.href, display);
      return failure("status", `error contacting ${display}: ${why}`);
    }
    const status = `status contacting ${display}: ${response.status} ${response.statusText}`
      .trimEnd();
    if (!codes.accepts(response.status)) {
      await response.body?.cancel().catch(() => {});
      return failure("status", `${status} (expected ${codes.text})`);
    }
    // read to the end (the timeout covers the whole response), scanned
    // through a sliding window: never held whole
    let found: Set<string>;
    try {
      const needles = body === undefined ? failBody : [body, ...failBody];
      found = await scanFor(response.body, needles, started + timeout * 1000);
    } catch (e) {
      if (signal.aborted) return undefined;
      const why = timer.aborted || e instanceof DeadlineError
        ? `the body was not complete within ${timeout}s`
        : `reading the body failed: ${describeFetchError(e)}`;
      const bad = body !== undefined || failBody.length > 0 ? "body" : "status";
      return failure(bad, `${status}, but ${why}`);
    }
    if (body !== undefined && !found.has(body)) {
      return failure("body", `${status}, but the body lacks ${JSON.stringify(body)}`);
    }
    const unwanted = failBody.find((s) => found.has(s));
    if (unwanted !== undefined) {
      return failure("body", `${status}, but the body contains ${JSON.stringify(unwanted)}`);
    }
    return { ok: true, bad: "status", message: status };
  }

  /**
   * --revive: starts the selected programs that are FATAL or EXITED with a
   * failure status, whatever the URL says, within each one's restart budget
   * and the group's --max-parallel-restarts; mails and POSTs what was done.
   */
  async #revive(all: ProcessInfo[], round: Round): Promise<void> {
    const time = new Date().toISOString();
    const lines: string[] = [];
    const reports: RestartReport[] = [];
    const write: Write = (line, level = "warn", fields = {}) => {
      this.logger.log(level, line, fields);
      lines.push(redact(line)); // one mail line, as one log line
    };
    const { dryRun, maxParallelRestarts: limit } = this.config.policy;
    for (const p of this.#selection(all)) {
      if (!needsRevival(p)) continue;
      const spec = namespec(p);
      const fields = this.#fields(p);
      const was = p.statename === "EXITED" ? `EXITED with status ${p.exitstatus}` : p.statename;
      const report = (r: Pick<RestartReport, "outcome" | "detail">) =>
        reports.push(this.#report(p, `was ${was}`, time, r));
      const tracker = this.#tracker(spec);
      const now = nowSeconds();
      if (!tracker.withinBudget(now)) {
        const first = !tracker.suppressed;
        tracker.suppressed = true;
        const line = `${spec} is ${was}, NOT reviving: ${this.#budgetText(tracker)}`;
        countRestart(this.#check, p, "suppressed");
        if (first) {
          write(line, "error", fields);
          report({ outcome: "suppressed", detail: line });
        } else this.logger.debug(line, fields);
        continue;
      }
      const busy = round.perGroup.get(p.group) ?? 0;
      if (limit !== undefined && busy >= limit) {
        this.logger.warn(
          `${spec} is ${was}, revival deferred: ${busy} of group '${p.group}' restarted this ` +
            `round (--max-parallel-restarts ${limit})`,
          fields,
        );
        continue;
      }
      round.perGroup.set(p.group, busy + 1);
      round.revived.add(spec);
      tracker.recordRestart(now);
      if (dryRun) {
        write(
          `dry run: ${spec} is ${was}, would start it again (--revive); nothing done`,
          "warn",
          fields,
        );
        report({ outcome: "dry-run", detail: "would start it again" });
        countRestart(this.#check, p, "dry-run");
        continue;
      }
      write(`${spec} is ${was}, starting it again (--revive)`, "warn", fields);
      const r = await reviveProcess(this.client, p, this.#check);
      if (r.outcome === "restarted") {
        const pid = r.newPid !== undefined ? `; new pid ${r.newPid}` : "";
        write(`${spec} revived (${r.detail}${pid})`, "warn", fields);
      } else if (r.outcome === "skipped") {
        write(`${spec} NOT revived: ${r.detail}`, "warn", fields);
      } else {
        write(`${spec} revival failed: ${r.detail}`, "error", fields);
      }
      report({ outcome: r.outcome, detail: r.detail });
    }
    if (reports.length === 0) return;
    lines.push("", this.#footer(time));
    const names = [...new Set(reports.map((r) => r.process))].join(", ");
    void this.notifier.send({
      subject: `${this.#prefix}: ${this.config.display}: reviving ${names}`,
      body: lines.join("\n"),
      reports,
    });
  }

  /**
   * What the failed round does about each target, in the targets' order:
   * thresholds, start grace and budget per program; then, per group, the
   * --max-parallel-restarts slots go to the longest-failing ones first (so a
   * program deferred once is not deferred for ever), the rest wait.
   */
  #plan(targets: ProcessInfo[], message: string, round: Round): Plan[] {
    const { startGrace, maxParallelRestarts: limit } = this.config.policy;
    const now = nowSeconds();
    const plans = targets.map((p): Plan => {
      if (this.#isSelf(p)) return { kind: "self" };
      if (p.state !== STATE_RUNNING) return { kind: "not-running" };
      const spec = namespec(p);
      if (round.revived.has(spec)) return { kind: "revived" };
      const tracker = this.#tracker(spec);
      tracker.observePid(p.pid);
      const age = now - p.start;
      if (age < startGrace) return { kind: "grace", age };
      const decision = tracker.observe("unhealthy", message, now);
      if (decision.action === "none") {
        return { kind: "waiting", failures: tracker.consecutiveFailures };
      }
      if (decision.action === "suppressed") return { kind: "suppressed", first: decision.first };
      return { kind: "restart" };
    });
    const failures = (i: number) => this.#tracker(namespec(targets[i])).consecutiveFailures;
    const candidates = plans.flatMap((plan, i) => plan.kind === "restart" ? [i] : [])
      .sort((a, b) => failures(b) - failures(a));
    for (const i of candidates) {
      const { group } = targets[i];
      const busy = round.perGroup.get(group) ?? 0;
      if (limit !== undefined && busy >= limit) {
        plans[i] = { kind: "deferred", busy };
        continue;
      }
      round.perGroup.set(group, busy + 1);
      this.#tracker(namespec(targets[i])).recordRestart(now);
    }
    return plans;
  }

  /**
   * Restarts the targets as planned, then mails and POSTs what was done.
   * A round where every target waits (threshold, grace, known suppression),
   * or where the URL has not yet failed --failure-threshold times in a row,
   * is logged only.
   */
  async #act(result: UrlCheck, time: string, round: Round): Promise<void> {
    const subject = `${this.#prefix}: ${this.config.display}: bad ${result.bad} returned`;
    const lines = [redact(result.message)];
    /** Logs a line and adds it to the mail, as the original's write(). */
    const write: Write = (line, level = "warn", fields = {}) => {
      this.logger.log(level, line, fields);
      lines.push(redact(line)); // one mail line, as one log line
    };
    const reports: RestartReport[] = [];
    const report = (
      p: Pick<ProcessInfo, "group" | "name" | "pid">,
      r: Pick<RestartReport, "outcome" | "detail">,
    ) => this.#report(p, result.message, time, r);
    let acted = false;
    let waiting = 0;

    let all: ProcessInfo[] | undefined;
    try {
      all = await this.client.getAllProcessInfo();
    } catch (e) {
      write(`cannot get the process list, not acting: ${(e as Error).message}`, "error");
    }
    if (all !== undefined) {
      const { programs, any } = this.config;
      this.#forgetAllBut(all);
      const targets = this.#targets(all);
      const plans = this.#plan(targets, result.message, round);
      waiting = plans.filter(waits).length;
      if (waiting === 0 || waiting < plans.length) {
        const would = this.config.policy.dryRun ? "dry run: would restart" : "Restarting";
        if (any) write(`${would} all running processes`);
        else if (programs.length) write(`${would} selected processes ${programs.join(", ")}`);
        else write("No programs to restart (no -p or -a)");
      }
      for (const [i, p] of targets.entries()) {
        const plan = plans[i];
        if (plan.kind === "restart" || (plan.kind === "suppressed" && plan.first)) acted = true;
        const outcome = await this.#carryOut(p, plan, write);
        if (outcome !== undefined) reports.push(report(p, outcome));
      }
      const missing = programs.filter((name) => !all.some((p) => this.#matches(p, name)));
      if (missing.length) {
        write(`Programs not restarted because they did not exist: ${missing.join(", ")}`);
        for (const name of missing) {
          const [group, process] = name.includes(":") ? name.split(":") : ["", name];
          reports.push({
            ...report({ group, name: process, pid: 0 }, { outcome: "not-found" }),
            process: name,
          });
        }
      }
    }
    const tolerated = waiting > 0 ||
      this.#url.consecutiveFailures < this.config.policy.policy.failureThreshold;
    if (!acted && tolerated) {
      this.logger.debug("nothing done this round: no report sent");
      return;
    }
    lines.push("", this.#footer(time));
    await this.notifier.send({ subject, body: lines.join("\n"), reports });
  }

  /** One target's part of a failed round; the report to send about it, if any. */
  async #carryOut(
    p: ProcessInfo,
    plan: Plan,
    write: Write,
  ): Promise<Pick<RestartReport, "outcome" | "detail"> | undefined> {
    const spec = namespec(p);
    const fields = this.#fields(p);
    switch (plan.kind) {
      case "self":
        write(`${spec} is this listener, NOT restarting`, "warn", fields);
        return { outcome: "skipped", detail: "this httpok listener itself" };
      case "not-running":
        write(`${spec} not in RUNNING state (${p.statename}), NOT restarting`, "warn", fields);
        return { outcome: "skipped", detail: `${p.statename}, not RUNNING` };
      case "revived":
        write(`${spec} was started by --revive this round, not judged yet`, "info", fields);
        return undefined;
      case "grace":
        write(
          `${spec} (pid ${p.pid}) RUNNING for ${plan.age.toFixed(1)}s only ` +
            `(--start-grace ${this.config.policy.startGrace}), NOT restarting yet`,
          "info",
          fields,
        );
        return undefined;
      case "waiting":
        write(
          `${spec} (pid ${p.pid}) failed ${plan.failures} of ` +
            `${this.config.policy.policy.failureThreshold} URL checks in a row, ` +
            "NOT restarting yet",
          "warn",
          fields,
        );
        return undefined;
      case "suppressed": {
        const line = `${spec} (pid ${p.pid}) NOT restarting: ` +
          this.#budgetText(this.#tracker(spec));
        write(line, plan.first ? "error" : "debug", fields);
        countRestart(this.#check, p, "suppressed");
        return plan.first ? { outcome: "suppressed", detail: line } : undefined;
      }
      case "deferred":
        write(
          `${spec} (pid ${p.pid}) restart deferred: ${plan.busy} of group '${p.group}' ` +
            `restarted this round (--max-parallel-restarts ` +
            `${this.config.policy.maxParallelRestarts}); waiting for a later round`,
          "warn",
          fields,
        );
        return undefined;
      case "restart":
        return await this.#restart(p, write);
    }
  }

  /** Core dump (with -d) and restart of one RUNNING target; reports the outcome. */
  async #restart(
    p: ProcessInfo,
    write: Write,
  ): Promise<Pick<RestartReport, "outcome" | "detail">> {
    const spec = namespec(p);
    const fields = this.#fields(p);
    if (this.config.policy.dryRun) {
      const how = (this.config.coredir !== undefined ? " after a core dump (gcore not run)" : "") +
        (this.config.restartCommand !== undefined ? " with --restart-command" : "");
      write(
        `dry run: ${spec} (pid ${p.pid}) is in RUNNING state, would restart it${how}; ` +
          "nothing done",
        "warn",
        fields,
      );
      countRestart(this.#check, p, "dry-run");
      return { outcome: "dry-run", detail: `would restart it${how}` };
    }
    if (this.#shutdown.signal.aborted) {
      write(`${spec} (pid ${p.pid}) NOT restarted: the listener is stopping`, "warn", fields);
      return { outcome: "skipped", detail: "the listener is stopping" };
    }
    const details: string[] = [];
    if (this.config.coredir !== undefined) {
      const output = await this.#gcore(p);
      write(`gcore output for ${spec} (pid ${p.pid}):\n\n${output}`, "info", fields);
      details.push(`gcore: ${output}`);
    }
    write(`${spec} (pid ${p.pid}) is in RUNNING state, restarting`, "warn", fields);
    const r = this.config.restartCommand !== undefined
      ? await this.#restartWithCommand(p, this.config.restartCommand)
      : await restartProcess(this.client, p, {
        owner: this.#check,
        signal: this.#shutdown.signal,
      });
    // restartProcess counts its own outcomes (lib/restart.ts)
    if (this.config.restartCommand !== undefined) countRestart(this.#check, p, r.outcome);
    if (r.outcome === "restarted") {
      const pid = r.newPid !== undefined ? `; new pid ${r.newPid}` : "";
      write(`${spec} restarted (${r.detail}${pid})`, "warn", fields);
    } else if (r.outcome === "skipped") {
      write(`${spec} NOT restarted: ${r.detail}`, "warn", fields);
    } else if (r.outcome === "handed-over") {
      write(`${spec} restart handed over: ${r.detail}`, "warn", fields);
    } else {
      write(`${spec} restart failed: ${r.detail}`, "error", fields);
    }
    details.push(r.detail);
    return { outcome: r.outcome, detail: details.join("\n") };
  }

  /** `<gcore…> <coredir>/<group:name> <pid>`, as superlance runs it; its output. */
  async #gcore(p: ProcessInfo): Promise<string> {
    const core = join(this.config.coredir!, namespec(p));
    const r = await runCommand([...this.config.gcore, core, String(p.pid)], {
      timeoutMs: EXTERNAL_COMMAND_TIMEOUT_MS,
    });
    return commandOutput(r) || "(no output)";
  }

  /** --restart-command, for a process still RUNNING with the pid that failed. */
  async #restartWithCommand(p: ProcessInfo, command: string): Promise<RestartResult> {
    const spec = namespec(p);
    try {
      const current = await this.client.getProcessInfo(spec);
      if (current.state !== STATE_RUNNING || current.pid !== p.pid) {
        return {
          outcome: "skipped",
          detail: `now ${current.statename} with pid ${current.pid}: changed since the check`,
        };
      }
    } catch (e) {
      // as restartProcess: a fault (BAD_NAME: it was removed) skips, no answer fails
      return {
        outcome: e instanceof SupervisorFault ? "skipped" : "failed",
        detail: `re-reading ${spec} failed: ${(e as Error).message}`,
      };
    }
    const r = await runCommand(["/bin/sh", "-c", command], {
      env: { HTTPOK_PROCESS: spec, HTTPOK_PID: String(p.pid) },
      timeoutMs: EXTERNAL_COMMAND_TIMEOUT_MS,
    });
    const output = commandOutput(r);
    return {
      outcome: r.code === 0 && !r.timedOut ? "restarted" : "failed",
      detail: `--restart-command ${describeCommandResult(r, EXTERNAL_COMMAND_TIMEOUT_MS)}` +
        (output ? `: ${output}` : ""),
    };
  }

  /** SIGUSR2: the URL's streak, then each program's streak, budget and suppression. */
  dumpState() {
    const now = nowSeconds();
    const { failureThreshold, restartWindow } = this.config.policy.policy;
    const streak = (t: ProcessTracker) => describeStreak(t.snapshot(), failureThreshold, "check");
    this.logger.info(`state: URL ${this.config.display}: ${streak(this.#url)}`);
    if (this.#trackers.size === 0) {
      this.logger.info("state: no program judged yet");
      return;
    }
    for (const [spec, tracker] of this.#trackers) {
      tracker.restartsInWindow(now);
      this.logger.info(
        `state: ${streak(tracker)}; ${describeRestarts(tracker.snapshot(), restartWindow)}`,
        { process: spec, pid: tracker.pid || undefined },
      );
    }
  }
}

/** stdout, then stderr (labelled), then the exit status when it failed. */
function commandOutput(r: CommandResult): string {
  const parts = [r.stdout.trimEnd()];
  if (r.stderr.trim()) parts.push(`stderr: ${r.stderr.trimEnd()}`);
  if (r.code !== 0) parts.push(`(${describeCommandResult(r, EXTERNAL_COMMAND_TIMEOUT_MS)})`);
  return parts.filter(Boolean).join("\n");
}

function httpokHelp(command: string): string {
  return renderHelp(
    command,
    "superlance's httpok as a supervisord event listener (events=TICK_60): on every TICK " +
      "event, GET URL; on a timeout, a connection error, an unexpected status or body, " +
      "restart the selected programs that are RUNNING, and mail/POST a report.",
    [
      { title: "httpok options", rows: legacyRows(OPTIONS) },
      {
        title: "Timing, thresholds, restart budget, logging and metrics (as every listener's; " +
          "long forms only, a 'round' being one URL check)",
        rows: legacyRows(HTTPOK_POLICY_OPTIONS),
      },
    ],
    {
      usage: "[options] URL",
      examples: HELP_EXAMPLES.httpok,
      environment: SUPERVISOR_ENVIRONMENT,
    },
  );
}

/** `supervisor-checks httpok …`: runs until supervisord stops it; resolves to the exit code. */
export async function runHttpokCommand(
  argv: string[],
  command = `${PROGRAM} httpok`,
): Promise<number> {
  const finished = await finisherIfAsked();
  if (finished !== undefined) return finished;
  let httpok: Httpok;
  let logger: Logger;
  const stopMetrics = new AbortController();
  try {
    const config = parseHttpokArgs(argv);
    if (config === "help") {
      console.log(httpokHelp(command));
      return 0;
    }
    // --once prints its verdict on stdout; the log keeps to what goes wrong
    const level = config.once && config.log.level === "info" ? "warn" : config.log.level;
    logger = new Logger(config.name ?? "httpok", level, undefined, config.log.format);
    // --once restarts nothing, so it needs no finisher
    if (!config.once) guardRestarts(logger, config.log.format);
    const client = SupervisorClient.fromEnv();
    httpok = new Httpok(config, client, new Notifier(config.notify, logger), logger, {
      name: Deno.env.get("SUPERVISOR_PROCESS_NAME"),
      group: Deno.env.get("SUPERVISOR_GROUP_NAME"),
    });
    if (config.once) {
      const started = performance.now();
      const outcome = renderOnce(
        [await httpok.once()],
        (performance.now() - started) / 1000,
        config.log.format,
      );
      await Deno.stdout.write(new TextEncoder().encode(outcome.output));
      return outcome.code;
    }
    logger.info(`listening to supervisord at ${client.display}: ${httpok.describe()}`);
    if (config.metrics) serveListenerMetrics(config.metrics, logger, stopMetrics.signal);
  } catch (e) {
    return reportUsageError(command, e);
  }
  guardStdout();
  warnUnlessSigusr1Ignored(logger);
  const dumpState = () => httpok.dumpState();
  Deno.addSignalListener("SIGUSR2", dumpState);
  httpok.start();
  try {
    return await runEventListener({
      onEvent(event) {
        if (event.eventName.startsWith("TICK_")) httpok.trigger(event.eventName);
        else logger.debug(`ignoring ${event.eventName} event`);
      },
      stop: () => httpok.stop(),
    }, logger);
  } finally {
    Deno.removeSignalListener("SIGUSR2", dumpState);
    stopMetrics.abort();
  }
}
