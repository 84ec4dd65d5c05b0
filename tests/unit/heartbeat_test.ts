/**
 * Heartbeat files without supervisord: the naming rule and its placeholders,
 * the glob matching, the `file` check's rule for missing files, the writers.
 */
import assert from "node:assert/strict";
import { fileCheck, judgeBeat, newestBeat } from "../../checks/file.ts";
import type { ProcessInfo, Verdict } from "../../lib/check.ts";
import { configureCheck } from "../../lib/cli.ts";
import { UsageError } from "../../lib/errors.ts";
import {
  DEFAULT_FILEPATH,
  FilepathTemplate,
  Heartbeat,
  heartbeatPath,
  NOTIFICATION_FILEPATH,
  type PlaceholderValues,
  touch,
} from "../../lib/heartbeat.ts";
import { DENO, MAIN, RUN_MAIN, waitFor } from "../support/supervisord.ts";

function values(root: string, pid = 42): PlaceholderValues {
  return {
    process_group: "workers",
    process_name: "hb",
    process_pid: String(pid),
    root_directory: root,
  };
}

function proc(pid: number, start: number): ProcessInfo {
  return { name: "hb", group: "workers", pid, state: 20, statename: "RUNNING", start };
}

const now = () => Date.now() / 1000;

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "heartbeat-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sets environment variables for the duration of `fn`. */
async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void> | void) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) Deno.env.delete(k);
      else Deno.env.set(k, value);
    }
  };
  apply(vars);
  try {
    await fn();
  } finally {
    apply(saved);
  }
}

async function runCheck(raw: Record<string, unknown>, process: ProcessInfo): Promise<Verdict> {
  const { options } = configureCheck(fileCheck, raw);
  // deno-lint-ignore no-explicit-any
  return await fileCheck.run(process, options as any, {
    signal: new AbortController().signal,
    attempt: 1,
    state: new Map(),
  });
}

Deno.test("naming: <root>/<group>-<name>-<pid>, defaults from the environment and TMPDIR", async () => {
  assert.equal(
    heartbeatPath({ group: "workers", name: "hb", pid: 42, rootDir: "/run/beats" }),
    "/run/beats/workers-hb-42",
  );
  await withEnv(
    { SUPERVISOR_GROUP_NAME: "g", SUPERVISOR_PROCESS_NAME: "n", TMPDIR: "/var/tmp" },
    () => {
      assert.equal(heartbeatPath(), `/var/tmp/g-n-${Deno.pid}`);
      assert.equal(new Heartbeat({ pid: 7 }).path, "/var/tmp/g-n-7");
    },
  );
  await withEnv({ SUPERVISOR_GROUP_NAME: undefined, SUPERVISOR_PROCESS_NAME: "n" }, () => {
    assert.throws(() => heartbeatPath(), /SUPERVISOR_GROUP_NAME is not set/);
    // a template without the group does not need it
    assert.equal(
      heartbeatPath({ filepath: "/x/%(process_name)s.%(process_pid)s", pid: 3 }),
      "/x/n.3",
    );
  });
});

Deno.test("placeholders: Python-style, the trailing s optional, relative paths under the root", () => {
  const v = values("/root");
  const expand = (t: string) => FilepathTemplate.parse(t).expand(v);
  assert.equal(FilepathTemplate.parse(DEFAULT_FILEPATH).expand(v), "/root/workers-hb-42");
  assert.equal(expand("%(root_directory)/%(process_group)s-%(process_name)s"), "/root/workers-hb");
  assert.equal(expand("/run/%(process_group)s/%(process_name)s.beat"), "/run/workers/hb.beat");
  assert.equal(expand("beats/%(process_pid)s"), "/root/beats/42");
  assert.equal(expand("/a/%(process_name)suffix"), "/a/hbuffix"); // as in Python
  assert.equal(FilepathTemplate.parse(NOTIFICATION_FILEPATH).expand(v), "/root/workers-hb-42-*");

  assert.equal(FilepathTemplate.parse("/a/%(process_pid)s").usesRootDir, false);
  assert.equal(FilepathTemplate.parse("%(root_directory)s/x").usesRootDir, true);
  assert.equal(FilepathTemplate.parse("%(process_group)s/x").usesRootDir, true);

  assert.throws(() => FilepathTemplate.parse("/a/%(pid)s"), /unknown placeholder %\(pid\)s/);
  assert.throws(() => FilepathTemplate.parse("/a/*/b"), /\* is allowed in the file name only/);
  assert.throws(() => FilepathTemplate.parse("/a/%(process_name)s/"), /names a directory/);
  assert.throws(() => FilepathTemplate.parse(" "), /must not be empty/);
  assert.throws(() => heartbeatPath({ filepath: "/a/b-*" }), /a writer needs one file name/);
});

