// Module resolution hooks for a Node worker's ES modules. CommonJS `require` searches
// NODE_PATH; ES `import` does not, so a bare specifier the importing file's own
// node_modules cannot resolve is looked for in each NODE_PATH folder in turn (the
// function's dependencies, its layers', the runtime's AWS SDK), as Lambda's runtime
// makes the SDK and layers importable from ES modules.
import path from "node:path";
import { pathToFileURL } from "node:url";

let folders = [];

export async function initialize(data) {
  folders = data?.folders ?? [];
}

function retryParents() {
  return folders.map((folder) => pathToFileURL(path.join(folder, "wslocal-resolve.js")).href);
}

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:|#)/i.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !isBare(specifier)) throw error;
    for (const parentURL of retryParents()) {
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
export function synchronousHooks(searched) {
  folders = searched;
  return {
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        if (error?.code !== "ERR_MODULE_NOT_FOUND" || !isBare(specifier)) throw error;
        for (const parentURL of retryParents()) {
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
