/**
 * Benchmark: the memory each kind of listener costs, as users run it (the
 * entry point started with the runtime flags `deno task compile` embeds:
 * RUN_MAIN of tests/support/supervisord.ts).
 *
 * Part 1 (kinds): one supervisord, a group `web` of 20 Python `http.server`
 * services (Python, so that no Deno page is shared with them), 5 of them
 * frozen with SIGSTOP. For `http`, `memory`, `file`, `httpok`, `serve` and a
 * ten-entry `run --config`, two instances run side by side:
 *
 * - idle: on TICK_3600 without --interval, so it never runs a round (a
 *   `serve` that is never asked); RSS and PSS read once, IDLE_S after start;
 * - working: `--interval 1 --dry-run` (the 5 frozen services stay frozen, so
 *   every round times out on them and logs what it would restart); `serve`
 *   with /healthcheck checks of the group, asked every 0.5 s; RSS and PSS
 *   sampled every second for PEAK_S, the peak printed.
 *
 * Part 2 (ten vs one): another supervisord with ten groups of one Python
 * service each, as the issue's rig: ten `http` listeners (one per group) and
 * one `run --config` with the ten entries, all on TICK_5; after WARM_S the
 * PSS of each is sampled 5 times; prints the sum of the ten against the one.
 *
 * Part 3 (where the megabytes go): idle `deno run`s with the same flags of a
 * bare script, then of scripts importing what a listener loads, step by step
 * (the node: built-ins, npm:xmlrpc), against the `http` listener.
 *
 * RSS and PSS come from /proc/<pid>/smaps_rollup. RSS counts the runtime
 * binary's file-backed pages, which every Deno process on the host shares,
 * in full for each process; PSS divides shared pages among the processes
 * sharing them, so the PSS sum is what the host pays. The PSS of one process
 * depends on how many others share its pages (this benchmark itself is one):
 * compare PSS within one part, RSS across parts.
 *
 * Run:  deno run -A bench/footprint.ts            (about 3 minutes)
 *       deno run -A bench/footprint.ts --quick    (shorter windows, about 1 minute)
 *       deno run -A bench/footprint.ts ten        (some parts only: kinds, ten, breakdown)
 *
 * Prints the figures with the issue's targets; asserts nothing. Exits 1 only
 * when the benchmark itself broke. KEEP_SUPERVISORD_DIR=1 keeps the temp dirs.
 */
import {
  DENO,
  freePorts,
  listenerCommand,
  REPO,
  RUN_MAIN,
  RUNTIME_FLAGS,
  shq,
  Supervisord,
  waitFor,
} from "../tests/support/supervisord.ts";

const QUICK = Deno.args.includes("--quick");
const IDLE_S = QUICK ? 5 : 10;
const PEAK_S = QUICK ? 15 : 60;
const WARM_S = QUICK ? 8 : 20;
const SERVICES = 20;
const FROZEN = 5;
const PYTHON = "/usr/bin/python3";
const PORT_REGEX = ".+_(\\d+)";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;
const progress = (message: string) => console.error(`[footprint] ${message}`);

interface Memory {
  rssKb: number;
  pssKb: number;
  privateKb: number;
}

/** Rss, Pss and private memory of `pid`; undefined when it has gone. */
async function memoryOf(pid: number): Promise<Memory | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  } catch {
    return undefined;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  return {
    rssKb: kb("Rss"),
    pssKb: kb("Pss"),
    privateKb: kb("Private_Clean") + kb("Private_Dirty"),
  };
}

async function mustMemoryOf(name: string, pid: number): Promise<Memory> {
  const m = await memoryOf(pid);
  if (!m) throw new Error(`${name} (pid ${pid}) has gone`);
  return m;
}

function pythonService(name: string, port: number, dir: string): string {
  return `[program:${name}]
command=${PYTHON} -m http.server ${port} --bind 127.0.0.1 --directory ${shq(dir)}
startsecs=1
stopwaitsecs=1
stdout_logfile=NONE
stderr_logfile=NONE
`;
}

function eventListener(name: string, args: string[], dir: string, events: string): string {
  return `[eventlistener:${name}]
command=${listenerCommand(args)}
events=${events}
stderr_logfile=${dir}/${name}.err.log
autorestart=false
startsecs=0
`;
}

function program(name: string, args: string[], dir: string): string {
  return `[program:${name}]
command=${listenerCommand(args)}
stderr_logfile=${dir}/${name}.err.log
autorestart=false
startsecs=0
`;
}

