import assert from "node:assert/strict";
import { HELP_WIDTH, renderHelp, wrap } from "../../lib/help.ts";
import { helpRows, option, text, toggle } from "../../lib/option.ts";

Deno.test("help: wrap keeps every character within the width, cutting long words at punctuation", () => {
  const text =
    'Checks as JSON: {"http":{"port":8090,"url":"/ping"},"memory":{"max_rss":4194304}} ' +
    "and a path %(root_directory)s/%(process_group)s-%(process_name)s-%(process_pid)s " +
    "x".repeat(130);
  for (const width of [20, 37, 50]) {
    const lines = wrap(text, width);
    for (const line of lines) assert.ok(line.length <= width, `${width}: '${line}'`);
    assert.equal(lines.join("").replace(/\s/g, ""), text.replace(/\s/g, ""));
  }
  assert.deepEqual(wrap('{"http":{"port":8090,"url":"/ping"},"memory":{"max_rss":1}}', 40), [
    '{"http":{"port":8090,"url":"/ping"},',
    '"memory":{"max_rss":1}}',
  ]);
});

Deno.test("help: a flag too long for its column gets its description on the next line, aligned", () => {
  const help = renderHelp("prog sub", "Does things. ".repeat(20), [{
    title: "Options",
    rows: helpRows([{
      a: toggle({ short: "a", help: "Short flag.", defaultText: undefined }),
      long_env: option({
        flag: "a-very-long-flag-name-env",
        metavar: "NAME",
        help: "The value from variable NAME.",
        defaultText: "none",
        parse: text,
      }),
    }])[0],
  }], { examples: ["prog sub " + "--flag value ".repeat(10)] });
  const lines = help.split("\n");
  for (const line of lines) assert.ok(line.length <= HELP_WIDTH, line);
  assert.ok(lines.includes(`  -a/--a${" ".repeat(22)}Short flag.`), help);
  const at = lines.indexOf("  --a-very-long-flag-name-env NAME");
  assert.ok(at > 0, help);
  assert.match(lines[at + 1], /^ {30}The value from variable NAME\. Default: none$/);
  // the example continues with a backslash, so that it still pastes into a shell
  assert.match(help, /^ {2}prog sub --flag value .* \\\n {6}\S/m);
  assert.match(
    help,
    /^Environment:\n {2}the variable you name with --a-very-long-flag-name-env\n/m,
  );
});
