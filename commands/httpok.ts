/**
 * `supervisor-checks httpok`: superlance's httpok, flag for flag, as a
 * configuration of the one runner (lib/runner.ts, run by lib/listen.ts
 * like every listener): its verdict is one GET of the URL per round
 * (checks/url.ts) shared by the selected programs (-p, or -a), its restart
 * adds gcore (-g/-d) and --restart-command (lib/restart.ts's hooks), its
 * reports are superlance's mail and webhooks (lib/round_mail.ts).
 * What it adds to the original: docs/commands/httpok.md.
 */
import { join } from "node:path";
import { parseStatusList } from "../checks/http.ts";
import { checkUrl } from "../checks/url.ts";
import { namespec } from "../lib/check.ts";
import { renderHelp, SUPERVISOR_ENVIRONMENT } from "../lib/help.ts";
import { HELP_EXAMPLES } from "./examples.ts";
import { listen, type ListenerJob, PROGRAM } from "../lib/listen.ts";
import { UsageError } from "../lib/errors.ts";
import { fetchUrlProblem } from "../lib/net.ts";
import { METRICS, type MetricsListen } from "../lib/metrics_server.ts";
import { MODES } from "../lib/modes.ts";
import { displayUrl, NOTIFY, type NotifyOptions, splitCommandLine } from "../lib/notify.ts";
import {
  combine,
  flagLabel,
  HELP_ROW,
  helpRows,
  list,
  option,
  OptionError,
  options,
  parseGroups,
  seconds,
  text,
  toggle,
} from "../lib/option.ts";
import { resolveSecret } from "../lib/options.ts";
import type { RestartHooks } from "../lib/restart.ts";
import { RoundMail } from "../lib/round_mail.ts";
import { namedBy } from "../lib/select.ts";
import type { Selection } from "../lib/runner.ts";
import { LOG, type LogSettings, POLICY, type PolicySettings } from "../lib/settings.ts";
import { type CommandResult, describeCommandResult, runCommand } from "../lib/subprocess.ts";

const DEFAULT_GCORE = "/usr/bin/gcore -o";
/** Time allowed for the gcore program and for --restart-command. */
export const EXTERNAL_COMMAND_TIMEOUT_MS = 300_000;

/** Text as written, refused when empty (`blank`: also when only spaces). */
function given(blank = false): (raw: unknown) => string {
  return (raw) => {
    const t = text(raw);
    if ((blank ? t.trim() : t) === "") throw new Error("must not be empty");
    return t;
  };
}

/** A -p name: `name` or `group:name`. */
function programName(raw: unknown): string {
  const name = text(raw);
  const parts = name.split(":");
  if (parts.length > 2 || parts.some((p) => p.trim() === "")) {
    throw new Error(`'${name}' is not a program name (name or group:name)`);
  }
  return name;
}

/** -d: an existing directory. */
function directory(raw: unknown): string {
  const dir = text(raw);
  let isDirectory = false;
  try {
    isDirectory = Deno.statSync(dir).isDirectory;
  } catch {
    // reported below
  }
  if (!isDirectory) throw new Error(`'${dir}' is not a directory`);
  return dir;
}

/** superlance's httpok flags, and this one's own (--fail-body, --url-env, --restart-command…). */
export const HTTPOK_OPTIONS = options({
  program: list({
    short: "p",
    metavar: "NAME",
    help: "Restart this supervisord program, `name` (in any group) or `group:name`, " +
      "when the URL check fails, if it is RUNNING (repeatable).",
    parse: programName,
  }),
  any: toggle({
    short: "a",
    help: "Restart every RUNNING child of supervisord except the event listeners; overrides -p.",
  }),
  timeout: option({
    short: "t",
    metavar: "SECONDS",
    help: "Time allowed for the response, body included.",
    parse: seconds(),
    default: 10,
  }),
  code: list({
    short: "c",
    metavar: "CODE",
    help: "Expected HTTP status (repeatable; lists and ranges too: 200,204 or 200-299). " +
      "Redirects are not followed.",
    defaultText: "200",
    parse: (raw) => parseStatusList(text(raw)),
  }),
  body: option({
    short: "b",
    metavar: "TEXT",
    help: "Text the response body must contain.",
    parse: given(),
  }),
  fail_body: list({
    metavar: "TEXT",
    help: "Fail when the response body contains TEXT (repeatable).",
    parse: given(),
  }),
  // the notification options every listener has, with superlance's letters
  email: {
    ...NOTIFY.spec.email,
    short: "m",
    help: "Mail a report to ADDR whenever the check fails (repeatable). No mail without it.",
  },
  sendmail_program: { ...NOTIFY.spec.sendmail_program, short: "s" },
  gcore: option({
    short: "g",
    metavar: "CMD",
    help: "Program writing a core file, given a file name and a pid; used with -d.",
    defaultText: `"${DEFAULT_GCORE}"`,
    parse: (raw) => splitCommandLine(text(raw)),
    default: splitCommandLine(DEFAULT_GCORE),
  }),
  coredir: option({
    short: "d",
    metavar: "DIR",
    help: "Before restarting a process, run `<gcore> DIR/group:name PID` and report its output.",
    parse: directory,
  }),
  eager: toggle({
    short: "e",
    help: "Check the URL (and act, and mail) even when none of the programs is RUNNING.",
    defaultText: "on",
  }),
  not_eager: toggle({
    short: "E",
    help: "Do not check the URL while none of the programs is RUNNING.",
  }),
  name: option({
    short: "n",
    metavar: "NAME",
    help: "Name of this httpok: in every log line and in the mail subject (httpok [NAME]: …).",
    parse: given(true),
  }),
  url_env: option({
    metavar: "NAME",
    help: "Instead of the URL argument, the URL from environment variable NAME (keeps a " +
      "password in it out of ps).",
    parse: text,
  }),
  url_file: option({
    metavar: "PATH",
    help: "Instead of the URL argument, the URL from a file (one trailing newline dropped).",
    parse: text,
  }),
  restart_command: option({
    metavar: "CMD",
    help: "Restart with CMD (run by /bin/sh -c, environment HTTPOK_PROCESS=group:name and " +
      "HTTPOK_PID) instead of supervisord's stopProcess/startProcess.",
    parse: given(true),
  }),
  // the listeners' -v, in httpok's words
  verbose: { ...LOG.spec.verbose, help: "Log every check result, not only failures." },
}, (v, name) => {
  if (v.eager && v.not_eager) {
    throw new OptionError(
      "not_eager",
      `give only one of ${name("eager")} and ${name("not_eager")}`,
    );
  }
  const codes = v.code.length ? v.code : [parseStatusList("200")];
  return {
    ...v,
    codes: {
      accepts: (status: number) => codes.some((c) => c.accepts(status)),
      text: codes.map((c) => c.text).join(","),
    },
  };
});

