/** `supervisor-checks complex` under a real supervisord. */
import assert from "node:assert/strict";
import { freePorts, listenerSection, Supervisord, webProgram } from "../support/supervisord.ts";

Deno.test("complex --config YAML: http and tcp on every process; the log names the failed check", async () => {
  const ports = freePorts(2);
  const names = ports.map((p) => `web_${p}`);
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.writeTextFileSync(
        `${dir}/checks.yaml`,
        "http:\n  port: '.+_(\\d+)'\n  url: /ping\n  timeout: 1\n  num_retries: 0\n" +
          "tcp:\n  port: '.+_(\\d+)'\n  timeout: 1\n",
      );
      return names.map((n, i) => webProgram(n, ports[i])).join("\n") +
        `[group:web]\nprograms=${names.join(",")}\n` +
        listenerSection("combo", [
          "complex",
          "-n",
          "combo",
          "-g",
          "web",
          "--config",
          `${dir}/checks.yaml`,
        ], dir);
    },
  });
  const specs = names.map((n) => `web:${n}`);
  const before = await sv.waitRunning(specs);
  await sv.kill(specs[0], "SIGSTOP"); // tcp still passes (backlog), http does not
  await sv.waitRestarted(specs[0], before[specs[0]]);
  assert.equal((await sv.process(specs[1])).pid, before[specs[1]]);
  const log = await sv.listenerLog("combo");
  assert.match(log, /listening: http\+tcp check of group 'web'/);
  assert.match(
    log,
    new RegExp(`${specs[0]} \\(pid ${before[specs[0]]}\\): restarting: failed http\\n`),
  );
});
