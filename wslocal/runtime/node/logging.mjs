// console.* as Lambda's Node.js runtime writes it: `time\trequestId\tLEVEL\tmessage`,
// or one JSON object per line with AWS_LAMBDA_LOG_FORMAT=JSON (then filtered by
// AWS_LAMBDA_LOG_LEVEL, INFO unless the function says otherwise, as Lambda filters);
// every line prefixed with the function's name on the stage (WSLOCAL_LOG_PREFIX), like
// its START, END and REPORT lines.
import { format } from "node:util";

const LEVELS = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE", fatal: "FATAL" };
const PRIORITY = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

/** An error as Lambda's JSON lines carry it: its constructor's name, message, stack
 * lines, then its own properties. */
function errorFields(error) {
  const stack = typeof error.stack === "string" ? error.stack.split("\n") : [];
  return { errorType: error?.constructor?.name ?? "UnknownError", errorMessage: error.message, stackTrace: stack };
}

const errorReplacer = (_key, value) => (value instanceof Error ? { ...errorFields(value), ...value } : value);

/** One log line, without the prefix. JSON as Lambda's Node runtime writes it: one
 * argument is the message as is (an object stays an object, an error becomes its
 * fields); several are formatted into one text, the first error among them named
 * beside it. */
export function logLine({ json, time, requestId, level, args }) {
  if (!json) return `${time}\t${requestId ?? "undefined"}\t${level}\t${format(...args)}`;
  const record = { timestamp: time, level, requestId };
  if (args.length === 1) {
    try {
      return JSON.stringify({ ...record, message: args[0] }, errorReplacer);
    } catch {
      return JSON.stringify({ ...record, message: format(args[0]) });
    }
  }
  const error = args.find((arg) => arg instanceof Error);
  return JSON.stringify({ ...record, message: format(...args), ...(error ? errorFields(error) : {}) });
}

/** Replace console's methods; `requestId()` names the call in flight. As Lambda's Node
 * runtime does: a method below `threshold` (AWS_LAMBDA_LOG_LEVEL) writes nothing, and
 * console.fatal is added. */
export function installConsole({ prefix, json, requestId, write, threshold = "TRACE" }) {
  const lowest = PRIORITY[threshold.toUpperCase()] ?? PRIORITY.TRACE;
  for (const [method, level] of Object.entries(LEVELS)) {
    console[method] =
      level !== "FATAL" && PRIORITY[level] < lowest
        ? () => {}
        : (...args) => {
            const line = logLine({ json, time: new Date().toISOString(), requestId: requestId(), level, args });
            write(`${prefix}${line}\n`);
          };
  }
}
