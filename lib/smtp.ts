/**
 * Direct SMTP delivery, for hosts (containers) without a sendmail: the
 * flags and config keys (`--smtp-host` …), their validation at start-up,
 * and sending one ready-made message.
 *
 * The SMTP client is nodemailer, imported on the first delivery only, so a
 * listener that never mails over SMTP never loads it (nor the node:net/tls
 * layers it needs). The dynamic import names the import-map entry, which
 * `deno compile` still bundles.
 *
 * TLS modes (`--smtp-tls`):
 * - auto (default): STARTTLS when the server offers it, its certificate not
 *   checked (opportunistic, as mail relays do: it stops eavesdropping, not
 *   impersonation), plain otherwise. With `--smtp-user`, auto is starttls:
 *   credentials only ever travel over a verified TLS session;
 * - starttls: STARTTLS required, certificate verified;
 * - tls: implicit TLS (SMTPS, port 465 by default), certificate verified;
 * - none: never TLS, even when offered.
 *
 * Reused by every mailer: the listeners' `--email`, httpok's `-m`, and any
 * program that maps its own flags (superlance's `--smtpHost`, `--userName`,
 * `--tls`) onto SMTP_OPTIONS' keys before calling parseSmtpOptions.
 */
import type { OptionSpec } from "./check.ts";
import { UsageError } from "./errors.ts";
import { resolveSecret } from "./options.ts";

export type SmtpTls = "auto" | "starttls" | "tls" | "none";
const TLS_MODES: SmtpTls[] = ["auto", "starttls", "tls", "none"];

export interface SmtpSettings {
  host: string;
  port: number;
  tls: SmtpTls;
  user?: string;
  password?: string;
  /** Envelope sender and From: header. */
  from: string;
  /** PEM text of CA certificates to trust instead of the system's. */
  ca?: string;
  /** Time allowed for one delivery, connection to the server's last reply. */
  timeoutMs: number;
}

/** Default seconds for --smtp-timeout. */
export const SMTP_TIMEOUT_SECONDS = 10;

/** Something like `user@example.com`: no blanks, no header or list syntax. */
export const MAIL_ADDRESS = /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\]+$/;

/** The SMTP flags (long forms only); the key is also the config-file key. */
export const SMTP_OPTIONS: OptionSpec[] = [
  {
    key: "smtp_host",
    long: "smtp-host",
    type: "string",
    metavar: "HOST[:PORT]",
    help: "Send mail over SMTP to this server instead of through --sendmail_program " +
      "(IPv6: [addr]:port).",
  },
  {
    key: "smtp_port",
    long: "smtp-port",
    type: "string",
    metavar: "PORT",
    help: "SMTP port, when --smtp-host does not give one.",
    defaultText: "465 with --smtp-tls tls, else 25",
  },
  {
    key: "smtp_tls",
    long: "smtp-tls",
    type: "string",
    metavar: "MODE",
    help: "auto: STARTTLS when offered (certificate not checked; required and checked with " +
      "--smtp-user); starttls: required, certificate checked; tls: implicit TLS; none: never.",
    defaultText: "auto",
  },
  {
    key: "smtp_user",
    long: "smtp-user",
    type: "string",
    metavar: "USER",
    help: "Log in (AUTH) as USER; the password from --smtp-password-env or --smtp-password-file.",
  },
  {
    key: "smtp_password_env",
    long: "smtp-password-env",
    type: "string",
    metavar: "NAME",
    help: "The SMTP password from environment variable NAME.",
  },
  {
    key: "smtp_password_file",
    long: "smtp-password-file",
    type: "string",
    metavar: "PATH",
    help: "The SMTP password from a file (one trailing newline dropped).",
  },
  {
    key: "smtp_from",
    long: "smtp-from",
    type: "string",
    metavar: "ADDR",
    help: "Sender address (envelope and From:).",
    defaultText: "supervisor-checks@<host name>",
  },
  {
    key: "smtp_ca_file",
    long: "smtp-ca-file",
    type: "string",
    metavar: "PATH",
    help: "PEM CA certificate(s) to trust for the SMTP server instead of the system's.",
  },
  {
    key: "smtp_timeout",
    long: "smtp-timeout",
    type: "string",
    metavar: "SECONDS",
    help: "Time allowed for one delivery; a slower one is abandoned and logged.",
    defaultText: String(SMTP_TIMEOUT_SECONDS),
  },
];

