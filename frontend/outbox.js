// Outbox: every message this page sent, by its clientId, from typed to stored.
// No DOM here. A message is "queued" (not sent yet: offline, or waiting for the room's
// history), "sending" (out, no ack yet), "sent" (the server stored it: an ack, or the
// history has its clientId) or "failed" (refused, or no answer: retry may be offered).
// Retrying is always safe: the server stores a clientId once.

export const ACK_TIMEOUT_MS = 10_000;

/** 128 random bits as hex: crypto.randomUUID needs a secure context, this does not. */
export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export class Outbox {
  constructor(newId = newClientId) {
    this.newId = newId;
    this.entries = new Map(); // clientId -> entry, in the order typed
  }

  add(text) {
    const entry = { clientId: this.newId(), text, state: "queued", error: null, retry: false };
    this.entries.set(entry.clientId, entry);
    return entry;
  }

  frame(entry) {
    return JSON.stringify({ action: "sendMessage", message: entry.text, clientId: entry.clientId });
  }

  /** Queued messages, oldest first: what goes out when the page can send. */
  due() {
    return [...this.entries.values()].filter((entry) => entry.state === "queued");
  }

  /** Messages not stored yet, oldest first (they are drawn after the history). */
  unsent() {
    return [...this.entries.values()].filter((entry) => entry.state !== "sent");
  }

  sending(entry, now = Date.now()) {
    entry.state = "sending";
    entry.since = now;
  }

  /** An ack: the message is stored under envelope.id. Returns its entry, or null. */
  acked(envelope) {
    const entry = this.entries.get(envelope.clientId);
    if (!entry) return null;
    Object.assign(entry, { state: "sent", id: envelope.id, sentAt: envelope.sentAt, error: null });
    return entry;
  }

  /** An error naming a clientId: that message failed; `retry` if trying again may help.
   * delivery_failed comes after the ack: the message is stored (it keeps its id) but not
   * everyone has it; Retry sends it again under the same id. */
  refused(envelope, words, retry) {
    const entry = this.entries.get(envelope.clientId);
    if (!entry || (entry.state === "sent" && envelope.code !== "delivery_failed")) return null;
    Object.assign(entry, { state: "failed", error: words, retry });
    return entry;
  }

  /** API Gateway's own failure frames name no message: every one in flight failed. */
  failInFlight(words) {
    const failed = [...this.entries.values()].filter((entry) => entry.state === "sending");
    for (const entry of failed) Object.assign(entry, { state: "failed", error: words, retry: true });
    return failed;
  }

  /** No ack within ACK_TIMEOUT_MS: failed, with a retry. */
  expire(now = Date.now()) {
    const late = [...this.entries.values()].filter(
      (entry) => entry.state === "sending" && now - entry.since > ACK_TIMEOUT_MS,
    );
    for (const entry of late) {
      Object.assign(entry, { state: "failed", error: "No answer from the server.", retry: true });
    }
    return late;
  }

  /** The connection dropped: what was in flight goes again after the reconnect (the
   * server answers a repeat with the first ack, so nothing is stored twice). */
  requeueInFlight() {
    const again = [...this.entries.values()].filter((entry) => entry.state === "sending");
    for (const entry of again) entry.state = "queued";
    return again;
  }

  /** The room's history: messages of ours in it are stored, whatever we heard. */
  reconcile(messages) {
    const stored = [];
    for (const message of messages) {
      const entry = message.clientId && this.entries.get(message.clientId);
      const undelivered = entry && entry.state === "failed" && entry.id; // stored, not sent to all
      if (entry && entry.state !== "sent" && !undelivered) {
        Object.assign(entry, { state: "sent", id: message.id, sentAt: message.sentAt, error: null });
        stored.push(entry);
      }
    }
    return stored;
  }

  retry(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state !== "failed" || !entry.retry) return null;
    Object.assign(entry, { state: "queued", error: null });
    return entry;
  }
}