Deno.test("glob: * matches any run of characters in the file name, the rest literally", () => {
  const notification = FilepathTemplate.parse(NOTIFICATION_FILEPATH).glob(values("/root", 12));
  assert.equal(notification.dir, "/root");
  for (const name of ["workers-hb-12-", "workers-hb-12-k3x_9a0z", "workers-hb-12-a-b"]) {
    assert.ok(notification.name.test(name), name);
  }
  for (
    const name of ["workers-hb-12", "workers-hb-123-abc", "xworkers-hb-12-a", "workers-hb-1-2"]
  ) {
    assert.ok(!notification.name.test(name), name);
  }
  // regex characters in names and templates are literal
  const special = FilepathTemplate.parse("/r/%(process_group)s.(*)+").glob({
    ...values("/root"),
    process_group: "a.b+",
  });
  assert.ok(special.name.test("a.b+.(x)+"));
  assert.ok(!special.name.test("axb+.(x)+"));
  assert.ok(!special.name.test("a.bb.(x)+"));
  // a glob without a directory part lists the root dir
  assert.equal(FilepathTemplate.parse("hb-*").glob(values("/root")).dir, "/root");
});

Deno.test("missing-file rule: the process's start counts as its first heartbeat", () => {
  const t = 1_000_000;
  const at = (changed: number) => ({ path: "/r/f", changed });
  const judge = (beat: ReturnType<typeof at> | undefined, start: number, nowAt: number) =>
    judgeBeat(beat, { start }, 3, nowAt, "/r/f");

  // no file: fine while the process is younger than the timeout
  let v = judge(undefined, t, t + 2);
  assert.equal(v.status, "healthy");
  assert.match(v.message, /no heartbeat file \/r\/f; started 2\.0s ago, within the 3s timeout/);
  v = judge(undefined, t, t + 4);
  assert.equal(v.status, "unhealthy");
  assert.match(v.message, /no heartbeat file \/r\/f; running for 4\.0s, over the 3s timeout/);

  // a file older than the process (an earlier instance's) counts as none
  assert.equal(judge(at(t - 100), t, t + 2).status, "healthy");
  v = judge(at(t - 100), t, t + 4);
  assert.equal(v.status, "unhealthy");
  assert.match(v.message, /last changed before the process started/);

  // a file: fresh within the timeout, from its own last change
  assert.equal(judge(at(t + 10), t, t + 13).status, "healthy");
  v = judge(at(t + 10), t, t + 13.5);
  assert.equal(v.status, "unhealthy");
  assert.match(v.message, /heartbeat \/r\/f last changed 3\.5s ago, over the 3s timeout/);
  // changed in the future (clock steps): fresh
  assert.equal(judge(at(t + 20), t, t + 13).status, "healthy");
});

