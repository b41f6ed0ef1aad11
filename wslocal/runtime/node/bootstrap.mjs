// The Lambda Node.js runtime of one worker process: `node bootstrap.mjs FD`.
//
// Like wslocal/runtime/bootstrap.py for Python: it loads the handler once (the init
// duration), says ready on the socket FD, then serves invocations read as frames
// (a 4-byte big-endian length, then UTF-8 JSON: wslocal/runtime/framing.py), writing
// START / END / REPORT lines as Lambda logs them. The handler's console output is its
// log; results only ever cross the socket. An unhandled rejection or an uncaught
// exception ends the process, as on Lambda: the stage starts a fresh worker.
import fs from "node:fs";
import inspector from "node:inspector";
import * as nodeModule from "node:module";
import net from "node:net";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";

import { callHandler, errorDocument, loadHandler } from "./handlers.mjs";
import { installConsole } from "./logging.mjs";
import { synchronousHooks } from "./hooks.mjs";
import { installRedirect } from "./redirect.mjs";
import { sdkInstaller, sdkPackageOf } from "./sdk_install.mjs";

const env = process.env;
const prefix = env.WSLOCAL_LOG_PREFIX ?? "";
const json = (env.AWS_LAMBDA_LOG_FORMAT ?? "").toUpperCase() === "JSON";
// Under `wslocal start --debug-wait`: once ready, calls wait for a debugger (the stage's
// variable, not the handler's, so it leaves the environment).
const waitForDebugger = Boolean(env.WSLOCAL_DEBUG_WAIT);
delete env.WSLOCAL_DEBUG_WAIT;
let currentRequestId;

/** The stage's lifeline (wslocal/lifeline.py): EOF on it means the stage has ended, however
 * it ended, and so does this worker. Read on this thread's loop; under --debug-wait on a
 * thread of its own, since waitForDebugger() holds this one (a worker waiting for a
 * debugger must not outlive a killed stage). The variable is the stage's, not the
 * handler's. */
function watchLifeline(fd, onThreadOfItsOwn) {
  const watch = (fd) => {
    // A description of its own where Linux gives one: a stream makes its fd non-blocking,
    // and the one inherited is shared with the stage's other children.
    let own = fd;
    try {
      own = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch {}
    const lifeline = new net.Socket({ fd: own, readable: true, writable: false });
    lifeline.on("end", () => process.kill(process.pid, "SIGKILL"));
    lifeline.on("error", () => {});
    lifeline.resume();
    return lifeline;
  };
  if (onThreadOfItsOwn) {
    const source = `const fs = require("node:fs"), net = require("node:net"); (${watch})(${fd});`;
    new Worker(source, { eval: true }).unref();
  } else {
    watch(fd).unref();
  }
}
if (/^\d+$/.test(env.WSLOCAL_LIFELINE ?? "")) {
  watchLifeline(Number(env.WSLOCAL_LIFELINE), waitForDebugger);
}
delete env.WSLOCAL_LIFELINE;
const write = (text) => process.stdout.write(text);
const log = (line) => write(`${prefix}${line}\n`);
// How to install an @aws-sdk package named at run time (the stage's installer, not a
// variable of the handler's).
const sdkInstall = env.WSLOCAL_SDK_INSTALL ? JSON.parse(env.WSLOCAL_SDK_INSTALL) : null;
delete env.WSLOCAL_SDK_INSTALL;

// Lambda filters JSON logs by the function's ApplicationLogLevel, INFO by default.
const threshold = env.AWS_LAMBDA_LOG_LEVEL ?? (json ? "INFO" : "TRACE");
installConsole({ prefix, json, requestId: () => currentRequestId, write, threshold });
installRedirect(JSON.parse(env.WSLOCAL_REDIRECTS || "{}"));

/** ES imports search NODE_PATH too (hooks.mjs); only an ES module handler needs it, and
 * Node 20's off-thread hooks cost a worker ~0.1 s and ~10 MB, so CommonJS ones skip it. */
async function searchNodePathFromEsm() {
  const folders = (env.NODE_PATH ?? "").split(":").filter(Boolean);
  if (typeof nodeModule.registerHooks === "function") {
    nodeModule.registerHooks(synchronousHooks(folders, sdkInstall, prefix));
  } else if (typeof nodeModule.register === "function") {
    const data = { folders, installer: sdkInstall, prefix };
    nodeModule.register(new URL("./hooks.mjs", import.meta.url), { data });
  } else {
    console.warn(`Node ${process.version} has no module hooks: ES imports will not search NODE_PATH`);
  }
}

/** `require` of an @aws-sdk package found nowhere (named at run time, so no build-time
 * scan saw it): installed, then resolved from where it went (sdk_install.mjs). */
function installSdkOnRequire() {
  const install = sdkInstaller(sdkInstall, log);
  const Module = nodeModule.Module;
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, isMain, options) {
    try {
      return resolveFilename.call(this, request, parent, isMain, options);
    } catch (error) {
      const pkg = error?.code === "MODULE_NOT_FOUND" ? sdkPackageOf(request) : null;
      const folder = pkg && install(pkg);
      if (!folder) throw error;
      return resolveFilename.call(this, request, parent, isMain, { ...options, paths: [folder] });
    }
  };
}
installSdkOnRequire();

