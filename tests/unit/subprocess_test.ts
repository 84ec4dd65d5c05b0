/**
 * lib/subprocess.ts: the bounded runner behind exec checks, sendmail, gcore
 * and --restart-command, with real processes; command lines split and quoted
 * as /bin/sh does.
 */
import assert from "node:assert/strict";
import {
  runCommand,
  shellCommand,
  shellQuote,
  shellSyntaxError,
  splitCommandLine,
} from "../../lib/subprocess.ts";

Deno.test("runCommand: exit status, output, environment, input", async () => {
  const r = await runCommand(["/bin/sh", "-c", 'cat; echo "$FOO"; echo err >&2; exit 3'], {
    input: "in\n",
    env: { FOO: "bar" },
    timeoutMs: 30_000,
  });
  assert.deepEqual(r, {
    code: 3,
    signal: undefined,
    stdout: "in\nbar\n",
    stderr: "err\n",
    timedOut: false,
  });
});

Deno.test("runCommand: merged output holds both streams; only its end is kept", async () => {
  const r = await runCommand(
    [
      "/bin/sh",
      "-c",
      "echo one; echo two >&2; echo three; head -c 70000 /dev/zero | tr '\\0' x; echo; echo end",
    ],
    { timeoutMs: 30_000, mergeOutput: true },
  );
  assert.equal(r.stderr, "");
  assert.ok(r.stdout.startsWith("[output truncated]\n"), r.stdout.slice(0, 40));
  assert.ok(r.stdout.endsWith("x\nend\n"));
  const small = await runCommand(["/bin/sh", "-c", "echo one; echo two >&2; echo three"], {
    timeoutMs: 30_000,
    mergeOutput: true,
  });
  // two pipes: the order between them is the order they are read in
  assert.deepEqual(small.stdout.split("\n").sort(), ["", "one", "three", "two"]);
  assert.ok(small.stdout.indexOf("one") < small.stdout.indexOf("three"));
});

Deno.test("runCommand: the caller's signal kills it with its descendants", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ac = new AbortController();
    const running = runCommand([
      "/bin/sh",
      "-c",
      `setsid sh -c 'echo $$ > ${dir}/away; exec sleep 60' & sleep 60`,
    ], { timeoutMs: 30_000, signal: ac.signal });
    const away = await (async () => {
      for (let i = 0; i < 100; i++) {
        const text = await Deno.readTextFile(`${dir}/away`).catch(() => "");
        if (text.trim()) return Number(text);
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("the setsid child never wrote its pid");
    })();
    ac.abort();
    const r = await running;
    assert.equal(r.aborted, true);
    assert.equal(r.signal, "SIGKILL");
    const stat = await Deno.readTextFile(`/proc/${away}/stat`).catch(() => "");
    assert.ok(stat === "" || stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z", stat);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("splitCommandLine splits like a shell for simple quoting", () => {
  assert.deepEqual(splitCommandLine("/usr/sbin/sendmail -t -i"), [
    "/usr/sbin/sendmail",
    "-t",
    "-i",
  ]);
  assert.deepEqual(splitCommandLine(`  a  'b c'  "d \\"e\\" $f" g\\ h ''`), [
    "a",
    "b c",
    'd "e" $f',
    "g h",
    "",
  ]);
  assert.deepEqual(splitCommandLine(`x'y'"z"`), ["xyz"]);
  assert.throws(() => splitCommandLine("a 'b"), /unterminated '/);
  assert.throws(() => splitCommandLine('a "b'), /unterminated "/);
  assert.throws(() => splitCommandLine("   "), /empty/);
});

Deno.test("shellQuote: /bin/sh and splitCommandLine read back the very argv", async () => {
  const argv = ["printf", "%s|", "it's $HOME", 'a "b" `c`', "\\ ;*", ""];
  const text = shellQuote(argv);
  assert.deepEqual(splitCommandLine(text), argv);
  const r = await runCommand(shellCommand(text), { timeoutMs: 30_000 });
  assert.equal(r.stdout, 'it\'s $HOME|a "b" `c`|\\ ;*||');
});

Deno.test("shellSyntaxError: the shell's complaint, nothing run", () => {
  assert.equal(shellSyntaxError("test -e /x && echo ok"), undefined);
  const dir = Deno.makeTempDirSync();
  try {
    const error = shellSyntaxError(`touch ${dir}/ran; if true; then`);
    assert.match(error ?? "", /\S/);
    assert.throws(() => Deno.statSync(`${dir}/ran`), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
