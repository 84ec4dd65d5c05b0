/**
 * The one path for text on its way out (logs, mails, webhooks, `serve`'s
 * /healthcheck and /environment): {@link redact} masks every
 * credential-looking part, whatever variable or flag holds it, and makes text
 * from outside safe to print (control characters visible, length capped).
 */

export const MASK = "********";

/** Longest log message, mail line or webhook field, in characters. */
export const TEXT_CHARS = 2000;
/** Longest mail subject, in characters. */
export const SUBJECT_CHARS = 200;

/**
 * Names (variables, keys, query parameters, flags, headers) whose value is
 * a secret: the words anywhere in the name, any case; `pwd`, `pat`, `sig`
 * and `salt` only after a `_`, `.` or `-` (`MYSQL_PWD`, not `PWD` or
 * `OLDPWD`), `sig` and `salt` also on their own (`?sig=`).
 */
const SECRET_NAME =
  /key|token|pass|secret|auth|credential|cookie|dsn|private|signature|session|webhook|[_.-](?:pwd|pat|sig|salt)(?:$|[_.-])|^(?:sig|salt)$/i;
/**
 * `--password-env NAME`, `--password-file PATH` say where, not what; words
 * ending in -ed are prose (`check x passed: …`, `HTTP 401 Unauthorized: …`).
 */
const SECRET_NAME_POINTER = /[_-](?:env|file|path|fd)$|ed$/i;

/** Whether a variable, key, parameter or flag name looks like it holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !SECRET_NAME_POINTER.test(name);
}

/**
 * Whether `value`, given to flag `arg`, is a secret: `--password x`,
 * `--token x`; `-P x` (http's password) and `-a x` (redis-cli's) unless the
 * value is a number (`-P 8000` is serve's and mysql's port) or a flag.
 */
function isSecretFlag(arg: string, value: string): boolean {
  if (value.startsWith("-")) return false;
  if (arg === "-P" || arg === "-a") return !/^\d+$/.test(value);
  const m = /^--?([A-Za-z][\w-]*)$/.exec(arg);
  return m !== null && m[1].length > 1 && isSecretName(m[1]);
}

/** Upper case, lower case and digits all present, changing often (random, not words). */
function looksRandom(word: string, minRatio: number): boolean {
  if (!/[A-Z]/.test(word) || !/[a-z]/.test(word) || !/\d/.test(word)) return false;
  const alnum = word.replace(/[^A-Za-z0-9]/g, "");
  const cls = (c: string) => /[A-Z]/.test(c) ? 0 : /[a-z]/.test(c) ? 1 : 2;
  let changes = 0;
  for (let i = 1; i < alnum.length; i++) if (cls(alnum[i]) !== cls(alnum[i - 1])) changes++;
  return changes / (alnum.length - 1) >= minRatio;
}

