/** `run --config`: several check sets for several groups in one listener, under supervisord. */
import assert from "node:assert/strict";
import { freePorts, listenerSection, Supervisord, webProgram } from "../support/supervisord.ts";

Deno.test("run --config: two groups, two check kinds, one listener; each failure restarted under its entry", async () => {
  const [web, api] = freePorts(2);
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.writeTextFileSync(
        `${dir}/checks.yaml`,
        `# defaults for every entry
interval: 1
checks:
  - name: shop
    group: shop
    http: { port: ${web}, url: /ping, timeout: 1, num_retries: 0 }
  - name: api
    process: api:api
    tcp: { port: ${api}, timeout: 1, num_retries: 0 }
    failure_threshold: 2
`,
      );
      return webProgram("shop", web) + webProgram("api", api) +
        listenerSection(
          "multi",
          ["run", "--config", `${dir}/checks.yaml`],
          dir,
          "events=TICK_60\n",
        );
    },
  });
  const before = await sv.waitRunning(["shop:shop", "api:api"]);
  await sv.waitLog("multi", /\[api\] listening: tcp check of process 'api:api'.*every 1s/);
  await sv.kill("shop:shop", "SIGSTOP"); // http fails, tcp would not
  await sv.kill("api:api", "SIGHUP"); // the fixture closes its listening socket
  await sv.waitRestarted("shop:shop", before["shop:shop"]);
  await sv.waitRestarted("api:api", before["api:api"]);
  const log = await sv.waitLog("multi", /\[api\] api:api \(pid \d+\): restarted/);
  assert.match(log, /\[shop\] listening: http check of group 'shop'.*every 1s/);
  assert.match(log, /\[shop\] shop:shop \(pid \d+\): restarting: failed http/);
  assert.match(
    log,
    /\[api\] api:api \(pid \d+\): failed tcp 1 of 2 times in a row: not restarting yet/,
  );
  assert.match(log, /\[api\] api:api \(pid \d+\): restarting: failed tcp/);
  assert.doesNotMatch(log, /\[shop\] api:api|\[api\] shop:shop/, "each entry judges only its own");
  await sv.client.stopProcess("multi");
  assert.match(await sv.listenerLog("multi"), /\[run\] received SIGTERM, stopping/);
});
