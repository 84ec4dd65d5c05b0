/**
 * HTTP routes as data: a list of routes (methods, pattern, handler) and a
 * default handler become one request handler for Deno.serve, in the spirit
 * of Deno std's `http/route.ts`. Adding an endpoint is adding an entry.
 *
 * @example
 * ```ts
 * const handler = route(
 *   [{ method: ["GET", "HEAD"], pattern: "/health/live", handler: () => new Response("{}") }],
 *   (_req, allowed) => new Response(null, { status: allowed.length ? 405 : 404 }),
 * );
 * Deno.serve(handler);
 * ```
 */

/** Answers one request; `match` is the URLPattern's result (undefined for a path pattern). */
export type Handler = (
  request: Request,
  match: URLPatternResult | undefined,
) => Response | Promise<Response>;

/**
 * Answers the requests no route took. `allowed`: the methods of the routes
 * whose pattern matched but whose method did not (empty: no pattern matched,
 * a 404; else a 405 with `Allow: allowed`).
 */
export type DefaultHandler = (
  request: Request,
  allowed: string[],
) => Response | Promise<Response>;

export interface Route {
  /**
   * A path, matched exactly against the request's (query string ignored;
   * cheap), or a URLPattern matched against the whole URL.
   */
  pattern: string | URLPattern;
  /** The methods it answers (case-insensitive); any method when absent. */
  method?: string | string[];
  handler: Handler;
}

/** The path of an absolute request URL (as `Request.url` has it), without the query string. */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

/**
 * One handler for `routes`: the first route whose pattern and method match
 * the request answers it, else `defaultHandler`.
 */
export function route(
  routes: Route[],
  defaultHandler: DefaultHandler,
): (request: Request) => Response | Promise<Response> {
  const table = routes.map((r) => ({
    ...r,
    methods: r.method === undefined
      ? undefined
      : (Array.isArray(r.method) ? r.method : [r.method]).map((m) => m.toUpperCase()),
  }));
  return (request) => {
    let path: string | undefined;
    const allowed: string[] = [];
    for (const r of table) {
      let match: URLPatternResult | undefined;
      if (typeof r.pattern === "string") {
        if (r.pattern !== (path ??= pathOf(request.url))) continue;
      } else {
        match = r.pattern.exec(request.url) ?? undefined;
        if (!match) continue;
      }
      if (r.methods === undefined || r.methods.includes(request.method)) {
        return r.handler(request, match);
      }
      allowed.push(...r.methods.filter((m) => !allowed.includes(m)));
    }
    return defaultHandler(request, allowed);
  };
}
