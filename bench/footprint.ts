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
 * bare script, then of scripts importing what the `http` listener loads, one
 * step at a time (the node: built-ins, the first npm module, each further
 * one, our own modules, then the listener itself run in-process), each with
 * its V8 heap used and committed as it reports it; and the listener as users
 * run it.
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

/** What a process holds, by its own account (Deno.memoryUsage()) and the kernel's. */
interface Held extends Memory {
  /** V8 heap: bytes in live and not yet collected objects, and bytes committed for it */
  heapUsedKb?: number;
  heapTotalKb?: number;
  /** memory outside the V8 heap held by JS objects (ArrayBuffers, …) */
  externalKb?: number;
}

/**
 * A script that runs the entry point in-process, as the listener would run,
 * and writes Deno.memoryUsage() to `report` every `everyMs` (JSON).
 */
function heapReporter(report: string, everyMs: number): string {
  return `import { main } from "${REPO}main.ts";\n` +
    `setInterval(() => Deno.writeTextFileSync(${JSON.stringify(report)}, ` +
    `JSON.stringify(Deno.memoryUsage())), ${everyMs});\n` +
    `Deno.exit(await main(Deno.args));\n`;
}

/** `deno run` arguments for a script beside the project: its import map, the binary's flags. */
function scriptRun(script: string): string[] {
  return ["run", "-A", "--no-prompt", "--config", `${REPO}deno.json`, ...RUNTIME_FLAGS, script];
}

/** Adds what the process reported in `report` (a heapReporter's file) to `memory`. */
async function withHeap(memory: Memory, report: string): Promise<Held> {
  const usage = JSON.parse(await Deno.readTextFile(report));
  return {
    ...memory,
    heapUsedKb: usage.heapUsed / 1024,
    heapTotalKb: usage.heapTotal / 1024,
    externalKb: usage.external / 1024,
  };
}

