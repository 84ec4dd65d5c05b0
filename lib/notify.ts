/**
 * Restart notifications: a RestartReport (what was restarted, why, with what
 * outcome) mailed (through a sendmail-compatible command, as superlance does,
 * or over SMTP with lib/smtp.ts) and POSTed as JSON to webhooks; a broken
 * mailer or webhook never stands in the way of a restart.
 */
import { UsageError } from "./errors.ts";
import type { LogFields, Logger } from "./log.ts";
import { describeFetchError, fetchUrlProblem } from "./net.ts";
import { list, type Namer, nonEmpty, option, options, parseValues, text } from "./option.ts";
import { resolveSecret } from "./options.ts";
import { maskSecrets, redact, SUBJECT_CHARS, TEXT_CHARS } from "./redact.ts";
import { describeCommandResult, runCommand, splitCommandLine } from "./subprocess.ts";
// for commands/httpok.ts, which imports it from here until its gcore moves to lib/subprocess.ts
export { splitCommandLine } from "./subprocess.ts";
import { describeSmtp, MAIL_ADDRESS, sendSmtp, SMTP, type SmtpSettings } from "./smtp.ts";
import { VERSION } from "./version.ts";

/** One restarted (or not restarted) process, as mailed and POSTed. */
export interface RestartReport {
  /** Check name (the listener's -n). */
  check: string;
  /** `group:name` */
  process: string;
  group: string;
  name: string;
  /** pid that failed; 0 when the process was not running (supervisord's convention). */
  pid: number;
  /** Why it was judged unhealthy. */
  reason: string;
  /** ISO 8601 time of the verdict. */
  time: string;
  /** Host name of the machine. */
  host: string;
  /** restarted | skipped | failed | not-found | … */
  outcome: string;
  /** What was done, step by step; external commands' output. */
  detail?: string;
  /** Seconds it had been running when judged (for mail composers; not POSTed). */
  uptime?: number;
}

/**
 * One message: a mail with this subject and body, and one webhook POST per
 * report. Notifier.notify builds it from a single report; httpok builds its
 * own (one mail per failed URL check, the original's subject and body).
 */
export interface Notification {
  subject: string;
  body: string;
  reports: RestartReport[];
  /** false: POST the reports, mail nothing. */
  mail?: boolean;
}

export interface NotifyOptions {
  /** Mail recipients; no mail when empty. */
  email?: string[];
  /** Command line that reads a mail message on stdin. */
  sendmail?: string;
  /** Send mail over SMTP instead of through `sendmail`. */
  smtp?: SmtpSettings;
  /** URLs each report is POSTed to as JSON. */
  webhook?: string[];
  /** Subject of the mail Notifier.notify sends; defaultSubject otherwise. */
  subject?: (report: RestartReport) => string;
  /**
   * The whole mail Notifier.notify sends for a report (memmon's subject and
   * body), instead of the subject and reportBody; `{ skip }`: no mail for
   * this report, logged with that reason (webhooks still get the report).
   */
  compose?: (report: RestartReport) => { subject: string; body: string } | { skip: string };
  /** Time allowed per channel (sendmail run, webhook request). */
  timeoutMs?: number;
}

/** What became of one Notification: the channels that failed, each with why (already logged). */
export interface Delivery {
  failures: string[];
}

export const DEFAULT_SENDMAIL = "/usr/sbin/sendmail -t -i";
/** Time allowed for sendmail and for each webhook request. */
export const NOTIFY_TIMEOUT_MS = 10_000;

/** A webhook URL as given (`what` says where from): http(s), one fetch may ask. */
function webhookUrl(url: string, what: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:") {
    throw new Error(`${what} is not an http:// or https:// URL`);
  }
  const problem = fetchUrlProblem(parsed);
  if (problem) throw new Error(problem);
  return url;
}

