// Finding a function's handler as Lambda's Node.js runtime does: `_HANDLER` is
// `path/to/file.export` (the export may be nested: `file.a.b`), the file is looked for
// under LAMBDA_TASK_ROOT as written, then with .js (CommonJS unless the nearest
// package.json says "type": "module"), .mjs (always an ES module) and .cjs (always
// CommonJS), and at last as a package `require` resolves (node_modules, NODE_PATH).
// Errors carry Lambda's errorType and name the file.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

export class HandlerError extends Error {
  constructor(errorType, message) {
    super(message);
    this.name = errorType;
  }
}

/** `dir/file.a.b` -> { moduleRoot: "dir", moduleName: "file", exportPath: ["a", "b"] } */
export function splitHandler(handler) {
  const base = path.basename(handler);
  const moduleRoot = handler.slice(0, handler.length - base.length);
  const match = /^([^.]*)\.(.+)$/.exec(base);
  if (!match || moduleRoot.split("/").includes("..")) {
    throw new HandlerError("Runtime.MalformedHandlerName", `Bad handler ${handler}`);
  }
  return { moduleRoot, moduleName: match[1], exportPath: match[2].split(".") };
}

/** True when the nearest package.json above `file` says "type": "module". */
export function isModuleType(file) {
  let folder = path.dirname(file);
  for (;;) {
    const manifest = path.join(folder, "package.json");
    if (existsSync(manifest)) {
      try {
        return JSON.parse(readFileSync(manifest, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder) return false;
    folder = parent;
  }
}

/** The file to load and how: [{ file, kind: "esm" | "cjs" }], in Lambda's order. */
export function candidates(taskRoot, handler) {
  const { moduleRoot, moduleName } = splitHandler(handler);
  const stem = path.resolve(taskRoot, moduleRoot, moduleName);
  const esm = isModuleType(`${stem}.js`);
  return [
    { file: stem, kind: "cjs" },
    { file: `${stem}.js`, kind: esm ? "esm" : "cjs" },
    { file: `${stem}.mjs`, kind: "esm" },
    { file: `${stem}.cjs`, kind: "cjs" },
  ];
}

function syntaxError(error, file) {
  const first = error.stack?.split("\n")[0] ?? "";
  const where = first.startsWith(file) ? first : file;
  return new HandlerError("Runtime.UserCodeSyntaxError", `${error.name}: ${error.message} (${where})`);
}

/** Lambda's last resort for a module that is no file: resolved as `require` resolves a
 * package from the task root and the module's folder (their node_modules, NODE_PATH). */
function resolvedAsPackage(taskRoot, handler) {
  const { moduleRoot, moduleName } = splitHandler(handler);
  const paths = [taskRoot, path.resolve(taskRoot, moduleRoot)];
  try {
    return { file: createRequire(path.join(taskRoot, "index.js")).resolve(moduleName, { paths }), kind: "cjs" };
  } catch {
    return undefined;
  }
}

/** Load the handler's module and return the handler function; `beforeEsm()` runs
 * before an ES module is imported. */
export async function loadHandler(taskRoot, handler, beforeEsm = async () => {}) {
  const { exportPath } = splitHandler(handler);
  const found =
    candidates(taskRoot, handler).find(({ file }) => statSync(file, { throwIfNoEntry: false })?.isFile()) ??
    resolvedAsPackage(taskRoot, handler);
  if (!found) {
    const { moduleRoot, moduleName } = splitHandler(handler);
    throw new HandlerError(
      "Runtime.ImportModuleError",
      `Error: Cannot find module '${moduleRoot}${moduleName}' (no ${moduleName}.js, .mjs or .cjs in ${path.resolve(taskRoot, moduleRoot)})`,
    );
  }
  if (found.kind === "esm") await beforeEsm();
  let loaded;
  try {
    loaded =
      found.kind === "esm"
        ? await import(pathToFileURL(found.file).href)
        : createRequire(found.file)(found.file);
  } catch (error) {
    if (error instanceof SyntaxError) throw syntaxError(error, found.file);
    if (error?.code === "ERR_MODULE_NOT_FOUND" || error?.code === "MODULE_NOT_FOUND") {
      throw new HandlerError("Runtime.ImportModuleError", `${error.message} (imported by ${found.file})`);
    }
    throw error;
  }
  const value = exportPath.reduce((object, key) => object?.[key], loaded);
  if (value === undefined) {
    throw new HandlerError("Runtime.HandlerNotFound", `${handler} is undefined or not exported (${found.file})`);
  }
  if (typeof value !== "function") {
    throw new HandlerError("Runtime.HandlerNotFound", `${handler} is not a function (${found.file})`);
  }
  return value;
}

/** Lambda's error document for anything thrown or rejected. */
export function errorDocument(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name,
      errorMessage: error.message,
      trace: (error.stack ?? "").split("\n"),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

/**
 * Call a handler as Lambda does: a returned promise (async handler), `context.done`,
 * `succeed` and `fail` settle the call at once; `callback(error, result)` settles an
 * error at once and a result once the event loop is empty (`loop.whenEmpty`), unless the
 * handler set `context.callbackWaitsForEmptyEventLoop = false`; a handler that returns
 * no promise and calls nothing answers null once the loop is empty (the runtime's
 * default). `loop.reset()` forgets a wait that a later settle made moot.
 */
export function callHandler(handler, event, context, loop) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error, result) => {
      if (settled) return;
      settled = true;
      loop.reset();
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    const callback = (error, result) => {
      if (settled) return;
      if ((error === undefined || error === null) && context.callbackWaitsForEmptyEventLoop) {
        loop.whenEmpty(() => settle(null, result));
      } else {
        settle(error, result);
      }
    };
    context.done = settle;
    context.succeed = (result) => settle(null, result);
    context.fail = (error) => settle(error ?? "handled");
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (error) {
      settle(error);
      return;
    }
    if (returned && typeof returned.then === "function") {
      returned.then((result) => settle(null, result), (error) => settle(error ?? "rejected"));
    } else if (!settled && !loop.waiting()) {
      loop.whenEmpty(() => settle(null, null));
    }
  });
}
