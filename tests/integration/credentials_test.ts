/** supervisord refusing the listener's credentials. */
import assert from "node:assert/strict";
import {
  freePorts,
  listenerSection,
  pingArgs,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

Deno.test("http:// transport with the right credentials: the frozen service is restarted", async () => {
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    inet: true,
    auth: { username: "ops", password: "right-secret" },
    sections: (dir) =>
      webProgram("web", port) +
      listenerSection(
        "authcheck",
        pingArgs("authcheck", "web", port, "-t", "1", "-r", "0"),
        dir,
        'environment=SUPERVISOR_USERNAME="ops",SUPERVISOR_PASSWORD="right-secret"\n',
      ),
  });
  assert.match(sv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const before = await sv.waitRunning(["web:web"]);
  await sv.kill("web:web", "SIGSTOP");
  await sv.waitRestarted("web:web", before["web:web"]);
  const log = await sv.listenerLog("authcheck");
  assert.match(log, new RegExp(`via ${sv.url.replaceAll(".", "\\.")}`));
  assert.doesNotMatch(log, /right-secret/);
});

Deno.test("wrong SUPERVISOR_PASSWORD: one clear line per round, no restart, listener keeps running", async () => {
  // guarantee: supervisord unreachable or refusing credentials
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    auth: { username: "ops", password: "right-secret" },
    sections: (dir) =>
      webProgram("web", port) +
      listenerSection(
        "authcheck",
        pingArgs("authcheck", "web", port, "-t", "1", "-r", "0"),
        dir,
        'environment=SUPERVISOR_USERNAME="ops",SUPERVISOR_PASSWORD="wrong-secret"\n',
      ),
  });
  const before = await sv.waitRunning(["web:web"]);
  await sv.kill("web:web", "SIGSTOP");
  const log = await waitFor("two refused rounds", async () => {
    const text = await sv.listenerLog("authcheck");
    return (text.match(/HTTP 401/g) ?? []).length >= 2 ? text : undefined;
  }, 20_000);
  const line = log.split("\n").find((l) => l.includes("HTTP 401"))!;
  assert.match(
    line,
    /ERROR \[authcheck\] supervisord at unix:\/\/\S+supervisor\.sock refused the credentials of user 'ops'/,
  );
  assert.match(
    line,
    /set SUPERVISOR_USERNAME and SUPERVISOR_PASSWORD in the listener's environment=/,
  );
  assert.doesNotMatch(log, /wrong-secret|right-secret/, "the password never reaches the log");
  assert.equal((await sv.process("web:web")).pid, before["web:web"], "nothing restarted");
  assert.equal((await sv.process("authcheck")).statename, "RUNNING");
  Deno.kill(before["web:web"], "SIGCONT");
});

Deno.test("unreachable supervisord URL: logged with the URL and what to check", async () => {
  // guarantee: supervisord unreachable or refusing credentials
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("web", port) +
      listenerSection(
        "lost",
        [
          "tcp",
          "-n",
          "lost",
          "-g",
          "web",
          "-p",
          String(port),
        ],
        dir,
        `environment=SUPERVISOR_SERVER_URL="unix://${dir}/nowhere.sock"\n`,
      ),
  });
  const log = await waitFor("an unreachable line", async () => {
    const text = await sv.listenerLog("lost");
    return text.includes("cannot reach") ? text : undefined;
  }, 20_000);
  assert.match(
    log,
    /cannot reach supervisord at unix:\/\/\S+nowhere\.sock \(ENOENT.*check SUPERVISOR_SERVER_URL/,
  );
  assert.equal((await sv.process("lost")).statename, "RUNNING");
});
