/** The one masking and escaping path: an attacker's list of shapes, and what must survive. */
import assert from "node:assert/strict";
import {
  isSecretName,
  MASK,
  maskDeep,
  maskSecrets,
  outside,
  redact,
  TEXT_CHARS,
} from "../../lib/redact.ts";

/** [text, the secret inside it that must not survive] */
const SHAPES: [string, string][] = [
  ["GET http://monitor:Pa55word@127.0.0.1:8080/health: HTTP 500", "Pa55word"],
  ["postgres://app:p@ss@word@db:5432/prod", "p@ss@word"],
  ["postgres://app:p@ss@word@db:5432/prod", "ss@word"],
  ["redis://:hunter2@cache:6379/0", "hunter2"],
  [
    "SENTRY_DSN=https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42",
    "0123456789abcdef",
  ],
  ["dsn https://publickey123@sentry.example.com/7", "publickey123"],
  ["DB=app:s3cr3t@tcp(10.0.0.5:3306)/orders", "s3cr3t"],
  ["user:hunter2@db.internal:5432/app", "hunter2"],
  ["0123456789abcdefABCDEF@o1.ingest.sentry.io/42", "0123456789abcdefABCDEF"],
  ["https://h/f?X-Amz-Signature=abc123def&X-Amz-Credential=AK%2F1&page=2", "abc123def"],
  ["https://h/f?X-Amz-Signature=abc123def&X-Amz-Credential=AKXYZ%2F1&page=2", "AKXYZ"],
  ["https://acct.blob.core.windows.net/c/b?sv=2020&sig=Zm9vYmFy%3D&se=1", "Zm9vYmFy"],
  ["https://h/ready?access_token=tok-1&page=2", "tok-1"],
  ["https://h/x?api_key=k1k1k1", "k1k1k1"],
  ["https://h/x?secret=s-s-s&password=p-p-p", "s-s-s"],
  ["https://h/x?secret=s-s-s&password=p-p-p", "p-p-p"],
  ["MYSQL_PWD=rootpw", "rootpw"],
  ["PGPASSWORD=pgpw psql -h db -U app", "pgpw"],
  ["PGPASSWORD='pg pw' psql", "pg pw"],
  ["mysql -uroot -pMyS3cret -e 'select 1'", "MyS3cret"],
  ["mysqladmin -u root -psecretpw ping", "secretpw"],
  ["redis-cli -a redispw ping", "redispw"],
  ["sshpass -p sshpw ssh host", "sshpw"],
  ["curl -fsS -u admin:curlpw http://127.0.0.1/", "curlpw"],
  ["curl --user=admin:curlpw2 http://127.0.0.1/", "curlpw2"],
  ["supervisor-checks http -U u -P inlinepw -u /", "inlinepw"],
  ["app --password=flagpw --api-token tok42 --db-pass 'quoted pw'", "flagpw"],
  ["app --password=flagpw --api-token tok42 --db-pass 'quoted pw'", "tok42"],
  ["app --password=flagpw --api-token tok42 --db-pass 'quoted pw'", "quoted pw"],
  ["curl -H 'Authorization: Bearer abcdefghij.klm' http://h/", "abcdefghij"],
  ["Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"],
  ["X-Api-Key: key-12345", "key-12345"],
  ["password: hunter2", "hunter2"],
  ["db:\n  user: app\n  db_password: yaml-pw\n", "yaml-pw"],
  ["Cookie: session=c00k1e", "c00k1e"],
  ['{"user":"u","password":"jsonpw","nested":{"apiToken":"jt"}}', "jsonpw"],
  ['{"user":"u","password":"jsonpw","nested":{"apiToken":"jt"}}', '"jt"'],
  [
    "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
  ],
  ["aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"],
  [
    "aws secret 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",
    "k9Jf2/Lq8Zx+3vBn7Tq1Wm5/Ry4Hc6Pd0Gs2Ne8U",
  ],
  ["GH=ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5", "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"],
  ["SLACK=xoxb-123456789012-abcdefghij", "xoxb-123456789012"],
  ["STRIPE=sk_live_abcdefghijklmnop", "sk_live_abcdefghijklmnop"],
  ["NEWRELIC=0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3", "0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3"],
  ["random Xk9mQ2vL7pR4tW8zN3bY6cF1", "Xk9mQ2vL7pR4tW8zN3bY6cF1"],
  [
    "https://hooks.slack.com/services/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",
    "aB1cD2eF3gH4iJ5kL6mN7oP8",
  ],
  [
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----",
    "MIIEow",
  ],
];

Deno.test("redact: every shape of an attacker's list is masked", () => {
  // guarantee: Secrets
  for (const [text, secret] of SHAPES) {
    const masked = maskSecrets(text);
    assert.ok(!masked.includes(secret), `${JSON.stringify(text)} → ${JSON.stringify(masked)}`);
    assert.ok(masked.includes(MASK), masked);
    assert.equal(maskSecrets(masked), masked, "masking twice changes nothing");
  }
});

