/**
 * The event stream from the real supervisord with PROCESS_LOG events whose
 * payloads carry multi-byte text and protocol-like lines: the listener must
 * stay in step (a miscounted len would corrupt the next header) and keep
 * running rounds.
 */
import assert from "node:assert/strict";
import {
  DENO,
  freePorts,
  listenerSection,
  pingArgs,
  REPO,
  shq,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

Deno.test("protocol: multi-byte PROCESS_LOG payloads from the real supervisord keep the listener in step", async () => {
  // guarantee: Protocol
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("web", port) +
      `[program:chatter]
command=${shq(DENO)} run ${shq(`${REPO}tests/fixtures/chatter.ts`)}
stdout_events_enabled=true
startsecs=0
` +
      listenerSection(
        "proto",
        pingArgs("proto", "web", port, "-v"),
        dir,
        "events=TICK_5,PROCESS_LOG\nbuffer_size=1000\n",
      ),
  });
  await sv.waitRunning(["web:web", "chatter:chatter"]);
  const log = await waitFor("many log events and two healthy rounds after them", async () => {
    const text = await sv.listenerLog("proto");
    const ignored = (text.match(/ignoring PROCESS_LOG_STDOUT event/g) ?? []).length;
    // rounds keep running after the chatter started
    const healthy =
      (text.slice(text.indexOf("ignoring PROCESS_LOG_STDOUT")).match(/http healthy/g) ?? []).length;
    return ignored >= 30 && healthy >= 2 ? text : undefined;
  }, 30_000);
  assert.doesNotMatch(log, /event stream unusable/);
  assert.equal((await sv.process("proto")).statename, "RUNNING");
  assert.doesNotMatch(await sv.supervisordLog(), /UNKNOWN|bad result|rejected/i);
});
