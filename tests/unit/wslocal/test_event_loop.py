import asyncio
import sys

import pytest

from wslocal import event_loop
from wslocal.exceptions import WslocalError

uvloop = pytest.importorskip("uvloop")


def loop_of(kind: event_loop.LoopKind) -> asyncio.AbstractEventLoop:
    loop = event_loop.new_event_loop(kind)
    loop.close()
    return loop


def test_auto_is_uvloop_where_it_is_installed() -> None:
    assert isinstance(loop_of("auto"), uvloop.Loop)


def test_auto_is_asyncio_where_uvloop_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_loop, "uvloop_installed", lambda: False)
    loop = loop_of("auto")
    assert not isinstance(loop, uvloop.Loop)
    assert isinstance(loop, asyncio.BaseEventLoop)


def test_asyncio_is_asyncio_even_with_uvloop_installed() -> None:
    assert not isinstance(loop_of("asyncio"), uvloop.Loop)


def test_uvloop_asked_for_and_missing_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with pytest.raises(WslocalError, match="uvloop does not import"):
        event_loop.new_event_loop("uvloop")


def test_auto_falls_back_to_asyncio_when_an_installed_uvloop_does_not_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    loop = loop_of("auto")
    assert not isinstance(loop, uvloop.Loop)
