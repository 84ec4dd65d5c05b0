/**
 * tcp: the process is healthy when a TCP connection to its port opens
 * within the timeout. Flags of the original supervisor_tcp_check, plus --host.
 *
 * A process frozen with SIGSTOP still passes: the kernel completes the
 * handshake into its listen backlog. Use http (or xmlrpc) to catch hangs.
 */
import { z } from "zod";
import {
  type CheckDefinition,
  healthy,
  type OptionSpec,
  unhealthy,
  unknown,
} from "../lib/check.ts";
import { count, host, portSpec, retriesOption, seconds, timeoutOption } from "../lib/options.ts";
import { resolvePort } from "../lib/ports.ts";
import { describeFetchError } from "../lib/net.ts";

const OPTIONS: OptionSpec[] = [
  {
    key: "port",
    long: "port",
    short: "p",
    type: "string",
    metavar: "PORT",
    help: "Port: an integer, or a regex with one capture group applied to the process " +
      'name (".+_(\\d+)"). Required.',
  },
  {
    key: "host",
    long: "host",
    type: "string",
    metavar: "HOST",
    help: "Host to connect to.",
    defaultText: "127.0.0.1",
  },
  timeoutOption("Time allowed for each connection attempt.", 15),
  retriesOption(2),
];

const schema = z.object({
  port: portSpec,
  host,
  timeout: seconds(15),
  num_retries: count(2),
}).strict();

export type TcpOptions = z.output<typeof schema>;

export const tcpCheck: CheckDefinition<TcpOptions> = {
  name: "tcp",
  description: "Restart processes whose TCP port does not accept connections.",
  options: OPTIONS,
  schema,
  retries: (o) => o.num_retries,
  async run(process, o, ctx) {
    const port = resolvePort(o.port, process.name);
    const target = `${o.host}:${port}`;
    const timeout = AbortSignal.timeout(o.timeout * 1000);
    const started = performance.now();
    try {
      const conn = await Deno.connect({
        hostname: o.host,
        port,
        signal: AbortSignal.any([ctx.signal, timeout]),
      });
      conn.close();
    } catch (e) {
      if (ctx.signal.aborted) return unknown(`connect ${target}: aborted`);
      if (timeout.aborted) return unhealthy(`connect ${target}: no answer within ${o.timeout}s`);
      return unhealthy(`connect ${target}: ${describeFetchError(e)}`);
    }
    return healthy(`connect ${target}: open in ${Math.round(performance.now() - started)} ms`);
  },
};
