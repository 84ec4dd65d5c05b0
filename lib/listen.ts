/**
 * The event-listener loop every listener subcommand runs: validate before the
 * first event, then wire runners, notifiers, metrics and signals to
 * supervisord's events until it stops us. `runListener` is also the entry
 * point for checks set up in code.
 */
import type { CheckDefinition, ConfiguredCheck } from "./check.ts";
import { configureCheck, type ListenerSettings } from "./cli.ts";
import { ConfigFileError, UsageError } from "./errors.ts";
import { finisherIfAsked, guardRestarts } from "./finisher.ts";
import { guardStdout, runEventListener } from "./listener.ts";
import { type LogFormat, Logger } from "./log.ts";
import { describeJobs, runOnce } from "./try_out.ts";
import { METRICS, serveListenerMetrics } from "./metrics_server.ts";
import { combine, parseConfig } from "./option.ts";
import { LOG, POLICY } from "./settings.ts";
import { Notifier, NOTIFY } from "./notify.ts";
import { redact } from "./redact.ts";
import { Runner, type RunnerParts } from "./runner.ts";
import { ignoreSigusr1 } from "./sigusr1.ts";
import { ProcessSelector } from "./select.ts";
import { SupervisorClient, SupervisorConfigError } from "./supervisor.ts";
import { PROGRAM } from "./version.ts";
export { PROGRAM };

/**
 * Prints a start-up error naming the command, redacted (it may quote a
 * flag's value: a URL with a password); returns the exit status.
 */
export function reportUsageError(command: string, e: unknown): number {
  if (e instanceof UsageError || e instanceof SupervisorConfigError) {
    // line by line: a YAML error quotes the offending line under its message
    console.error(`${command}: error: ${e.message.split("\n").map((l) => redact(l)).join("\n")}`);
    // a config file's keys are documented in docs/configuration.md, not in --help
    console.error(
      e instanceof ConfigFileError
        ? `See ${e.reference} for the config keys.`
        : `Try '${command} --help'.`,
    );
    return 2;
  }
  throw e;
}

/** Makes this process ignore SIGUSR1 (lib/sigusr1.ts); a warning when that cannot be done. */
export function warnUnlessSigusr1Ignored(logger: Logger): void {
  const warning = ignoreSigusr1();
  if (warning) logger.warn(warning);
}

/** One independent check set of a listener: its settings and checks. */
export interface ListenerJob {
  settings: ListenerSettings;
  checks: ConfiguredCheck[];
  /** A shared probe, restart hooks, a reporter (httpok's); given the job's notifier. */
  parts?: (notifier: Notifier) => RunnerParts;
  /** What is checked, for the start-up line (default: the checks' names). */
  summary?: string;
}

/**
 * Validates everything that can be validated before the first event, then
 * runs the listener loop until supervisord stops it. `prepare` returns the
 * jobs (one per check set), or a help text to print.
 */
