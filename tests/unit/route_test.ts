/**
 * lib/route.ts: routes as data, matched by path or URLPattern and method,
 * the rest to the default handler with the methods the path allows.
 */
import assert from "node:assert/strict";
import { pathOf, type Route, route } from "../../lib/route.ts";

/** A handler answering `name` (and the pattern's `id` group, when there is one). */
function says(name: string) {
  return (_req: Request, match: URLPatternResult | undefined) =>
    new Response(match ? `${name} ${match.pathname.groups.id}` : name);
}

const ROUTES: Route[] = [
  { method: ["get", "HEAD"], pattern: "/a", handler: says("get a") },
  { method: "POST", pattern: "/a", handler: says("post a") },
  { method: "PUT", pattern: "/b", handler: says("put b") },
  { method: "put", pattern: "/b", handler: says("put b again") },
  { pattern: "/any", handler: says("any") },
  { method: "GET", pattern: new URLPattern({ pathname: "/items/:id" }), handler: says("item") },
  { method: "GET", pattern: "/first", handler: says("first") },
  { method: "GET", pattern: "/first", handler: says("second") },
];

const handler = route(
  ROUTES,
  (req, allowed) =>
    new Response(`default ${req.method} [${allowed.join(", ")}]`, {
      status: allowed.length ? 405 : 404,
    }),
);

async function answer(method: string, url: string): Promise<[number, string]> {
  const response = await handler(new Request(url, { method }));
  return [response.status, await response.text()];
}

Deno.test("route: the route of the path and method answers (methods case-insensitive)", async () => {
  assert.deepEqual(await answer("GET", "http://h/a"), [200, "get a"]);
  assert.deepEqual(await answer("HEAD", "http://h/a"), [200, "get a"]);
  assert.deepEqual(await answer("POST", "http://h/a"), [200, "post a"]);
  assert.deepEqual(await answer("GET", "http://h:8/a?x=/b#f"), [200, "get a"]);
  assert.deepEqual(await answer("DELETE", "http://h/any"), [200, "any"]);
});

Deno.test("route: the first matching route wins", async () => {
  assert.deepEqual(await answer("GET", "http://h/first"), [200, "first"]);
});

Deno.test("route: a URLPattern route receives its match", async () => {
  assert.deepEqual(await answer("GET", "http://h/items/42?full"), [200, "item 42"]);
  assert.deepEqual(await answer("GET", "http://h/items/"), [404, "default GET []"]);
});

Deno.test("route: the default handler gets the methods a known path allows, none for an unknown one", async () => {
  assert.deepEqual(await answer("DELETE", "http://h/a"), [405, "default DELETE [GET, HEAD, POST]"]);
  assert.deepEqual(await answer("GET", "http://h/b"), [405, "default GET [PUT]"]);
  assert.deepEqual(await answer("POST", "http://h/items/7"), [405, "default POST [GET]"]);
  assert.deepEqual(await answer("GET", "http://h/a/"), [404, "default GET []"]);
  assert.deepEqual(await answer("GET", "http://h/"), [404, "default GET []"]);
});

Deno.test("route: pathOf is the path without the query string", () => {
  assert.equal(pathOf("http://127.0.0.1:8000/health/live?verbose=1"), "/health/live");
  assert.equal(pathOf("http://[::1]:8000/metrics"), "/metrics");
  assert.equal(pathOf("http://host"), "/");
  assert.equal(pathOf("http://host/?a=/b"), "/");
});
