// The room as the page shows it, decided without the DOM (tests run it in Node):
// the history merged with what arrived while it loaded, every line in its place by its
// key, "you" by what the server said is ours, presence changes once each, and no message
// from someone the list lacks.

// Where each line of the log goes: the log is kept in the order of its keys.
// A message's key is its id: the server makes ids time-ordered (13 digits of
// milliseconds, then random hex: `messages.time_ordered_id`), so the order of the
// strings is the order of the messages, whenever a copy arrives (a backstop's is late).
export const HEAD_KEY = ""; // the "older messages are not shown" line: first
const UNSENT = "~"; // after every id (ids start with a digit): messages not stored yet
const PAD = 12;

/** The key of one of our messages not stored yet: after every stored one, as typed. */
export function unsentKey(order) {
  return `${UNSENT}${String(order).padStart(PAD, "0")}`;
}

/** Where a line goes among `keys` (in order): the index of the first greater key. */
export function insertionIndex(keys, key) {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (keys[middle] <= key) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The key of a line with no id (a presence change): right after the newest message
 * shown when it came, and before any message stored later, whenever that arrives. */
export function lineKey(keys, sequence) {
  const anchors = keys.filter((key) => key < UNSENT && !key.includes(" "));
  const anchor = anchors.length ? anchors[anchors.length - 1] : HEAD_KEY;
  return `${anchor} ${String(sequence).padStart(PAD, "0")}`;
}

// The history and the messages that arrived live while it loaded and are not in it
// (stored after the history's read, delivered before its reply; or a late copy of an
// older one), each id once, in the order of their ids.
export function mergeHistory(history, live) {
  const ids = new Set(history.map((message) => message.id));
  const merged = [...history];
  for (const message of live) {
    if (message.id && ids.has(message.id)) continue;
    if (message.id) ids.add(message.id);
    merged.push(message);
  }
  return merged.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// The page's own message (its Outbox entry) that a message from the server is, or null:
// the entry the server acked under its id, or, for one the history marks `mine` (the
// server knows who sent it), the entry of its clientId. Never by clientId alone (every
// member sees a message's clientId and can send their own under it), nor by name
// (another "alice" in the room is not you).
export function ownEntry(message, outbox) {
  const acked = outbox.byId(message.id);
  if (acked) return acked;
  if (message.mine !== true || !message.clientId) return null;
  return outbox.entries.get(message.clientId) || null;
}

/** Whether to label a message "(you)": one of ours, or one the history marks `mine`. */
export function isOwn(message, outbox) {
  return message.mine === true || ownEntry(message, outbox) !== null;
}

// The changes of a presence envelope not shown yet: a batch the stream retried after a
// partial failure announces some again, under the same ids. Marks them seen.
export function freshPresence(envelope, seen) {
  const fresh = (names, ids) =>
    names.filter((_, index) => {
      const id = ids && ids[index];
      if (!id) return true;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  return {
    joined: fresh(envelope.joined || [], envelope.joinedIds),
    left: fresh(envelope.left || [], envelope.leftIds),
  };
}

// The member list with a message's sender in it: their message can reach the page
// before the stream's "joined" does, and nobody's message should come from nowhere.
export function withSender(snapshot, sender) {
  if (!snapshot || snapshot.names.includes(sender)) return snapshot;
  if (snapshot.truncated) return snapshot; // a long room's list is cut anyway
  return { ...snapshot, names: [...snapshot.names, sender], count: snapshot.count + 1 };
}
