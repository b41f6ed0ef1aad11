// The room as the page shows it, decided without the DOM (tests run it in Node):
// the history merged with what arrived while it loaded, "you" by the page's own
// clientIds, presence changes once each, and no message from someone the list lacks.

// The history, then the messages that arrived live while it loaded and are not in it
// (stored after the history's read, delivered before its reply), each id once.
export function mergeHistory(history, live) {
  const ids = new Set(history.map((message) => message.id));
  const merged = [...history];
  for (const message of live) {
    if (message.id && ids.has(message.id)) continue;
    if (message.id) ids.add(message.id);
    merged.push(message);
  }
  return merged;
}

// A message is ours when this page sent it (its clientId is in the outbox), never by
// its sender's name: another "alice" in the room is not you.
export function isOwn(message, clientIds) {
  return Boolean(message.clientId) && clientIds.has(message.clientId);
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