/** A webhook URL from an environment variable or a file, read at start-up. */
function webhookFrom(source: "env" | "file"): (raw: unknown) => string {
  return (raw) => {
    const where = nonEmpty(raw);
    const { value, error } = resolveSecret({ [source]: where }, {
      inline: "--webhook",
      env: "--webhook-env",
      file: "--webhook-file",
    });
    if (error) throw new Error(error.message);
    return webhookUrl(value!.trim(), `the URL in ${where}`);
  };
}

/** The notification options every listener shares (long forms only: -m is http's --method). */
export const NOTIFY = options({
  email: list({
    metavar: "ADDR",
    help: "Mail a report of every restart to ADDR (repeatable); sent with --sendmail_program, " +
      "or over SMTP with --smtp-host.",
    parse: (raw) => {
      const address = text(raw).trim();
      if (!MAIL_ADDRESS.test(address)) {
        throw new Error(
          `'${address}' is not a mail address like ops@example.com (give one address per flag)`,
        );
      }
      return address;
    },
  }),
  sendmail_program: option({
    flag: "sendmail_program",
    metavar: "CMD",
    help: "Command that reads a mail message (headers included) on stdin and sends it.",
    defaultText: `"${DEFAULT_SENDMAIL}"`,
    parse: (raw) => {
      const command = text(raw);
      splitCommandLine(command);
      return command;
    },
    default: DEFAULT_SENDMAIL,
  }),
  webhook: list({
    metavar: "URL",
    help: "POST every restart report as JSON to this http(s) URL (repeatable; visible in ps: " +
      "prefer --webhook-env or --webhook-file).",
    parse: (raw) => {
      const url = text(raw);
      return webhookUrl(url, `'${maskSecrets(url)}'`);
    },
  }),
  webhook_env: list({
    metavar: "NAME",
    help: "Like --webhook, the URL read from environment variable NAME (repeatable).",
    parse: webhookFrom("env"),
  }),
  webhook_file: list({
    metavar: "PATH",
    help: "Like --webhook, the URL read from a file, one trailing newline dropped (repeatable).",
    parse: webhookFrom("file"),
  }),
  ...SMTP.spec,
}, (v, name): NotifyOptions => {
  const smtp = SMTP.finish(v, name);
  return {
    email: v.email,
    sendmail: v.sendmail_program,
    webhook: [...v.webhook, ...v.webhook_env, ...v.webhook_file],
    ...(smtp ? { smtp } : {}),
  };
});

// ---------------------------------------------------------------------------
// What is sent

/** The URL for messages, its secrets (password, tokens) masked. */
export function displayUrl(url: URL | string): string {
  return maskSecrets(new URL(url).href);
}

/** A webhook for logs: scheme, host and port only (paths and queries often carry tokens). */
function webhookLabel(url: string): string {
  return `${new URL(url).origin}/…`;
}

/** `supervisor-checks [web_check]: web:web_1 restarted` */
export function defaultSubject(report: RestartReport): string {
  return `supervisor-checks [${report.check}]: ${report.process} ${report.outcome}`;
}

