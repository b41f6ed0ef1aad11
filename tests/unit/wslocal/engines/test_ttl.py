"""The TTL bookkeeping that lets stream records say a removal was DynamoDB's."""

from wslocal.engines.ttl import TtlDeletions, keys_id


def test_keys_are_identified_the_same_whatever_their_order_and_binary_form():
    assert keys_id({"a": {"S": "1"}, "b": {"B": b"\x00"}}) == keys_id(
        {"b": {"B": b"\x00"}, "a": {"S": "1"}}
    )


def test_a_swept_key_is_claimed_once():
    deletions = TtlDeletions()
    deletions.add("t", "k")
    assert deletions.claim("t", "k")
    assert not deletions.claim("t", "k")


def test_a_key_whose_delete_did_not_happen_is_not_claimed():
    deletions = TtlDeletions()
    deletions.add("t", "k")
    deletions.discard("t", "k")
    assert not deletions.claim("t", "k")


def test_noted_deletions_are_forgotten_after_the_streams_retention():
    now = [0.0]
    deletions = TtlDeletions(clock=lambda: now[0], max_age_s=100)
    deletions.add("T", "old")
    now[0] = 150
    deletions.add("T", "new")
    assert (deletions.claim("T", "old"), deletions.claim("T", "new")) == (False, True)


def test_noted_deletions_are_bounded_oldest_first():
    deletions = TtlDeletions(max_keys=3)
    for key in "abcde":
        deletions.add("T", key)
    assert len(deletions) == 3
    assert not deletions.claim("T", "a") and deletions.claim("T", "e")
