/**
 * The Examples section of each subcommand's --help: command lines as they
 * go into a supervisord `command=` (examples/supervisord/ has them in whole
 * sections). No imports: commands/heartbeat.ts uses it.
 */
const P = "supervisor-checks";

export const HELP_EXAMPLES: Record<string, string[]> = {
  http: [
    `${P} http -n web -g web -p 8080 -u /ping -t 5`,
    "# the port from each process name (web_8080, web_8081), a JSON status page:",
    `${P} http -n api -g api -p '.+_(\\d+)' -u /health --expect-body '"ok"'`,
    `${P} http -n admin -N admin -p 9000 -u /ping --username ops --password-env ADMIN_PASS`,
  ],
  tcp: [
    `${P} tcp -n redis -N cache:redis -p 6379`,
    `${P} tcp -n workers -g workers -p '.+_(\\d+)' -t 2 --failure-threshold 3`,
  ],
  xmlrpc: [
    `${P} xmlrpc -n rpc -g rpc -p 9100 -u /RPC2 -m status`,
    `${P} xmlrpc -n local -g rpc -S /run/rpc -m ping`,
  ],
  memory: [
    `${P} memory -n workers -g workers -m 512MB`,
    "# the process and all its children together:",
    `${P} memory -n celery -g celery -m 2GB -c --interval 30`,
  ],
  cpu: [
    `${P} cpu -n workers -g workers -p 90 -i 60`,
    `${P} cpu -n spinner -N jobs:spinner -p 95 -i 30 --failure-threshold 2`,
  ],
  file: [
    "# restart a worker whose heartbeat file is older than 60 seconds:",
    `${P} file -n workers -g workers -t 60`,
    `${P} file -n jobs -g jobs -t 120 -f '%(process_group)s-%(process_name)s.beat'`,
  ],
  exec: [
    `${P} exec -n queue -g workers --command './probe.sh "$SUPERVISOR_CHECK_PID"'`,
    `${P} exec -n web -g web -p '.+_(\\d+)' --command 'curl -fsS localhost:$SUPERVISOR_CHECK_PORT'`,
  ],
  complex: [
    `${P} complex -n web -g web -c '{"http":{"port":8080,"url":"/ping"},` +
    `"memory":{"max_rss":"512MB"}}'`,
    `${P} complex -n web -g web --config /etc/supervisor-checks/complex.yaml`,
  ],
  run: [
    `${P} run --config /etc/supervisor-checks/run.yaml`,
    "# what each entry will check, without supervisord; then one round, printed:",
    `${P} run --config /etc/supervisor-checks/run.yaml --validate`,
    `${P} run --config /etc/supervisor-checks/run.yaml --once`,
  ],
  memmon: [
    `${P} memmon -a 200MB -m ops@example.com`,
    "# web:api may use 1 GB whatever -g and -a say; its children count too:",
    `${P} memmon -p web:api=1GB -g web=300MB -c -n web -u 1d --max-restarts 3`,
  ],
  httpok: [
    `${P} httpok -p web -t 10 http://127.0.0.1:8080/ping`,
    `${P} httpok -p web -c 200 -b '"status": "ok"' -m ops@example.com --url-env WEB_URL`,
  ],
  crashmail: [
    `${P} crashmail -p web -p workers:worker_0 -m ops@example.com`,
    "# every process, over SMTP, BACKOFF loops too (events=PROCESS_STATE):",
    `${P} crashmail -a -o prod -m ops@example.com --smtp-host mail.example.com:587 ` +
    "--smtp-from alerts@example.com --backoff-alert 5",
  ],
  crashmailbatch: [
    `${P} crashmailbatch --toEmail ops@example.com --fromEmail alerts@example.com`,
    `${P} crashmailbatch -t ops@example.com -f alerts@example.com -i 5 ` +
    "-H mail.example.com:587 --tls -u alerts --password-env SMTP_PASSWORD",
  ],
  fatalmailbatch: [
    `${P} fatalmailbatch --toEmail ops@example.com --fromEmail alerts@example.com`,
    `${P} fatalmailbatch -t ops@example.com -f alerts@example.com --group web --backoff-alert 3`,
  ],
  crashsms: [
    `${P} crashsms -t 5551234567@sms.example.net -f alerts@example.com -e TICK_5`,
  ],
  serve: [
    `${P} serve --port 8888 --group web`,
    `${P} serve --port 8888 --config /etc/supervisor-checks/serve.yaml --environment`,
    `${P} serve --config /etc/supervisor-checks/serve.yaml --validate`,
  ],
  heartbeat: [
    "# in a shell worker's loop (supervisord sets the group and name):",
    `${P} heartbeat`,
    `${P} heartbeat --every 10 &`,
  ],
  "install-compat": [
    `${P} install-compat /usr/local/bin`,
    `${P} install-compat --force --binary /opt/supervisor-checks /usr/local/bin`,
  ],
  validate: [
    `${P} validate /etc/supervisor-checks/run.yaml`,
    `${P} validate --kind serve /etc/supervisor-checks/*.yaml`,
  ],
};

/** The examples of subcommand `name`, or a generic one (custom checks). */
export function examplesFor(name: string, command: string): string[] {
  return HELP_EXAMPLES[name] ?? [`${command} -n NAME -g GROUP`];
}
