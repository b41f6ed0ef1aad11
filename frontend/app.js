// The chat page: joins a room, shows messages, presence and history, sends messages,
// reconnects by itself. User text is only ever set as textContent, never as HTML.

import { ChatConnection, chooseEndpoint, tokenFrom } from "./connection.js";
import { Outbox } from "./outbox.js";
import { checkJoin, checkMessage, describeError, RETRYABLE_ERRORS, trimName } from "./rules.js";
import {
  freshPresence,
  HEAD_KEY,
  insertionIndex,
  isOwn,
  lineKey,
  mergeHistory,
  ownEntry,
  unsentKey,
  withSender,
} from "./timeline.js";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  join: $("join"),
  name: $("name"),
  room: $("room"),
  joinButton: $("join-button"),
  roomTitle: $("room-title"),
  memberCount: $("member-count"),
  memberList: $("member-list"),
  memberMore: $("member-more"),
  messages: $("messages"),
  jump: $("jump"),
  notice: $("notice"),
  composer: $("composer"),
  message: $("message"),
  send: $("send"),
};

const STATUS_WORDS = {
  connecting: () => "Connecting…",
  connected: () => "Connected",
  reconnecting: () => "Reconnecting…",
  waiting: ({ seconds }) => `Reconnecting in ${seconds}s`,
  offline: () => "Offline",
};

const state = {
  connection: null,
  name: "",
  room: "",
  live: [], // messages that arrived since the history was asked for (merged with it)
  lines: 0, // presence lines drawn (each one's key is unique)
  seenPresence: new Set(), // ids of presence changes shown
  members: null, // the newest snapshot of who is here (by its asOf)
  joinedOnce: false,
  historyLoaded: false, // until the history arrives, typed messages wait (it redraws the list)
  historyTries: 0,
  outbox: new Outbox(),
};

const HISTORY_RETRIES = 3;

function endpoint() {
  const configured = window.CHAT_CONFIG && window.CHAT_CONFIG.websocketUrl;
  const override = new URLSearchParams(location.search).get("ws");
  const chosen = chooseEndpoint({ override, configured, location });
  if (chosen.refused) showNotice(chosen.refused);
  return chosen.url;
}

function nearBottom() {
  const list = ui.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

function scrollToNewest() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  ui.jump.hidden = true;
}

function shown(key) {
  return ui.messages.querySelector(`[data-key="${CSS.escape(key)}"]`);
}

// Every line goes in its place by its key (timeline.js), never just at the end: a late
// copy of a message goes where its id puts it. A line already there under the key is
// replaced (one of ours, once the server told its id).
function place(item, key) {
  item.dataset.key = key;
  const old = shown(key);
  if (old) {
    old.replaceWith(item);
    return;
  }
  const stick = nearBottom();
  const index = insertionIndex(keys(), key);
  ui.messages.insertBefore(item, ui.messages.children[index] || null);
  if (stick) scrollToNewest();
  else ui.jump.hidden = false;
}

function keys() {
  return Array.from(ui.messages.children, (line) => line.dataset.key);
}

function timeText(iso) {
  const date = iso ? new Date(iso) : new Date();
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function messageItem({ sender, payload, sentAt, own }) {
  const item = document.createElement("li");
  item.className = `message ${own ? "own" : "other"}`;
  const meta = document.createElement("p");
  meta.className = "meta";
  const who = document.createElement("span");
  who.className = "sender";
  who.dir = "auto";
  who.textContent = own ? `${sender} (you)` : sender;
  const when = document.createElement("time");
  when.dateTime = sentAt || new Date().toISOString();
  when.textContent = timeText(sentAt);
  meta.append(who, " · ", when);
  const text = document.createElement("p");
  text.className = "text";
  text.dir = "auto";
  text.textContent = payload;
  item.append(meta, text);
  return item;
}

function outboxNote(entry) {
  if (entry.state === "failed") return entry.id ? entry.error : `Not sent: ${entry.error}`;
  if (entry.state === "sending" || entry.state === "pending") return "Sending…";
  return state.connection && state.connection.connected
    ? "Sending…"
    : "Not sent yet: it will be sent when you are back online.";
}

// One of our messages, drawn from its Outbox entry: pending, sent or failed.
function outboxItem(entry) {
  const item = messageItem({ sender: state.name, payload: entry.text, sentAt: entry.sentAt, own: true });
  item.dataset.clientId = entry.clientId;
  item.dataset.state = entry.state;
  if (entry.state === "sent") return item;
  item.classList.add(entry.state === "failed" ? "failed" : "pending");
  const note = document.createElement("p");
  note.className = "pending-note";
  note.textContent = outboxNote(entry);
  item.append(note);
  if (entry.state === "failed" && entry.retry) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "retry";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => {
      if (state.outbox.retry(entry.clientId)) {
        redraw(entry);
        pump();
      }
    });
    item.append(retry);
  }
  return item;
}

