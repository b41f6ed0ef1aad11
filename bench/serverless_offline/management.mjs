// serverless-offline's handler for the sample's sendmessage: the sample's own module, run
// as written, with the Management API endpoint it builds for AWS
// (https://{apiId}.execute-api.{region}.amazonaws.com/{stage}; serverless-offline's events
// say apiId "private", stage "local") sent to the one serverless-offline serves,
// $MANAGEMENT_ENDPOINT/@connections/... (no stage in its path). A module of its own,
// imported first, because serverless-offline runs handlers in worker threads, where
// NODE_OPTIONS preloads do not run.
import http from "node:http";
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";

const target = new URL(process.env.MANAGEMENT_ENDPOINT);
const request = https.request;

function local(options) {
  const path = String(options.path ?? "/").replace(/^\/[^/]+(?=\/@connections\/)/, "");
  const moved = { ...options, protocol: "http:", hostname: target.hostname, port: target.port, path };
  delete moved.host;
  delete moved.agent;
  return moved;
}

https.request = function (options, ...rest) {
  const plain = typeof options === "object" && !(options instanceof URL);
  const host = plain ? (options.hostname ?? String(options.host ?? "").replace(/:\d+$/, "")) : "";
  return /\.execute-api\.[^.]+\.amazonaws\.com$/.test(host)
    ? http.request(local(options), ...rest)
    : request.call(this, options, ...rest);
};
syncBuiltinESMExports();