Deno.test("newestBeat: the exact name and NotificationFile names, the freshest wins", async () => {
  await withDir(async (dir) => {
    const templates = [DEFAULT_FILEPATH, NOTIFICATION_FILEPATH].map((t) =>
      FilepathTemplate.parse(t)
    );
    const v = values(dir, 42);
    assert.deepEqual(await newestBeat(templates, v), { foreign: [] });

    await touch(`${dir}/workers-hb-42`);
    await touch(`${dir}/workers-hb-42-abcd1234`);
    await touch(`${dir}/workers-hb-4200`); // another pid
    const future = new Date(Date.now() + 100_000);
    await Deno.utime(`${dir}/workers-hb-4200`, future, future);
    let beat = (await newestBeat(templates, v)).beat;
    assert.ok(beat && beat.path.startsWith(`${dir}/workers-hb-42`) && beat.changed <= now() + 1);

    await Deno.utime(`${dir}/workers-hb-42-abcd1234`, future, future);
    beat = (await newestBeat(templates, v)).beat;
    assert.equal(beat?.path, `${dir}/workers-hb-42-abcd1234`);
    assert.equal(beat?.changed, future.getTime() / 1000);

    // ctime counts too: setting an old mtime changes the ctime to now
    const past = new Date(Date.now() - 100_000);
    await Deno.utime(`${dir}/workers-hb-42-abcd1234`, past, past);
    beat = (await newestBeat(templates, v)).beat;
    assert.ok(beat && beat.changed > now() - 10);

    // a missing directory on the way is no file yet; a file in the way is an error
    const nested = [FilepathTemplate.parse("%(root_directory)s/%(process_group)s/*")];
    assert.deepEqual(await newestBeat(nested, v), { foreign: [] });
    await Deno.writeTextFile(`${dir}/workers`, "");
    await assert.rejects(() => newestBeat(nested, v), Deno.errors.NotADirectory);
  });
});

Deno.test("file check: verdicts from real files, errors unknown unless -x", async () => {
  await withDir(async (dir) => {
    const started = Math.floor(now());
    // this process: the check reads its uid from /proc/<pid>/status
    const running = proc(Deno.pid, started);
    const longRunning = proc(Deno.pid, started - 60);
    const raw = { timeout: "3", root_dir: dir };

    let v = await runCheck(raw, running);
    assert.equal(v.status, "healthy");
    v = await runCheck(raw, longRunning);
    assert.equal(v.status, "unhealthy");
    assert.match(
      v.message,
      new RegExp(
        `no heartbeat file .*workers-hb-${Deno.pid} or .*workers-hb-${Deno.pid}-\\*; running for`,
      ),
    );

    await new Heartbeat({ group: "workers", name: "hb", pid: Deno.pid, rootDir: dir }).beat();
    v = await runCheck(raw, longRunning);
    assert.equal(v.status, "healthy");
    assert.match(
      v.message,
      new RegExp(`heartbeat .*/workers-hb-${Deno.pid} changed \\d+\\.\\ds ago`),
    );

    // -f with placeholders, as JSON values from a config file
    await touch(`${dir}/hb.beat`);
    const json = { timeout: 3, filepath: "%(process_name)s.beat", root_dir: dir };
    assert.equal((await runCheck(json, longRunning)).status, "healthy");

    // a regular file where a directory should be: not the process's fault
    const broken = { timeout: 3, filepath: `${dir}/hb.beat/%(process_pid)s` };
    v = await runCheck(broken, longRunning);
    assert.equal(v.status, "unknown");
    assert.match(
      v.message,
      new RegExp(`cannot look for heartbeat file .*hb\\.beat/${Deno.pid}: Not a directory`),
    );
    v = await runCheck({ ...broken, fail_on_error: true }, longRunning);
    assert.equal(v.status, "unhealthy");
  });
});

Deno.test("file check options: -t required, errors name the flag", async () => {
  const fails = (raw: Record<string, unknown>, message: RegExp) =>
    assert.throws(() => configureCheck(fileCheck, raw), (e) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, message);
      return true;
    });
  fails({}, /^-t\/--timeout: is required$/);
  fails({ timeout: "0" }, /^-t\/--timeout: must be greater than 0$/);
  fails({ timeout: "3", filepath: "/x/%(group)s" }, /^-f\/--filepath: unknown placeholder/);
  fails({ timeout: "3", fail_on_error: "yes" }, /^-x\/--fail-on-error: must be true or false$/);
  fails({ timeout: "3", root_dir: "/nonexistent-dir" }, /^-d\/--root-dir: .* does not exist$/);
  fails({ timeout: "3", root_dir: "/tmp", filepath: "/x/y" }, /^-d\/--root-dir: has no effect/);
  await withEnv({ TMPDIR: "/nonexistent-dir" }, () => {
    fails({ timeout: "3" }, /the OS temp dir \/nonexistent-dir \(TMPDIR\) does not exist/);
  });
  // no retries: looking at a file again a moment later changes nothing
  assert.equal(fileCheck.retries, undefined);
});

