/**
 * `deno task demo`: a real supervisord in a temp dir runs two small web
 * services and `supervisor-checks http` as its event listener. One service
 * is frozen with SIGSTOP (a hang: its port still accepts connections, but
 * it never answers); the listener notices and supervisord restarts it. The
 * other keeps running untouched. Everything is cleaned up at the end.
 */
import {
  freePorts,
  listenerSection,
  Supervisord,
  webProgram,
} from "../tests/support/supervisord.ts";

const say = (text: string) => console.log(`\n==> ${text}`);

/** Prints new lines of the listener's log as they appear. */
function followLog(sv: Supervisord, name: string): () => Promise<void> {
  let shown = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const text = await sv.listenerLog(name).catch(() => ""); // not created yet
      const lines = text.split("\n").filter((l) => l !== "");
      for (const line of lines.slice(shown)) console.log(`    listener | ${line}`);
      shown = lines.length;
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

async function main(): Promise<number> {
  const ports = freePorts(2);
  const names = ports.map((p) => `shop_${p}`);
  const listenerArgs = [
    "http",
    "-n",
    "shop_check",
    "-g",
    "shop",
    "-p",
    ".+_(\\d+)",
    "-u",
    "/ping",
    "-t",
    "2",
    "-r",
    "1",
  ];
  say("starting a private supervisord with two web services and supervisor-checks as listener");
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n, i) => webProgram(n, ports[i])).join("\n") +
      `[group:shop]\nprograms=${names.join(",")}\n\n` +
      listenerSection("shop_check", listenerArgs, dir),
  });
  const conf = await Deno.readTextFile(`${sv.dir}/supervisord.conf`);
  console.log(`    config: ${sv.dir}/supervisord.conf; its listener section:`);
  const section = conf.slice(conf.indexOf("[eventlistener:shop_check]")).trim().split("\n");
  for (const line of section) console.log(`    | ${line}`);

  const specs = names.map((n) => `shop:${n}`);
  const before = await sv.waitRunning(specs);
  for (const spec of specs) {
    const res = await fetch(`http://127.0.0.1:${spec.split("_")[1]}/ping`);
    console.log(
      `    ${spec} RUNNING, pid ${before[spec]}: GET /ping → ${res.status} ${
        (await res.text()).trim()
      }`,
    );
  }
  const stopFollowing = followLog(sv, "shop_check");
  try {
    const victim = specs[0];
    say(
      `freezing ${victim} (pid ${
        before[victim]
      }) with SIGSTOP: it still accepts TCP, never answers`,
    );
    Deno.kill(before[victim], "SIGSTOP");
    say("waiting for the next TICK_5 round: the http check times out, supervisord restarts it");
    const started = Date.now();
    const newPid = await sv.waitRestarted(victim, before[victim], 60_000);
    await new Promise((r) => setTimeout(r, 500));
    say(
      `${victim} was restarted ${((Date.now() - started) / 1000).toFixed(1)} s after the freeze: ` +
        `pid ${before[victim]} → ${newPid}`,
    );
    const other = specs[1];
    const otherNow = (await sv.process(other)).pid;
    console.log(
      `    ${other} was healthy and kept its pid: ${before[other]} → ${otherNow}` +
        (otherNow === before[other] ? " (unchanged)" : " (CHANGED: unexpected)"),
    );
    const res = await fetch(`http://127.0.0.1:${victim.split("_")[1]}/ping`);
    console.log(
      `    ${victim} answers again: GET /ping → ${res.status} ${(await res.text()).trim()}`,
    );
    return otherNow === before[other] ? 0 : 1;
  } finally {
    await stopFollowing();
    say("stopping supervisord and removing its temp dir");
  }
}

try {
  Deno.exit(await main());
} catch (e) {
  console.error(`demo failed: ${(e as Error).message}`);
  Deno.exit(1);
}
