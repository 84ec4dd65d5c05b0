/**
 * tcp: the process is healthy when a TCP connection to its port opens
 * within the timeout. Flags of the original supervisor_tcp_check, plus --host.
 *
 * A process frozen with SIGSTOP still passes: the kernel completes the
 * handshake into its listen backlog. Use http (or xmlrpc) to catch hangs.
 */
import { type CheckDefinition, healthy, unhealthy, unknown } from "../lib/check.ts";
import { option, options, type Result } from "../lib/option.ts";
import { host, portOption, retriesOption, timeoutOption } from "../lib/options.ts";
import { resolvePort } from "../lib/ports.ts";
import { describeFetchError } from "../lib/net.ts";

const OPTIONS = options({
  port: portOption("", true),
  host: option({ metavar: "HOST", help: "Host to connect to.", parse: host, default: "127.0.0.1" }),
  timeout: timeoutOption("Time allowed for each connection attempt.", 15),
  num_retries: retriesOption(2),
});

export type TcpOptions = Result<typeof OPTIONS>;

export const tcpCheck: CheckDefinition<TcpOptions> = {
  name: "tcp",
  description: "Restart processes whose TCP port does not accept connections.",
  options: OPTIONS,
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
