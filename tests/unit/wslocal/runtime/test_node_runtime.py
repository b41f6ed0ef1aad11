"""Which Node runs a function, and what the user is told about it."""

from wslocal.runtime.node.runtime import declared_major, version_notes


def test_the_declared_major_version_is_read():
    assert declared_major("nodejs22.x") == 22
    assert declared_major("nodejs") is None


def test_a_supported_runtime_on_its_own_major_needs_no_note():
    assert version_notes("nodejs20.x", "20.20.2") == []


def test_another_supported_major_runs_on_the_installed_node_with_a_note():
    assert version_notes("nodejs22.x", "20.20.2") == [
        "declares nodejs22.x: runs on the installed Node 20.20.2"
    ]


def test_a_retired_runtime_runs_on_the_installed_node_with_a_warning():
    assert version_notes("nodejs14.x", "20.20.2") == [
        "declares nodejs14.x, which Lambda no longer runs: runs on Node 20.20.2"
    ]
