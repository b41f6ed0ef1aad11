// An @aws-sdk package a function's code names at run time, installed when Node fails to
// find it (wslocal/runtime/node/sdk_clients.py says why and how): the stage's installer,
// run once per package and process, prints the node_modules folder to look in.
import { spawnSync } from "node:child_process";

const SDK_PACKAGE = /^(@aws-sdk\/[a-z0-9][a-z0-9._-]*)(?:\/|$)/;

/** The `@aws-sdk/x` package a specifier names (`@aws-sdk/x/deep/path` too), or null. */
export function sdkPackageOf(specifier) {
  const match = SDK_PACKAGE.exec(specifier);
  return match ? match[1] : null;
}

/** An installer for `installer` (WSLOCAL_SDK_INSTALL's JSON: command and environment):
 * `install(package)` is the folder to resolve it from, or null (npm does not know it, or
 * npm failed: its words go to the log). One answer per package for the process. */
export function sdkInstaller(installer, log) {
  const answers = new Map();
  return function install(pkg) {
    if (!installer) return null;
    if (answers.has(pkg)) return answers.get(pkg);
    log(`${pkg} is named at run time: installing it as Lambda's runtime ships it (once)`);
    const [program, ...args] = installer.command;
    const done = spawnSync(program, [...args, pkg], {
      encoding: "utf8",
      env: installer.environment,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const folder = done.status === 0 ? done.stdout.trim() || null : null;
    if (done.status !== 0) log(`${pkg} could not be installed: ${(done.stderr || done.error || "").toString().trim()}`);
    answers.set(pkg, folder);
    return folder;
  };
}
