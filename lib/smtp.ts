/**
 * Direct SMTP delivery, for hosts (containers) without a sendmail: the
 * `--smtp-*` options, their validation at start-up, and sending one
 * ready-made message, for every mailer (listeners' `--email`, httpok's `-m`,
 * the alert programs). nodemailer is imported on the first delivery only.
 */
import {
  type Namer,
  nonEmpty,
  option,
  OptionError,
  options,
  seconds,
  type Values,
} from "./option.ts";
import { CA_FILE_LIMIT, secretFrom } from "./options.ts";
import { readSmallFile, smallFileProblem } from "./bounded_read.ts";

/**
 * `--smtp-tls`:
 * - auto (default): STARTTLS when the server offers it, its certificate not
 *   checked (opportunistic, as mail relays do: it stops eavesdropping, not
 *   impersonation), plain otherwise. With `--smtp-user`, auto is starttls:
 *   credentials only ever travel over a verified TLS session;
 * - starttls: STARTTLS required, certificate verified;
 * - tls: implicit TLS (SMTPS, port 465 by default), certificate verified;
 * - none: never TLS, even when offered.
 */
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

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new Error(`'${text}' is not a port (1-65535)`);
  }
  return port;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` → host (no brackets) and port if given. */
function splitHostPort(raw: unknown): { host: string; port?: number } {
  const text = nonEmpty(raw);
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    return {
      host: bracketed[1],
      port: bracketed[2] === undefined ? undefined : parsePort(bracketed[2]),
    };
  }
  const [host, port, ...more] = text.split(":");
  if (more.length > 0) {
    throw new Error(`'${text}' is not HOST[:PORT] (write an IPv6 address as [addr])`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(host)) throw new Error(`'${host}' is not a host name or address`);
  return { host, port: port === undefined ? undefined : parsePort(port) };
}

function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readSmallFile(path, CA_FILE_LIMIT);
  } catch (e) {
    throw new Error(smallFileProblem(path, e));
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(`${path} holds no PEM certificate`);
  }
  try {
    Deno.createHttpClient({ caCerts: [pem] }).close();
  } catch (e) {
    throw new Error(smallFileProblem(path, e));
  }
  return pem;
}

/** The SMTP options (long forms only; the key is also the config-file key). */
const SMTP_SPEC = {
  smtp_host: option({
    metavar: "HOST[:PORT]",
    help: "Send mail over SMTP to this server instead of through --sendmail_program " +
      "(IPv6: [addr]:port).",
    parse: splitHostPort,
  }),
  smtp_port: option({
    metavar: "PORT",
    help: "SMTP port, when --smtp-host does not give one.",
    defaultText: "465 with --smtp-tls tls, else 25",
    parse: (raw) => parsePort(nonEmpty(raw)),
  }),
  smtp_tls: option({
    metavar: "MODE",
    help: "auto: STARTTLS when offered (certificate not checked; required and checked with " +
      "--smtp-user); starttls: required, certificate checked; tls: implicit TLS; none: never.",
    defaultText: "auto",
    parse: (raw): SmtpTls => {
      const mode = nonEmpty(raw);
      if (!TLS_MODES.includes(mode as SmtpTls)) {
        throw new Error(`'${mode}' is not one of ${TLS_MODES.join(", ")}`);
      }
      return mode as SmtpTls;
    },
  }),
  smtp_user: option({
    metavar: "USER",
    help: "Log in (AUTH) as USER; the password from --smtp-password-env or --smtp-password-file.",
    parse: nonEmpty,
  }),
  smtp_password_env: option({
    metavar: "NAME",
    help: "The SMTP password from environment variable NAME.",
    parse: nonEmpty,
  }),
  smtp_password_file: option({
    metavar: "PATH",
    help: "The SMTP password from a file (one trailing newline dropped).",
    parse: nonEmpty,
  }),
  smtp_from: option({
    metavar: "ADDR",
    help: "Sender address (envelope and From:).",
    defaultText: "supervisor-checks@<host name>",
    parse: (raw) => {
      const from = nonEmpty(raw);
      if (!MAIL_ADDRESS.test(from)) {
        throw new Error(`'${from}' is not a mail address like alerts@example.com`);
      }
      return from;
    },
  }),
  smtp_ca_file: option({
    metavar: "PATH",
    help: "PEM CA certificate(s) to trust for the SMTP server instead of the system's.",
    parse: nonEmpty,
  }),
  smtp_timeout: option({
    metavar: "SECONDS",
    help: "Time allowed for one delivery; a slower one is abandoned and logged.",
    defaultText: String(SMTP_TIMEOUT_SECONDS),
    parse: seconds(),
  }),
};

function smtpSettings(v: Values<typeof SMTP_SPEC>, name: Namer): SmtpSettings | undefined {
  const given = (Object.keys(SMTP_SPEC) as (keyof typeof v)[]).filter((k) => v[k] !== undefined);
  if (v.smtp_host === undefined) {
    if (given.length > 0) throw new OptionError(given[0], `needs ${name("smtp_host")}`);
    return undefined;
  }
  const tls = v.smtp_tls ?? "auto";
  if (v.smtp_host.port !== undefined && v.smtp_port !== undefined) {
    throw new OptionError("smtp_port", `the port is in ${name("smtp_host")} already`);
  }
  const port = v.smtp_host.port ?? v.smtp_port ?? (tls === "tls" ? 465 : 25);
  if (v.smtp_password_env !== undefined && v.smtp_password_file !== undefined) {
    throw new OptionError(
      "smtp_password_file",
      `give only one of ${name("smtp_password_env")}, ${name("smtp_password_file")}`,
    );
  }
  const password = secretFrom(
    { env: v.smtp_password_env, file: v.smtp_password_file },
    { env: "smtp_password_env", file: "smtp_password_file" },
    name,
  );
  const user = v.smtp_user;
  if (user !== undefined && !password) {
    throw new OptionError(
      "smtp_user",
      `needs a password (${name("smtp_password_env")} or ${name("smtp_password_file")}), ` +
        "not empty",
    );
  }
  if (user === undefined && password !== undefined) {
    const source = v.smtp_password_env !== undefined ? "smtp_password_env" : "smtp_password_file";
    throw new OptionError(source, `needs ${name("smtp_user")}`);
  }
  const from = v.smtp_from ?? `supervisor-checks@${Deno.hostname()}`;
  if (!MAIL_ADDRESS.test(from)) {
    throw new OptionError(
      "smtp_from",
      `'${from}' (made from the host name: set it) is not a mail address like alerts@example.com`,
    );
  }
  let ca: string | undefined;
  try {
    ca = v.smtp_ca_file === undefined ? undefined : readCaFile(v.smtp_ca_file);
  } catch (e) {
    throw new OptionError("smtp_ca_file", (e as Error).message);
  }
  return {
    host: v.smtp_host.host,
    port,
    tls,
    from,
    timeoutMs: (v.smtp_timeout ?? SMTP_TIMEOUT_SECONDS) * 1000,
    ...(user === undefined ? {} : { user, password }),
    ...(ca === undefined ? {} : { ca }),
  };
}

/**
 * The SMTP options, checked at start-up (the password and the CA file are
 * read then); undefined without `smtp_host`.
 */
export const SMTP = options(SMTP_SPEC, smtpSettings);

/** `smtp://mail.example.com:587 (starttls, as alerts)`: for logs, no secrets. */
export function describeSmtp(s: SmtpSettings): string {
  const host = s.host.includes(":") ? `[${s.host}]` : s.host;
  return `smtp://${host}:${s.port} (${s.tls}${s.user === undefined ? "" : `, as ${s.user}`})`;
}

let library: Promise<typeof import("npm:nodemailer@10.6.1")> | undefined;

/**
 * Delivers `message` (headers and body, LF line ends) to `to`. Resolves
 * once the server accepted it for every recipient; rejects with the reason
 * (the server's reply, a TLS or connection error, no answer within the
 * timeout, the recipients refused), the password never in it. Never takes
 * longer than the timeout.
 */
export async function sendSmtp(s: SmtpSettings, to: string[], message: string): Promise<void> {
  const nodemailer = await (library ??= import("npm:nodemailer@10.6.1"));
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
