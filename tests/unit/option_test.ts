import assert from "node:assert/strict";
import {
  choice,
  combine,
  count,
  helpRows,
  list,
  nonEmpty,
  option,
  OptionError,
  options,
  parse,
  parseConfig,
  parseGroups,
  seconds,
  text,
  toggle,
} from "../../lib/option.ts";
import { UsageError } from "../../lib/errors.ts";

const HTTP = options({
  url: option({ short: "u", metavar: "URL", help: "Path or URL.", parse: text, default: "/" }),
  port: option({ short: "p", metavar: "PORT", help: "Port.", parse: count(1) }),
  num_retries: option({ short: "r", help: "Retries.", parse: count(), default: 2 }),
  cumulative: toggle({ short: "c", help: "All together." }),
  email: list({ help: "Mail to.", parse: nonEmpty }),
  max_rss: option({ aliases: ["msx-rss"], help: "Most memory.", parse: count(1) }),
}, (v, name) => {
  if (v.url.startsWith("/") && v.port === undefined) {
    throw new OptionError("port", `is required when ${name("url")} is a path`);
  }
  return v;
});

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof UsageError, String(e));
    return e.message;
  }
  assert.fail("no error");
}

Deno.test("option: one declaration gives flags, defaults and typed values", () => {
  const { values } = parse(HTTP, [
    "-p",
    "8080",
    "--num-retries",
    "0",
    "-c",
    "--email",
    "a@x",
    "--email",
    "b@x",
  ]);
  assert.deepEqual(values, {
    url: "/",
    port: 8080,
    num_retries: 0,
    cumulative: true,
    email: ["a@x", "b@x"],
    max_rss: undefined,
  });
  assert.equal(parse(HTTP, ["-p", "1", "--msx-rss", "7"]).values.max_rss, 7);
});

Deno.test("option: errors name the flag on a command line and the key in a file", () => {
  assert.equal(
    usageError(() => parse(HTTP, ["-p", "x"])),
    "-p/--port: expected a whole number, got 'x'",
  );
  assert.equal(usageError(() => parse(HTTP, [])), "-p/--port: is required when -u/--url is a path");
  assert.equal(
    usageError(() => parseConfig(HTTP, { url: "/ping" }, "checks[0].http")),
    "checks[0].http.port: is required when checks[0].http.url is a path",
  );
  assert.equal(
    usageError(() => parseConfig(HTTP, { port: 1, prot: 2 }, "http")),
    "http: unknown key 'prot' (known: url, port, num_retries, cumulative, email, max_rss)",
  );
  assert.match(usageError(() => parse(HTTP, ["--bogus"])), /bogus/);
});

Deno.test("option: a file's values may be JSON numbers, booleans and single values for lists", () => {
  const values = parseConfig(HTTP, { port: 8080, cumulative: true, email: "ops@x" }, "http");
  assert.equal(values.port, 8080);
  assert.equal(values.cumulative, true);
  assert.deepEqual(values.email, ["ops@x"]);
  assert.match(
    usageError(() => parseConfig(HTTP, { port: 1, cumulative: "yes" }, "h")),
    /^h\.cumulative: expected true or false/,
  );
});

Deno.test("option: null in a file is absent, unless the option takes null as a value", () => {
  const CACHE = options({
    ttl: option({
      nullable: true,
      help: "Seconds; null: never.",
      parse: (raw) => raw === null ? null : count()(raw),
      default: 27 as number | null,
    }),
    size: option({ help: "Entries.", parse: count(), default: 10 }),
  });
  assert.deepEqual(parseConfig(CACHE, { ttl: null, size: null }, "cache"), { ttl: null, size: 10 });
  assert.deepEqual(parseConfig(CACHE, {}, "cache"), { ttl: 27, size: 10 });
});

Deno.test("option: groups on one command line; the first group keeps a shared spelling", () => {
  const own = options({
    interval: option({ short: "i", help: "Sample every.", parse: seconds(), default: 60 }),
  });
  const shared = options({
    interval: option({ aliases: ["check-interval"], help: "Round timer.", parse: seconds(0.5) }),
    log_format: option({ help: "text or json.", parse: choice("text", "json"), default: "text" }),
  });
  const { results: [a, b] } = parseGroups([own, shared], ["-i", "30", "--check-interval", "2"]);
  assert.deepEqual(a, { interval: 30 });
  assert.deepEqual(b, { interval: 2, log_format: "text" });
  assert.equal(
    usageError(() => parseGroups([own, shared], ["--check-interval", "0.1"])),
    "--check-interval: expected a number of seconds of at least 0.5, got '0.1'",
  );
  const [ownRows, sharedRows] = helpRows([own.spec, shared.spec]);
  assert.deepEqual(ownRows.map((r) => r.left), ["-i/--interval VALUE"]);
  assert.deepEqual(sharedRows.map((r) => r.left), ["--check-interval VALUE", "--log-format VALUE"]);
  assert.match(sharedRows[1].text, /Default: text$/);
});

Deno.test("option: limits of seconds and counts", () => {
  assert.throws(() => seconds()(0), /greater than 0/);
  assert.throws(() => seconds()(0.0001), /at least 0.001/);
  assert.throws(() => seconds()(8 * 86400), /at most 604800/);
  assert.throws(() => count()(1.5), /whole number/);
  assert.throws(() => count(1)(0), /1 or more/);
  assert.throws(() => count()(2_000_000), /at most 1000000/);
  assert.equal(seconds(0)("0"), 0);
});

Deno.test("option: required options, problems of no one option, -h/--help", () => {
  const source = options({
    inline: option({ short: "c", help: "Inline.", parse: text }),
    file: option({ help: "From a file.", parse: text }),
    name: option({ short: "n", help: "Name.", parse: nonEmpty, required: true }),
  }, (v, name) => {
    if ((v.inline === undefined) === (v.file === undefined)) {
      throw new OptionError("", `give exactly one of ${name("inline")} and ${name("file")}`);
    }
    return v;
  });
  assert.equal(usageError(() => parse(source, ["-c", "x"])), "-n/--name: is required");
  assert.equal(
    usageError(() => parse(source, ["-n", "a"])),
    "options: give exactly one of -c/--inline and --file",
  );
  assert.equal(
    usageError(() => parseConfig(source, { name: "a" }, "checks[0]")),
    "checks[0]: give exactly one of checks[0].inline and checks[0].file",
  );
  assert.equal(parse(source, ["-n", "a", "--help"], { help: true }), "help");
  assert.equal(parse(source, ["-h"], { help: true }), "help");
  assert.match(usageError(() => parse(source, ["--help"])), /help/);
  const [rows] = helpRows([source.spec]);
  assert.equal(rows[2].text, "Name. Required.");
});

Deno.test("option: combined groups parse as one; a file's key may be named elsewhere", () => {
  const timing = options({
    interval: option({ help: "Timer.", parse: seconds(0.5) }),
  }, (v) => ({ every: v.interval }));
  const logging = options({ quiet: toggle({ short: "q", help: "Less." }) });
  const both = combine({ timing, logging });
  assert.deepEqual(parse(both, ["-q", "--interval", "2"]).values, {
    timing: { every: 2 },
    logging: { quiet: true },
  });
  // a default from the top of a file, an override in an entry: each named where it is
  const name = (key: string) => (key === "quiet" ? `checks[3].${key}` : key);
  assert.equal(
    usageError(() => parseConfig(both, { interval: 0.1, quiet: "no" }, "", [], name)),
    "interval: expected a number of seconds of at least 0.5, got '0.1'; " +
      "checks[3].quiet: expected true or false, got 'no'",
  );
});
