// Outbox: every message this page sent, by its clientId, from typed to stored.
// No DOM here. A message is "queued" (not sent yet: offline, or waiting for the room's
// history), "sending" (out, no ack yet), "sent" (the server stored it: an ack, or the
// history has it as ours), "pending" (stored, its delivery not finished: the history
// says so; a failure notice may still come) or "failed" (refused, not delivered to
// everyone, or no answer: retry may be offered).
// Retrying is always safe: the server stores a clientId once.
// Which stored message is ours is decided by the server only: the id it acked to this
// page, or the history's `mine`; never by a clientId another member could reuse.

export const ACK_TIMEOUT_MS = 10_000;

/** States of a message the server has stored (an error other than delivery_failed is
 * about an earlier try, and changes nothing). */
const STORED = new Set(["sent", "pending"]);

/** States of a message on its way: a Retry of a failed one (it keeps its id) is one. */
const ON_ITS_WAY = new Set(["queued", "sending"]);

/** The page's state of a message of ours, from the history's `delivery`. */
const DELIVERY_STATES = { pending: "pending", handedOff: "sent", failed: "failed" };

/** 128 random bits as hex: crypto.randomUUID needs a secure context, this does not. */
export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export class Outbox {
  constructor(newId = newClientId) {
    this.newId = newId;
    this.entries = new Map(); // clientId -> entry, in the order typed
    this.typed = 0;
    this.heard = 0; // what the page heard, in order: failures and history requests
    this.historyAskedAt = 0;
  }

  /** The page asks for the history now: its answer knows of what the server did before,
   * not of a failure the page hears after this. */
  historyAsked() {
    this.heard += 1;
    this.historyAskedAt = this.heard;
  }

  add(text) {
    this.typed += 1;
    const entry = {
      clientId: this.newId(),
      text,
      state: "queued",
      error: null,
      retry: false,
      order: this.typed,
    };
    this.entries.set(entry.clientId, entry);
    return entry;
  }

  /** The entry the server acked under `id` (or the history gave as ours), or null. */
  byId(id) {
    if (!id) return null;
    for (const entry of this.entries.values()) if (entry.id === id) return entry;
    return null;
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
   * delivery_failed comes after the ack, maybe on a later connection: the message is
   * stored (it keeps its id; a notice naming another messageId is not about it) but not
   * everyone has it; Retry sends it again under the same id. */
  refused(envelope, words, retry) {
    const entry = this.entries.get(envelope.clientId);
    if (!entry) return null;
    if (envelope.code !== "delivery_failed") {
      if (STORED.has(entry.state)) return null;
    } else if (envelope.messageId && entry.id && envelope.messageId !== entry.id) {
      return null;
    } else if (envelope.messageId) {
      entry.id = envelope.messageId; // its ack was lost: the notice (to its sender) says it
    }
    this.heard += 1;
    Object.assign(entry, { state: "failed", error: words, retry, failedAt: this.heard });
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

  /** The room's history: its messages the server marks `mine` are ours, stored, in the
   * delivery state it gives (`failedWords` for one that failed, with Retry). One this
   * page does not have (it was reloaded) becomes an entry, so it is shown as ours and its
   * Retry works. A failure the page heard stays until a history asked for after it says
   * the message was handed off (one asked before it was read before the failure), and a
   * Retry on its way goes on.
   * Returns the entries changed. */
  reconcile(messages, failedWords) {
    const changed = [];
    for (const message of messages) {
      if (message.mine !== true || !message.clientId) continue;
      let entry = this.entries.get(message.clientId);
      if (!entry) {
        this.typed += 1;
        entry = { clientId: message.clientId, text: message.payload, order: this.typed };
        this.entries.set(entry.clientId, entry);
      }
      const state = DELIVERY_STATES[message.delivery] || "sent";
      const heardFailed = entry.state === "failed" && entry.id === message.id;
      const heardSince = heardFailed && (entry.failedAt || 0) > this.historyAskedAt;
      const retrying = ON_ITS_WAY.has(entry.state) && entry.id === message.id;
      if ((heardFailed && (state !== "sent" || heardSince)) || (retrying && state === "failed")) {
        continue;
      }
      const failed = state === "failed";
      Object.assign(entry, { state, id: message.id, sentAt: message.sentAt });
      Object.assign(entry, { error: failed ? failedWords : null, retry: failed });
      changed.push(entry);
    }
    return changed;
  }

  retry(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state !== "failed" || !entry.retry) return null;
    Object.assign(entry, { state: "queued", error: null });
    return entry;
  }
}
