// The wire protocol's rules, checked in the page before anything is sent
// (the server checks them again: see the README's "Wire protocol").

export const MESSAGE_MAX_BYTES = 16 * 1024; // the app's MessageMaxBytes default
export const FRAME_MAX_BYTES = 32 * 1024; // API Gateway's frame limit
export const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_MAX_CHARS = 32;

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

export function checkJoin(name, room) {
  const trimmed = name.trim();
  if ([...trimmed].length < 1 || [...trimmed].length > NAME_MAX_CHARS) {
    return `Your name must be 1–${NAME_MAX_CHARS} characters.`;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) return "Your name must be printable.";
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
export const RETRYABLE_ERRORS = new Set(["rate_limited"]);

/** Words for an error envelope from the server. */
export function describeError(envelope) {
  const words = ERROR_WORDS[envelope.code] || "The server refused that.";
  return envelope.message ? `${words} (${envelope.message})` : words;
}
