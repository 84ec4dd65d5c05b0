/**
 * Benchmark: /metrics of a listener watching 500 processes.
 *
 * 500 `sleep` programs in one supervisord group `pool`, judged by
 * `supervisor-checks memory -g pool -m 1GB --interval 1 --metrics-listen`
 * (rounds every second, 500 verdicts each). Once the first round has
 * counted 500 verdicts, /metrics is scraped 200 times in a row while rounds
 * keep running. Measured: the scrape time (request to last byte) as
 * median, p99 and max; the size of an answer.
 *
 * Run:  deno run -A bench/metrics_scrape.ts   (or `deno task bench`)
 *
 * Prints each figure with its target and PASS/MISS; exits 0 whatever the
 * figures, 1 only when the benchmark itself broke.
 */
import { freePorts, listenerSection, Supervisord, waitFor } from "../tests/support/supervisord.ts";

const PROCESSES = 500;
const SCRAPES = 200;
const TARGET_P99_MS = 50;

function progress(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 23)}] ${message}`);
}

const programs = Array.from({ length: PROCESSES }, (_, i) => `p${i}`);
const [port] = freePorts(1);
const url = `http://127.0.0.1:${port}/metrics`;

progress(`starting supervisord with ${PROCESSES} programs`);
await using _sv = await Supervisord.start({
  sections: (dir) =>
    programs.map((n) => `[program:${n}]\ncommand=sleep 3600\nstartsecs=0\nstopwaitsecs=1\n`)
      .join("") +
    `[group:pool]\nprograms=${programs.join(",")}\n` +
    listenerSection(
      "bench",
      [
        "memory",
        "-n",
        "bench",
        "-g",
        "pool",
        "-m",
        "1GB",
        "--interval",
        "1",
        "--metrics-listen",
        `127.0.0.1:${port}`,
      ],
      dir,
      "events=TICK_60\n",
    ),
});
await waitFor(
  "500 verdicts in one round",
  async () => {
    const text = await (await fetch(url)).text();
    const m = /supervisor_checks_verdicts_total\{kind="memory",verdict="healthy"\} (\d+)/.exec(
      text,
    );
    return m !== null && Number(m[1]) >= PROCESSES;
  },
  180_000,
  1_000,
);

progress(`scraping ${SCRAPES} times while rounds run`);
const times: number[] = [];
let bytes = 0;
for (let i = 0; i < SCRAPES; i++) {
  const started = performance.now();
  const body = await (await fetch(url)).arrayBuffer();
  times.push(performance.now() - started);
  bytes = body.byteLength;
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
const p99 = at(0.99);
console.log(`processes: ${PROCESSES}, answer: ${(bytes / 1024).toFixed(0)} KiB`);
console.log(
  `scrape: median ${at(0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ` +
    `max ${times[times.length - 1].toFixed(1)} ms (target p99 < ${TARGET_P99_MS} ms): ` +
    (p99 < TARGET_P99_MS ? "PASS" : "MISS"),
);
