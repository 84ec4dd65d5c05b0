/**
 * `supervisor-checks memmon`: superlance's memmon, flag for flag (-p, -g,
 * -a, -c, -s, -m, -u, -n). On every TICK, every process some limit applies
 * to is measured (checks/memmon.ts: the per-program limit wins over the
 * group's, the group's over -a's) and one over its limit is restarted
 * through the runner like every other listener's (lib/runner.ts,
 * lib/restart.ts), with memmon's mail (subject `memmon [NAME]: process
 * group:name restarted`, memmon's sentence as the body's first line), sent
 * only when the process had been running at most -u.
 *
 * Beyond the original: the shared listener flags in long form (as httpok's:
 * --interval, --failure-threshold, --max-restarts, --dry-run, --once,
 * --validate, --metrics-listen, …), webhooks and SMTP, several -m.
 */
import type { OptionSpec } from "../lib/check.ts";
import { behaviourFrom } from "../lib/cli.ts";
import { renderHelp, SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { listen } from "../lib/listen.ts";
import { METRICS_OPTIONS, parseMetricsListen } from "../lib/metrics_server.ts";
import { MODE_OPTIONS, modeOf } from "../lib/modes.ts";
import {
  DEFAULT_SENDMAIL,
  NOTIFY_OPTIONS,
  type NotifyOptions,
  parseNotifyOptions,
  reportBody,
  type RestartReport,
} from "../lib/notify.ts";
import {
  helpRows,
  list,
  nonEmpty,
  type Option,
  option,
  type Options,
  options,
  parseGroups,
  type Spec,
  text,
  toggle,
} from "../lib/option.ts";
import { ProcessSelector } from "../lib/select.ts";
import { LOG_OPTIONS, POLICY_OPTIONS } from "../lib/settings.ts";
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

/** memmon's own flags besides the limits (checks/memmon.ts). */
const OWN = options({
  sendmail_program: option({
    flag: "sendmail_program",
    short: "s",
    aliases: ["sendmail"],
    metavar: "CMD",
    help: "Command that reads a mail message (headers included) on stdin and sends it.",
    defaultText: `"${DEFAULT_SENDMAIL}"`,
    parse: text,
  }),
  email: list({
    short: "m",
    metavar: "ADDR",
    help: "Mail ADDR when a process is restarted (repeatable). No mail without it.",
    parse: text,
  }),
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
  help: toggle({
    short: "h",
    help: "Show this help and exit.",
    defaultText: "",
    flagOnly: true,
  }),
});

/**
 * The listener flags memmon shares, long forms only where memmon has the
 * letter (as httpok's): timing, thresholds, budget, --once/--validate, logs,
 * metrics, webhooks and SMTP (-m and -s are memmon's).
 */
const SHARED_SPECS: OptionSpec[] = [
  ...MODE_OPTIONS,
  ...POLICY_OPTIONS,
  ...LOG_OPTIONS,
  ...METRICS_OPTIONS,
  ...NOTIFY_OPTIONS.filter((o) => o.key.startsWith("webhook") || o.key.startsWith("smtp_")),
];

/** OptionSpec tables (lib/cli.ts's) read by lib/option.ts: values pass through as written. */
function asOptions(specs: OptionSpec[]): Options<Spec, Record<string, unknown>> {
  return options(Object.fromEntries(specs.map((s): [string, Option<unknown>] => [s.key, {
    flag: s.long,
    short: s.short,
    aliases: s.aliases,
    metavar: s.metavar,
    help: s.help,
    defaultText: s.defaultText,
    takes: s.type === "boolean" ? "switch" : s.multiple ? "list" : "value",
    parse: (raw) => raw,
  }])));
}

const SHARED = asOptions(SHARED_SPECS);

/** How the notification flags are named in errors: memmon's -m and -s. */
const NOTIFY_LABELS: OptionSpec[] = NOTIFY_OPTIONS.map((o) =>
  o.key === "email" ? { ...o, short: "m" } : o.key === "sendmail_program" ? { ...o, short: "s" } : o
);

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
  // before the rules across flags: `memmon --help` needs no limit
  if (argv.some((a) => a === "-h" || a === "--help")) return memmonHelp(command);
  const { results: [limits, own, shared] } = parseGroups([MEMMON_OPTIONS, OWN, SHARED], argv);
  const present = (specs: OptionSpec[]) =>
    Object.fromEntries(
      specs.filter((s) => shared[s.key] !== undefined).map((s) => [s.key, shared[s.key]]),
    );
  const { policy, log } = behaviourFrom(present([...POLICY_OPTIONS, ...LOG_OPTIONS]));
  const notify: NotifyOptions = {
    ...parseNotifyOptions(
      { ...present(NOTIFY_OPTIONS), email: own.email, sendmail_program: own.sendmail_program },
      NOTIFY_LABELS,
    ),
    compose: memmonMail(own.name, own.uptime),
  };
  const selector = ProcessSelector.where(
    `the processes of ${describeLimits(limits)}`,
    (p) => limitFor(p, limits) !== undefined,
    limits.any !== undefined,
  );
  return [{
    settings: {
      checkName: own.name ?? "memmon",
      selector,
      ...policy,
      log,
      notify,
      mode: modeOf(shared),
      metrics: parseMetricsListen(shared.metrics_listen, shared.metrics_allow_remote),
    },
    checks: [{ definition: memmonCheck, options: limits }],
  }];
}

function memmonHelp(command: string): string {
  const [limits, own, shared] = helpRows([MEMMON_OPTIONS.spec, OWN.spec, SHARED.spec]);
  const entries = (rows: typeof limits) => rows.map((r): [string, string] => [r.left, r.text]);
  return renderHelp(
    command,
    "superlance's memmon as a supervisord event listener (events=TICK_60): on every TICK " +
      "event, restart the processes whose resident memory (RSS) exceeds their limit, and " +
      "mail/POST a report. A process has one limit: its program's (-p) if it has one, else " +
      "its group's (-g), else -a's.",
    [
      { title: "memmon options", entries: [...entries(limits), ...entries(own)] },
      {
        title: "Timing, thresholds, restart budget, logging and metrics (as every listener's; " +
          "long forms only)",
        entries: entries(shared),
      },
    ],
    {
      examples: HELP_EXAMPLES.memmon,
      environment: [
        ...SUPERVISOR_ENVIRONMENT,
        ...shared.filter((r) => r.long.endsWith("-env")).map((r): [string, string] => [
          `the variable you name with --${r.long}`,
          r.text,
        ]),
      ],
    },
  );
}

/** `supervisor-checks memmon …`: runs until supervisord stops it; resolves to the exit code. */
export function runMemmonCommand(argv: string[], command = `${PROGRAM} memmon`): Promise<number> {
  return listen(command, () => parseMemmonArgs(argv, command));
}
