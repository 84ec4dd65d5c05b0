/**
 * A configuration that start-up cannot fully judge, failing at run time,
 * under a real supervisord: the verdict is unknown, logged, and the healthy
 * service is never restarted.
 */
import assert from "node:assert/strict";
import { FETCH_BLOCKED_PORTS } from "../../lib/net.ts";
import {
  EVERY_SECOND,
  listenerSection,
  pingArgs,
  Supervisord,
  webProgram,
} from "../support/supervisord.ts";

/** A port fetch refuses to connect to, free on 127.0.0.1 right now. */
function freeBlockedPort(): number {
  for (const port of [...FETCH_BLOCKED_PORTS].filter((p) => p > 1024)) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // taken: try the next one
    }
  }
  throw new Error("no blocked port above 1024 is free");
}

Deno.test("http: a port from -p's regex that fetch refuses is unknown, and the service is not restarted", async () => {
  // guarantee: Verdicts
  const port = freeBlockedPort();
  const spec = `web:web_${port}`;
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram(`web_${port}`, port) +
      `[group:web]\nprograms=web_${port}\n` +
      listenerSection(
        "checker",
        pingArgs("checker", "web", ".+_(\\d+)", ...EVERY_SECOND, "-v"),
        dir,
      ),
  });
  const { [spec]: pid } = await sv.waitRunning([spec]);
  // the service answers on its port
  (await Deno.connect({ hostname: "127.0.0.1", port })).close();
  // -v logs every round's verdict: three rounds judged it
  const pattern = new RegExp(
    `${spec} \\(pid ${pid}\\): http unknown: GET http://127\\.0\\.0\\.1:${port}/ping: ` +
      `configuration error: .*port ${port}`,
    "g",
  );
  const log = await sv.waitLog(
    "checker",
    new RegExp(`(${pattern.source}[^]*){3}`),
    30_000,
  );
  assert.doesNotMatch(log, /: restarting|unhealthy/);
  assert.equal((await sv.process(spec)).pid, pid);
});