Deno.test("redact: ordinary values survive, so /environment and logs stay useful", () => {
  // guarantee: Secrets
  const ordinary = [
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "/srv/App2/Releases/Build2024/current",
    "x86_64-unknown-linux-gnu",
    "en_US.UTF-8",
    "ops@example.com",
    "http://127.0.0.1:8080/ping",
    "https://example.com/a/b?page=2&sort=name",
    "GET http://127.0.0.1:8081/ping: no answer within 2s (after 2 attempts)",
    "web:web_8081 (pid 7224): http unhealthy: HTTP 500 in 3 ms, expected 200",
    "supervisor-checks http -n web_check -g web -p .+_(\\d+) -u /ping -t 5 -r 2",
    "--password-env API_CHECK_PASSWORD --password-file /run/secrets/api",
    "check -U/--username and the password",
    "status() at http://127.0.0.1:8080/RPC2: fault 1: UNKNOWN_METHOD",
    "123e4567-e89b-12d3-a456-426614174000",
    "SUPERVISOR_CHECK_PROCESS_NAME=web_1",
    "restarting: failed http, memory",
    "-u/--url: must not carry credentials: give -U/--username and --password-env",
    "check web/http/web:web_1 passed: GET http://127.0.0.1:80/ping: HTTP 200 in 3 ms",
    "status() at http://127.0.0.1:8080/RPC2: HTTP 401 Unauthorized: the server refused user 'ops'",
    "rss 612 MB (cumulative over 3 processes) exceeds 512 MB",
    "2026-11-21T06:45:54.462Z",
    "mysql -h db --port 3306 -e 'select 1'",
    "mysql -h db -P 3306 -e 'select 1'",
    "supervisor-checks serve -H 127.0.0.1 -P 8000",
    "web_8081-Production-2",
    "13.7.152.14-rusty",
  ];
  for (const text of ordinary) assert.equal(maskSecrets(text), text);
  for (const name of ["PATH", "HOME", "PWD", "OLDPWD", "USER", "LANG", "url", "port", "timeout"]) {
    assert.ok(!isSecretName(name), name);
  }
  for (
    const name of [
      "API_KEY",
      "GITHUB_TOKEN",
      "MYSQL_PWD",
      "REDIS_PASS",
      "SENTRY_DSN",
      "BASIC_AUTH_USER",
      "GOOGLE_APPLICATION_CREDENTIALS",
      "SSH_PRIVATE",
      "client_secret",
      "SLACK_WEBHOOK_URL",
      "session_cookie",
    ]
  ) assert.ok(isSecretName(name), name);
  assert.ok(!isSecretName("password_env") && !isSecretName("webhook-file"));
});

Deno.test("redact: maskDeep hides secret-named keys and the value after a secret flag in argv", () => {
  const input = {
    argv: [
      "http",
      "-P",
      "argvpw",
      "--password",
      "argvpw2",
      "-p",
      "8080",
      "--token=t0k3n",
      "-P",
      "80",
    ],
    env: { MYSQL_PWD: "x", HOME: "/root", DATABASE_URL: "mysql://u:dbpw@h/db" },
    count: 3,
  };
  const copy = structuredClone(input);
  assert.deepEqual(maskDeep(input), {
    argv: ["http", "-P", MASK, "--password", MASK, "-p", "8080", `--token=${MASK}`, "-P", "80"],
    env: { MYSQL_PWD: MASK, HOME: "/root", DATABASE_URL: `mysql://u:${MASK}@h/db` },
    count: 3,
  });
  assert.deepEqual(input, copy);
});

Deno.test("redact: outside text shows control characters and is cut with a marker", () => {
  // guarantee: Outside text
  assert.equal(
    outside("a\nb\r\tc\x1b[31md\x00\x7f\u2028\u202e", 100),
    "a\\nb\\r\\tc\\x1b[31md\\x00\\x7f\\u{2028}\\u{202e}",
  );
  const forged = "fault\n2026-11-21T06:45:54.462Z ERROR [web] forged";
  assert.ok(!outside(forged, 100).includes("\n"));
  const cut = outside("x".repeat(5000), 100);
  assert.equal(cut.length, 100);
  assert.match(cut, /^x+… \[cut: 5000 characters in all\]$/);
  const end = outside(`${"x".repeat(5000)}the reason`, 100, "end");
  assert.equal(end.length, 100);
  assert.match(end, /^\[cut: 5010 characters in all\] …x+the reason$/);
  assert.equal(outside("short", 100), "short");
  // never half a surrogate pair
  const emoji = outside("😀".repeat(100), 41);
  assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(emoji), emoji);
});

Deno.test("redact: a megabyte is masked, escaped and cut quickly, a secret at the cut included", () => {
  const big = `fault \x1b[31m${"A\n".repeat(500_000)} http://u:pw-at-end@h/`;
  const started = performance.now();
  const line = redact(big);
  assert.ok(performance.now() - started < 2000, "bounded work");
  assert.ok(line.length <= TEXT_CHARS);
  assert.ok(!line.includes("\n") && !line.includes("\x1b"));
  assert.match(line, /\[cut: 1000033 characters in all\]$/);
  // a URL cut in the middle by the pre-cut is not shown half
  const straddling = `${"word ".repeat(1800)}http://u:secretpw@h/${"y".repeat(TEXT_CHARS * 5)}`;
  assert.ok(!redact(straddling).includes("secretpw"));
  assert.ok(!redact(`${"w ".repeat(10)}http://u:secretpw${"z".repeat(20_000)}`).includes("secret"));
});
