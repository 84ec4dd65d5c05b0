/**
 * The exec check running real shell commands: exit statuses, environment,
 * captured and capped output, timeouts that kill the command's children.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { execCheck, OUTPUT_CHARS, summarizeOutput } from "../../checks/exec.ts";
import type { ProcessInfo, Verdict } from "../../lib/check.ts";
import { configureCheck } from "../../lib/cli.ts";

const RUN_CHECK = fileURLToPath(new URL("../fixtures/exec_run_check.ts", import.meta.url));

function proc(name = "svc_8080", pid = 4242): ProcessInfo {
  return { name, group: "svcs", pid, state: 20, statename: "RUNNING", start: 0 };
}

async function check(
  raw: Record<string, unknown>,
  process = proc(),
  signal = new AbortController().signal,
): Promise<Verdict> {
  const { options } = configureCheck(execCheck, raw);
  // deno-lint-ignore no-explicit-any
  return await execCheck.run(process, options as any, { signal, attempt: 1, state: new Map() });
}

function usageError(raw: Record<string, unknown>): string {
  try {
    configureCheck(execCheck, raw);
  } catch (e) {
    assert.equal((e as Error).name, "UsageError");
    return (e as Error).message;
  }
  assert.fail(`accepted ${JSON.stringify(raw)}`);
}

/** Alive and not a zombie waiting for whoever adopted it. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/**
 * Whether `pid` is gone within a few seconds: a SIGKILL already sent is
 * delivered asynchronously (on a busy machine the target may still be seen
 * running for a moment), but a process nobody killed stays alive.
 */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (!await alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "exec-check-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("exec: exit 0 is healthy, any other status unhealthy, with the output", async () => {
  const ok = await check({ command: "true" });
  assert.equal(ok.status, "healthy", ok.message);
  assert.match(ok.message, /^command exited 0 in \d+ ms; no output$/);

  const failed = await check({ command: "echo checking; echo 'disk full' >&2; exit 3" });
  assert.equal(failed.status, "unhealthy");
  assert.match(failed.message, /^command exited 3 in \d+ ms; output: /);
  // stdout and stderr both land in the message, one line per line of output
  assert.match(failed.message, /output: (checking \| disk full|disk full \| checking)$/);
});

Deno.test("exec: shell syntax works and the process is described in the environment", async () => {
  Deno.env.set("SUPERVISOR_CHECK_PORT", "1"); // must not leak in when -p is not given
  try {
    const command = 'printf "%s/%s/%s/%s" "$SUPERVISOR_CHECK_PROCESS_NAME" ' +
      '"$SUPERVISOR_CHECK_GROUP_NAME" "$SUPERVISOR_CHECK_PID" "${SUPERVISOR_CHECK_PORT-none}"';
    const withPort = await check({ command, port: ".+_(\\d+)" });
    assert.equal(withPort.status, "healthy", withPort.message);
    assert.match(withPort.message, /output: svc_8080\/svcs\/4242\/8080$/);
    const without = await check({ command });
    assert.match(without.message, /output: svc_8080\/svcs\/4242\/none$/);
  } finally {
    Deno.env.delete("SUPERVISOR_CHECK_PORT");
  }
  const inherited = await check({ command: 'test -n "$PATH" && test -n "$HOME"' });
  assert.equal(inherited.status, "healthy", inherited.message);
});

Deno.test("exec: an argv array (config files) runs as given, without shell expansion", async () => {
  const v = await check({ command: ["printf", "%s|%s", "it's $HOME", "a;b"] });
  assert.equal(v.status, "healthy", v.message);
  assert.match(v.message, /output: it's \$HOME\|a;b$/);
});

Deno.test("exec: a port regex that does not match the process name is a configuration error", async () => {
  const { options } = configureCheck(execCheck, { command: "true", port: ".+_(\\d+)" });
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    execCheck.run(proc("admin"), options as any, {
      signal: new AbortController().signal,
      attempt: 1,
      state: new Map(),
    }),
    { name: "CheckConfigError", message: /does not match process name 'admin'/ },
  );
});

Deno.test("exec: on timeout the command and its children are killed", async () => {
  await withDir(async (dir) => {
    const v = await check({
      command: `sleep 60 & echo $! > ${dir}/child; echo started; sleep 60`,
      timeout: "0.5",
    });
    assert.equal(v.status, "unhealthy");
    assert.equal(
      v.message,
      "command did not exit within 0.5s: killed it and its children; output: started",
    );
    const child = Number(await Deno.readTextFile(`${dir}/child`));
    assert.equal(await gone(child), true, `background child ${child} must be gone`);
  });
});

Deno.test("exec: on timeout a grandchild that called setsid is killed too", async () => {
  await withDir(async (dir) => {
    // the grandchild leaves the command's session and group: only the tree still leads to it
    const v = await check({
      command: `sh -c 'setsid sh -c "echo \\$\\$ > ${dir}/grandchild; exec sleep 60" & wait'`,
      timeout: "1",
    });
    assert.equal(v.status, "unhealthy");
    assert.match(v.message, /^command did not exit within 1s: killed it and its children/);
    const grandchild = Number(await Deno.readTextFile(`${dir}/grandchild`));
    assert.equal(await gone(grandchild), true, `setsid grandchild ${grandchild} must be gone`);
  });
});