// Where one of ours goes: at its id once stored, else after everything, as typed.
function entryKey(entry) {
  return entry.id || unsentKey(entry.order);
}

function redraw(entry) {
  const old = ui.messages.querySelector(`[data-client-id="${CSS.escape(entry.clientId)}"]`);
  if (old) old.remove();
  place(outboxItem(entry), entryKey(entry));
}

// Send what is queued, oldest first, once the room's history is in.
function pump() {
  if (!state.historyLoaded || !state.connection || !state.connection.connected) return;
  for (const entry of state.outbox.due()) {
    if (!state.connection.send(state.outbox.frame(entry))) return;
    state.outbox.sending(entry);
    redraw(entry);
  }
}

// Each name in a <bdi>: a right-to-left name cannot reorder the words around it.
function namesLine(names, verb) {
  const shown = names.slice(0, 3);
  const parts = [];
  shown.forEach((name, index) => {
    if (index > 0) parts.push(", ");
    const bdi = document.createElement("bdi");
    bdi.textContent = name;
    parts.push(bdi);
  });
  if (names.length > shown.length) parts.push(` and ${names.length - shown.length} more`);
  parts.push(` ${verb}`);
  const item = document.createElement("li");
  item.className = "presence";
  item.append(...parts);
  return item;
}

// One line per change of the room; the reader's own join is not news to them.
function presenceItems(envelope) {
  const fresh = freshPresence(envelope, state.seenPresence);
  const ownJoin = fresh.joined.indexOf(state.name);
  const joined = fresh.joined.filter((_, index) => index !== ownJoin);
  const lines = [];
  if (joined.length) lines.push(namesLine(joined, "joined"));
  if (fresh.left.length) lines.push(namesLine(fresh.left, "left"));
  return lines;
}

// Snapshots can arrive out of order (a history reply and a presence envelope race):
// keep the newest.
function applyMembers(snapshot) {
  if (!snapshot) return;
  if (state.members && Date.parse(snapshot.asOf) < Date.parse(state.members.asOf)) return;
  state.members = snapshot;
  ui.memberCount.textContent = String(snapshot.count);
  ui.memberList.replaceChildren(
    ...snapshot.names.map((name) => {
      const item = document.createElement("li");
      item.dir = "auto";
      item.textContent = name;
      if (name === state.name) item.className = "you";
      return item;
    }),
  );
  const more = snapshot.count - snapshot.names.length;
  ui.memberMore.hidden = !(snapshot.truncated && more > 0);
  ui.memberMore.textContent = `and ${more} more (the first ${snapshot.names.length} are listed)`;
}

function clearMembers() {
  state.members = null;
  ui.memberCount.textContent = "0";
  ui.memberList.replaceChildren();
  ui.memberMore.hidden = true;
}

function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
}

function clearNotice() {
  ui.notice.hidden = true;
  ui.notice.textContent = "";
}

// A message from the server, once per id (a retry, the backstop send it again): one of
// ours is drawn from its Outbox entry.
function renderMessage(message) {
  if (message.id && shown(message.id)) return;
  const entry = ownEntry(message, state.outbox);
  if (entry) {
    redraw(entry);
    return;
  }
  const item = messageItem({ ...message, own: isOwn(message, state.outbox) });
  place(item, message.id || lineKey(keys(), ++state.lines));
}

function renderHistory(envelope) {
  state.historyLoaded = true;
  state.historyTries = 0;
  applyMembers(envelope.members);
  ui.messages.replaceChildren();
  if (envelope.more) {
    const more = document.createElement("li");
    more.className = "presence more";
    more.textContent = "Older messages are not shown (the history is cut to its newest).";
    place(more, HEAD_KEY);
  }
  state.outbox.reconcile(envelope.messages, describeError({ code: "delivery_failed" }));
  const live = state.live;
  state.live = [];
  for (const message of mergeHistory(envelope.messages, live)) renderMessage(message);
  for (const entry of state.outbox.unsent()) redraw(entry);
  scrollToNewest();
  pump();
}

function askHistory(connection) {
  state.outbox.historyAsked();
  connection.send(JSON.stringify({ action: "history" }));
}

function onAck(envelope) {
  const entry = state.outbox.acked(envelope);
  if (entry) redraw(entry);
}

