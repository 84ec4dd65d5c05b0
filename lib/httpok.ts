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
 */
import { join } from "node:path";
import { parseStatusList } from "../checks/http.ts";
import { namespec, type OptionSpec, type ProcessInfo } from "./check.ts";
import { parseFlags, renderHelp } from "./cli.ts";
import { PROGRAM, reportUsageError } from "./command.ts";
import { UsageError } from "./errors.ts";
import { guardStdout, runEventListener } from "./listener.ts";
import { type Level, Logger } from "./log.ts";
import { describeFetchError } from "./net.ts";
import {
  type CommandResult,
  DEFAULT_SENDMAIL,
  describeCommandResult,
  displayUrl,
  Notifier,
  NOTIFY_OPTIONS,
  type NotifyOptions,
  parseNotifyOptions,
  type RestartReport,
  runCommand,
  splitCommandLine,
} from "./notify.ts";
import { seconds } from "./options.ts";
import { restartProcess, type RestartResult } from "./restart.ts";
import { STATE_RUNNING, SupervisorClient, SupervisorFault } from "./supervisor.ts";
import { VERSION } from "./version.ts";

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
  ...NOTIFY_OPTIONS.filter((o) => o.key === "webhook"),
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
  { key: "help", long: "help", short: "h", type: "boolean", help: "Show this help and exit." },
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
}

function strings(value: unknown): string[] {
  return value === undefined ? [] : (value as string[]);
}

function parseUrl(positionals: string[]): URL {
  if (positionals.length === 0) throw new UsageError("URL is required (the address to GET)");
  if (positionals.length > 1) {
    throw new UsageError(
      `give exactly one URL, got ${positionals.length}: ${positionals.join(" ")}`,
    );
  }
  let url: URL | undefined;
  try {
    url = new URL(positionals[0]);
  } catch {
    // reported below
  }
  if (url?.protocol !== "http:" && url?.protocol !== "https:") {
    throw new UsageError(`URL: '${positionals[0]}' is not an http:// or https:// URL`);
  }
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
  const { values, positionals } = parseFlags(OPTIONS, argv, true);
  if (values.help) return "help";
  const url = parseUrl(positionals);

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
    notify: parseNotifyOptions(values, OPTIONS),
    verbose: Boolean(values.verbose),
  };
}

/** The outcome of one GET: what was wrong, as the original words it. */
interface UrlCheck {
  ok: boolean;
  /** Which subject the mail gets: `bad status returned` or `bad body returned`. */
  bad: "status" | "body";
  message: string;
}

/** This listener's own identity (SUPERVISOR_PROCESS_NAME / SUPERVISOR_GROUP_NAME). */
interface Self {
  name?: string;
  group?: string;
}

/** `bad status` / `bad body` URL checks and what follows them, one round per TICK. */
class Httpok {
  #current: Promise<void> | undefined;
  #currentStarted = 0;
  #skipping = false;
  readonly #shutdown = new AbortController();
  readonly #check: string;
  readonly #host = Deno.hostname();

  constructor(
    private readonly config: HttpokConfig,
    private readonly client: SupervisorClient,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly self: Self,
  ) {
    this.#check = config.name ?? "httpok";
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
    return `GET ${c.display} on TICK events, expecting ${expect.join(", ")} within ` +
      `${c.timeout}s${c.eager ? "" : " (not eager)"}; on failure restart ${targets}` +
      `${c.restartCommand !== undefined ? " with --restart-command" : ""}` +
      `${c.coredir !== undefined ? `, core files to ${c.coredir}` : ""}; ` +
      this.notifier.describe();
  }

