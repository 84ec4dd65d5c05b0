/**
 * `supervisor-checks exec` under a real supervisord: a shell command per
 * process decides; its output reaches the log, never the protocol stream.
 */
import assert from "node:assert/strict";
import { listenerSection, Supervisord, waitFor } from "../support/supervisord.ts";

Deno.test("exec: a process whose command fails is restarted, the others are not", async () => {
  const names = ["job_a", "job_b"];
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n) => `[program:${n}]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n`)
        .join("\n") +
      `[group:jobs]\nprograms=${names.join(",")}\n` +
      listenerSection("probe", [
        "exec",
        "-n",
        "probe",
        "-g",
        "jobs",
        // prints on stdout every time: it must never reach supervisord's protocol stream
        "--command",
        `echo "checking $SUPERVISOR_CHECK_GROUP_NAME:$SUPERVISOR_CHECK_PROCESS_NAME"; ` +
        `if [ -e "${dir}/fail-$SUPERVISOR_CHECK_PROCESS_NAME" ]; then ` +
        `echo "flag found for pid $SUPERVISOR_CHECK_PID" >&2; exit 1; fi`,
        "-t",
        "1",
        "-v",
      ], dir),
  });
  const specs = names.map((n) => `jobs:${n}`);
  const before = await sv.waitRunning(specs);
  await waitFor("a healthy round", async () => {
    const log = await sv.listenerLog("probe");
    return specs.every((s) =>
      new RegExp(`${s} .*exec healthy: command exited 0 in \\d+ ms; output: checking ${s}$`, "m")
        .test(log)
    );
  });
  assert.deepEqual(await sv.waitRunning(specs), before);

  const [healthy, failing] = specs;
  const flag = `${sv.dir}/fail-job_b`;
  await Deno.writeTextFile(flag, "");
  const newPid = await sv.waitRestarted(failing, before[failing]);
  await Deno.remove(flag);
  assert.equal((await sv.process(healthy)).pid, before[healthy], `${healthy} must keep its pid`);

  const log = await sv.listenerLog("probe");
  assert.match(
    log,
    new RegExp(
      `${failing} \\(pid ${before[failing]}\\): exec unhealthy: command exited 1 in \\d+ ms; ` +
        `output: .*flag found for pid ${before[failing]}`,
    ),
  );
  assert.match(log, new RegExp(`${failing} \\(pid ${before[failing]}\\): restarting`));
  assert.doesNotMatch(log, new RegExp(`${healthy} .*restarting`));
  // healthy again once the flag is gone: no second restart
  await waitFor("the restarted process judged healthy", async () => {
    const text = await sv.listenerLog("probe");
    return new RegExp(`${failing} \\(pid ${newPid}\\): exec healthy`).test(text);
  });
  assert.equal((await sv.process(failing)).pid, newPid);
  assert.equal((await sv.process("probe")).statename, "RUNNING");
  assert.doesNotMatch(await sv.supervisordLog(), /UNKNOWN|bad result/);
});

Deno.test("exec: a check command timing out is killed with a grandchild that called setsid", async () => {
  await using sv = await Supervisord.start({
    sections: (dir) =>
      "[program:job]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n" +
      listenerSection("probe", [
        "exec",
        "-n",
        "probe",
        "-N",
        "job",
        // the grandchild leaves the command's session; the command hangs past -t
        "--command",
        `sh -c 'setsid sh -c "echo \\$\\$ > ${dir}/grandchild; exec sleep 600" & wait'`,
        "-t",
        "1",
        "--dry-run",
      ], dir),
  });
  await sv.waitLog("probe", /command did not exit within 1s: killed it and its children/);
  const grandchild = Number(await Deno.readTextFile(`${sv.dir}/grandchild`));
  const gone = async () => {
    const stat = await Deno.readTextFile(`/proc/${grandchild}/stat`).catch(() => "");
    return stat === "" || stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z";
  };
  await waitFor(`setsid grandchild ${grandchild} gone`, gone, 5_000);
});