Deno.test("Heartbeat: beat creates or touches the file, start beats until stopped", async () => {
  await withDir(async (dir) => {
    const heartbeat = new Heartbeat({ group: "g", name: "n", pid: 5, rootDir: dir });
    assert.equal(heartbeat.path, `${dir}/g-n-5`);
    await heartbeat.beat();
    await Deno.writeTextFile(heartbeat.path, "kept");
    const past = new Date(Date.now() - 100_000);
    await Deno.utime(heartbeat.path, past, past);
    await heartbeat.beat();
    const info = await Deno.stat(heartbeat.path);
    assert.ok(info.mtime!.getTime() > Date.now() - 10_000);
    assert.equal(await Deno.readTextFile(heartbeat.path), "kept");

    await Deno.utime(heartbeat.path, past, past);
    const stop = heartbeat.start(0.05);
    await waitFor(
      "a beat from start()",
      async () => (await Deno.stat(heartbeat.path)).mtime!.getTime() > past.getTime(),
      5_000,
      20,
    );
    stop();

    const errors: Error[] = [];
    const orphan = new Heartbeat({ group: "g", name: "n", pid: 5, rootDir: `${dir}/missing` });
    const stopOrphan = orphan.start(0.05, (e) => errors.push(e));
    await waitFor("a failed beat reported", () => errors.length > 0, 5_000, 20);
    stopOrphan();
    assert.ok(errors[0] instanceof Deno.errors.NotFound);
  });
});