function parsePort(text: string, what: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new UsageError(`${what}: '${text}' is not a port (1-65535)`);
  }
  return port;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` → host (no brackets) and port if given. */
function splitHostPort(text: string, what: string): { host: string; port?: string } {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(.*))?$/.exec(text);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] };
  const [host, port, ...more] = text.split(":");
  if (more.length > 0) {
    throw new UsageError(`${what}: '${text}' is not HOST[:PORT] (write an IPv6 address as [addr])`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(host)) {
    throw new UsageError(`${what}: '${host}' is not a host name or address`);
  }
  return { host, port };
}

function readCaFile(path: string, what: string): string {
  let pem: string;
  try {
    pem = Deno.readTextFileSync(path);
  } catch (e) {
    throw new UsageError(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new UsageError(`${what}: ${path} holds no PEM certificate`);
  }
  try {
    Deno.createHttpClient({ caCerts: [pem] }).close();
  } catch (e) {
    throw new UsageError(`${what}: ${path}: ${(e as Error).message}`);
  }
  return pem;
}

/**
 * Raw values keyed as SMTP_OPTIONS (strings or, from a config file,
 * numbers) → settings, or undefined without `smtp_host`. Reads the
 * password and CA file now. `label(key)` names the flag or key in a
 * UsageError. An inline `smtp_password` (no flag declares it) is for
 * superlance-compatible programs whose --password is inline.
 */
export function parseSmtpOptions(
  values: Record<string, unknown>,
  label: (key: string) => string,
): SmtpSettings | undefined {
  const text = (key: string) => {
    const value = values[key];
    if (value === undefined) return undefined;
    const s = String(value).trim();
    if (s === "") throw new UsageError(`${label(key)}: must not be empty`);
    return s;
  };
  const given = SMTP_OPTIONS.map((o) => o.key).filter((k) => values[k] !== undefined);
  const hostText = text("smtp_host");
  if (hostText === undefined) {
    if (given.length > 0) throw new UsageError(`${label(given[0])}: needs ${label("smtp_host")}`);
    return undefined;
  }
  const tlsText = text("smtp_tls") ?? "auto";
  if (!TLS_MODES.includes(tlsText as SmtpTls)) {
    throw new UsageError(
      `${label("smtp_tls")}: '${tlsText}' is not one of ${TLS_MODES.join(", ")}`,
    );
  }
  const tls = tlsText as SmtpTls;
  const { host, port: hostPort } = splitHostPort(hostText, label("smtp_host"));
  const portText = text("smtp_port");
  if (hostPort !== undefined && portText !== undefined) {
    throw new UsageError(`${label("smtp_port")}: the port is in ${label("smtp_host")} already`);
  }
  const port = hostPort !== undefined
    ? parsePort(hostPort, label("smtp_host"))
    : portText !== undefined
    ? parsePort(portText, label("smtp_port"))
    : tls === "tls"
    ? 465
    : 25;

  if (values.smtp_password_env !== undefined && values.smtp_password_file !== undefined) {
    throw new UsageError(
      `${label("smtp_password_file")}: give only one of ${label("smtp_password_env")}, ` +
        label("smtp_password_file"),
    );
  }
  const secret = resolveSecret({
    inline: values.smtp_password === undefined ? undefined : String(values.smtp_password),
    env: text("smtp_password_env"),
    file: text("smtp_password_file"),
  }, {
    inline: label("smtp_password"),
    env: label("smtp_password_env"),
    file: label("smtp_password_file"),
  });
  if (secret.error) {
    const key = secret.error.source === "inline"
      ? "smtp_password"
      : `smtp_password_${secret.error.source}`;
    throw new UsageError(`${label(key)}: ${secret.error.message}`);
  }
  const user = text("smtp_user");
  const password = secret.value;
  if (user !== undefined && !password) {
    throw new UsageError(
      `${label("smtp_user")}: needs a password (${label("smtp_password_env")} or ` +
        `${label("smtp_password_file")}), not empty`,
    );
  }
  if (user === undefined && password !== undefined) {
    const source = given.find((k) => k.startsWith("smtp_password")) ?? "smtp_password";
    throw new UsageError(`${label(source)}: needs ${label("smtp_user")}`);
  }

  const from = text("smtp_from") ?? `supervisor-checks@${Deno.hostname()}`;
  if (!MAIL_ADDRESS.test(from)) {
    const why = values.smtp_from === undefined ? " (made from the host name: set it)" : "";
    throw new UsageError(
      `${label("smtp_from")}: '${from}'${why} is not a mail address like alerts@example.com`,
    );
  }
  const caFile = text("smtp_ca_file");
  const ca = caFile === undefined ? undefined : readCaFile(caFile, label("smtp_ca_file"));
  const timeoutText = text("smtp_timeout");
  const timeout = Number(timeoutText ?? SMTP_TIMEOUT_SECONDS);
  if (!(timeout > 0) || !Number.isFinite(timeout)) {
    throw new UsageError(
      `${label("smtp_timeout")}: '${timeoutText}' is not a number of seconds > 0`,
    );
  }
  return {
    host,
    port,
    tls,
    from,
    timeoutMs: timeout * 1000,
    ...(user === undefined ? {} : { user, password }),
    ...(ca === undefined ? {} : { ca }),
  };
}

/** `smtp://mail.example.com:587 (starttls, as alerts)`: for logs, no secrets. */
export function describeSmtp(s: SmtpSettings): string {
  const host = s.host.includes(":") ? `[${s.host}]` : s.host;
  return `smtp://${host}:${s.port} (${s.tls}${s.user === undefined ? "" : `, as ${s.user}`})`;
}

