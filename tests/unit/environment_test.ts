/** The environment dump: its sections and the masking of secrets. */
import assert from "node:assert/strict";
import { environmentDump, type EnvironmentOptions } from "../../lib/environment.ts";
import {
  isSecretName,
  MASK,
  maskDeep as maskSecrets,
  maskSecrets as maskSecretsInText,
} from "../../lib/redact.ts";

const ALL: EnvironmentOptions = {
  os: true,
  process: true,
  runtime: true,
  config: true,
  sections: {},
};

Deno.test("environment: names with key, token, pass or secret (any case) are secret", () => {
  for (
    const name of [
      "API_KEY",
      "apiKey",
      "GITHUB_TOKEN",
      "password",
      "SUPERVISOR_PASSWORD",
      "passwd",
      "client_secret",
      "SECRETS",
      "Authorization",
      "aws_credentials",
      "session_cookie",
    ]
  ) assert.ok(isSecretName(name), name);
  for (const name of ["PATH", "HOME", "user", "url", "port", "timeout", "LANG"]) {
    assert.ok(!isSecretName(name), name);
  }
});

Deno.test("environment: masking is recursive, through arrays, and leaves the input alone", () => {
  const input = {
    url: "http://example.com/",
    db: { user: "app", Password: "hunter2", replicas: [{ host: "a", api_token: "t1" }] },
    secret_settings: { anything: "inside" },
    checks: [{ http: { headers: { Authorization: "Bearer x" }, port: 80 } }],
    count: 3,
    enabled: true,
    nothing: null,
  };
  const copy = structuredClone(input);
  assert.deepEqual(maskSecrets(input), {
    url: "http://example.com/",
    db: { user: "app", Password: MASK, replicas: [{ host: "a", api_token: MASK }] },
    secret_settings: MASK,
    checks: [{ http: { headers: { Authorization: MASK }, port: 80 } }],
    count: 3,
    enabled: true,
    nothing: null,
  });
  assert.deepEqual(input, copy);
});

Deno.test("environment: URL passwords and secret query parameters are masked inside strings", () => {
  assert.equal(
    maskSecretsInText("postgres://app:hunter2@db:5432/prod?sslmode=require"),
    `postgres://app:${MASK}@db:5432/prod?sslmode=require`,
  );
  assert.equal(
    maskSecretsInText("--url=https://h/ready?access_token=abc&page=2&API_KEY=k"),
    `--url=https://h/ready?access_token=${MASK}&page=2&API_KEY=${MASK}`,
  );
  assert.equal(maskSecretsInText("http://token@h/ no password"), `http://${MASK}@h/ no password`);
  assert.equal(
    maskSecretsInText("GET http://h/p?x=1&token=a:b: HTTP 200"),
    `GET http://h/p?x=1&token=${MASK}: HTTP 200`,
  );
  assert.deepEqual(maskSecrets(["x", "redis://:pw@cache:6379"]), [
    "x",
    `redis://:${MASK}@cache:6379`,
  ]);
});

Deno.test("environment: the dump has os, process, runtime and config; env secrets are masked", () => {
  Deno.env.set("SC_TEST_SERVICE_TOKEN", "do-not-show");
  Deno.env.set("SC_TEST_PLAIN", "visible");
  Deno.env.set("SC_TEST_DSN", "amqp://guest:guestpw@mq/");
  try {
    const dump = environmentDump(ALL, { flags: { port: 8000 }, file: { db_password: "pw" } });
    assert.deepEqual(Object.keys(dump), ["os", "process", "runtime", "config"]);
    const os = dump.os as Record<string, unknown>;
    assert.equal(os.platform, Deno.build.os);
    assert.equal(os.hostname, Deno.hostname());
    const process = dump.process as Record<string, unknown>;
    assert.equal(process.pid, Deno.pid);
    assert.ok(Array.isArray(process.argv));
    const env = process.environment as Record<string, string>;
    assert.equal(env.SC_TEST_SERVICE_TOKEN, MASK);
    assert.equal(env.SC_TEST_PLAIN, "visible");
    assert.equal(env.SC_TEST_DSN, MASK);
    assert.deepEqual(dump.runtime, {
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
      target: Deno.build.target,
    });
    assert.deepEqual(dump.config, { flags: { port: 8000 }, file: { db_password: MASK } });
    assert.ok(!JSON.stringify(dump).includes("do-not-show"));
    assert.ok(!JSON.stringify(dump).includes("guestpw"));
  } finally {
    Deno.env.delete("SC_TEST_SERVICE_TOKEN");
    Deno.env.delete("SC_TEST_PLAIN");
    Deno.env.delete("SC_TEST_DSN");
  }
});

Deno.test("environment: sections switch off one by one; custom sections follow, masked too", () => {
  const dump = environmentDump(
    {
      os: false,
      process: false,
      runtime: true,
      config: false,
      sections: { application: { maintainer: "ops", deploy_key: "k" }, build: "42" },
    },
    { flags: {} },
  );
  assert.deepEqual(Object.keys(dump), ["runtime", "application", "build"]);
  assert.deepEqual(dump.application, { maintainer: "ops", deploy_key: MASK });
  assert.equal(dump.build, "42");
  assert.deepEqual(
    environmentDump({ os: false, process: false, runtime: false, config: false, sections: {} }, {}),
    {},
  );
});

Deno.test("environment: what an attacker looks for in /environment is masked", () => {
  const secrets = {
    MYSQL_PWD: "mysql-pw-1",
    SC_TEST_SENTRY: "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42",
    SC_TEST_DB_URL: "postgres://app:p@ss-with-at@db:5432/prod",
    SC_TEST_UPLOAD: "https://b.s3.amazonaws.com/k?X-Amz-Signature=sig-value-1&X-Amz-Expires=60",
    SC_TEST_CONN: "Server=db;User Id=app;Password=conn-pw-1;",
    SC_TEST_OPAQUE: "Xk9mQ2vL7pR4tW8zN3bY6cF1",
  };
  for (const [k, v] of Object.entries(secrets)) Deno.env.set(k, v);
  try {
    const dump = environmentDump(ALL, {
      file: { checks: [{ name: "db", command: "mysql -uroot -pcmd-pw-1 -e 'select 1'" }] },
    });
    const text = JSON.stringify(dump);
    for (
      const leak of [
        "mysql-pw-1",
        "0123456789abcdef",
        "p@ss-with-at",
        "ss-with-at",
        "sig-value-1",
        "conn-pw-1",
        "Xk9mQ2vL7pR4tW8zN3bY6cF1",
        "cmd-pw-1",
      ]
    ) assert.ok(!text.includes(leak), leak);
    const env = (dump.process as { environment: Record<string, string> }).environment;
    assert.equal(env.SC_TEST_DB_URL, `postgres://app:${MASK}@db:5432/prod`);
    assert.equal(env.SC_TEST_SENTRY, `https://${MASK}@o1.ingest.sentry.io/42`);
    assert.equal(env.PATH, Deno.env.get("PATH"), "ordinary values stay");
  } finally {
    for (const k of Object.keys(secrets)) Deno.env.delete(k);
  }
});
