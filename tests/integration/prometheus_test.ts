/**
 * The fleet side, with Debian's Prometheus tools: the example rules pass
 * `promtool check rules` and their unit tests (`promtool test rules`), the
 * example config `promtool check config`; and a real Prometheus server
 * scraping a real listener under a real supervisord sees a frozen service's
 * restart in its counter and its state series.
 */
import assert from "node:assert/strict";
import {
  freePorts,
  listenerSection,
  REPO,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

const EXAMPLES = `${REPO}examples/prometheus`;

async function promtool(...args: string[]): Promise<string> {
  const out = await new Deno.Command("promtool", { args, cwd: EXAMPLES }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `promtool ${args.join(" ")}:\n${text}`);
  return text;
}

Deno.test("examples/prometheus: the alerting rules are valid and pass their unit tests", async () => {
  // guarantee: Metrics
  assert.match(await promtool("check", "rules", "alerts.yml"), /SUCCESS: 8 rules found/);
  assert.match(await promtool("test", "rules", "alerts_test.yml"), /SUCCESS/);
  assert.match(await promtool("check", "config", "prometheus.yml"), /is valid prometheus config/);
  // Alertmanager's own checker reads the routing example as Alertmanager would
  const am = await new Deno.Command("amtool", {
    args: ["check-config", "alertmanager.yml"],
    cwd: EXAMPLES,
  }).output();
  const amText = new TextDecoder().decode(am.stdout) + new TextDecoder().decode(am.stderr);
  assert.equal(am.code, 0, `amtool check-config alertmanager.yml:\n${amText}`);
  assert.match(amText, /SUCCESS/);
});

/** A Prometheus server in `dir`, scraping `targets` every second with the example rules. */
async function startPrometheus(dir: string, targets: string[]) {
  const [port] = freePorts(1);
  await Deno.writeTextFile(
    `${dir}/targets.yml`,
    `- targets: [${targets.map((t) => `"${t}"`).join(", ")}]\n`,
  );
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["${EXAMPLES}/alerts.yml"]
scrape_configs:
  - job_name: supervisor-checks
    file_sd_configs:
      - files: ["${dir}/targets.yml"]
`,
  );
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  return {
    child,
    /** The instant vector of `expr`: label sets and values. */
    async query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]> {
      const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await res.json();
      assert.equal(body.status, "success", JSON.stringify(body));
      return body.data.result.map((
        r: { metric: Record<string, string>; value: [number, string] },
      ) => ({
        metric: r.metric,
        value: Number(r.value[1]),
      }));
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone already */ }
      await child.status;
    },
  };
}

Deno.test("prometheus: a real server sees a frozen service's restart in the counter and the state series", async () => {
  // guarantee: Metrics
  const [web, metrics] = freePorts(2);
  const dir = await Deno.makeTempDir({ prefix: "supervisor-checks-prometheus-" });
  try {
    await using sv = await Supervisord.start({
      sections: (svDir) =>
        webProgram("web", web) +
        listenerSection(
          "watch",
          [
            "http",
            "-n",
            "watch",
            "-N",
            "web:web",
            "-p",
            String(web),
            "-u",
            "/ping",
            "-t",
            "1",
            "-r",
            "0",
            "--interval",
            "1",
            "--metrics-listen",
            `127.0.0.1:${metrics}`,
          ],
          svDir,
          "events=TICK_60\n",
        ),
    });
    const { "web:web": pid } = await sv.waitRunning(["web:web"]);
    await using prometheus = await startPrometheus(dir, [`127.0.0.1:${metrics}`]);
    const process = '{group="web",name="web"}';
    await waitFor(
      "Prometheus to scrape the listener",
      async () => {
        const up = await prometheus.query(`supervisord_process_up${process}`);
        return up.length === 1 && up[0].value === 1;
      },
      60_000,
      500,
    );
    const restarts =
      `supervisor_checks_restarts_total{check="watch",group="web",name="web",outcome="restarted"}`;
    assert.deepEqual(await prometheus.query(restarts), [], "no restart before the freeze");
    const [{ value: started }] = await prometheus.query(
      `supervisord_process_start_time_seconds${process}`,
    );

    await sv.kill("web:web", "SIGSTOP");
    await sv.waitRestarted("web:web", pid);
    await waitFor(
      "the restart counter to increase in Prometheus",
      async () => {
        const r = await prometheus.query(restarts);
        return r.length === 1 && r[0].value === 1;
      },
      30_000,
      500,
    );
    // the state series: a later start time, RUNNING again, and the example rules see the restart
    await waitFor(
      "the state series to show the restart",
      async () => {
        const [start] = await prometheus.query(`supervisord_process_start_time_seconds${process}`);
        const [running] = await prometheus.query(
          `supervisord_process_in_state{group="web",name="web",state="RUNNING"}`,
        );
        const [changes] = await prometheus.query(
          `changes(supervisord_process_start_time_seconds${process}[5m])`,
        );
        return start?.value > started && running?.value === 1 && changes?.value >= 1;
      },
      30_000,
      500,
    );
    const [recorded] = await waitFor(
      "the recording rule",
      async () => {
        const r = await prometheus.query(
          `supervisor_checks:restarts:increase15m{group="web",name="web",outcome="restarted"}`,
        );
        return r.length ? r : undefined;
      },
      30_000,
      500,
    );
    assert.equal(recorded.value, 1);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