let library: Promise<typeof import("nodemailer")> | undefined;

/**
 * Delivers `message` (headers and body, LF line ends) to `to`. Resolves
 * once the server accepted it for every recipient; rejects with the reason
 * (the server's reply, a TLS or connection error, no answer within the
 * timeout, the recipients refused), the password never in it. Never takes
 * longer than the timeout.
 */
export async function sendSmtp(s: SmtpSettings, to: string[], message: string): Promise<void> {
  const nodemailer = await (library ??= import("nodemailer"));
  const requireTLS = s.tls === "starttls" || (s.tls === "auto" && s.user !== undefined);
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.tls === "tls",
    requireTLS,
    ignoreTLS: s.tls === "none",
    auth: s.user === undefined ? undefined : { user: s.user, pass: s.password },
    tls: {
      ...(s.ca === undefined ? {} : { ca: [s.ca] }),
      // auto without credentials: opportunistic encryption, any certificate
      rejectUnauthorized: s.tls !== "auto" || requireTLS,
    },
    connectionTimeout: s.timeoutMs,
    greetingTimeout: s.timeoutMs,
    socketTimeout: s.timeoutMs,
  });
  const deadline = AbortSignal.timeout(s.timeoutMs);
  try {
    const info = await transport.sendMail({
      envelope: { from: s.from, to },
      raw: message,
      signal: deadline,
    });
    // all refused is an error already; some refused is a partial loss, as loud
    if (info.rejected.length > 0) {
      const why = info.rejectedErrors?.map((e) => e.response ?? e.message).join("; ");
      throw new Error(
        `refused for ${info.rejected.join(", ")}${why ? ` (${why})` : ""}; ` +
          `accepted for ${info.accepted.join(", ")}`,
      );
    }
  } catch (e) {
    let reason = deadline.aborted
      ? `no complete answer within ${s.timeoutMs / 1000}s`
      : (e as Error).message || String(e);
    if (s.password) reason = reason.replaceAll(s.password, "********");
    throw new Error(reason);
  } finally {
    transport.close();
  }
}