function runConfigYaml(entries: { name: string; group: string }[], extra: string): string {
  return `${extra}checks:\n` + entries.map((e) =>
    `  - name: ${e.name}\n    group: ${e.group}\n` +
    `    http: { port: ${JSON.stringify(PORT_REGEX)}, url: /, timeout: 1, num_retries: 0 }\n`
  ).join("");
}

interface Subject {
  kind: string;
  /** args of the idle instance and of the working one */
  args: (dir: string, working: boolean) => string[];
  /** a program (serve) rather than an event listener */
  program?: boolean;
}

/** Part 1: every kind, idle and working. */
async function kinds(): Promise<void> {
  const ports = freePorts(SERVICES + 2);
  const names = ports.slice(0, SERVICES).map((p) => `web_${p}`);
  const [serveIdlePort, serveWorkPort] = ports.slice(SERVICES);
  const frozen = names.slice(0, FROZEN);
  const working = (yes: boolean) => yes ? ["--interval", "1", "--dry-run"] : [];
  const subjects: Subject[] = [
    {
      kind: "http",
      args: (_, w) =>
        ["http", "-n", "h", "-g", "web", "-p", PORT_REGEX, "-t", "1", "-r", "0"]
          .concat(working(w)),
    },
    {
      kind: "memory",
      args: (_, w) => ["memory", "-n", "m", "-g", "web", "-m", "200MB", "-c"].concat(working(w)),
    },
    {
      kind: "file",
      args: (dir, w) => ["file", "-n", "f", "-g", "web", "-t", "2", "-d", dir].concat(working(w)),
    },
    {
      kind: "httpok",
      args: (_, w) =>
        ["httpok", "-n", "o", "-p", `web:${frozen[0]}`, "-t", "1"].concat(
          working(w),
          `http://127.0.0.1:${frozen[0].slice(4)}/`,
        ),
    },
    {
      kind: "serve",
      program: true,
      args: (dir, w) => [
        "serve",
        "-H",
        "127.0.0.1",
        "-P",
        String(w ? serveWorkPort : serveIdlePort),
        "--statsd-host",
        "127.0.0.1",
        "--statsd-port",
        "0",
        "--group",
        "web",
        "--config",
        `${dir}/serve.yaml`,
      ],
    },
    {
      kind: "run --config (10 entries)",
      args: (dir, w) => ["run", "--config", `${dir}/${w ? "run_work" : "run_idle"}.yaml`],
    },
  ];
  const entries = Array.from({ length: 10 }, (_, i) => ({ name: `e${i + 1}`, group: "web" }));
  const id = (i: number, w: boolean) => `${w ? "work" : "idle"}_${i}`;

  progress(`part 1: ${SERVICES} services (${FROZEN} frozen), ${subjects.length} kinds × 2`);
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.mkdirSync(`${dir}/www`);
      Deno.writeTextFileSync(`${dir}/run_idle.yaml`, runConfigYaml(entries, ""));
      Deno.writeTextFileSync(
        `${dir}/run_work.yaml`,
        runConfigYaml(entries, "interval: 1\ndry_run: true\n"),
      );
      Deno.writeTextFileSync(
        `${dir}/serve.yaml`,
        runConfigYaml([{ name: "web", group: "web" }], "") +
          "healthcheck: { success_ttl: 1, failed_ttl: 1 }\n",
      );
      return names.map((n, i) => pythonService(n, ports[i], `${dir}/www`)).join("\n") +
        `[group:web]\nprograms=${names.join(",")}\n\n` +
        subjects.flatMap((s, i) =>
          [false, true].map((w) =>
            s.program
              ? program(id(i, w), s.args(dir, w), dir)
              : eventListener(id(i, w), s.args(dir, w), dir, w ? "TICK_60" : "TICK_3600")
          )
        ).join("\n");
    },
  });
  try {
    await sv.waitRunning(names.map((n) => `web:${n}`), 60_000);
    for (const n of frozen) await sv.kill(`web:${n}`, "SIGSTOP");
    const all = subjects.flatMap((_, i) => [id(i, false), id(i, true)]);
    const pids = await sv.waitRunning(all, 60_000);
    const started = performance.now();
    const serveUrl = `http://127.0.0.1:${serveWorkPort}`;
    await waitFor("the working sidecar to answer", async () => {
      const r = await fetch(`${serveUrl}/health/live`).catch(() => undefined);
      await r?.body?.cancel();
      return r !== undefined;
    }, 30_000);

    // the working sidecar is asked twice a second, as a probe and a scraper would
    let asking = true;
    const asker = (async () => {
      while (asking) {
        for (const path of ["/healthcheck", "/health/live", "/metrics"]) {
          const r = await fetch(`${serveUrl}${path}`).catch(() => undefined);
          await r?.body?.cancel();
        }
        await sleep(500);
      }
    })();

    const peaks = new Map<string, Memory>();
    const idle = new Map<string, Memory>();
    const deadline = started + PEAK_S * 1000;
    while (performance.now() < deadline) {
      if (idle.size === 0 && performance.now() >= started + IDLE_S * 1000) {
        for (let i = 0; i < subjects.length; i++) {
          idle.set(id(i, false), await mustMemoryOf(id(i, false), pids[id(i, false)]));
        }
      }
      for (let i = 0; i < subjects.length; i++) {
        const m = await mustMemoryOf(id(i, true), pids[id(i, true)]);
        const p = peaks.get(id(i, true));
        peaks.set(id(i, true), {
          rssKb: Math.max(m.rssKb, p?.rssKb ?? 0),
          pssKb: Math.max(m.pssKb, p?.pssKb ?? 0),
          privateKb: Math.max(m.privateKb, p?.privateKb ?? 0),
        });
      }
      await sleep(1000);
    }
    asking = false;
    await asker;
    const rounds = (await sv.listenerLog(id(0, true))).split("\n")
      .filter((l) => l.includes("would restart")).length;

    console.log(
      `\nPart 1: each kind idle (never a round, read after ${IDLE_S} s) and working ` +
        `(--interval 1 --dry-run on ${SERVICES} services, ${FROZEN} frozen; peak of 1 s samples ` +
        `over ${PEAK_S} s); ${subjects.length * 2} of our processes in one supervisord`,
    );
    console.log(
      `  runtime flags: ${RUNTIME_FLAGS.join(" ") || "(none)"}  ` +
        `(targets: a single-check listener <= 50 MB RSS idle, <= 55 MB peak; ` +
        `run --config <= 60 MB peak)`,
    );
    console.log(
      `  ${"kind".padEnd(28)}${"idle RSS".padStart(10)}${"idle PSS".padStart(10)}` +
        `${"idle priv".padStart(11)}${"peak RSS".padStart(10)}${"peak PSS".padStart(10)}` +
        `${"peak priv".padStart(11)}`,
    );
    subjects.forEach((s, i) => {
      const a = idle.get(id(i, false))!;
      const b = peaks.get(id(i, true))!;
      console.log(
        `  ${s.kind.padEnd(28)}${mb(a.rssKb).padStart(10)}${mb(a.pssKb).padStart(10)}` +
          `${mb(a.privateKb).padStart(11)}${mb(b.rssKb).padStart(10)}${mb(b.pssKb).padStart(10)}` +
          `${mb(b.privateKb).padStart(11)}`,
      );
    });
    console.log(`  (the working http listener logged ${rounds} "would restart" verdicts)`);
  } finally {
    for (const n of frozen) await sv.kill(`web:${n}`, "SIGCONT").catch(() => {});
  }
}

