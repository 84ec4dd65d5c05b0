/**
 * A private, real supervisord in a temp dir, for integration tests, the demo
 * and benchmarks. Nothing is mocked: supervisord is Debian's.
 */
import { fileURLToPath } from "node:url";
import denoConfig from "../../deno.json" with { type: "json" };
import type { ProcessInfo } from "../../lib/check.ts";
import { STATE_RUNNING, SupervisorClient } from "../../lib/supervisor.ts";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const MAIN = `${REPO}main.ts`;
export const WEB_SERVICE = `${REPO}tests/fixtures/web_service.ts`;
export const DENO = Deno.execPath();
/**
 * The runtime flags `deno task compile` embeds in the binary (deno.json's
 * compile task is their one definition). Tests, the demo and the benchmarks
 * run the entry point with them, so every figure is the one users get.
 */
export const RUNTIME_FLAGS: string[] = denoConfig.tasks.compile.split(/\s+/)
  .filter((arg) => arg === "--no-code-cache" || arg.startsWith("--v8-flags="));
/** `deno run` arguments that start the entry point as the compiled binary would. */
export const RUN_MAIN: string[] = ["run", "-A", "--no-prompt", ...RUNTIME_FLAGS, MAIN];

export interface SupervisordOptions {
  /** Extra config sections ([program:x], [group:x], [eventlistener:x]), given the temp dir. */
  sections: (dir: string) => string;
  /** Require these credentials on the server. */
  auth?: { username: string; password: string };
  /** Serve the API on http://127.0.0.1:PORT instead of a unix socket. */
  inet?: boolean;
}

/** Quotes an argument for a supervisord `command=` line (shlex rules). */
export function shq(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'"'"'`)}'`;
}

/** `command=` value that runs this project's entry point. */
export function listenerCommand(args: string[]): string {
  return [DENO, ...RUN_MAIN, ...args].map(shq).join(" ");
}

/** A [program:x] running the fixture web service on `port`. */
export function webProgram(name: string, port: number, extra = "", mode = ""): string {
  return `[program:${name}]
command=${shq(DENO)} run --allow-net ${shq(WEB_SERVICE)} ${port} ${mode}
startsecs=1
stopwaitsecs=2
autorestart=true
${extra}
`;
}

