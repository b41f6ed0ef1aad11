// The Management API endpoint a function builds for AWS
// (`https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` or
// `https://{domainName}/{stage}`) reaches the local stage's @connections: requests to
// those hosts through https.request/https.get (what the AWS SDK v3 uses) and fetch go
// to the stage over plain HTTP, path kept. Other hosts are untouched.
import http from "node:http";
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";

/** `host` or `host:port` as the redirected hosts are written (no default port). */
export function hostKey(hostname, port) {
  const bare = String(hostname ?? "").replace(/^\[|\]$/g, "");
  return port && String(port) !== "443" && String(port) !== "80" ? `${bare}:${port}` : bare;
}

/** https.request's arguments aimed at `target` (a URL) when their host is one of
 * `hosts`; null otherwise. */
export function redirectedArguments(args, hosts, target) {
  let [first, second, ...rest] = args;
  let options;
  if (typeof first === "string" || first instanceof URL) {
    const url = new URL(first);
    if (!hosts.has(hostKey(url.hostname, url.port))) return null;
    const extra = typeof second === "object" && second !== null ? second : {};
    if (extra === second) second = undefined;
    options = { path: `${url.pathname}${url.search}`, ...extra };
  } else {
    options = first ?? {};
    const host = options.hostname ?? String(options.host ?? "").replace(/:\d+$/, "");
    if (!hosts.has(hostKey(host, options.port))) return null;
  }
  const local = { ...options, protocol: "http:", hostname: target.hostname, port: target.port };
  delete local.host;
  delete local.agent;
  return [local, ...[second, ...rest].filter((arg) => arg !== undefined)];
}

export function installRedirect(hostList, to) {
  const hosts = new Set(hostList.filter(Boolean));
  if (hosts.size === 0 || !to) return;
  const target = new URL(to);
  const request = https.request;
  const get = https.get;
  https.request = function (...args) {
    const local = redirectedArguments(args, hosts, target);
    return local ? http.request(...local) : request.apply(this, args);
  };
  https.get = function (...args) {
    const local = redirectedArguments(args, hosts, target);
    return local ? http.get(...local) : get.apply(this, args);
  };
  syncBuiltinESMExports();
  const originalFetch = globalThis.fetch;
  if (typeof originalFetch === "function") {
    globalThis.fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.protocol === "https:" && hosts.has(hostKey(url.hostname, url.port))) {
        const local = new URL(`${url.pathname}${url.search}`, target);
        return originalFetch(input instanceof Request ? new Request(local, input) : local, init);
      }
      return originalFetch(input, init);
    };
  }
}