/**
 * The options every listener shares, in long form only where superlance
 * has the letter: --once/--validate, timing, thresholds, budget, logs,
 * metrics, webhooks and SMTP (-m, -s and -v above take the spellings of
 * their notification and log options, so these leave them out).
 */
export const HTTPOK_SHARED = combine({
  mode: MODES,
  policy: POLICY,
  log: LOG,
  metrics: METRICS,
  notify: NOTIFY,
});

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
  /** --once: one URL check now, printed, nothing restarted; --validate: print what would run. */
  mode?: "once" | "validate";
  metrics?: MetricsListen;
}

/** The URL argument, or --url-env / --url-file. */
function parseUrl(positionals: string[], env?: string, file?: string): URL {
  if (positionals.length > 1) {
    throw new UsageError(
      `give exactly one URL, got ${positionals.length}: ${positionals.join(" ")}`,
    );
  }
  const labels = {
    inline: "URL",
    env: flagLabel("url_env", HTTPOK_OPTIONS.spec.url_env),
    file: flagLabel("url_file", HTTPOK_OPTIONS.spec.url_file),
  };
  const resolved = resolveSecret({ inline: positionals[0], env, file }, labels);
  if (resolved.error) {
    throw new UsageError(`${labels[resolved.error.source]}: ${resolved.error.message}`);
  }
  if (resolved.value === undefined) {
    throw new UsageError(
      `URL is required (the address to GET; or ${labels.env}, ${labels.file})`,
    );
  }
  const written = resolved.value.trim();
  let url: URL | undefined;
  try {
    url = new URL(written);
  } catch {
    // reported below
  }
  if (url?.protocol !== "http:" && url?.protocol !== "https:") {
    const what = positionals.length ? `'${written}'` : "the URL read";
    throw new UsageError(`URL: ${what} is not an http:// or https:// URL`);
  }
  const problem = fetchUrlProblem(url);
  if (problem) throw new UsageError(`URL: ${problem}`);
  return url;
}

/** argv → settings, or "help". Throws UsageError naming the flag at fault. */
export function parseHttpokArgs(argv: string[]): HttpokConfig | "help" {
  const parsed = parseGroups([HTTPOK_OPTIONS, HTTPOK_SHARED], argv, {
    positionals: true,
    help: true,
  });
  if (parsed === "help") return "help";
  const [own, shared] = parsed.results;
  const url = parseUrl(parsed.positionals, own.url_env, own.url_file);
  return {
    url,
    display: displayUrl(url),
    programs: own.program,
    any: own.any,
    timeout: own.timeout,
    codes: own.codes,
    body: own.body,
    failBody: own.fail_body,
    gcore: own.gcore,
    coredir: own.coredir,
    eager: !own.not_eager,
    name: own.name,
    restartCommand: own.restart_command,
    notify: { ...shared.notify, email: own.email, sendmail: own.sendmail_program },
    verbose: own.verbose,
    policy: shared.policy,
    // -v is httpok's own flag (above); it wins over -q, as every listener's
    log: own.verbose ? { ...shared.log, level: "debug" } : shared.log,
    mode: shared.mode,
    metrics: shared.metrics,
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
    beforeName: "the core dump",
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
      mode: config.mode,
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
  const [own, shared] = helpRows([HTTPOK_OPTIONS.spec, HTTPOK_SHARED.spec]);
  return renderHelp(
    command,
    "superlance's httpok as a supervisord event listener (events=TICK_60): on every TICK " +
      "event, GET URL; on a timeout, a connection error, an unexpected status or body, " +
      "restart the selected programs that are RUNNING, and mail/POST a report.",
    [
      { title: "httpok options", rows: [...own, HELP_ROW] },
      {
        title: "Listener options (timing, thresholds, restart budget, trying out, logging, " +
          "metrics, webhooks, SMTP: as every listener's, long forms where the letter is httpok's; " +
          "a 'round' is one " +
          "URL check)",
        rows: shared,
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
