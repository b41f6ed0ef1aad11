// The wire protocol's rules, checked in the page before anything is sent
// (the server checks them again: see the README's "Wire protocol").

export const MESSAGE_MAX_BYTES = 16 * 1024; // the app's MessageMaxBytes default
export const FRAME_MAX_BYTES = 32 * 1024; // API Gateway's frame limit
export const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const NAME_MAX_CHARS = 32;
// Refused in names (the table protocol.NAME_REFUSED_CATEGORIES has; a test keeps the two
// equal): Unicode's "other" categories (controls; format characters such as zero-width
// joiners and bidi overrides, which spoof; surrogates; private use; unassigned) and every
// separator but the ASCII space.
export const NAME_REFUSED_CATEGORIES = ["Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"];
const NAME_REFUSED = new RegExp(
  `(?! )[${NAME_REFUSED_CATEGORIES.map((category) => `\\p{${category}}`).join("")}]`,
  "u",
);

const encoder = new TextEncoder();

export function utf8Bytes(text) {
  return encoder.encode(text).length;
}

/** Why `text` cannot be sent, or null. The frame it goes in carries a 32-character
 * clientId as well. */
export function checkMessage(text) {
  if (!text.trim()) return "Type a message first.";
  const size = utf8Bytes(text);
  if (size > MESSAGE_MAX_BYTES) {
    return (
      `Your message is ${size.toLocaleString()} bytes; the limit is ` +
      `${MESSAGE_MAX_BYTES.toLocaleString()} bytes (UTF-8). Shorten it and try again.`
    );
  }
  const frame = JSON.stringify({ action: "sendMessage", message: text, clientId: "0".repeat(32) });
  if (utf8Bytes(frame) > FRAME_MAX_BYTES) {
    return "Your message is too large for one WebSocket frame (32 KB). Shorten it and try again.";
  }
  return null;
}

/** A display name as the server takes it: ASCII spaces trimmed at both ends. */
export function trimName(name) {
  return name.replace(/^ +| +$/g, "");
}

/** Why the server would refuse `name` on $connect, or null. */
export function checkName(name) {
  const trimmed = trimName(name);
  const length = [...trimmed].length;
  if (length < 1 || length > NAME_MAX_CHARS) return `Your name must be 1–${NAME_MAX_CHARS} characters.`;
  if (NAME_REFUSED.test(trimmed)) {
    return "Your name has an invisible, control or bidi character, or a space other than a plain one.";
  }
  return null;
}

export function checkJoin(name, room) {
  const problem = checkName(name);
  if (problem) return problem;
  if (!ROOM_PATTERN.test(room)) {
    return "A room is 1–64 letters, digits, _ or -.";
  }
  return null;
}

const ERROR_WORDS = {
  unknown_action: "The server did not understand that request.",
  invalid_body: "The server could not read that message.",
  invalid_message: "That message could not be sent.",
  empty_message: "Empty messages are not sent.",
  message_too_large: "That message is too large to send.",
  invalid_client_id: "The page sent a message id the server does not accept.",
  delivery_failed: "Your message is stored, but not everyone may have it yet.",
  rate_limited: "You are sending too fast; wait a moment.",
  not_joined: "You are no longer in the room. Reconnecting…",
};

/** Errors after which sending the same message again may work. */
export const RETRYABLE_ERRORS = new Set(["rate_limited", "delivery_failed"]);

/** Words for an error envelope from the server. */
export function describeError(envelope) {
  const words = ERROR_WORDS[envelope.code] || "The server refused that.";
  return envelope.message ? `${words} (${envelope.message})` : words;
}
