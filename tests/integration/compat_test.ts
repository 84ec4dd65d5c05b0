/**
 * install-compat: an existing supervisord config written for the Python
 * package works unchanged with the wrappers.
 */
import assert from "node:assert/strict";
import { DENO, freePorts, RUN_MAIN, Supervisord, webProgram } from "../support/supervisord.ts";

async function install(dir: string, ...extra: string[]) {
  return await new Deno.Command(DENO, {
    args: [...RUN_MAIN, "install-compat", dir, ...extra],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("install-compat writes the seven original names and superlance's six, refusing foreign files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const foreign = {
      supervisor_cpu_check: "#!/usr/bin/python3\n# pip's\n",
      memmon: "#!/usr/bin/python3\n# superlance's\n",
    };
    for (const [name, text] of Object.entries(foreign)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const refused = await install(dir);
    assert.equal(refused.code, 2);
    assert.match(
      new TextDecoder().decode(refused.stderr),
      /not replacing .*supervisor_cpu_check, .*memmon: not written by install-compat/,
    );
    const untouched = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(untouched, ["memmon", "supervisor_cpu_check"]);
    for (const [name, text] of Object.entries(foreign)) {
      assert.equal(await Deno.readTextFile(`${dir}/${name}`), text, `${name} left as it was`);
    }

    const forced = await install(dir, "--force");
    assert.equal(forced.code, 0);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, [
      "crashmail",
      "crashmailbatch",
      "crashsms",
      "fatalmailbatch",
      "httpok",
      "memmon",
      "supervisor_complex_check",
      "supervisor_cpu_check",
      "supervisor_file_check",
      "supervisor_http_check",
      "supervisor_memory_check",
      "supervisor_tcp_check",
      "supervisor_xmlrpc_check",
    ]);
    for (const name of names) {
      assert.ok(((await Deno.stat(`${dir}/${name}`)).mode! & 0o111) !== 0, `${name} executable`);
    }
    const superlance = [
      "httpok",
      "memmon",
      "crashmail",
      "crashmailbatch",
      "fatalmailbatch",
      "crashsms",
    ];
    // each superlance name runs the subcommand of that name
    for (
      const [wrapper, usage] of [["supervisor_tcp_check", "tcp"], ...superlance.map((n) => [n, n])]
    ) {
      const help = await new Deno.Command(`${dir}/${wrapper}`, { args: ["--help"] }).output();
      assert.match(
        new TextDecoder().decode(help.stdout),
        new RegExp(`Usage: supervisor-checks ${usage} `),
      );
    }
    assert.equal((await install(dir)).code, 0, "its own wrappers are replaced without --force");
    for (
      const [flags, named] of [[["--binary", "/nonexistent"], /--binary: \/nonexistent/], [
        ["--forse"],
        /'--forse'/,
      ]] as const
    ) {
      const bad = await install(dir, ...flags);
      assert.equal(bad.code, 2, flags.join(" "));
      assert.match(new TextDecoder().decode(bad.stderr), named);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an original-style [eventlistener] config restarts a frozen service through the wrapper", async () => {
  const ports = freePorts(2);
  const names = ports.map((p) => `example_service_${p}`);
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.mkdirSync(`${dir}/bin`);
      return names.map((n, i) => webProgram(n, ports[i])).join("\n") +
        `[group:example_service]\nprograms=${names.join(",")}\n\n` +
        // the line of the original README, with shorter timeouts
        `[eventlistener:example_check]
command=${dir}/bin/supervisor_http_check -g example_service -n example_check -u /ping -t 1 -r 1 -p ".+_(\\\\d+)"
events=TICK_5
stderr_logfile=${dir}/example_check.err.log
autostart=false
`;
    },
  });
  const out = await install(`${sv.dir}/bin`);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  await sv.client.startProcess("example_check");
  const specs = names.map((n) => `example_service:${n}`);
  const before = await sv.waitRunning(specs);
  await sv.kill(specs[1], "SIGSTOP");
  await sv.waitRestarted(specs[1], before[specs[1]]);
  assert.equal((await sv.process(specs[0])).pid, before[specs[0]]);
  await sv.waitLog(
    "example_check",
    /\[example_check\] example_service:example_service_\d+ \(pid \d+\): restarted/,
  );
});