/** Whether `pid` has exited (a zombie nobody reaps counts as exited). */
function gone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`); // "pid (comm) state ..."
    return stat[stat.lastIndexOf(")") + 2] === "Z";
  } catch {
    return true;
  }
}

async function heartbeatCommand(script: string, env: Record<string, string>) {
  const out = await new Deno.Command("bash", {
    args: ["-c", script, "bash", DENO, MAIN],
    env: { SUPERVISOR_GROUP_NAME: "workers", SUPERVISOR_PROCESS_NAME: "hb", ...env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("heartbeat subcommand: touches the file named after its parent's pid", async () => {
  await withDir(async (dir) => {
    // bash runs the command as a child and then prints its own pid
    const r = await heartbeatCommand(`"$1" run -A --no-prompt "$2" heartbeat; echo "$? $$"`, {
      TMPDIR: dir,
    });
    const [code, bashPid] = r.stdout.trim().split(" ");
    assert.equal(code, "0", r.stderr);
    assert.ok((await Deno.stat(`${dir}/workers-hb-${bashPid}`)).isFile);

    const custom = await heartbeatCommand(
      `"$1" run -A --no-prompt "$2" heartbeat --pid 77 -d "${dir}" -f 'beats/%(process_name)s.%(process_pid)s'`,
      {},
    );
    assert.equal(custom.code, 1);
    assert.match(custom.stderr, /cannot touch .*\/beats\/hb\.77: No such file or directory/);
    await Deno.mkdir(`${dir}/beats`);
    assert.equal(
      (await heartbeatCommand(
        `"$1" run -A --no-prompt "$2" heartbeat --pid 77 -f "${dir}/beats/x"`,
        {},
      ))
        .code,
      0,
    );
    assert.ok((await Deno.stat(`${dir}/beats/x`)).isFile);
  });
});

Deno.test("heartbeat subcommand: bad flags and environment exit 2 naming the flag", async () => {
  for (
    const [args, message] of [
      ["--every 0", /--every: expected a number of seconds greater than 0, got '0'/],
      ["--pid abc", /--pid: expected a process id, got 'abc'/],
      ["-f '/a/*'", /-f\/--filepath: '\/a\/\*': a writer needs one file name/],
      ["-f '/a/%(x)s'", /-f\/--filepath: unknown placeholder %\(x\)s/],
      ["-d /tmp -f /a/b", /-d\/--root-dir: has no effect/],
      ["--bogus", /Unknown option '--bogus'/],
    ] as const
  ) {
    const r = await heartbeatCommand(`"$1" run -A --no-prompt "$2" heartbeat ${args}`, {});
    assert.equal(r.code, 2, args);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /Try 'supervisor-checks heartbeat --help'/);
  }
  const noEnv = await new Deno.Command(DENO, {
    args: [...RUN_MAIN, "heartbeat"],
    env: { SUPERVISOR_GROUP_NAME: "", SUPERVISOR_PROCESS_NAME: "" },
    stdin: "null",
  }).output();
  assert.equal(noEnv.code, 2);
  assert.match(new TextDecoder().decode(noEnv.stderr), /SUPERVISOR_GROUP_NAME is not set/);
  const help = await heartbeatCommand(`"$1" run -A --no-prompt "$2" heartbeat --help`, {});
  assert.equal(help.code, 0);
  for (const flag of ["-d/--root-dir", "-f/--filepath", "--pid", "--every", "-h/--help"]) {
    assert.ok(help.stdout.includes(flag), flag);
  }
});

Deno.test("heartbeat subcommand: --every keeps beating and ends when its parent dies", async () => {
  await withDir(async (dir) => {
    // bash starts the beater in the background, waits for its first beat, backdates
    // the file, waits for a later beat to change it, reports the pids and exits
    const r = await heartbeatCommand(
      `"$1" run -A --no-prompt "$2" heartbeat --every 0.2 & f="$TMPDIR/workers-hb-$$"; ` +
        `for i in $(seq 200); do [ -e "$f" ] && break; sleep 0.1; done; ` +
        `touch -d 2000-01-01 "$f"; ` +
        `for i in $(seq 200); do [ "$(stat -c %Y "$f")" != 946684800 ] && break; sleep 0.1; done; ` +
        `echo "$! $$ $(stat -c %Y "$f")"`,
      { TMPDIR: dir },
    );
    const [beater, bashPid, mtime] = r.stdout.trim().split(" ").map(Number);
    assert.ok(beater > 0 && bashPid > 0, r.stdout + r.stderr);
    assert.notEqual(mtime, 946684800, "a beat after the first one");
    await waitFor("the beater to notice its parent died and exit", () => gone(beater), 20_000);
    assert.ok((await Deno.stat(`${dir}/workers-hb-${bashPid}`)).isFile);
  });
});

/** uid and gid of `nobody`: another user, for files this (root) test plants. */
const NOBODY = 65534;

Deno.test("touch: never through a symlink, a FIFO or another user's file", async () => {
  // guarantee: Heartbeat files
  await withDir(async (dir) => {
    // a link planted at the heartbeat path, to a file and to a directory it would create in
    await Deno.mkdir(`${dir}/private`);
    await Deno.symlink(`${dir}/private/created`, `${dir}/dangling`);
    await assert.rejects(
      () => touch(`${dir}/dangling`),
      /dangling is a symbolic link: not followed/,
    );
    await assert.rejects(() => Deno.lstat(`${dir}/private/created`), Deno.errors.NotFound);
    await Deno.writeTextFile(`${dir}/private/existing`, "");
    const past = new Date(Date.now() - 100_000);
    await Deno.utime(`${dir}/private/existing`, past, past);
    await Deno.symlink(`${dir}/private/existing`, `${dir}/link`);
    await assert.rejects(() => new Heartbeat({ filepath: `${dir}/link` }).beat(), /symbolic link/);
    assert.equal((await Deno.stat(`${dir}/private/existing`)).mtime!.getTime(), past.getTime());

    // a FIFO would block a plain open until a reader comes: refused at once
    const mkfifo = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    assert.ok(mkfifo.success);
    await assert.rejects(() => touch(`${dir}/fifo`), /fifo is not a regular file: not touched/);

    // a regular file of another user: the check would not count it anyway
    await Deno.writeTextFile(`${dir}/theirs`, "");
    await Deno.chown(`${dir}/theirs`, NOBODY, NOBODY);
    await Deno.utime(`${dir}/theirs`, past, past);
    await assert.rejects(
      () => touch(`${dir}/theirs`),
      /theirs belongs to uid 65534, not to this user/,
    );
    assert.equal((await Deno.stat(`${dir}/theirs`)).mtime!.getTime(), past.getTime());

    // its own file, created or touched
    await touch(`${dir}/mine`);
    await Deno.utime(`${dir}/mine`, past, past);
    await touch(`${dir}/mine`);
    assert.ok((await Deno.stat(`${dir}/mine`)).mtime!.getTime() > past.getTime());
  });
});

Deno.test("file check: files and links of another uid are ignored, and named", async () => {
  // guarantee: Heartbeat files
  await withDir(async (dir) => {
    const longRunning = proc(Deno.pid, Math.floor(now()) - 60);
    const raw = { timeout: "3", root_dir: dir };
    const mine = `${dir}/workers-hb-${Deno.pid}`;
    const theirs = `${dir}/workers-hb-${Deno.pid}-x`;
    await Deno.writeTextFile(theirs, "");
    await Deno.chown(theirs, NOBODY, NOBODY);
    let v = await runCheck(raw, longRunning);
    assert.equal(v.status, "unhealthy");
    assert.match(
      v.message,
      new RegExp(
        `no heartbeat file .*; running for .* \\(ignored ${theirs} \\(uid ${NOBODY}\\): ` +
          `not owned by the process's uid ${Deno.uid()}\\)$`,
      ),
    );

    // a link of another user to a fresh file of the process's user: ignored too
    await touch(`${dir}/fresh`);
    await Deno.remove(theirs);
    await Deno.symlink(`${dir}/fresh`, theirs);
    const lchown = await new Deno.Command("chown", { args: ["-h", `${NOBODY}`, theirs] }).output();
    assert.ok(lchown.success);
    v = await runCheck(raw, longRunning);
    assert.equal(v.status, "unhealthy");
    assert.match(v.message, /ignored .*-x \(uid 65534\)/);
    // the process's own link is followed
    await Deno.symlink(`${dir}/fresh`, mine);
    v = await runCheck(raw, longRunning);
    assert.equal(v.status, "healthy");
    assert.match(
      v.message,
      new RegExp(`heartbeat ${mine} changed .*\\(ignored .*-x \\(uid 65534\\)`),
    );
  });
});

