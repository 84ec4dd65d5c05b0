/**
 * What every alert program (crashmail, crashmailbatch, fatalmailbatch,
 * crashsms) shares beyond superlance's flags: the flags (selection by
 * group, BACKOFF loops, stderr lines, webhooks, log format, --validate)
 * and the start-up: help,
 * validation (exit 2 naming the flag), logger, supervisord client, the
 * event loop.
 */
import { UsageError } from "./errors.ts";
import { type HelpSection, renderHelp, SUPERVISOR_ENVIRONMENT } from "./help.ts";
import { reportUsageError, warnUnlessSigusr1Ignored } from "./listen.ts";
import { guardStdout, runEventListener } from "./listener.ts";
import { type LogFormat, Logger } from "./log.ts";
import { NOTIFY } from "./notify.ts";
import {
  choice,
  count,
  helpRows,
  list,
  nonEmpty,
  type Option,
  option,
  options,
  toggle,
  type Values,
} from "./option.ts";
import { parseProcessStateEvent } from "./process_events.ts";
import type { ListenerEvent } from "./protocol.ts";
import {
  type Alert,
  AlertClassifier,
  type AlertRules,
  AlertSelection,
  MAX_STDERR_LINES,
} from "./alerts.ts";
import { SupervisorClient } from "./supervisor.ts";

/** superlance's programs have no webhooks: lib/notify.ts's, said of alerts. */
const WEBHOOK = {
  webhook: {
    ...NOTIFY.spec.webhook,
    help: "POST every alert as JSON to this http(s) URL " +
      "(repeatable; visible in ps: prefer --webhook-env or --webhook-file).",
  },
  webhook_env: NOTIFY.spec.webhook_env,
  webhook_file: NOTIFY.spec.webhook_file,
};

/** The flags every alert program adds to superlance's (long forms only: superlance has the letters). */
export function alertOptions(stderrLines: number) {
  return options({
    group: list({
      metavar: "GROUP",
      help: "Alert only for processes of this supervisord group (repeatable; processes named " +
        "by program are alerted too).",
      parse: nonEmpty,
    }),
    backoff_alert: option({
      metavar: "TRIES",
      help: "Also alert when a process fails to start TRIES times in a row (a BACKOFF loop), " +
        "once per loop; add PROCESS_STATE_BACKOFF to events= (PROCESS_STATE has it).",
      parse: count(1),
    }),
    stderr_lines: option({
      metavar: "N",
      help: `Last lines of the process's stderr log to put in the alert (0: none; at most ` +
        `${MAX_STDERR_LINES}).`,
      parse: (raw) => {
        const n = count(0)(raw);
        if (n > MAX_STDERR_LINES) {
          throw new Error(`must be at most ${MAX_STDERR_LINES}, got '${n}'`);
        }
        return n;
      },
      default: stderrLines,
    }),
    ...WEBHOOK,
    log_format: option({
      metavar: "FORMAT",
      help: "text, or json (one object per line).",
      parse: choice<LogFormat>("text", "json"),
      default: "text" as LogFormat,
    }),
    validate: toggle({
      help: "Check the flags, print what would run and exit 0 (or 2); supervisord is not asked.",
    }),
    help: toggle({ short: "h", help: "Show this help and exit." }),
  });
}

export type AlertValues = Values<ReturnType<typeof alertOptions>["spec"]>;

/** What the shared flags come to. */
export interface AlertSettings {
  /** Processes named by program (the program's own -p/--program) and by --group. */
  selection: AlertSelection;
  backoffTries?: number;
  stderrLines: number;
  webhook: string[];
  logFormat: LogFormat;
  validate: boolean;
}

/** The shared flags' values (with the program's own selection) → settings; UsageError names the flag. */
export function alertSettings(
  v: AlertValues,
  programs: string[],
  any: boolean,
): AlertSettings {
  return {
    selection: new AlertSelection(programs, v.group, any),
    ...(v.backoff_alert === undefined ? {} : { backoffTries: v.backoff_alert }),
    stderrLines: v.stderr_lines,
    // the URLs of the env and file forms are read and checked by their parsers
    webhook: [...v.webhook, ...v.webhook_env, ...v.webhook_file],
    logFormat: v.log_format,
    validate: v.validate,
  };
}

