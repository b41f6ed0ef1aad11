// console.* as Lambda's Node.js runtime writes it: `time\trequestId\tLEVEL\tmessage`,
// or one JSON object per line with AWS_LAMBDA_LOG_FORMAT=JSON; every line prefixed
// with the function's name on the stage (WSLOCAL_LOG_PREFIX), like its START, END and
// REPORT lines.
import { format } from "node:util";

const LEVELS = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE" };

/** One log line, without the prefix. */
export function logLine({ json, time, requestId, level, args }) {
  if (!json) return `${time}\t${requestId ?? "undefined"}\t${level}\t${format(...args)}`;
  const record = { timestamp: time, level, requestId };
  const [only] = args;
  if (args.length === 1 && only instanceof Error) {
    Object.assign(record, { message: only.message, errorType: only.name, errorMessage: only.message, stackTrace: (only.stack ?? "").split("\n") });
  } else if (args.length === 1 && typeof only === "object" && only !== null) {
    record.message = only;
  } else {
    record.message = format(...args);
  }
  try {
    return JSON.stringify(record);
  } catch {
    return JSON.stringify({ ...record, message: format(...args) });
  }
}

/** Replace console's methods; `requestId()` names the call in flight. */
export function installConsole({ prefix, json, requestId, write }) {
  for (const [method, level] of Object.entries(LEVELS)) {
    console[method] = (...args) => {
      const line = logLine({ json, time: new Date().toISOString(), requestId: requestId(), level, args });
      write(`${prefix}${line}\n`);
    };
  }
}
