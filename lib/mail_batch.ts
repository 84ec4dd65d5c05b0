/**
 * superlance's batch mailers (its ProcessStateEmailMonitor: crashmailbatch,
 * fatalmailbatch, crashsms), parameterised by what a program alerts on and
 * how it words a line: superlance's flags with their meaning, the shared
 * alert flags (lib/alert_command.ts), and one message per interval and
 * channel (lib/alerts.ts BatchSender).
 */
import {
  addressList,
  alertHelp,
  alertOptions,
  alertSettings,
  helpSections,
  type PreparedAlerts,
  runAlertCommand,
} from "./alert_command.ts";
import {
  type Alert,
  AlertDetails,
  alertReport,
  type AlertRules,
  Batch,
  BATCH_REPORTS,
  BatchChannel,
  BatchSender,
  detailLines,
} from "./alerts.ts";
import { UsageError } from "./errors.ts";
import { resolveSecret } from "./options.ts";
import { type Notification, Notifier, type RestartReport } from "./notify.ts";
import {
  list,
  nonEmpty,
  option,
  OptionError,
  options,
  parseGroups,
  text,
  toggle,
  type Values,
} from "./option.ts";
import { tickSeconds } from "./process_events.ts";
import { describeSmtp, MAIL_ADDRESS, SMTP, type SmtpSettings } from "./smtp.ts";
import { MAX_SECONDS } from "./limits.ts";

/** What makes one batch program. */
export interface BatchProgram {
  name: string;
  description: string;
  /** What it alerts on besides BACKOFF loops (--backoff-alert). */
  rules: Pick<AlertRules, "crash" | "fatal">;
  /** The subject without --subject; undefined: no Subject header (crashsms). */
  defaultSubject?: string;
  /** --stderr-lines' default. */
  stderrLines: number;
  /** One alert's line, as the original words it. */
  line(alert: Alert): string;
  examples: string[];
}

function minutes(raw: unknown): number {
  const n = typeof raw === "number" ? raw : Number(text(raw).trim());
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`expected a number of minutes greater than 0, got '${raw}'`);
  }
  if (n * 60 > MAX_SECONDS) throw new Error(`must be at most ${MAX_SECONDS / 60} minutes (7 days)`);
  return n;
}

function tickEvent(raw: unknown): string {
  const name = text(raw).trim();
  if (tickSeconds(name) === undefined) {
    throw new Error(`expected a TICK event name (TICK_5, TICK_60, TICK_3600), got '${name}'`);
  }
  return name;
}

/** lib/smtp.ts's flags superlance lacks: TLS modes, a private CA, the time allowed. */
const SMTP_EXTRAS = {
  smtp_tls: SMTP.spec.smtp_tls,
  smtp_ca_file: SMTP.spec.smtp_ca_file,
  smtp_timeout: SMTP.spec.smtp_timeout,
};