export async function listen(
  command: string,
  prepare: () => Promise<ListenerJob[] | string> | ListenerJob[] | string,
): Promise<number> {
  const finished = await finisherIfAsked();
  if (finished !== undefined) return finished;
  let runners: Runner[];
  let notifiers: Notifier[];
  const stopMetrics = new AbortController();
  let logger: Logger;
  /** --once: the output format */
  let once: LogFormat | undefined;
  try {
    const prepared = await prepare();
    if (typeof prepared === "string") {
      console.log(prepared);
      return 0;
    }
    const { log, mode } = prepared[0].settings;
    if (mode === "validate") {
      console.log(describeJobs(prepared, new Logger(prepared[0].settings.checkName)));
      return 0;
    }
    // the loop's own lines (signals, end of input) belong to the listener, not to one entry
    const name = prepared.length === 1 ? prepared[0].settings.checkName : "run";
    // --once prints its verdicts on stdout; the log keeps to what goes wrong
    const level = mode === "once" && log.level === "info" ? "warn" : log.level;
    if (mode === "once") once = log.format;
    logger = new Logger(name, level, undefined, log.format);
    // --once restarts nothing, so it needs no finisher
    if (mode !== "once") guardRestarts(logger, log.format);
    const client = SupervisorClient.fromEnv();
    notifiers = [];
    runners = prepared.map(({ settings, checks, parts, summary }) => {
      const jobLogger = logger.named(settings.checkName);
      const notifier = new Notifier(settings.notify, jobLogger);
      notifiers.push(notifier);
      const seams = parts?.(notifier);
      if (mode === "once") return new Runner(settings, checks, client, jobLogger, undefined, seams);
      jobLogger.info(
        `listening: ${summary ?? `${checks.map((c) => c.definition.name).join("+")} check`} of ` +
          `${settings.selector.describe()} via ${client.display}` +
          (settings.interval ? `, every ${settings.interval}s` : ", on TICK events") +
          (settings.dryRun ? ", DRY RUN (nothing is restarted)" : "") +
          (notifier.enabled ? `, notifying ${notifier.describe()}` : ""),
      );
      return new Runner(settings, checks, client, jobLogger, notifier, seams);
    });
    const { metrics } = prepared[0].settings;
    if (metrics && mode !== "once") serveListenerMetrics(metrics, logger, stopMetrics.signal);
  } catch (e) {
    return reportUsageError(command, e);
  }
  if (once !== undefined) return await runOnce(runners, once);
  guardStdout();
  warnUnlessSigusr1Ignored(logger);
  // SIGUSR2 only: see lib/sigusr1.ts for SIGUSR1
  const dumpState = () => runners.forEach((r) => r.dumpState());
  Deno.addSignalListener("SIGUSR2", dumpState);
  for (const r of runners) r.start();
  try {
    return await runEventListener({
      onEvent(event) {
        if (event.eventName.startsWith("TICK_")) {
          for (const r of runners) r.trigger(event.eventName);
        } else logger.debug(`ignoring ${event.eventName} event`);
      },
      async stop() {
        await Promise.all(runners.map((r) => r.stop()));
        await Promise.all(notifiers.map((n) => n.flush()));
      },
    }, logger);
  } finally {
    Deno.removeSignalListener("SIGUSR2", dumpState);
    stopMetrics.abort();
  }
}

export interface ListenerSpec {
  /** Name shown in every log line (the original's check name). */
  checkName: string;
  /** Process group to check (the original's second argument)… */
  group?: string;
  /** …or one process, `name` or `group:name` (overrides group). */
  processName?: string;
  /** Check kinds with their options under their config keys, as in complex. */
  checks: [CheckDefinition, Record<string, unknown>][];
  /**
   * Behaviour under the config keys of `run --config`: interval,
   * failure_threshold, max_restarts, dry_run, email, webhook, log_format, verbose,
   * metrics_listen, …
   */
  behaviour?: Record<string, unknown>;
}

/**
 * Runs checks as a listener from code, the way the original's
 * `CheckRunner('example_check', 'group', [(ExampleCheck, {})]).run()` does:
 *
 *   Deno.exit(await runListener({ checkName: "example_check", group: "workers",
 *     checks: [[exampleCheck, {}]] }));
 */
export function runListener(spec: ListenerSpec): Promise<number> {
  return listen(`${PROGRAM} (${spec.checkName})`, () => {
    if (spec.checkName.trim() === "") throw new UsageError("checkName must not be empty");
    const { policy, notify, log, metrics } = parseConfig(
      combine({ policy: POLICY, notify: NOTIFY, log: LOG, metrics: METRICS }),
      spec.behaviour ?? {},
      "behaviour",
    );
    return [{
      settings: {
        checkName: spec.checkName,
        selector: ProcessSelector.fromFlags(spec.group, spec.processName),
        ...policy,
        log,
        notify,
        metrics,
      },
      checks: spec.checks.map(([definition, options]) =>
        configureCheck(definition, options, "key")
      ),
    }];
  });
}