/** The mail body Notifier.notify sends: one `key: value` line per report field, each redacted. */
export function reportBody(report: RestartReport): string {
  const fields: [string, string | number | undefined][] = [
    ["check", report.check],
    ["process", report.process],
    ["pid", report.pid],
    ["host", report.host],
    ["time", report.time],
    ["reason", report.reason],
    ["outcome", report.outcome],
    ["detail", report.detail],
  ];
  return fields
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${`${k}:`.padEnd(9)}${redact(String(v), TEXT_CHARS)}`)
    .join("\n");
}

const encoder = new TextEncoder();

/** A header value on one line; RFC 2047-encoded when not plain ASCII. */
function headerValue(text: string): string {
  // deno-lint-ignore no-control-regex
  const line = text.replace(/[\x00-\x1f\x7f]+/g, " ");
  if (/^[\x20-\x7e]*$/.test(line)) return line;
  const base64 = btoa(String.fromCharCode(...encoder.encode(line)));
  return `=?UTF-8?B?${base64}?=`;
}

/**
 * The message piped to sendmail: headers (To, Subject, MIME), blank line,
 * body; the subject and every line of the body redacted. With `from` (SMTP,
 * where no sendmail adds them) From: and Date: come first.
 */
export function mailMessage(to: string[], subject: string, body: string, from?: string): string {
  const lines = body.replace(/\n$/, "").split("\n").map((line) => redact(line, TEXT_CHARS));
  const origin = from === undefined
    ? []
    : [`From: ${from}`, `Date: ${new Date().toUTCString().replace(/GMT$/, "+0000")}`];
  return [
    ...origin,
    `To: ${to.join(", ")}`,
    // no subject, no header (superlance's crashsms without -s)
    ...(subject === "" ? [] : [`Subject: ${headerValue(redact(subject, SUBJECT_CHARS))}`]),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    `${lines.join("\n")}\n`,
  ].join("\n");
}

/** The JSON a webhook receives: exactly the RestartReport fields, every text redacted. */
export function webhookPayload(report: RestartReport): string {
  const { check, process, group, name, pid, reason, time, host, outcome, detail } = report;
  const text = (value: string | undefined) =>
    value === undefined ? undefined : redact(value, TEXT_CHARS);
  return JSON.stringify({
    check: text(check),
    process: text(process),
    group: text(group),
    name: text(name),
    pid,
    reason: text(reason),
    time,
    host: text(host),
    outcome: text(outcome),
    detail: text(detail),
  });
}

// ---------------------------------------------------------------------------
// Sending

/**
 * Sends reports. Sending never throws and is bounded per channel: a failure
 * is logged. Everything sent passes lib/redact.ts (secrets masked, control
 * characters visible, text cut).
 */
export class Notifier {
  readonly #email: string[];
  readonly #sendmail: string[];
  readonly #webhooks: string[];
  readonly #timeoutMs: number;
  readonly #pending = new Set<Promise<Delivery>>();

  /** Throws UsageError when the sendmail command line cannot be split. */
  constructor(private readonly options: NotifyOptions, private readonly logger: Logger) {
    this.#email = options.email ?? [];
    this.#webhooks = options.webhook ?? [];
    this.#timeoutMs = options.timeoutMs ?? NOTIFY_TIMEOUT_MS;
    try {
      this.#sendmail = splitCommandLine(options.sendmail ?? DEFAULT_SENDMAIL);
    } catch (e) {
      throw new UsageError(`--sendmail_program: ${(e as Error).message}`);
    }
  }

  /** True when there is anywhere to send to. */
  get enabled(): boolean {
    return this.#email.length > 0 || this.#webhooks.length > 0;
  }

  /** `mail to a@b via /usr/sbin/sendmail; webhook https://host/…` (no secrets). */
  describe(): string {
    const parts: string[] = [];
    if (this.#email.length) {
      const via = this.options.smtp ? describeSmtp(this.options.smtp) : this.#sendmail[0];
      parts.push(`mail to ${this.#email.join(", ")} via ${via}`);
    }
    for (const url of this.#webhooks) parts.push(`webhook ${webhookLabel(url)}`);
    return parts.join("; ") || "no notifications";
  }

  /** Mails and POSTs one report. Never rejects; safe to `void` or to await. */
  notify(report: RestartReport): Promise<Delivery> {
    const fields = { process: report.process, pid: report.pid || undefined };
    const mail = this.options.compose?.(report) ??
      {
        subject: this.options.subject?.(report) ?? defaultSubject(report),
        body: reportBody(report),
      };
    if ("skip" in mail) {
      if (this.#email.length) this.logger.info(`not mailed: ${mail.skip}`, fields);
      return this.send({ subject: "", body: "", reports: [report], mail: false }, fields);
    }
    return this.send({ ...mail, reports: [report] }, fields);
  }

  /**
   * Mails `subject`/`body` once and POSTs each report to each webhook, all
   * at once. Never rejects; resolves when every channel has finished or
   * timed out (each within the timeout, plus a second at most), to the
   * channels that failed (each failure logged here).
   */
  send(notification: Notification, fields: LogFields = {}): Promise<Delivery> {
    if (!this.enabled) return Promise.resolve({ failures: [] });
    const sending = Promise.allSettled([
      this.#mail(notification, fields),
      ...this.#webhooks.flatMap((url) =>
        notification.reports.map((r) => this.#post(url, r, fields))
      ),
    ]).then((results) => {
      const failures: string[] = [];
      for (const r of results) {
        if (r.status === "rejected") {
          this.logger.error(`notification failed: ${r.reason}`, fields);
          failures.push(String(r.reason));
        } else if (r.value !== undefined) failures.push(r.value);
      }
      return { failures };
    });
    this.#pending.add(sending);
    sending.finally(() => this.#pending.delete(sending));
    return sending;
  }

  /** Waits for the notifications still being sent (call before exiting). */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  /** undefined once sent (or nothing to send), else why not (logged). */
  async #mail(n: Notification, fields: LogFields): Promise<string | undefined> {
    if (this.#email.length === 0 || n.mail === false) return;
    const to = this.#email.join(", ");
    const failure = this.options.smtp
      ? await this.#smtp(this.options.smtp, n)
      : await this.#sendmailRun(n);
    if (failure === undefined) {
      this.logger.info(`mailed ${JSON.stringify(n.subject)} to ${to}`, fields);
    } else {
      this.logger.error(`mail to ${to} not sent: ${failure}`, fields);
      return `mail to ${to} not sent: ${failure}`;
    }
  }

  /** undefined once the server accepted it, else why not. */
  async #smtp(smtp: SmtpSettings, n: Notification): Promise<string | undefined> {
    try {
      await sendSmtp(smtp, this.#email, mailMessage(this.#email, n.subject, n.body, smtp.from));
    } catch (e) {
      return `${describeSmtp(smtp)}: ${(e as Error).message}`;
    }
  }

  /** undefined when sendmail took it, else why not. */
  async #sendmailRun(n: Notification): Promise<string | undefined> {
    const result = await runCommand(this.#sendmail, {
      input: mailMessage(this.#email, n.subject, n.body),
      timeoutMs: this.#timeoutMs,
    });
    if (result.code === 0 && !result.timedOut) return undefined;
    const stderr = result.stderr.trim();
    return `${this.#sendmail[0]} ` +
      describeCommandResult(result, this.#timeoutMs) + (stderr ? `: ${stderr}` : "");
  }

  /** undefined once the webhook took it, else why not (logged). */
  async #post(url: string, report: RestartReport, fields: LogFields): Promise<string | undefined> {
    const label = webhookLabel(url);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "User-Agent": `supervisor-checks/${VERSION}`,
        },
        body: webhookPayload(report),
        signal: timeout,
      });
      await response.body?.cancel();
      if (response.ok) {
        this.logger.info(`webhook ${label}: HTTP ${response.status}`, fields);
      } else {
        this.logger.error(`webhook ${label} refused the report: HTTP ${response.status}`, fields);
        return `webhook ${label} refused the report: HTTP ${response.status}`;
      }
    } catch (e) {
      const why = timeout.aborted
        ? `no answer within ${this.#timeoutMs / 1000}s`
        : describeFetchError(e).replaceAll(url, label);
      this.logger.error(`webhook ${label} not reached: ${why}`, fields);
      return `webhook ${label} not reached: ${why}`;
    }
  }
}

/**
 * Raw values keyed as NOTIFY's options (strings or lists, from a command
 * line, a config file or code) → NotifyOptions; the env and file forms are
 * read here, at start-up. UsageError naming the culprit with `name` (by
 * default its flag); a URL in a message has its secrets masked.
 */
export function parseNotifyOptions(values: Record<string, unknown>, name?: Namer): NotifyOptions {
  return parseValues(NOTIFY, values, name);
}
