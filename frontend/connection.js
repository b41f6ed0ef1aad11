// ChatConnection: one room's WebSocket, reconnected with exponential backoff and jitter.
// No DOM here: the page listens to its events.

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** Full jitter: a random delay up to base * 2^attempt, capped. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Where the page connects: the configured URL, else the host that served the page. A
 * `?ws=` override is taken only for one of those two hosts, so a link cannot send the
 * reader's name, room and messages to a server of its choosing. */
export function chooseEndpoint({ override, configured, location }) {
  const own = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
  const fallback = configured || own;
  if (!override) return { url: fallback };
  let asked;
  try {
    asked = new URL(override);
  } catch {
    return { url: fallback, refused: `Ignored ?ws=: ${override} is not a URL.` };
  }
  const allowed = [own, configured].filter(Boolean).map((url) => new URL(url).host);
  if (!["ws:", "wss:"].includes(asked.protocol) || !allowed.includes(asked.host)) {
    return {
      url: fallback,
      refused: `Ignored ?ws=${override}: the page connects only to ${allowed.join(" or ")}.`,
    };
  }
  return { url: override };
}

/** The WebSocket URL of a room: the room, the name, and the user pool's token when the
 * API has the authorizer on (then the token's user name is the display name). */
export function connectionUrl(endpoint, { room, name, token }) {
  const pairs = Object.entries({ room, name, token }).filter(([, value]) => value);
  const query = pairs.map(([key, value]) => `${key}=${encodeURIComponent(value)}`).join("&");
  return `${endpoint}?${query}`;
}

/** A token handed to the page in its URL's fragment (never sent to the page's server):
 * `#id_token=…`, as Cognito's hosted UI returns it, or `#token=…`. */
export function tokenFrom(hash) {
  const fragment = new URLSearchParams(hash.replace(/^#/, ""));
  return fragment.get("id_token") || fragment.get("token") || null;
}

export class ChatConnection extends EventTarget {
  constructor(endpoint, room, name, token = null) {
    super();
    this.url = connectionUrl(endpoint, { room, name, token });
    this.attempt = 0;
    this.socket = null;
    this.closedByUser = false;
    this.retryTimer = null;
    this.countdownTimer = null;
  }

  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  open() {
    this.emit("state", { state: this.attempt === 0 ? "connecting" : "reconnecting" });
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.emit("state", { state: "connected" });
      this.emit("open", {});
    });
    socket.addEventListener("message", (event) => {
      let envelope;
      try {
        envelope = JSON.parse(event.data);
      } catch {
        return;
      }
      this.emit("envelope", envelope);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.emit("closed", {});
      if (this.closedByUser) {
        this.emit("state", { state: "offline" });
        return;
      }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    const due = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      this.emit("state", { state: "waiting", seconds });
    };
    tick();
    this.countdownTimer = setInterval(tick, 1000);
    this.retryTimer = setTimeout(() => {
      clearInterval(this.countdownTimer);
      this.open();
    }, delay);
  }

  /** Send now if connected; returns whether it went out (the Outbox keeps the rest). */
  send(frame) {
    if (!this.connected) return false;
    this.socket.send(frame);
    return true;
  }

  /** Drop this connection and join again (the server no longer knows it). */
  reconnect() {
    if (this.socket) this.socket.close(4000, "joining again");
  }

  close() {
    this.closedByUser = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.countdownTimer);
    if (this.socket) this.socket.close(1000, "leaving the room");
    else this.emit("state", { state: "offline" });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