function batchOptions(program: BatchProgram) {
  return options({
    toEmail: option({
      flag: "toEmail",
      short: "t",
      metavar: "ADDRS",
      help: "Send the alerts to these mail addresses, comma-separated (required).",
      parse: nonEmpty,
    }),
    fromEmail: option({
      flag: "fromEmail",
      short: "f",
      metavar: "ADDR",
      help: "Send the alerts from this address (required).",
      parse: SMTP.spec.smtp_from.parse,
    }),
    interval: option({
      short: "i",
      metavar: "MINUTES",
      help: "Batch interval in minutes: the alerts of each are sent as one message when the " +
        "--tickEvent events add up to it (fractions allowed; below the TICK's period, every TICK).",
      parse: minutes,
      default: 1,
      defaultText: "1.0",
    }),
    subject: option({
      short: "s",
      metavar: "TEXT",
      help: "Subject of the messages.",
      parse: text,
      defaultText: program.defaultSubject === undefined
        ? "none (no Subject header)"
        : `"${program.defaultSubject}"`,
    }),
    tickEvent: option({
      flag: "tickEvent",
      short: "e",
      metavar: "EVENT",
      help: "The TICK event that counts time (subscribe to it in events=).",
      parse: tickEvent,
      default: "TICK_60",
    }),
    smtpHost: option({
      flag: "smtpHost",
      short: "H",
      metavar: "HOST[:PORT]",
      help: "SMTP server (port 25 unless given; IPv6: [addr]:port).",
      parse: SMTP.spec.smtp_host.parse,
      default: { host: "localhost" },
      defaultText: "localhost",
    }),
    userName: option({
      flag: "userName",
      short: "u",
      metavar: "USER",
      help: "Log in to the SMTP server as USER (with a password).",
      parse: nonEmpty,
    }),
    password: option({
      short: "p",
      metavar: "PASSWORD",
      help: "SMTP password (visible in ps: prefer --password-env or --password-file).",
      parse: text,
    }),
    password_env: option({
      metavar: "NAME",
      help: "The SMTP password from environment variable NAME.",
      parse: nonEmpty,
    }),
    password_file: option({
      metavar: "PATH",
      help: "The SMTP password from a file (one trailing newline dropped).",
      parse: nonEmpty,
    }),
    tls: toggle({
      help: "STARTTLS, the server's certificate verified (--smtp-ca-file for a private CA).",
    }),
    ...SMTP_EXTRAS,
    program: list({
      metavar: "NAME",
      help: "Alert only for this process, `name` (in any group) or `group:name` (repeatable, " +
        "or comma-separated). Default: every process (with --group: those groups).",
      parse: nonEmpty,
    }),
  });
}

/**
 * superlance's SMTP flags → lib/smtp.ts's settings; UsageError names the
 * flag. Mail goes over SMTP, as superlance's does (localhost:25 by default):
 * --tls is STARTTLS with a verified certificate, and credentials never travel
 * without TLS unless --smtp-tls none says so.
 */
function smtpSettings(
  v: Values<ReturnType<typeof batchOptions>["spec"]> & { fromEmail: string },
): SmtpSettings {
  if (v.tls && v.smtp_tls !== undefined) {
    throw new UsageError("--smtp-tls: give only one of --tls, --smtp-tls");
  }
  // superlance's password may be inline: resolved here, the login added to lib/smtp.ts's settings
  const secret = resolveSecret(
    { inline: v.password, env: v.password_env, file: v.password_file },
    { inline: "-p/--password", env: "--password-env", file: "--password-file" },
  );
  const passwordFlag = { inline: "-p/--password", env: "--password-env", file: "--password-file" };
  if (secret.error) {
    throw new UsageError(`${passwordFlag[secret.error.source]}: ${secret.error.message}`);
  }
  const password = secret.value;
  if (v.userName !== undefined && !password) {
    throw new UsageError(
      "-u/--userName: needs a password (-p/--password, --password-env or --password-file), " +
        "not empty",
    );
  }
  if (v.userName === undefined && password !== undefined) {
    const source = v.password !== undefined
      ? "inline"
      : v.password_env !== undefined
      ? "env"
      : "file";
    throw new UsageError(`${passwordFlag[source]}: needs -u/--userName`);
  }
  const labels: Record<string, string> = {
    smtp_host: "-H/--smtpHost",
    smtp_from: "-f/--fromEmail",
    smtp_tls: v.tls ? "--tls" : "--smtp-tls",
    smtp_ca_file: "--smtp-ca-file",
    smtp_timeout: "--smtp-timeout",
    smtp_port: "-H/--smtpHost",
  };
  const name = (key: string) => labels[key] ?? `--${key}`;
  let settings: SmtpSettings;
  try {
    settings = SMTP.finish({
      smtp_host: v.smtpHost,
      smtp_port: undefined,
      smtp_tls: v.tls ? "starttls" : v.smtp_tls,
      smtp_user: undefined,
      smtp_password_env: undefined,
      smtp_password_file: undefined,
      smtp_from: v.fromEmail,
      smtp_ca_file: v.smtp_ca_file,
      smtp_timeout: v.smtp_timeout,
    }, name)!;
  } catch (e) {
    if (e instanceof OptionError) throw new UsageError(`${name(e.key)}: ${e.message}`);
    throw e;
  }
  return v.userName === undefined ? settings : { ...settings, user: v.userName, password };
}

