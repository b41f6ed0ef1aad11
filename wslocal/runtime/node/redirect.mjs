// AWS hosts a function names itself reach the stage's engines: the Management API
// endpoint it builds for AWS (`https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`
// or `https://{domainName}/{stage}`) goes to the stage's @connections, and an SQS queue
// URL as `Ref` gives it (`https://sqs.{region}.amazonaws.com/...`, which the SDK v3 calls
// instead of AWS_ENDPOINT_URL_SQS) to the SQS engine. Requests to those hosts through
// https.request/https.get (what the SDK's request handler calls) and fetch go to their
// local target over plain HTTP, path kept. Other hosts are untouched.
import http from "node:http";
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";

/** `host` or `host:port` as the redirected hosts are written (no default port). */
export function hostKey(hostname, port) {
  const bare = String(hostname ?? "").replace(/^\[|\]$/g, "");
  return port && String(port) !== "443" && String(port) !== "80" ? `${bare}:${port}` : bare;
}

/** https.request's arguments aimed at their host's target when `routes` (a Map of
 * host -> URL) has their host; null otherwise. */
export function redirectedArguments(args, routes) {
  let [first, second, ...rest] = args;
  let options;
  let target;
  if (typeof first === "string" || first instanceof URL) {
    const url = new URL(first);
    target = routes.get(hostKey(url.hostname, url.port));
    if (!target) return null;
    const extra = typeof second === "object" && second !== null ? second : {};
    if (extra === second) second = undefined;
    options = { path: `${url.pathname}${url.search}`, ...extra };
  } else {
    options = first ?? {};
    const host = options.hostname ?? String(options.host ?? "").replace(/:\d+$/, "");
    target = routes.get(hostKey(host, options.port));
    if (!target) return null;
  }
  const local = { ...options, protocol: "http:", hostname: target.hostname, port: target.port };
  delete local.host;
  delete local.agent;
  return [local, ...[second, ...rest].filter((arg) => arg !== undefined)];
}

/** Send requests for the hosts of `redirects` ({host: "http://local:port"}) there. */
export function installRedirect(redirects) {
  const routes = new Map(Object.entries(redirects ?? {}).map(([host, to]) => [host, new URL(to)]));
  if (routes.size === 0) return;
  const request = https.request;
  const get = https.get;
  https.request = function (...args) {
    const local = redirectedArguments(args, routes);
    return local ? http.request(...local) : request.apply(this, args);
  };
  https.get = function (...args) {
    const local = redirectedArguments(args, routes);
    return local ? http.get(...local) : get.apply(this, args);
  };
  syncBuiltinESMExports();
  const originalFetch = globalThis.fetch;
  if (typeof originalFetch === "function") {
    globalThis.fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const target = url.protocol === "https:" && routes.get(hostKey(url.hostname, url.port));
      if (target) {
        const local = new URL(`${url.pathname}${url.search}`, target);
        return originalFetch(input instanceof Request ? new Request(local, input) : local, init);
      }
      return originalFetch(input, init);
    };
  }
}
