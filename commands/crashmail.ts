/**
 * `supervisor-checks crashmail`: superlance's crashmail, flag for flag. One
 * mail per unexpected exit (PROCESS_STATE_EXITED with expected:0), subject
 * and first body line as the original writes them, then what supervisord
 * adds: how it exited and the end of its stderr log. Sent through -s
 * (sendmail) or, with --smtp-host, over SMTP; at most --max-mails-per-minute,
 * the others logged (and counted in the next mail). The mail is shown in
 * docs/commands/crashmail.md.
 */
import {
  alertHelp,
  alertOptions,
  alertSettings,
  helpSections,
  type PreparedAlerts,
  runAlertCommand,
} from "../lib/alert_command.ts";
import {
  type Alert,
  AlertDetails,
  alertReport,
  detailLines,
  RateLimiter,
  SINGLE_IN_FLIGHT,
  SINGLE_WAITING,
  SingleSender,
} from "../lib/alerts.ts";
import {
  count,
  list,
  nonEmpty,
  option,
  options,
  parseGroups,
  text,
  toggle,
} from "../lib/option.ts";
import { type Notification, Notifier, NOTIFY, type NotifyOptions } from "../lib/notify.ts";
import { asctime } from "../lib/process_events.ts";
import { Logger } from "../lib/log.ts";
import { SMTP } from "../lib/smtp.ts";
import { PROGRAM } from "../lib/version.ts";
import { HELP_EXAMPLES } from "./examples.ts";

/** --max-mails-per-minute's default. */
const MAILS_PER_MINUTE = 10;

/** superlance's flags (-m and -s are lib/notify.ts's, with the original's letters), SMTP, the rate limit. */
const OPTIONS = options({
  program: list({
    short: "p",
    metavar: "NAME",
    help: "Mail when this process exits unexpectedly, `name` (in any group) or `group:name` " +
      "(repeatable). Default: every process, as the original in fact does.",
    parse: nonEmpty,
  }),
  any: toggle({
    short: "a",
    help: "Mail when any process exits unexpectedly; overrides -p.",
  }),
  optionalheader: option({
    short: "o",
    metavar: "PREFIX",
    help: "Put PREFIX: before the subject.",
    parse: text,
  }),
  email: {
    ...NOTIFY.spec.email,
    short: "m",
    help: "Mail the alerts to ADDR (repeatable); without it no mail is sent.",
  },
  sendmail_program: { ...NOTIFY.spec.sendmail_program, short: "s" },
  max_mails_per_minute: option({
    metavar: "N",
    help: "Mail at most N alerts in any 60 seconds; the others are logged, one line each, and " +
      `counted in the next mail (0: no rate limit; still at most ${SINGLE_IN_FLIGHT} mails ` +
      `under way and ${SINGLE_WAITING} waiting).`,
    parse: count(0),
    default: MAILS_PER_MINUTE,
  }),
  ...SMTP.spec,
}, (v, name) => ({ ...v, smtp: SMTP.finish(v, name) }));

/**
 * The original's subject: ` web crashed at 2026-11-30 08:40:12,345`, after
 * `PREFIX:` with -o.
 */
export function crashSubject(alert: Alert, prefix?: string): string {
  const what = alert.kind === "backoff" ? "keeps failing to start" : "crashed";
  const subject = ` ${alert.event.name} ${what} at ${asctime(alert.time)}`;
  return prefix ? `${prefix}:${subject}` : subject;
}

/**
 * The original's body line, `Process web in group web exited unexpectedly
 * (pid 4242) from state RUNNING` (a BACKOFF loop, an extension, in the same style).
 */
export function crashLine(alert: Alert): string {
  const e = alert.event;
  return alert.kind === "backoff"
    ? `Process ${e.name} in group ${e.group} failed to start ${e.tries} times in a row ` +
      `(BACKOFF from state ${e.fromState})`
    : `Process ${e.name} in group ${e.group} exited unexpectedly (pid ${e.pid}) ` +
      `from state ${e.fromState}`;
}

/** The message: the original's subject and line, then the details and the alerts not mailed before. */
export function crashMessage(alert: Alert, dropped: number, prefix?: string): Notification {
  const line = crashLine(alert);
  const details = detailLines(alert);
  const body = [
    line,
    ...(details.length ? ["", ...details] : []),
    ...(dropped
      ? [
        "",
        `(${dropped} alerts before this one were not mailed: rate limit, or too many mails ` +
        "under way; the listener's log names them)",
      ]
      : []),
  ].join("\n");
  return {
    subject: crashSubject(alert, prefix),
    body,
    reports: [alertReport("crashmail", alert, line)],
  };
}

function crashmailHelp(
  command: string,
  own: typeof OPTIONS,
  shared: ReturnType<typeof alertOptions>,
) {
  return alertHelp(
    command,
    "superlance's crashmail as a supervisord event listener (events=PROCESS_STATE_EXITED): " +
      "one mail per unexpected exit of a selected process, with its exit status and the end " +
      "of its stderr log.",
    helpSections([
      ["crashmail options (superlance's, then SMTP and the rate limit)", own.spec],
      ["More options (not in superlance)", shared.spec],
    ]),
    HELP_EXAMPLES.crashmail,
  );
}

/** `supervisor-checks crashmail …`: runs until supervisord stops it; resolves to the exit code. */
export function runCrashmailCommand(argv: string[]): Promise<number> {
  const command = `${PROGRAM} crashmail`;
  const shared = alertOptions(10);
  return runAlertCommand(command, (): PreparedAlerts | string => {
    const { results: [v, s] } = parseGroups([OPTIONS, shared], argv);
    if (s.help) return crashmailHelp(command, OPTIONS, shared);
    const settings = alertSettings(s, v.program, v.any);
    const notifyOptions: NotifyOptions = {
      email: v.email,
      sendmail: v.sendmail_program,
      webhook: settings.webhook,
      ...(v.smtp ? { smtp: v.smtp } : {}),
    };
    const limit = v.max_mails_per_minute;
    const describe = () =>
      `mailing the unexpected exits${
        settings.backoffTries !== undefined
          ? ` and BACKOFF loops (${settings.backoffTries} tries)`
          : ""
      } of ${settings.selection.describe()} ` +
      `(at most ${limit || "unlimited"} a minute), ` +
      new Notifier(notifyOptions, new Logger("crashmail")).describe();
    return {
      settings,
      rules: { crash: true, fatal: false, backoffTries: settings.backoffTries },
      name: "crashmail",
      describe,
      start(logger, client) {
        const notifier = new Notifier(notifyOptions, logger);
        if (!notifier.enabled) {
          logger.warn("no -m/--email and no --webhook: alerts are only logged");
        }
        const limiter = limit > 0
          ? { limiter: new RateLimiter(limit), label: `--max-mails-per-minute ${limit}` }
          : undefined;
        const sender = new SingleSender(
          notifier,
          {
            line: crashLine,
            message: (alert, dropped) => crashMessage(alert, dropped, v.optionalheader),
          },
          new AlertDetails(client, settings.stderrLines),
          logger,
          limiter,
        );
        return { alert: (alert) => sender.add(alert), stop: () => sender.stop() };
      },
    };
  });
}