/** The message of one or more batches: the original's lines, each alert's details under it. */
function batchMessage(
  program: BatchProgram,
  subject: string,
  batches: Batch[],
): Notification {
  const lines: string[] = [];
  const reports: RestartReport[] = [];
  let total = 0;
  for (const batch of batches) {
    total += batch.total;
    for (const alert of batch.alerts) {
      const line = program.line(alert);
      lines.push(line, ...detailLines(alert, "    "));
      if (reports.length < BATCH_REPORTS) reports.push(alertReport(program.name, alert, line));
    }
    const more = batch.overflowLine();
    if (more) lines.push(more);
  }
  if (batches.length > 1) {
    lines.push(
      "",
      `(${total - batches.at(-1)!.total} of these alerts are from earlier intervals: ` +
        "sending them failed, or another message was still being sent)",
    );
  }
  if (total > reports.length) {
    const first = batches[0].alerts[0];
    reports.push({
      ...alertReport(program.name, first, `${total - reports.length} more alerts in this batch`),
      process: "",
      group: "",
      name: "",
      pid: 0,
      outcome: "more",
      detail: batches.map((b) => b.processes()).join(", "),
    });
  }
  return { subject, body: lines.join("\n"), reports };
}

/** Runs a batch program with `argv`; resolves to the exit status. */
export function runBatchProgram(
  program: BatchProgram,
  argv: string[],
  command: string,
): Promise<number> {
  const own = batchOptions(program);
  const shared = alertOptions(program.stderrLines);
  return runAlertCommand(command, (): PreparedAlerts | string => {
    const { results: [v, s] } = parseGroups([own, shared], argv);
    if (s.help) {
      return alertHelp(
        command,
        program.description,
        helpSections([
          [
            `${program.name} options (superlance's; then SMTP TLS and --program, extensions)`,
            own.spec,
          ],
          ["More options (not in superlance)", shared.spec],
        ]),
        program.examples,
      );
    }
    if (v.toEmail === undefined) throw new UsageError("-t/--toEmail: is required");
    if (v.fromEmail === undefined) throw new UsageError("-f/--fromEmail: is required");
    const to = addressList(v.toEmail, "-t/--toEmail", MAIL_ADDRESS);
    const programs = v.program.flatMap((p) => p.split(",")).map((p) => p.trim()).filter(Boolean);
    const settings = alertSettings(s, programs, false);
    const smtp = smtpSettings({ ...v, fromEmail: v.fromEmail });
    const subject = v.subject ?? program.defaultSubject ?? "";
    const describe = () =>
      `batching ${
        [
          ...(program.rules.crash ? ["unexpected exits"] : []),
          ...(program.rules.fatal ? ["FATAL states"] : []),
          ...(settings.backoffTries !== undefined
            ? [`BACKOFF loops (${settings.backoffTries} tries)`]
            : []),
        ].join(", ")
      } of ${settings.selection.describe()} every ${v.interval} minutes of ${v.tickEvent}, ` +
      `mailed to ${to.join(", ")} via ${describeSmtp(smtp)}` +
      settings.webhook.map((u) => `; webhook ${new URL(u).origin}/…`).join("");
    return {
      settings,
      rules: { ...program.rules, backoffTries: settings.backoffTries },
      name: program.name,
      describe,
      start(logger, client) {
        const format = {
          line: program.line,
          message: (batches: Batch[]) => batchMessage(program, subject, batches),
        };
        const channels = [
          new BatchChannel(new Notifier({ email: to, smtp }, logger), format, logger),
          ...settings.webhook.map((url) =>
            new BatchChannel(new Notifier({ webhook: [url] }, logger), format, logger)
          ),
        ];
        const details = new AlertDetails(client, settings.stderrLines);
        const sender = new BatchSender(v.interval, v.tickEvent, channels, details, logger);
        return {
          alert: (alert) => sender.add(alert, program.line(alert)),
          tick: (name) => sender.onTick(name),
          stop: () => sender.stop(),
        };
      },
    };
  });
}