/** Help sections from option groups: `[title, spec]` pairs parsed together. */
export function helpSections(groups: [string, Record<string, Option<unknown>>][]): HelpSection[] {
  const rows = helpRows(groups.map(([, spec]) => spec));
  return groups.map(([title], i) => ({
    title,
    rows: rows[i],
  }));
}

/** --help of an alert program. */
export function alertHelp(
  command: string,
  description: string,
  sections: HelpSection[],
  examples: string[],
  environment: [string, string][] = [],
): string {
  return renderHelp(command, description, sections, {
    examples,
    environment: [
      ...SUPERVISOR_ENVIRONMENT,
      ...environment,
    ],
  });
}

/** What an alert program does with the alerts and TICKs it is given. */
export interface AlertSink {
  alert(alert: Alert): void;
  tick?(eventName: string): void;
  stop(): Promise<void>;
}

/** A parsed command line: what to print, or what to run. */
export interface PreparedAlerts {
  settings: AlertSettings;
  rules: AlertRules;
  /** The log's name (the program's). */
  name: string;
  /** One line: what it alerts on, and where it sends. */
  describe(): string;
  /** Starts the program's machinery (after validation; stdout guarded). */
  start(logger: Logger, client: SupervisorClient): AlertSink;
}

/**
 * Runs an alert program: --help, --validate, or the listener until
 * supervisord stops it. Every event is acknowledged at once; the sink's
 * deliveries run in its background. Resolves to the exit status (2 for bad
 * flags, naming the flag).
 */
export async function runAlertCommand(
  command: string,
  prepare: () => PreparedAlerts | string,
): Promise<number> {
  let prepared: PreparedAlerts;
  let logger: Logger;
  let client: SupervisorClient;
  try {
    const p = prepare();
    if (typeof p === "string") {
      console.log(p);
      return 0;
    }
    prepared = p;
    if (prepared.settings.validate) {
      // the closing line every --validate prints
      console.log(`${prepared.name}: ${prepared.describe()}\nOK: valid`);
      return 0;
    }
    logger = new Logger(prepared.name, "info", undefined, prepared.settings.logFormat);
    client = SupervisorClient.fromEnv();
  } catch (e) {
    return reportUsageError(command, e);
  }
  guardStdout();
  warnUnlessSigusr1Ignored(logger);
  const selection = prepared.settings.selection;
  const classifier = new AlertClassifier(prepared.rules);
  const sink = prepared.start(logger, client);
  logger.info(
    `listening to supervisord at ${client.display}: ${prepared.describe()} ` +
      `(needs events=${classifier.events().join(",")}${sink.tick ? ",TICK_…" : ""})`,
  );
  return await runEventListener({
    onEvent(event: ListenerEvent) {
      if (event.eventName.startsWith("TICK_")) {
        sink.tick?.(event.eventName);
        return;
      }
      let e;
      try {
        e = parseProcessStateEvent(event.eventName, event.payload);
      } catch (err) {
        logger.warn((err as Error).message);
        return;
      }
      if (e === undefined) {
        logger.debug(`ignoring ${event.eventName} event`);
        return;
      }
      if (!selection.matches(e)) return;
      const kind = classifier.classify(e);
      if (kind) sink.alert({ kind, event: e, time: new Date() });
    },
    stop: () => sink.stop(),
  }, logger);
}

/** `a@x, b@y` → addresses, each checked; UsageError names `flag`. */
export function addressList(raw: string, flag: string, pattern: RegExp): string[] {
  const addresses = raw.split(",").map((a) => a.trim()).filter(Boolean);
  if (addresses.length === 0) throw new UsageError(`${flag}: no mail address in '${raw}'`);
  for (const a of addresses) {
    if (!pattern.test(a)) {
      throw new UsageError(`${flag}: '${a}' is not a mail address like ops@example.com`);
    }
  }
  return addresses;
}
