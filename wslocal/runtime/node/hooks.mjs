// Module resolution hooks for a Node worker's ES modules. CommonJS `require` searches
// NODE_PATH; ES `import` does not, so a bare specifier the importing file's own
// node_modules cannot resolve is looked for in each NODE_PATH folder in turn (the
// function's dependencies, its layers', the runtime's AWS SDK), as Lambda's runtime
// makes the SDK and layers importable from ES modules. An `@aws-sdk/*` package found
// nowhere (named at run time, so no build-time scan saw it) is installed, then looked
// for where it went (sdk_install.mjs).
import path from "node:path";
import { pathToFileURL } from "node:url";

import { sdkInstaller, sdkPackageOf } from "./sdk_install.mjs";

let folders = [];
let install = () => null;

export async function initialize(data) {
  folders = data?.folders ?? [];
  install = sdkInstaller(data?.installer ?? null, lineLogger(data?.prefix ?? ""));
}

function lineLogger(prefix) {
  return (line) => process.stdout.write(`${prefix}${line}\n`);
}

function parentIn(folder) {
  return pathToFileURL(path.join(folder, "wslocal-resolve.js")).href;
}

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:|#)/i.test(specifier);
}

/** Where to ask again after Node found nothing: each NODE_PATH folder, then the folder
 * an `@aws-sdk/*` package was installed into (asked only once the others failed). */
function* retryParents(specifier) {
  for (const folder of folders) yield parentIn(folder);
  const pkg = sdkPackageOf(specifier);
  const installed = pkg && install(pkg);
  if (installed) {
    folders.push(installed);
    yield parentIn(installed);
  }
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !isBare(specifier)) throw error;
    for (const parentURL of retryParents(specifier)) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (retry) {
        if (retry?.code !== "ERR_MODULE_NOT_FOUND") throw retry;
      }
    }
    throw error;
  }
}

/** The same, as synchronous in-thread hooks (`module.registerHooks`, Node 22.15+), which
 * cost a Node 20 worker none of the loader thread `module.register` starts. */
export function synchronousHooks(searched, installer, prefix) {
  folders = searched;
  install = sdkInstaller(installer, lineLogger(prefix));
  return {
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        if (error?.code !== "ERR_MODULE_NOT_FOUND" || !isBare(specifier)) throw error;
        for (const parentURL of retryParents(specifier)) {
          try {
            return nextResolve(specifier, { ...context, parentURL });
          } catch (retry) {
            if (retry?.code !== "ERR_MODULE_NOT_FOUND") throw retry;
          }
        }
        throw error;
      }
    },
  };
}