  /** Starts a round unless one is running. */
  trigger(reason: string): void {
    if (this.#shutdown.signal.aborted) return;
    if (this.#current) {
      const age = ((performance.now() - this.#currentStarted) / 1000).toFixed(1);
      this.logger.info(`skipping ${reason}: the previous round is still running (${age}s)`);
      return;
    }
    this.#currentStarted = performance.now();
    this.#current = this.#round(this.#shutdown.signal)
      .catch((e) => this.logger.error(`round failed: ${(e as Error)?.message ?? e}`))
      .finally(() => this.#current = undefined);
  }

  /** Aborts a GET in flight; restarts and notifications in flight finish first. */
  async stop(): Promise<void> {
    this.#shutdown.abort();
    await this.#current;
  }

  #matches(p: ProcessInfo, program: string): boolean {
    return program.includes(":") ? namespec(p) === program : p.name === program;
  }

  #isSelf(p: ProcessInfo): boolean {
    return this.self.name !== undefined && p.name === this.self.name &&
      (this.self.group === undefined || p.group === this.self.group);
  }

  /** The processes to restart on failure (not yet filtered by state). */
  #targets(all: ProcessInfo[]): ProcessInfo[] {
    if (this.config.any) return all.filter((p) => p.state === STATE_RUNNING && !this.#isSelf(p));
    return all.filter((p) => this.config.programs.some((name) => this.#matches(p, name)));
  }

  async #round(signal: AbortSignal): Promise<void> {
    if (!this.config.eager && !(await this.#anyTargetRunning())) return;
    const result = await this.#get(signal);
    if (result === undefined) return;
    if (result.ok) {
      this.logger.debug(result.message);
      return;
    }
    this.logger.warn(result.message);
    await this.#act(result, new Date().toISOString());
  }

  /** -E: is any target RUNNING? Logs the first skip at info, repeats at debug. */
  async #anyTargetRunning(): Promise<boolean> {
    let all: ProcessInfo[];
    try {
      all = await this.client.getAllProcessInfo();
    } catch (e) {
      this.logger.error(`${(e as Error).message}; URL not checked this round`);
      return false;
    }
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
    if (body === undefined && failBody.length === 0) {
      await response.body?.cancel().catch(() => {});
      return { ok: true, bad: "status", message: status };
    }
    let text: string;
    try {
      text = await response.text();
    } catch (e) {
      if (signal.aborted) return undefined;
      const why = timer.aborted
        ? `the body was not complete within ${timeout}s`
        : `reading the body failed: ${describeFetchError(e)}`;
      return failure("body", `${status}, but ${why}`);
    }
    if (body !== undefined && !text.includes(body)) {
      return failure("body", `${status}, but the body lacks ${JSON.stringify(body)}`);
    }
    const unwanted = failBody.find((s) => text.includes(s));
    if (unwanted !== undefined) {
      return failure("body", `${status}, but the body contains ${JSON.stringify(unwanted)}`);
    }
    return { ok: true, bad: "status", message: status };
  }

  /** Restarts the targets, then mails and POSTs what was done. */
  async #act(result: UrlCheck, time: string): Promise<void> {
    const prefix = this.config.name === undefined ? "httpok" : `httpok [${this.config.name}]`;
    const subject = `${prefix}: ${this.config.display}: bad ${result.bad} returned`;
    const lines = [result.message];
    /** Logs a line and adds it to the mail, as the original's write(). */
    const write = (line: string, level: Level = "warn") => {
      this.logger.log(level, line);
      lines.push(line);
    };
    const reports: RestartReport[] = [];
    const report = (
      p: Pick<ProcessInfo, "group" | "name" | "pid">,
      r: Pick<RestartReport, "outcome" | "detail">,
    ) => ({
      check: this.#check,
      process: namespec(p),
      group: p.group,
      name: p.name,
      pid: p.pid,
      reason: result.message,
      time,
      host: this.#host,
      ...r,
    });

    let all: ProcessInfo[] | undefined;
    try {
      all = await this.client.getAllProcessInfo();
    } catch (e) {
      write(`cannot get the process list, not acting: ${(e as Error).message}`, "error");
    }
    if (all !== undefined) {
      const { programs, any } = this.config;
      if (any) write("Restarting all running processes");
      else if (programs.length) write(`Restarting selected processes ${programs.join(", ")}`);
      else write("No programs to restart (no -p or -a)");
      for (const p of this.#targets(all)) {
        reports.push(report(p, await this.#restart(p, write)));
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
    lines.push("", `-- ${PROGRAM} ${VERSION} httpok on ${this.#host}, ${time}`);
    await this.notifier.send({ subject, body: lines.join("\n"), reports });
  }

  /** Core dump (with -d) and restart of one target; reports the outcome. */
  async #restart(
    p: ProcessInfo,
    write: (line: string, level?: Level) => void,
  ): Promise<Pick<RestartReport, "outcome" | "detail">> {
    const spec = namespec(p);
    if (this.#isSelf(p)) {
      write(`${spec} is this listener, NOT restarting`);
      return { outcome: "skipped", detail: "this httpok listener itself" };
    }
    if (p.state !== STATE_RUNNING) {
      write(`${spec} not in RUNNING state (${p.statename}), NOT restarting`);
      return { outcome: "skipped", detail: `${p.statename}, not RUNNING` };
    }
    const details: string[] = [];
    if (this.config.coredir !== undefined) {
      const output = await this.#gcore(p);
      write(`gcore output for ${spec} (pid ${p.pid}):\n\n${output}`, "info");
      details.push(`gcore: ${output}`);
    }
    write(`${spec} (pid ${p.pid}) is in RUNNING state, restarting`);
    const r = this.config.restartCommand !== undefined
      ? await this.#restartWithCommand(p, this.config.restartCommand)
      : await restartProcess(this.client, p);
    if (r.outcome === "restarted") {
      const pid = r.newPid !== undefined ? `; new pid ${r.newPid}` : "";
      write(`${spec} restarted (${r.detail}${pid})`);
    } else if (r.outcome === "skipped") {
      write(`${spec} NOT restarted: ${r.detail}`);
    } else {
      write(`${spec} restart failed: ${r.detail}`, "error");
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
    [{ title: "httpok options", options: OPTIONS }],
  ).replace(/^(Usage: .*)$/m, "$1 URL");
}

/** `supervisor-checks httpok …`: runs until supervisord stops it; resolves to the exit code. */
export async function runHttpokCommand(
  argv: string[],
  command = `${PROGRAM} httpok`,
): Promise<number> {
  let httpok: Httpok;
  let logger: Logger;
  try {
    const config = parseHttpokArgs(argv);
    if (config === "help") {
      console.log(httpokHelp(command));
      return 0;
    }
    logger = new Logger(config.name ?? "httpok", config.verbose ? "debug" : "info");
    const client = SupervisorClient.fromEnv();
    httpok = new Httpok(config, client, new Notifier(config.notify, logger), logger, {
      name: Deno.env.get("SUPERVISOR_PROCESS_NAME"),
      group: Deno.env.get("SUPERVISOR_GROUP_NAME"),
    });
    logger.info(`listening to supervisord at ${client.display}: ${httpok.describe()}`);
  } catch (e) {
    return reportUsageError(command, e);
  }
  guardStdout();
  return await runEventListener({
    onEvent(event) {
      if (event.eventName.startsWith("TICK_")) httpok.trigger(event.eventName);
      else logger.debug(`ignoring ${event.eventName} event`);
    },
    stop: () => httpok.stop(),
  }, logger);
}
