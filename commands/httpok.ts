/**
 * `supervisor-checks httpok`: superlance's httpok, flag for flag, as a
 * configuration of the one runner (lib/runner.ts, run by lib/listen.ts
 * like every listener): its verdict is one GET of the URL per round
 * (checks/url.ts) shared by the selected programs (-p, or -a), its restart
 * adds gcore (-g/-d) and --restart-command (lib/restart.ts's hooks), its
 * reports are superlance's mail and webhooks (lib/round_mail.ts).
 *
 * Beyond the original: -c takes lists and ranges, --fail-body,
 * --restart-command, --webhook, -v, and the shared listener policy in long
 * forms only, since the short ones keep superlance's meaning. Their
 * defaults are the original's behaviour: act on every TICK, restart on the
 * first failure, mail every failed check.
 */
import { join } from "node:path";
import { parseStatusList } from "../checks/http.ts";
import { checkUrl } from "../checks/url.ts";
import { namespec } from "../lib/check.ts";
import { behaviourFrom, renderHelp } from "../lib/cli.ts";
import { SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { HELP_EXAMPLES } from "./examples.ts";
import { listen, type ListenerJob, PROGRAM } from "../lib/listen.ts";
import { UsageError } from "../lib/errors.ts";
import { fetchUrlProblem } from "../lib/net.ts";
import {
  DEFAULT_SENDMAIL,
  displayUrl,
  type NotifyOptions,
  splitCommandLine,
} from "../lib/notify.ts";
import { resolveSecret } from "../lib/options.ts";
import { type MetricsListen, parseMetricsListen } from "../lib/metrics_server.ts";
import type { RestartHooks } from "../lib/restart.ts";
import { RoundMail } from "../lib/round_mail.ts";
import { namedBy } from "../lib/select.ts";
import type { Selection } from "../lib/runner.ts";
import type { LogSettings, PolicySettings } from "../lib/settings.ts";
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
    help: "Restart every RUNNING child of supervisord except the event listeners; overrides -p.",
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

/** -p's programs, or -a's every process but the event listeners. */
function selection({ programs, any }: HttpokConfig): Selection {
  return {
    any,
    none: !any && programs.length === 0,
    matches: (p) => any || programs.some((name) => namedBy(p, name)),
    missing: (all) => programs.filter((name) => !all.some((p) => namedBy(p, name))),
    describe: () =>
      any
        ? "every process but the event listeners"
        : programs.length
        ? `programs ${programs.join(", ")}`
        : "no program (no -p or -a)",
  };
}

/** stdout, then stderr (labelled), then the exit status when it failed. */
function commandOutput(r: CommandResult): string {
  const parts = [r.stdout.trimEnd()];
  if (r.stderr.trim()) parts.push(`stderr: ${r.stderr.trimEnd()}`);
  if (r.code !== 0) parts.push(`(${describeCommandResult(r, EXTERNAL_COMMAND_TIMEOUT_MS)})`);
  return parts.filter(Boolean).join("\n");
}

/**
 * The careful restart, adapted: `<gcore…> <coredir>/<group:name> <pid>`
 * before the stop (-d), as superlance runs it; --restart-command instead of
 * stop and start.
 */
function restartHooks({ gcore, coredir, restartCommand }: HttpokConfig): RestartHooks {
  const run = (argv: string[], env?: Record<string, string>) =>
    runCommand(argv, { env, timeoutMs: EXTERNAL_COMMAND_TIMEOUT_MS });
  return {
    before: coredir === undefined ? undefined : async (p) => {
      const r = await run([...gcore, join(coredir, namespec(p)), String(p.pid)]);
      return `gcore output:\n\n${commandOutput(r) || "(no output)"}`;
    },
    instead: restartCommand === undefined ? undefined : async (p) => {
      const r = await run(["/bin/sh", "-c", restartCommand], {
        HTTPOK_PROCESS: namespec(p),
        HTTPOK_PID: String(p.pid),
      });
      const output = commandOutput(r);
      return {
        ok: r.code === 0 && !r.timedOut,
        detail: `--restart-command ${describeCommandResult(r, EXTERNAL_COMMAND_TIMEOUT_MS)}` +
          (output ? `: ${output}` : ""),
      };
    },
    dryRun: (coredir !== undefined ? " after a core dump (gcore not run)" : "") +
      (restartCommand !== undefined ? " with --restart-command" : ""),
  };
}

/** What is checked, for the start-up line. */
function summary(c: HttpokConfig): string {
  const expect = [`status ${c.codes.text}`];
  if (c.body !== undefined) expect.push(`body containing ${JSON.stringify(c.body)}`);
  for (const s of c.failBody) expect.push(`body without ${JSON.stringify(s)}`);
  return `GET ${c.display} expecting ${expect.join(", ")} within ${c.timeout}s` +
    (c.eager ? "" : " (not eager)") +
    (c.restartCommand !== undefined ? ", restarting with --restart-command" : "") +
    (c.coredir !== undefined ? `, core files to ${c.coredir}` : "");
}

/**
 * httpok as a configuration of the one runner: its verdict is the URL's,
 * one GET per round shared by every selected program; its restart adds
 * gcore and --restart-command; its reports are superlance's mail.
 */
export function httpokJob(config: HttpokConfig): ListenerJob {
  const checkName = config.name ?? "httpok";
  const hooks = restartHooks(config);
  return {
    settings: {
      checkName,
      selector: selection(config),
      ...config.policy,
      log: config.log,
      notify: config.notify,
      mode: config.once ? "once" : undefined,
      metrics: config.metrics,
    },
    checks: [],
    summary: summary(config),
    parts: (notifier) => ({
      shared: {
        kind: "url",
        target: config.display,
        eager: config.eager,
        run: (signal) => checkUrl(config, signal),
      },
      hooks,
      reporter: new RoundMail({
        check: checkName,
        prefix: config.name === undefined ? "httpok" : `httpok [${config.name}]`,
        target: config.display,
        programs: config.programs,
        any: config.any,
        policy: config.policy,
        dryRunHow: hooks.dryRun,
      }, notifier),
    }),
  };
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
  return await listen(command, () => {
    const config = parseHttpokArgs(argv);
    return config === "help" ? httpokHelp(command) : [httpokJob(config)];
  });
}