const maskValue = (value: string) => {
  // a quoted value keeps its quotes; a colon ending it (`?token=x: HTTP 200`) stays
  const quote = /^(['"]).*\1$/s.exec(value)?.[1] ?? "";
  const colon = !quote && value.endsWith(":") ? ":" : "";
  return value === "" ? value : `${quote}${MASK}${quote}${colon}`;
};

type Shape = [RegExp, (...m: string[]) => string];

/** Single words that are keys of a secret in `name: value` (headers, YAML). */
const KEY_WORDS =
  /^(?:password|passwd|pass|pwd|secret|token|key|apikey|authorization|cookie|credential|dsn|signature)$/i;

/**
 * The shapes a secret takes in text, applied in order. Quantifiers are
 * bounded so that no input makes a pattern slow.
 */
const SECRET_SHAPES: Shape[] = [
  // PEM private keys
  [
    /(-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----)[\s\S]{1,16384}?(-----END [A-Z ]{0,40}PRIVATE KEY-----)/g,
    (_, begin, end) => `${begin}${MASK}${end}`,
  ],
  // scheme://user:password@host (the last @ before the host counts: passwords may hold @)
  // and scheme://token@host (a DSN's key): the user stays, or all of a lone token goes
  [
    /\b([a-z][a-z0-9+.-]{0,30}:\/\/)([^\s/?#'"<>]{1,512})@/gi,
    (_, scheme, userinfo) => {
      const colon = userinfo.indexOf(":");
      return `${scheme}${colon < 0 ? MASK : `${userinfo.slice(0, colon)}:${MASK}`}@`;
    },
  ],
  // user:password@host without a scheme (Go and MySQL DSNs: user:pw@tcp(host:3306)/db)
  [
    /(^|[\s'"=,;(<[{])([\w.%+-]{1,128}):(?!\/\/)([^\s'"]{1,512})@(?=[\w[(])/g,
    (_, before, user) => `${before}${user}:${MASK}@`,
  ],
  // a key as the user of a scheme-less DSN: KEY@o1.ingest.example.io/42
  [
    /(^|[\s'"=,;(<[{])[A-Za-z0-9_-]{16,128}@(?=[\w.-]{1,253}(?::\d{1,5})?\/)/g,
    (_, before) => `${before}${MASK}@`,
  ],
  // Authorization: Bearer x, Basic x, Token x
  [
    /\b([Bb]earer|Basic|Token)(\s{1,8})[A-Za-z0-9._~+/=-]{8,4096}/g,
    (_, s, sp) => `${s}${sp}${MASK}`,
  ],
  // JWTs
  [/\beyJ[A-Za-z0-9_-]{4,4096}\.[A-Za-z0-9_-]{4,4096}\.[A-Za-z0-9_-]{0,4096}/g, () => MASK],
  // well-known token formats: AWS key ids, GitHub, Slack, Stripe, Google, npm
  [
    /\b(?:(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_\w{20,255}|xox[abposr]-[A-Za-z0-9-]{10,255}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,255}|AIza[\w-]{35}|npm_[A-Za-z0-9]{36})\b/g,
    () => MASK,
  ],
  // "secret_name": "value" (JSON)
  [
    /("([\w.-]{1,128})"\s{0,8}:\s{0,8})"((?:[^"\\]|\\.){0,4096})"/g,
    (all, head, name) => isSecretName(name) ? `${head}"${MASK}"` : all,
  ],
  // --secret-flag value, --secret-flag=value, -P value
  [
    /(^|\s)(--?[A-Za-z][\w-]{0,64})(=|\s{1,8})('[^']{0,4096}'|"[^"]{0,4096}"|[^\s'"]{1,4096})/g,
    (all, before, flag, sep, value) =>
      isSecretFlag(flag, value) ? `${before}${flag}${sep}${maskValue(value)}` : all,
  ],
  // SECRET_NAME=value, ?token=value, Password=value; (env, query strings, connection strings)
  [
    /(^|[^\w.-])([A-Za-z_][\w.-]{0,128})(\s{0,4}=\s{0,4})('[^']{0,4096}'|"[^"]{0,4096}"|[^\s&;,'"]{0,4096})/g,
    (all, before, name, eq, value) =>
      isSecretName(name) ? `${before}${name}${eq}${maskValue(value)}` : all,
  ],
  // secret-name: value (headers, YAML): X-Api-Key: abc, password: hunter2; a name that is
  // a plain word must be one of KEY_WORDS, so prose (`credentials: give …`) is left alone
  [
    /(^|[\s{,'"])([A-Za-z_][\w.-]{0,128})(:\s{1,8})((?:(?:[Bb]earer|Basic|Token)\s{1,8})?[^\s,;}'"]{1,4096})/g,
    (all, before, name, colon) =>
      isSecretName(name) && (/[_.-]|[a-z][A-Z]/.test(name) || KEY_WORDS.test(name))
        ? `${before}${name}${colon}${MASK}`
        : all,
  ],
  // mysql -pSECRET, sshpass -p SECRET
  [
    /\b((?:mysql\w{0,16}|mariadb\w{0,16})\b[^\n|;&]{0,1024}?\s-p)(?!\s)([^\s'"]{1,4096})/g,
    (_, head) => `${head}${MASK}`,
  ],
  [/\b(sshpass\s{1,8}-p\s{0,8})([^\s'"]{1,4096})/g, (_, head) => `${head}${MASK}`],
  // curl -u user:password, --user user:password
  [
    /(\s(?:-u|--user)(?:\s{1,8}|=))([^\s:/'"]{1,128}):(?!\/\/)([^\s'"]{1,4096})/g,
    (_, head, user) => `${head}${user}:${MASK}`,
  ],
  // long random-looking words, whatever holds them: base64 with / (AWS secret keys) …
  [
    /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{32,4096}={0,2}(?![A-Za-z0-9+/=])/g,
    (word) => looksRandom(word, 0.45) ? MASK : word,
  ],
  // … API keys and tokens; long hex strings (DSN keys, license keys)
  [
    /(?<![\w+-])[A-Za-z0-9+_-]{20,4096}={0,2}(?![\w+=-])/g,
    (word) =>
      looksRandom(word, 0.3) || /^[0-9a-f]{32,}$/i.test(word) && /\d/.test(word) &&
          /[a-f]/i.test(word)
        ? MASK
        : word,
  ],
];

/** Every credential-looking part of `text` replaced by MASK (see SECRET_SHAPES). */
export function maskSecrets(text: string): string {
  let masked = text;
  for (const [pattern, replace] of SECRET_SHAPES) {
    masked = masked.replace(pattern, replace as (...m: string[]) => string);
  }
  return masked;
}

/**
 * A deep copy of `value` with every string masked and every secret-named
 * key's value hidden (/environment).
 */
export function maskDeep(value: unknown): unknown {
  if (typeof value === "string") return maskSecrets(value);
  if (Array.isArray(value)) {
    return value.map((v, i) =>
      typeof value[i - 1] === "string" && typeof v === "string" && isSecretFlag(value[i - 1], v)
        ? MASK
        : maskDeep(v)
    );
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, isSecretName(k) ? MASK : maskDeep(v)]),
    );
  }
  return value;
}

/** C0 and C1 controls, DEL, line and paragraph separators, bidi overrides, BOM. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ??
      (code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`);
  });
}

/** `text` cut to `max` UTF-16 units from the start or the end, never inside a surrogate pair. */
function slice(text: string, max: number, keep: "start" | "end"): string {
  if (keep === "start") {
    const end = /[\ud800-\udbff]/.test(text[max - 1] ?? "") ? max - 1 : max;
    return text.slice(0, end);
  }
  const start = text.length - max;
  return text.slice(/[\udc00-\udfff]/.test(text[start] ?? "") ? start + 1 : start);
}

/** `escaped` within `max` characters, with a marker saying how long the original was. */
function fit(
  escaped: string,
  total: number,
  max: number,
  keep: "start" | "end",
  cut: boolean,
): string {
  if (!cut && escaped.length <= max) return escaped;
  const marker = keep === "start"
    ? `… [cut: ${total} characters in all]`
    : `[cut: ${total} characters in all] …`;
  const room = Math.max(0, max - marker.length);
  return keep === "start"
    ? slice(escaped, room, "start") + marker
    : marker + slice(escaped, room, "end");
}

/**
 * Outside text (fault strings, bodies, command output, headers) made safe to
 * print: control characters visible (`\n`, `\r`, `\t`, `\x1b`, `\u{2028}`…;
 * backslashes are left as they are), at most `max` characters. When cut, a marker says how long the text was:
 * `… [cut: 1048576 characters in all]` at the end (or, with keep "end",
 * at the start, for output whose end says what went wrong).
 */
export function outside(text: string, max: number, keep: "start" | "end" = "start"): string {
  return fit(escapeControls(text), text.length, max, keep, false);
}

/**
 * maskSecrets, then outside: what every log line, mail line, webhook field
 * and /healthcheck output goes through. A long text is first cut (at a
 * blank, so that no secret is cut in half) to a few times `max`, so that
 * masking a megabyte costs no more than masking a page.
 */
export function redact(text: string, max = TEXT_CHARS, keep: "start" | "end" = "start"): string {
  const bound = 4 * max + 1024;
  if (text.length <= bound) return outside(maskSecrets(text), max, keep);
  let part = keep === "start" ? text.slice(0, bound) : text.slice(text.length - bound);
  const blank = keep === "start" ? part.search(/\s\S*$/) : part.search(/\s/);
  if (blank > 0) part = keep === "start" ? part.slice(0, blank) : part.slice(blank + 1);
  return fit(escapeControls(maskSecrets(part)), text.length, max, keep, true);
}