/** Part 2: ten single-group listeners against one `run --config` for the same groups. */
async function tenVersusOne(): Promise<void> {
  const ports = freePorts(10);
  const groups = ports.map((_, i) => `g${String(i + 1).padStart(2, "0")}`);
  const ten = groups.map((g) => `ten_${g}`);
  progress("part 2: ten http listeners and one run --config, ten groups of one service");
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.mkdirSync(`${dir}/www`);
      Deno.writeTextFileSync(
        `${dir}/run.yaml`,
        runConfigYaml(groups.map((g) => ({ name: g, group: g })), ""),
      );
      return groups.map((g, i) =>
        pythonService(`${g}_${ports[i]}`, ports[i], `${dir}/www`) +
        `[group:${g}]\nprograms=${g}_${ports[i]}\n\n` +
        eventListener(ten[i], ["http", "-n", g, "-g", g, "-p", PORT_REGEX], dir, "TICK_5")
      ).join("\n") +
        eventListener("one", ["run", "--config", `${dir}/run.yaml`], dir, "TICK_5");
    },
  });
  const pids = await sv.waitRunning([...ten, "one"], 60_000);
  await sleep(WARM_S * 1000);
  const samples = new Map<string, Memory[]>();
  for (let k = 0; k < 5; k++) {
    for (const name of [...ten, "one"]) {
      samples.set(name, [...samples.get(name) ?? [], await mustMemoryOf(name, pids[name])]);
    }
    await sleep(1000);
  }
  const avg = (name: string, key: keyof Memory) => mean(samples.get(name)!.map((m) => m[key]));
  const tenPss = sum(ten.map((n) => avg(n, "pssKb")));
  const onePss = avg("one", "pssKb");
  console.log(
    `\nPart 2: ten groups of one service, http on TICK_5, PSS after ${WARM_S} s ` +
      `(mean of 5 samples); 11 of our processes in one supervisord`,
  );
  console.log(
    `  ten single-group http listeners: PSS ${mb(tenPss)} in all ` +
      `(${mb(tenPss / 10)} each; RSS ${mb(mean(ten.map((n) => avg(n, "rssKb"))))} each)  ` +
      `(target <= 250 MB; Python supervisor_checks: about 208 MB, 21 MB PSS / 31 MB RSS each)`,
  );
  console.log(
    `  one run --config with the ten:   PSS ${mb(onePss)}, RSS ${mb(avg("one", "rssKb"))}  ` +
      `(${(tenPss / onePss).toFixed(1)}× less than the ten)`,
  );
}