/** `n` TCP ports free right now on 127.0.0.1. */
export function freePorts(n: number): number[] {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}` +
      (lastError ? ` (last error: ${(lastError as Error).message})` : ""),
  );
}

/** How many times `pattern` occurs in `text`. */
export function countMatches(text: string, pattern: RegExp): number {
  return (text.match(new RegExp(pattern.source, "g")) ?? []).length;
}

/** Unix seconds (with milliseconds) at which a text-format log line was written. */
export function logLineTime(line: string): number {
  return Date.parse(line.slice(0, line.indexOf(" "))) / 1000;
}

export class Supervisord implements AsyncDisposable {
  readonly client: SupervisorClient;
  #child: Deno.ChildProcess;

  private constructor(
    readonly dir: string,
    readonly url: string,
    child: Deno.ChildProcess,
    auth?: SupervisordOptions["auth"],
  ) {
    this.#child = child;
    this.client = new SupervisorClient(url, auth?.username, auth?.password);
  }

  static async start(options: SupervisordOptions): Promise<Supervisord> {
    const dir = await Deno.makeTempDir({ prefix: "supervisor-checks-" });
    const auth = options.auth
      ? `username=${options.auth.username}\npassword=${options.auth.password}\n`
      : "";
    const url = options.inet
      ? `http://127.0.0.1:${freePorts(1)[0]}`
      : `unix://${dir}/supervisor.sock`;
    const server = options.inet
      ? `[inet_http_server]\nport=${url.slice("http://".length)}\n`
      : `[unix_http_server]\nfile=${dir}/supervisor.sock\n`;
    const conf = `${server}${auth}
[supervisord]
logfile=${dir}/supervisord.log
pidfile=${dir}/supervisord.pid
childlogdir=${dir}
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=${url}

${options.sections(dir)}
`;
    await Deno.writeTextFile(`${dir}/supervisord.conf`, conf);
    const child = new Deno.Command("supervisord", {
      args: ["-n", "-c", `${dir}/supervisord.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const sv = new Supervisord(dir, url, child, options.auth);
    await waitFor(
      "supervisord to answer",
      async () => {
        await sv.client.call("supervisor.getState", []);
        return true;
      },
      15_000,
      100,
    );
    return sv;
  }

  processes(): Promise<ProcessInfo[]> {
    return this.client.getAllProcessInfo();
  }

  async process(spec: string): Promise<ProcessInfo> {
    return await this.client.getProcessInfo(spec);
  }

  /** Waits until every named process (group:name) is RUNNING; returns their pids. */
  async waitRunning(specs: string[], timeoutMs = 30_000): Promise<Record<string, number>> {
    return await waitFor(`${specs.join(", ")} RUNNING`, async () => {
      const pids: Record<string, number> = {};
      for (const spec of specs) {
        const p = await this.process(spec);
        if (p.state !== STATE_RUNNING) return undefined;
        pids[spec] = p.pid;
      }
      return pids;
    }, timeoutMs);
  }

  /** Waits until `spec` runs with a pid other than `oldPid`; returns the new pid. */
  async waitRestarted(spec: string, oldPid: number, timeoutMs = 40_000): Promise<number> {
    return await waitFor(`${spec} restarted (old pid ${oldPid})`, async () => {
      const p = await this.process(spec);
      return p.state === STATE_RUNNING && p.pid !== oldPid ? p.pid : undefined;
    }, timeoutMs);
  }

  /** Sends a signal to a process's pid (SIGSTOP freezes it). */
  async kill(spec: string, signal: Deno.Signal): Promise<number> {
    const { pid } = await this.process(spec);
    Deno.kill(pid, signal);
    return pid;
  }

  /**
   * A listener's stderr log (its log lines). A missing file is an error, not
   * an empty log: a wrong name must not make every negative assertion pass.
   */
  async listenerLog(name: string): Promise<string> {
    return await Deno.readTextFile(`${this.dir}/${name}.err.log`);
  }

  /** Waits until a listener's log matches `pattern`; returns the log. */
  async waitLog(name: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    return await waitFor(`${name}'s log to match ${pattern}`, async () => {
      const text = await this.listenerLog(name);
      return pattern.test(text) ? text : undefined;
    }, timeoutMs);
  }

  /**
   * Waits until a listener's log, from character `from` on (an earlier
   * log's length), matches `pattern`; returns that part.
   */
  async waitLogAfter(
    name: string,
    from: number,
    pattern: RegExp,
    timeoutMs = 20_000,
  ): Promise<string> {
    return await waitFor(`${name}'s log after ${from} to match ${pattern}`, async () => {
      const rest = (await this.listenerLog(name)).slice(from);
      return pattern.test(rest) ? rest : undefined;
    }, timeoutMs);
  }

  async supervisordLog(): Promise<string> {
    return await Deno.readTextFile(`${this.dir}/supervisord.log`);
  }

  /** How many times supervisord spawned program `name` (the first start included). */
  async spawns(name: string): Promise<number> {
    return countMatches(await this.supervisordLog(), new RegExp(`spawned: '${name}' with pid`));
  }

  /**
   * Shuts supervisord down (it stops its programs first): by RPC, else by
   * SIGTERM, and only as a last resort by SIGKILL, which would orphan them.
   */
  async stop(): Promise<void> {
    try {
      await this.client.call("supervisor.shutdown", [], 5_000);
    } catch {
      this.#signal("SIGTERM");
    }
    if (!(await this.#exited(20_000))) {
      this.#signal("SIGKILL");
      await this.#child.status;
    }
    if (!Deno.env.get("KEEP_SUPERVISORD_DIR")) {
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    }
  }

  #signal(signal: Deno.Signal) {
    try {
      this.#child.kill(signal);
    } catch { /* gone already */ }
  }

  async #exited(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), timeoutMs)),
    ]);
    clearTimeout(timer);
    return exited;
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
  }
}

/** A round every second, 1 s allowed per check, no retry: the tests' usual pace. */
export const EVERY_SECOND = ["--interval", "1", "-t", "1", "-r", "0"];

/**
 * The argv of an `http` listener named `name` for `group`, asking /ping on
 * `port` (a number or the regex of the process names), then `extra`
 * (timing, thresholds, logging).
 */
export function pingArgs(
  name: string,
  group: string,
  port: string | number,
  ...extra: string[]
): string[] {
  return ["http", "-n", name, "-g", group, "-p", String(port), "-u", "/ping", ...extra];
}

/**
 * An `http` listener section for the group `web` on `port` (a round every
 * second, 2 s per check, verbose) that reaches supervisord through the unix
 * socket at `socket` (a test's proxy) instead of supervisord's own.
 */
export function proxiedListener(
  name: string,
  port: number,
  dir: string,
  socket: string,
  extra = "",
): string {
  return listenerSection(
    name,
    pingArgs(name, "web", port, "--interval", "1", "-t", "2", "-r", "0", "-v"),
    dir,
    `${extra}environment=SUPERVISOR_SERVER_URL="unix://${socket}"\n`,
  );
}

/** An [eventlistener:x] section running this project with `args`. */
export function listenerSection(
  name: string,
  args: string[],
  dir: string,
  extra = "",
): string {
  return `[eventlistener:${name}]
command=${listenerCommand(args)}
events=TICK_5
stderr_logfile=${dir}/${name}.err.log
autorestart=false
startsecs=0
${extra}
`;
}

/** A [program:x] running a Deno fixture with -A; stopping it stops its children too. */
export function denoProgram(name: string, script: string, args: string[]): string {
  return `[program:${name}]
command=${[DENO, "run", "-A", script, ...args].map(shq).join(" ")}
startsecs=1
stopwaitsecs=2
stopasgroup=true
killasgroup=true
autorestart=true
`;
}

/** The entry point run with `args` and no supervisord to reach: its exit status and stderr. */
export async function runMain(args: string[]): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await new Deno.Command(DENO, {
    args: [...RUN_MAIN, ...args],
    env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent/supervisor.sock" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}
