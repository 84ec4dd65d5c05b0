/**
 * `supervisor-checks memmon`: superlance's memmon, flag for flag (-p, -g,
 * -a, -c, -s, -m, -u, -n), as a configuration of the shared runner: the
 * memmon check (checks/memmon.ts) on the processes some limit applies to,
 * memmon's mail, and the shared listener flags in long form (as httpok's),
 * webhooks and SMTP beyond the original.
 */
import { renderHelp, SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { listen } from "../lib/listen.ts";
import { METRICS } from "../lib/metrics_server.ts";
import { MODES } from "../lib/modes.ts";
import { NOTIFY, reportBody, type RestartReport } from "../lib/notify.ts";
import {
  combine,
  HELP_ROW,
  helpRows,
  nonEmpty,
  option,
  options,
  parseGroups,
  text,
} from "../lib/option.ts";
import { ProcessSelector } from "../lib/select.ts";
import { LOG, POLICY } from "../lib/settings.ts";
import { PROGRAM } from "../lib/version.ts";
import { describeLimits, limitFor, MEMMON_OPTIONS, memmonCheck } from "../checks/memmon.ts";
import { HELP_EXAMPLES } from "./examples.ts";

const SECONDS_UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

/** memmon's -u: whole seconds, or with s, m, h or d (`2d`). */
export function parseUptime(raw: unknown): number {
  const t = text(raw).trim();
  const m = /^(\d+)([smhd])?$/i.exec(t);
  if (!m) throw new Error(`expected seconds (3600) or with m, h or d (60m, 2d), got '${t}'`);
  return Number(m[1]) * SECONDS_UNITS[(m[2] ?? "").toLowerCase()];
}

/**
 * memmon's own flags besides the limits (checks/memmon.ts): its mail (-s and
 * -m are the notification options every listener has, with memmon's
 * letters), -u and -n.
 */
const OWN = options({
  sendmail_program: { ...NOTIFY.spec.sendmail_program, short: "s", aliases: ["sendmail"] },
  email: {
    ...NOTIFY.spec.email,
    short: "m",
    help: "Mail ADDR when a process is restarted (repeatable). No mail without it.",
  },
  uptime: option({
    short: "u",
    metavar: "SECONDS",
    help: "Mail only when the restarted process had been running at most SECONDS " +
      "(or with m, h or d: 2d), to hear only of processes restarted too often.",
    defaultText: "no limit",
    parse: parseUptime,
  }),
  name: option({
    short: "n",
    metavar: "NAME",
    help: "Name of this memmon: in every log line and in the mail subject (memmon [NAME]: …).",
    parse: nonEmpty,
  }),
});

/**
 * The listener options memmon shares, long forms only where memmon has the
 * letter (as httpok's): --once/--validate, timing, thresholds, budget, logs,
 * metrics, webhooks and SMTP (the mail flags above take the notification
 * options' spellings, so these leave them out).
 */
const SHARED = combine({ mode: MODES, policy: POLICY, log: LOG, metrics: METRICS, notify: NOTIFY });

/** `Mon Nov 30 08:29:24 2026 UTC`: Python's time.asctime() and %Z, in local time. */
export function asctime(date: Date): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
  const two = (n: number) => String(n).padStart(2, "0");
  const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(date)
    .find((p) => p.type === "timeZoneName")?.value ?? "";
  return `${days[date.getDay()]} ${months[date.getMonth()]} ${String(date.getDate()).padStart(2)} ${
    two(date.getHours())
  }:${two(date.getMinutes())}:${two(date.getSeconds())} ` +
    `${date.getFullYear()} ${zone}`.trimEnd();
}

/**
 * memmon's mail for one report: subject `memmon: process group:name
 * restarted` (`memmon [NAME]: …` with -n), body memmon's sentence, then the
 * report's fields. With -u, a restart of a process that had been running
 * longer is not mailed; failures always are.
 */
export function memmonMail(name: string | undefined, uptimeLimit: number | undefined) {
  const prefix = name === undefined ? "memmon" : `memmon [${name}]`;
  return (r: RestartReport): { subject: string; body: string } | { skip: string } => {
    const restarted = r.outcome === "restarted" || r.outcome === "dry-run";
    if (
      restarted && uptimeLimit !== undefined && r.uptime !== undefined && r.uptime > uptimeLimit
    ) {
      return {
        skip: `it had been running ${Math.round(r.uptime)}s, more than -u/--uptime ${uptimeLimit}s`,
      };
    }
    const rss = /(\d+) bytes RSS/.exec(r.detail ?? "")?.[1] ?? "unknown";
    const fields = reportBody(r);
    if (r.outcome === "restarted") {
      return {
        subject: `${prefix}: process ${r.process} restarted`,
        body:
          `memmon.py restarted the process named ${r.process} at ${asctime(new Date(r.time))} ` +
          `because it was consuming too much memory (${rss} bytes RSS)\n\n${fields}`,
      };
    }
    if (r.outcome === "failed") {
      return {
        subject: `${prefix}: failed to restart process ${r.process}`,
        body: `Failed to restart process ${r.process} (RSS ${rss})\n\n${fields}`,
      };
    }
    return { subject: `${prefix}: process ${r.process} ${r.outcome}`, body: fields };
  };
}

/** argv → the listener's job, or the help text. UsageError names the flag at fault. */
export function parseMemmonArgs(argv: string[], command: string) {
  const parsed = parseGroups([MEMMON_OPTIONS, OWN, SHARED], argv, { help: true });
  if (parsed === "help") return memmonHelp(command);
  const [limits, own, shared] = parsed.results;
  const selector = ProcessSelector.where(
    `the processes of ${describeLimits(limits)}`,
    (p) => limitFor(p, limits) !== undefined,
    limits.any !== undefined,
  );
  return [{
    settings: {
      checkName: own.name ?? "memmon",
      selector,
      ...shared.policy,
      log: shared.log,
      notify: {
        ...shared.notify,
        email: own.email,
        sendmail: own.sendmail_program,
        compose: memmonMail(own.name, own.uptime),
      },
      mode: shared.mode,
      metrics: shared.metrics,
    },
    checks: [{ definition: memmonCheck, options: limits }],
  }];
}

function memmonHelp(command: string): string {
  const [limits, own, shared] = helpRows([MEMMON_OPTIONS.spec, OWN.spec, SHARED.spec]);
  return renderHelp(
    command,
    "superlance's memmon as a supervisord event listener (events=TICK_60): on every TICK " +
      "event, restart the processes whose resident memory (RSS) exceeds their limit, and " +
      "mail/POST a report. A process has one limit: its program's (-p) if it has one, else " +
      "its group's (-g), else -a's.",
    [
      { title: "memmon options", rows: [...limits, ...own, HELP_ROW] },
      {
        title: "Listener options (timing, thresholds, restart budget, trying out, logging, " +
          "metrics, webhooks, SMTP: as every listener's, long forms where the letter is memmon's)",
        rows: shared,
      },
    ],
    {
      examples: HELP_EXAMPLES.memmon,
      environment: SUPERVISOR_ENVIRONMENT,
    },
  );
}

/** `supervisor-checks memmon …`: runs until supervisord stops it; resolves to the exit code. */
export function runMemmonCommand(argv: string[], command = `${PROGRAM} memmon`): Promise<number> {
  return listen(command, () => parseMemmonArgs(argv, command));
}