Deno.test("exec: whatever the command leaves running is killed when it exits", async () => {
  await withDir(async (dir) => {
    // the background sleep holds the output pipe: the check must not wait for it
    const v = await check({ command: `sleep 60 & echo $! > ${dir}/child; echo done`, timeout: 30 });
    assert.equal(v.status, "healthy", v.message);
    assert.match(v.message, /output: done$/);
    const child = Number(await Deno.readTextFile(`${dir}/child`));
    assert.equal(await gone(child), true, `background child ${child} must be gone`);
  });
});

Deno.test("exec: the listener stopping kills the command; the verdict is unknown", async () => {
  await withDir(async (dir) => {
    const ac = new AbortController();
    const pending = check(
      { command: `echo $$ > ${dir}/shell; sleep 60`, timeout: 30 },
      proc(),
      ac.signal,
    );
    setTimeout(() => ac.abort(), 300);
    const v = await pending;
    assert.equal(v.status, "unknown");
    assert.equal(v.message, "listener is stopping: command killed");
    assert.equal(await gone(Number(await Deno.readTextFile(`${dir}/shell`))), true);
  });
});

Deno.test("exec: death by a signal is unhealthy; a command sh cannot find or run is unknown", async () => {
  const killed = await check({ command: "kill -TERM $$" });
  assert.equal(killed.status, "unhealthy");
  assert.match(killed.message, /^command killed by SIGTERM after \d+ ms/);

  const missing = await check({ command: "no-such-command-for-exec-test --flag" });
  assert.equal(missing.status, "unknown");
  assert.match(
    missing.message,
    /^command exited 127: the shell could not find it, a configuration error; output: .*no-such-command-for-exec-test.*not found/,
  );
  const notExecutable = await check({ command: "/dev/null" });
  assert.equal(notExecutable.status, "unknown");
  assert.match(notExecutable.message, /^command exited 126: the shell could not execute it/);
});

Deno.test("exec: long output is capped to its end", async () => {
  const v = await check({
    command:
      `i=0; while [ $i -lt 300 ]; do echo "line $i"; i=$((i+1)); done; echo "the real reason" >&2; exit 1`,
  });
  assert.equal(v.status, "unhealthy");
  const output = v.message.slice(v.message.indexOf("; output: ") + "; output: ".length);
  assert.equal(output.length, OUTPUT_CHARS);
  assert.match(output, /^\[cut: \d+ characters in all\] …/);
  assert.ok(output.endsWith("the real reason"), output);
});

Deno.test("exec: output is summarized on one line", () => {
  assert.equal(
    summarizeOutput("  first\r\n\n\tsecond \x1b[31mred\x1b[0m\n\n"),
    "first | second \\x1b[31mred\\x1b[0m",
  );
  assert.equal(summarizeOutput("\n \n"), "");
  assert.equal(
    summarizeOutput(`${"x".repeat(100)}abcdef`, 40),
    "[cut: 106 characters in all] …xxxxabcdef",
  );
});

Deno.test("exec: the command never writes to the listener's stdout", async () => {
  const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", RUN_CHECK, "echo to-stdout; echo to-stderr >&2"],
    stdin: "null",
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.ok(success, err);
  assert.equal(new TextDecoder().decode(stdout), "", "stdout must stay empty");
  const verdict = JSON.parse(err.trim().split("\n").at(-1)!);
  assert.equal(verdict.status, "healthy");
  assert.match(verdict.message, /to-stdout/);
  assert.match(verdict.message, /to-stderr/);
});

Deno.test("exec: start-up errors name the flags; retries default to 0", () => {
  assert.equal(usageError({}), "--command: is required");
  assert.equal(usageError({ command: "  " }), "--command: must not be empty");
  assert.equal(usageError({ command: [] }), "--command: must name a program");
  assert.match(usageError({ command: 5 }), /^--command: must be a shell command, or /);
  assert.match(
    usageError({ command: "if true; then echo" }),
    /^--command: not valid \/bin\/sh syntax: .*/,
  );
  assert.match(usageError({ command: "true", port: "(" }), /^-p\/--port: '\(' is not a valid/);
  assert.match(usageError({ command: "true", timeout: "soon" }), /^-t\/--timeout: expected/);
  assert.match(usageError({ command: "true", num_retries: "-1" }), /^-r\/--num-retries: /);
  const { options } = configureCheck(execCheck, { command: "true" });
  assert.equal(execCheck.retries?.(options as never), 0);
  const json = configureCheck(execCheck, { command: "true", timeout: 2, num_retries: 1, port: 80 });
  assert.equal(execCheck.retries?.(json.options as never), 1);
});