function onError(envelope) {
  if (envelope.code === "not_joined") {
    showNotice(describeError(envelope));
    state.connection.reconnect();
    return;
  }
  const retry = RETRYABLE_ERRORS.has(envelope.code);
  const entry = envelope.clientId && state.outbox.refused(envelope, describeError(envelope), retry);
  if (entry) redraw(entry);
  else showNotice(describeError(envelope));
}

// API Gateway's own frames ({"message": "Internal server error", ...}) name no request:
// a failed history is asked again (then the page joins again); messages in flight failed.
function onGatewayFailure(envelope) {
  if (!state.historyLoaded) {
    state.historyTries += 1;
    if (state.historyTries > HISTORY_RETRIES) {
      state.historyTries = 0;
      state.connection.reconnect();
    } else {
      setTimeout(() => askHistory(state.connection), 1000);
    }
    return;
  }
  const words = `The server could not handle it (${envelope.message}).`;
  for (const entry of state.outbox.failInFlight(words)) redraw(entry);
}

function onEnvelope(envelope) {
  switch (envelope.type) {
    case "newMessage":
      if (!state.historyLoaded) state.live.push(envelope);
      if (state.members) applyMembers(withSender(state.members, envelope.sender));
      renderMessage(envelope);
      break;
    case "presence":
      for (const item of presenceItems(envelope)) place(item, lineKey(keys(), ++state.lines));
      applyMembers(envelope.members);
      break;
    case "history":
      renderHistory(envelope);
      break;
    case "ack":
      onAck(envelope);
      break;
    case "error":
      onError(envelope);
      break;
    default:
      if (envelope.type === undefined && typeof envelope.message === "string") {
        onGatewayFailure(envelope);
      }
      break;
  }
}

function setStatus({ state: connectionState, ...rest }) {
  ui.status.dataset.state = connectionState;
  ui.status.textContent = STATUS_WORDS[connectionState](rest);
  if (connectionState === "connected") state.joinedOnce = true;
  const canType = state.joinedOnce && connectionState !== "offline";
  ui.message.disabled = !canType;
  ui.send.disabled = !canType;
  ui.send.textContent = connectionState === "connected" || !canType ? "Send" : "Keep";
  ui.message.placeholder = !canType
    ? "Join a room to chat"
    : connectionState === "connected"
      ? `Message #${state.room}`
      : "Offline: messages are kept and sent when you are back";
}

function join(name, room) {
  if (state.connection) state.connection.close();
  state.name = name;
  state.room = room;
  state.joinedOnce = false;
  state.outbox = new Outbox();
  localStorage.setItem("chat.name", name);
  localStorage.setItem("chat.room", room);
  ui.messages.replaceChildren();
  clearMembers();
  ui.roomTitle.textContent = `#${room}`;
  ui.joinButton.textContent = "Change room";
  clearNotice();
  const connection = new ChatConnection(endpoint(), room, name, tokenFrom(location.hash));
  state.connection = connection;
  connection.addEventListener("state", (event) => {
    if (state.connection === connection) setStatus(event.detail);
  });
  connection.addEventListener("open", () => {
    state.historyLoaded = false;
    state.live = [];
    askHistory(connection);
  });
  connection.addEventListener("closed", () => {
    if (state.connection !== connection) return;
    state.historyLoaded = false;
    state.outbox.requeueInFlight();
    for (const entry of state.outbox.unsent()) redraw(entry);
  });
  connection.addEventListener("envelope", (event) => onEnvelope(event.detail));
  connection.open();
}

function sendTyped() {
  clearNotice();
  const text = ui.message.value;
  const problem = checkMessage(text);
  if (problem) {
    showNotice(problem);
    return;
  }
  const entry = state.outbox.add(text);
  redraw(entry);
  scrollToNewest();
  ui.message.value = "";
  pump();
}

setInterval(() => {
  for (const entry of state.outbox.expire()) redraw(entry);
}, 1000);

ui.join.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = trimName(ui.name.value);
  const room = ui.room.value.trim();
  const problem = checkJoin(name, room);
  if (problem) {
    showNotice(problem);
    return;
  }
  join(name, room);
  ui.message.focus();
});

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  sendTyped();
});

ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendTyped();
  }
});

ui.messages.addEventListener("scroll", () => {
  if (nearBottom()) ui.jump.hidden = true;
});
ui.jump.addEventListener("click", scrollToNewest);

ui.name.value = localStorage.getItem("chat.name") || "";
ui.room.value = localStorage.getItem("chat.room") || "lobby";
setStatus({ state: "offline" });
