from chatroom.senders import rate_key, sender_key


def test_a_signed_in_sender_is_their_verified_user_whatever_their_name():
    assert sender_key(verified_subject="sub-1", source_ip="10.0.0.1", name="alice") == "user:sub-1"
    assert rate_key(verified_subject="sub-1", source_ip="10.0.0.1") == "user:sub-1"


def test_an_anonymous_sender_is_their_address_and_name():
    assert sender_key(verified_subject=None, source_ip="10.0.0.1", name="alice") == (
        "ip:10.0.0.1:alice"
    )


def test_an_anonymous_rate_is_counted_by_address_so_a_new_name_does_not_reset_it():
    assert rate_key(verified_subject=None, source_ip="10.0.0.1") == "ip:10.0.0.1"