/** private = V8 heap committed + external + the rest ("native"). */
function nativeKb(m: Held): number | undefined {
  return m.heapTotalKb === undefined ? undefined : m.privateKb - m.heapTotalKb - m.externalKb!;
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
      Deno.writeTextFileSync(`${dir}/twin.ts`, heapReporter(`${dir}/twin.json`, 500));
      return names.map((n, i) => pythonService(n, ports[i], `${dir}/www`)).join("\n") +
        `[group:web]\nprograms=${names.join(",")}\n\n` +
        `[eventlistener:twin]\ncommand=${
          [DENO, ...scriptRun(`${dir}/twin.ts`), ...subjects[0].args(dir, true)].map(shq).join(" ")
        }\nevents=TICK_60\nstderr_logfile=${dir}/twin.err.log\nautorestart=false\nstartsecs=0\n\n` +
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
    const all = [...subjects.flatMap((_, i) => [id(i, false), id(i, true)]), "twin"];
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
    let twinPeak: Held | undefined;
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
      const twin = await withHeap(await mustMemoryOf("twin", pids.twin), `${sv.dir}/twin.json`)
        .catch(() => undefined); // no report written yet
      if (twin && twin.privateKb > (twinPeak?.privateKb ?? 0)) twinPeak = twin;
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
    if (twinPeak) {
      console.log(
        `  where the working http listener's private memory goes, at the peak of a twin that ` +
          `runs it in-process and reports its heap: ${mb(twinPeak.privateKb)} = V8 heap ` +
          `${mb(twinPeak.heapTotalKb!)} committed (${mb(twinPeak.heapUsedKb!)} used) + external ` +
          `${mb(twinPeak.externalKb!)} + native ${mb(nativeKb(twinPeak)!)} (RSS ${
            mb(twinPeak.rssKb)
          }; idle: part 3's last rows)`,
      );
    }
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

/**
 * Part 3: idle processes, from a bare runtime up to the `http` listener,
 * one import added at a time; each step reports its V8 heap, the kernel its
 * RSS and private memory.
 */
async function breakdown(): Promise<void> {
  const lock = JSON.parse(await Deno.readTextFile(`${REPO}deno.lock`));
  const xmlrpcPackage = Object.keys(lock.specifiers).find((s) => s.startsWith("npm:xmlrpc@"));
  const imports = (...specifiers: string[]) => specifiers.map((s) => `import "${s}";`).join(" ");
  // the node: built-ins and npm modules in the http listener's static module graph
  const light = imports("node:buffer", "node:util", "node:crypto");
  const httpStack = `${light} ${imports("node:stream", "node:http", "node:https")}`;
  const serializer = `${httpStack} ${imports(`${xmlrpcPackage}/lib/serializer.js`)}`;
  const xmlrpc = `${serializer} ${imports(`${xmlrpcPackage}/lib/deserializer.js`)}`;
  const ours = `${xmlrpc} ${
    imports(...["main.ts", "commands/listener.ts", "checks/http.ts"].map((f) => `${REPO}${f}`))
  }`;
  const listenerArgs = ["http", "-n", "idle", "-g", "none", "-p", "8080"];
  const steps: [string, string][] = [
    ["bare deno (an idle script)", ""],
    ["+ node:buffer, util, crypto", light],
    ["+ node:stream, http, https", httpStack],
    ["+ first npm module (xmlrpc serializer)", serializer],
    ["+ xmlrpc deserializer (sax)", xmlrpc],
    ["+ our modules (loaded, not run)", ours],
    [
      "the http listener, idle (same modules)",
      `import { main } from "${REPO}main.ts"; Deno.exit(await main(${
        JSON.stringify(listenerArgs)
      }));`,
    ],
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
    const report = (i: number) => `${dir}/step${i}.json`;
    const scripts = steps.map(([, source], i) => {
      const file = `${dir}/step${i}.ts`;
      // the heap is read 1 s before the kernel's figures, so that writing it is not counted
      Deno.writeTextFileSync(
        file,
        `setTimeout(() => Deno.writeTextFileSync(${JSON.stringify(report(i))}, ` +
          `JSON.stringify(Deno.memoryUsage())), ${(IDLE_S - 1) * 1000});\n${source}\n` +
          `await new Promise((r) => setTimeout(r, 600_000));\n`,
      );
      return spawn(scriptRun(file));
    });
    const listener = spawn([...RUN_MAIN, ...listenerArgs]);
    await sleep(IDLE_S * 1000);
    const rows: [string, Held][] = [];
    for (let i = 0; i < steps.length; i++) {
      rows.push([
        steps[i][0],
        await withHeap(await mustMemoryOf(steps[i][0], scripts[i].pid), report(i)),
      ]);
    }
    rows.push(["the http listener as users run it", await mustMemoryOf("http", listener.pid)]);
    console.log(
      `\nPart 3: where the megabytes go (idle processes, read after ${IDLE_S} s, same flags); ` +
        `private = not shared with any other process; heap = V8's (used / committed), ` +
        `external = ArrayBuffers and the like, native = private − heap committed − external ` +
        `(the runtime's own allocations: module loader, npm resolver, sockets, thread stacks)`,
    );
    const columns: [string, number][] = [
      ["RSS", 8],
      ["private", 9],
      ["+private", 10],
      ["heap used", 11],
      ["heap total", 11],
      ["external", 10],
      ["native", 9],
    ];
    console.log(`  ${"step".padEnd(42)}${columns.map(([c, w]) => c.padStart(w)).join("")}`);
    const cell = (kb: number | undefined) => kb === undefined ? "" : mb(kb);
    rows.forEach(([label, m], i) => {
      const values = [
        cell(m.rssKb),
        cell(m.privateKb),
        i === 0 || i === rows.length - 1 ? "" : `+${mb(m.privateKb - rows[i - 1][1].privateKb)}`,
        cell(m.heapUsedKb),
        cell(m.heapTotalKb),
        cell(m.externalKb),
        cell(nativeKb(m)),
      ];
      console.log(
        `  ${label.padEnd(42)}${values.map((v, k) => v.padStart(columns[k][1])).join("")}`,
      );
    });
    console.log(
      `  the rest of RSS is the runtime binary's file-backed pages, shared by every Deno process`,
    );
    const npmRow = rows.find(([label]) => label.startsWith("+ first npm module"))![1];
    console.log(
      `  floor before any module of ours: ${mb(rows[0][1].rssKb)} RSS for the bare runtime, ` +
        `${mb(npmRow.rssKb)} RSS (${mb(npmRow.privateKb)} private) once the Node-compatibility ` +
        `layer and the first npm module are in (targets: <= 50 MB RSS idle, <= 55 MB peak)`,
    );
  } finally {
    for (const c of children) {
      await c.stdin.close().catch(() => {});
      try {
        c.kill("SIGTERM");
      } catch {
        // it has exited (mustMemoryOf said so)
      }
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