/** Part 3: idle processes, from a bare runtime up to the `http` listener. */
async function breakdown(): Promise<void> {
  const lock = JSON.parse(await Deno.readTextFile(`${REPO}deno.lock`));
  const npm = (name: string) =>
    `import "${Object.keys(lock.specifiers).find((s) => s.startsWith(`npm:${name}@`))}";`;
  // the node: built-ins the http listener's own modules import
  const builtins = ["node:util", "node:buffer", "node:path", "node:os"]
    .map((b) => `import "${b}";`).join(" ");
  const steps: [string, string][] = [
    ["bare deno (an idle script)", ""],
    ["+ node: built-ins the listener imports", builtins],
    ["+ npm:xmlrpc (supervisord's API)", `${builtins} ${npm("xmlrpc")}`],
  ];
  progress("part 3: idle baselines");
  const dir = await Deno.makeTempDir({ prefix: "footprint-" });
  const children: Deno.ChildProcess[] = [];
  try {
    const spawn = (args: string[]) => {
      const child = new Deno.Command(DENO, {
        args,
        cwd: REPO,
        env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent/supervisor.sock" },
        stdin: "piped", // a listener waits for its first event on stdin
        stdout: "null",
        stderr: "null",
      }).spawn();
      children.push(child);
      return child;
    };
    const flags = ["run", "-A", "--no-prompt", ...RUNTIME_FLAGS];
    const scripts = steps.map(([, source], i) => {
      const file = `${dir}/step${i}.ts`;
      Deno.writeTextFileSync(
        file,
        `${source}\nawait new Promise((r) => setTimeout(r, 600_000));\n`,
      );
      return spawn([...flags, file]);
    });
    const listener = spawn([...RUN_MAIN, "http", "-n", "idle", "-g", "none", "-p", "8080"]);
    await sleep(IDLE_S * 1000);
    const rows: [string, Memory][] = [];
    for (let i = 0; i < steps.length; i++) {
      rows.push([steps[i][0], await mustMemoryOf(steps[i][0], scripts[i].pid)]);
    }
    rows.push(["the http listener (all its modules)", await mustMemoryOf("http", listener.pid)]);
    console.log(
      `\nPart 3: where the megabytes go (idle processes, read after ${IDLE_S} s, same flags); ` +
        `private = not shared with any other process`,
    );
    console.log(
      `  ${"step".padEnd(42)}${"RSS".padStart(9)}${"private".padStart(10)}${
        "+private".padStart(10)
      }`,
    );
    rows.forEach(([label, m], i) => {
      const delta = i === 0 ? "" : `+${mb(m.privateKb - rows[i - 1][1].privateKb)}`;
      console.log(
        `  ${label.padEnd(42)}${mb(m.rssKb).padStart(9)}${mb(m.privateKb).padStart(10)}` +
          delta.padStart(10),
      );
    });
    console.log(
      `  the rest of RSS is the runtime binary's file-backed pages, shared by every Deno process`,
    );
  } finally {
    for (const c of children) {
      c.kill("SIGTERM");
      await c.stdin.close().catch(() => {});
      await c.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const PARTS: Record<string, () => Promise<void>> = { kinds, ten: tenVersusOne, breakdown };
const chosen = Deno.args.filter((a) => a !== "--quick");
const unknown = chosen.filter((a) => !(a in PARTS));
if (unknown.length) {
  console.error(`unknown part(s) ${unknown.join(", ")}: give ${Object.keys(PARTS).join(", ")}`);
  Deno.exit(2);
}
let broke = false;
for (const part of chosen.length ? chosen.map((a) => PARTS[a]) : Object.values(PARTS)) {
  try {
    await part();
  } catch (e) {
    console.error(`benchmark broke (${part.name}): ${(e as Error).stack ?? e}`);
    broke = true;
  }
}
if (broke) Deno.exit(1);
