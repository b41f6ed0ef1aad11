from wslocal.bootstrap import redirect_endpoint

HOSTS = {"127.0.0.1:3001", "abcdefghij.execute-api.us-east-1.amazonaws.com"}


def test_the_deployed_endpoint_is_pointed_at_the_local_stage():
    assert (
        redirect_endpoint(
            "https://abcdefghij.execute-api.us-east-1.amazonaws.com/dev",
            HOSTS,
            "http://127.0.0.1:3001",
        )
        == "http://127.0.0.1:3001/dev"
    )


def test_an_endpoint_built_from_the_events_domain_name_is_pointed_at_the_stage():
    assert redirect_endpoint("https://127.0.0.1:3001/local", HOSTS, "http://127.0.0.1:3001") == (
        "http://127.0.0.1:3001/local"
    )


def test_other_endpoints_are_left_alone():
    assert (
        redirect_endpoint("https://example.com/x", HOSTS, "http://127.0.0.1:3001")
        == "https://example.com/x"
    )
    assert redirect_endpoint(None, HOSTS, "http://127.0.0.1:3001") is None
