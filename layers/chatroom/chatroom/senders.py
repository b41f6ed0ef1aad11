"""Who a sender is, for each thing that must recognise them again on another connection.

- ``sender_key``: whose a message is (its clientId claim, its failure notices, ``mine`` in
  the history): the verified user when signed in, else the address and the name, so a
  reconnected page is the same sender and another member named alike elsewhere is not.
- ``rate_key``: whom the rate limit counts: the verified user when signed in, else the
  address alone, so a new display name does not start a new count (members behind one
  address share it).
"""

from __future__ import annotations


def sender_key(*, verified_subject: str | None, source_ip: str, name: str) -> str:
    if verified_subject:
        return f"user:{verified_subject}"
    return f"ip:{source_ip}:{name}"


def rate_key(*, verified_subject: str | None, source_ip: str) -> str:
    if verified_subject:
        return f"user:{verified_subject}"
    return f"ip:{source_ip}"