function fatal(kind, error) {
  const document = { ...errorDocument(error), errorType: kind };
  console.error(`${kind}`, JSON.stringify(document));
  process.exit(128);
}
process.on("unhandledRejection", (reason) => fatal("Runtime.UnhandledPromiseRejection", reason));
process.on("uncaughtException", (error) => fatal("Runtime.UncaughtException", error));

const channel = new net.Socket({ fd: Number(process.argv[2]), readable: true, writable: true });

/** Send one frame: a message, or the JSON text of one; ``sent`` once it is written. */
function send(message, sent) {
  const text = typeof message === "string" ? message : JSON.stringify(message);
  const payload = Buffer.from(text, "utf8");
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  channel.write(Buffer.concat([header, payload]), sent);
}

/** Hold every call until a client attaches to the inspector and says run
 * (Runtime.runIfWaitingForDebugger; a client that enabled NodeRuntime is told
 * NodeRuntime.waitingForDebugger). Done once the worker has said ready, so the stage's
 * prewarm is not held (as `--inspect-brk` would hold it) and a call that comes meanwhile
 * waits in the channel; done at once, not at the first call, so a client that attached
 * and said run before a call came has not said it too early. */
function holdForDebugger() {
  if (!inspector.url()) {
    log("no debugger: the inspector is not listening (its port taken?); calls run");
    return;
  }
  log("waiting for a debugger to attach");
  inspector.waitForDebugger();
}

function context(request) {
  const name = env.AWS_LAMBDA_FUNCTION_NAME;
  const account = env.WSLOCAL_ACCOUNT_ID ?? "123456789012";
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION ?? "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${env.AWS_REGION}:${account}:function:${name}`,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: request.requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    getRemainingTimeInMillis: () => Math.max(0, request.deadlineMs - Date.now()),
  };
}

const started = performance.now();
let handler;
let initError;
try {
  handler = await loadHandler(env.LAMBDA_TASK_ROOT, env._HANDLER, searchNodePathFromEsm);
} catch (error) {
  initError = errorDocument(error);
  console.error(`${initError.errorType}: ${initError.errorMessage}`);
}
let initMs = performance.now() - started;
send({ type: "ready", initMs, error: initError ?? null, modules: [] }, () => {
  if (waitForDebugger) holdForDebugger();
});

/** Lambda's "wait for an empty event loop": a callback handler's result is sent once
 * nothing of the handler's is pending (timers, sockets, ...). The channel to the stage is
 * let go of while it waits, so Node's `beforeExit` says when the loop empties; the
 * channel is taken back then, and its next frame is read as before. Work that never ends
 * (a kept pool, an interval) keeps the call open until its timeout, as on Lambda. */
let onEmptyLoop = null;
const loop = {
  whenEmpty(callback) {
    onEmptyLoop = callback;
    channel.unref();
  },
  waiting: () => onEmptyLoop !== null,
  reset() {
    onEmptyLoop = null;
    channel.ref();
  },
};
process.on("beforeExit", () => {
  const callback = onEmptyLoop;
  if (callback === null) return;
  loop.reset();
  setImmediate(callback);
});

async function invoke(request) {
  const id = request.requestId;
  currentRequestId = id;
  log(`START RequestId: ${id} Version: $LATEST ${request.label ?? ""}`.trimEnd());
  const began = performance.now();
  let reply;
  if (!handler) {
    reply = { type: "result", ok: false, error: initError };
  } else {
    try {
      const result = await callHandler(handler, request.event, context(request), loop);
      // Serialized here: a result JSON cannot carry (a cycle, a BigInt) fails the call.
      reply = JSON.stringify({ type: "result", ok: true, result: result ?? null });
    } catch (error) {
      const document = errorDocument(error);
      console.error("Invoke Error", JSON.stringify(document));
      reply = { type: "result", ok: false, error: document };
    }
  }
  const duration = performance.now() - began;
  const maxMemory = Math.round(process.resourceUsage().maxRSS / 1024);
  const init = initMs === undefined ? "" : `\tInit Duration: ${initMs.toFixed(2)} ms`;
  initMs = undefined;
  log(`END RequestId: ${id}`);
  log(
    `REPORT RequestId: ${id}\tDuration: ${duration.toFixed(2)} ms\t` +
      `Billed Duration: ${Math.ceil(duration)} ms\tMemory Size: ${env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE} MB\t` +
      `Max Memory Used: ${maxMemory} MB${init}`,
  );
  currentRequestId = undefined;
  send(reply);
}

let buffered = Buffer.alloc(0);
let queue = Promise.resolve();
channel.on("data", (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  while (buffered.length >= 4) {
    const length = buffered.readUInt32BE(0);
    if (buffered.length < 4 + length) break;
    const request = JSON.parse(buffered.subarray(4, 4 + length).toString("utf8"));
    buffered = buffered.subarray(4 + length);
    queue = queue.then(() => invoke(request));
  }
});
channel.on("end", () => process.exit(0));
channel.on("error", () => process.exit(0));
