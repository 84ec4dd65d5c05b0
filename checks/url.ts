/**
 * url: one URL judged whatever the process, in superlance httpok's words
 * (`status contacting URL: 500 Internal Server Error (expected 200)`). It is
 * httpok's verdict: one request per round, shared by every program the
 * round selects. The request itself is the http check's (checks/http.ts).
 */
import { healthy, unhealthy, unknown, type Verdict } from "../lib/check.ts";
import { VERSION } from "../lib/version.ts";
import { request } from "./http.ts";

export interface UrlOptions {
  url: URL;
  /** The URL for messages, its password (if any) hidden. */
  display: string;
  /** Seconds for the whole response. */
  timeout: number;
  codes: { accepts: (status: number) => boolean; text: string };
  /** Text the body must contain (-b). */
  body?: string;
  /** Texts the body must not contain (--fail-body). */
  failBody: string[];
}

/** A verdict on the URL, and which part of the answer was wrong (superlance's mail subject). */
export interface UrlVerdict extends Verdict {
  bad: "status" | "body";
}

/** GETs the URL once; `unknown` when fetch refuses the request or `signal` aborts it. */
export async function checkUrl(o: UrlOptions, signal: AbortSignal): Promise<UrlVerdict> {
  const r = await request({
    url: o.url,
    headers: { "User-Agent": `httpok (supervisor-checks/${VERSION})` },
    timeout: o.timeout,
    expectStatus: o.codes.accepts,
    expectBody: o.body,
    failBody: o.failBody,
  }, signal);
  const failed = (bad: UrlVerdict["bad"], message: string) => ({ ...unhealthy(message), bad });
  const error = (why: string) => failed("status", `error contacting ${o.display}: ${why}`);
  switch (r.kind) {
    case "aborted":
      return { ...unknown("listener is stopping; result discarded"), bad: "status" };
    case "refused":
      return {
        ...unknown(`configuration error: GET ${o.display} refused: ${r.why}`),
        bad: "status",
      };
    case "no-answer":
      return error(`no answer within ${o.timeout}s`);
    case "error":
      return error(r.why.replaceAll(o.url.href, o.display));
  }
  const status = `status contacting ${o.display}: ${r.status} ${r.statusText}`.trimEnd();
  const needles = o.body !== undefined || o.failBody.length > 0;
  switch (r.kind) {
    case "bad-status":
      return failed("status", `${status} (expected ${o.codes.text})`);
    case "incomplete":
      return failed(
        needles ? "body" : "status",
        `${status}, but the body was not complete within ${o.timeout}s`,
      );
    case "unreadable":
      return failed(
        needles ? "body" : "status",
        `${status}, but reading the body failed: ${r.why}`,
      );
    case "lacks":
    case "contains":
      return failed("body", `${status}, but the body ${r.kind} ${JSON.stringify(r.text)}`);
    case "ok":
      return { ...healthy(status), bad: "status" };
  }
}