/** A pid that existed and has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("file check: removes default-named files of exited pids that the process's user owns", async () => {
  // guarantee: Heartbeat files
  await withDir(async (dir) => {
    const process = proc(Deno.pid, Math.floor(now()));
    const dead = await deadPid();
    const name = (suffix: string) => `${dir}/workers-hb-${suffix}`;
    const stale = name(String(dead));
    const kept = [
      name(String(Deno.pid)), // the process's own
      name("1"), // a pid that exists
      name(`${dead}-abcd1234`), // NotificationFile-style
      `${dir}/workers-hb-x-${dead}`, // another program's (workers:hb-x) of the same dead pid…
      `${dir}/other-hb-${dead}`, // another group's
    ];
    const foreign = name(String(dead + 1_000_000)); // no such pid, another user's
    for (const path of [stale, ...kept, foreign]) await touch(path);
    await Deno.chown(foreign, NOBODY, NOBODY);

    // with -f: nothing removed
    let v = await runCheck({ timeout: 3, root_dir: dir, filepath: "workers-hb-*" }, process);
    assert.doesNotMatch(v.message, /removed/);
    assert.ok((await Deno.lstat(stale)).isFile);

    v = await runCheck({ timeout: 3, root_dir: dir }, process);
    assert.equal(v.status, "healthy");
    assert.match(v.message, new RegExp(`\\(removed files of exited pids: ${stale}\\)$`));
    await assert.rejects(() => Deno.lstat(stale), Deno.errors.NotFound);
    for (const path of [...kept, foreign]) assert.ok((await Deno.lstat(path)).isFile, path);
    // …which its own check does remove
    v = await runCheck({ timeout: 3, root_dir: dir }, { ...process, name: "hb-x" });
    assert.match(v.message, /removed files of exited pids: .*workers-hb-x-\d+\)$/);
  });
});

Deno.test("heartbeat subcommand: a symlink planted at its path is refused, nothing is created", async () => {
  // guarantee: Heartbeat files
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/root-only`, { mode: 0o700 });
    await Deno.symlink(`${dir}/root-only/created`, `${dir}/workers-hb-77`);
    const r = await heartbeatCommand(`"$1" run -A --no-prompt "$2" heartbeat --pid 77`, {
      TMPDIR: dir,
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /heartbeat: cannot touch .*\/workers-hb-77: .*workers-hb-77 is a symbolic link: not followed/,
    );
    await assert.rejects(() => Deno.lstat(`${dir}/root-only/created`), Deno.errors.NotFound);
  });
});
