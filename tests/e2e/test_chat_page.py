"""The chat page in headless Chromium against the local stage: the seed article's two
tabs, and what a person would try next."""

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"


def open_chat(browser, stage, name: str, room: str, on_socket=None, **context_options) -> Page:
    """A page joined to `room`; `on_socket` routes its WebSockets (Playwright's
    WebSocketRoute), for a test that plays the server's part in a frame."""
    page = browser.new_context(**context_options).new_page()
    if on_socket is not None:
        page.route_web_socket(lambda url: True, on_socket)
    page.goto(stage.url)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Room", exact=True).fill(room)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("status")).to_have_text("Connected", timeout=20000)
    return page


def say(page: Page, text: str) -> None:
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")


def log(page: Page):
    return page.get_by_role("log")


def test_two_people_in_a_room_chat_both_ways_and_a_third_room_hears_nothing(
    browser, page_stage, room
):
    alice = open_chat(browser, page_stage, "alice", room)
    bob = open_chat(browser, page_stage, "bob", room)
    eve = open_chat(browser, page_stage, "eve", room + "-other")
    expect(log(alice)).to_contain_text("bob joined")
    say(alice, "Hello bob")
    expect(log(bob).locator(".message.other")).to_contain_text("Hello bob")
    expect(log(bob).locator(".message.other .sender")).to_have_text("alice")
    expect(log(alice).locator(".message.own")).to_contain_text("Hello bob")
    say(bob, "Hi alice")
    expect(log(alice).locator(".message.other")).to_contain_text("Hi alice")
    time.sleep(0.5)
    expect(log(eve).locator(".message")).to_have_count(0)
    expect(log(eve)).not_to_contain_text("joined")


def test_a_late_joiner_sees_the_history(browser, page_stage, room):
    # Bob's receipt of each message (stored before it is sent) fixes the history's order:
    # messages are invoked concurrently, as on AWS.
    alice = open_chat(browser, page_stage, "alice", room)
    bob = open_chat(browser, page_stage, "bob", room)
    for count, text in enumerate(("first", "second"), start=1):
        say(alice, text)
        expect(log(bob).locator(".message")).to_have_count(count)
    carol = open_chat(browser, page_stage, "carol", room)
    expect(log(carol).locator(".message .text")).to_have_text(["first", "second"])


def test_html_in_a_message_is_shown_as_text_and_runs_nothing(browser, page_stage, room):
    dialogs = []
    alice = open_chat(browser, page_stage, "alice", room)
    bob = open_chat(browser, page_stage, "bob", room)
    bob.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    alice.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    say(alice, XSS)
    expect(log(bob).locator(".message .text")).to_have_text(XSS)
    expect(log(bob).locator("img")).to_have_count(0)
    time.sleep(0.5)
    assert dialogs == []


def test_an_over_limit_message_is_refused_in_the_page_with_its_reason(browser, page_stage, room):
    alice = open_chat(browser, page_stage, "alice", room)
    bob = open_chat(browser, page_stage, "bob", room)
    say(alice, "é" * 9000)  # 9,000 characters, 18,000 bytes of UTF-8
    expect(alice.get_by_role("alert")).to_contain_text("18,000 bytes")
    expect(alice.get_by_role("alert")).to_contain_text("16,384")
    expect(alice.get_by_label("Message")).to_have_value("é" * 9000)
    time.sleep(0.5)
    expect(log(bob).locator(".message")).to_have_count(0)


def test_shift_enter_makes_a_new_line_and_enter_sends(browser, page_stage, room):
    alice = open_chat(browser, page_stage, "alice", room)
    bob = open_chat(browser, page_stage, "bob", room)
    box = alice.get_by_label("Message")
    box.type("line one")
    box.press("Shift+Enter")
    box.type("line two")
    box.press("Enter")
    expect(log(bob).locator(".message .text")).to_have_text("line one\nline two")


def test_the_page_reconnects_by_itself_after_the_stage_restarts(browser, page_stage, room):
    alice = open_chat(browser, page_stage, "alice", room)
    bob = open_chat(browser, page_stage, "bob", room)
    page_stage.stop()
    expect(alice.get_by_role("status")).to_contain_text("Reconnecting", timeout=15000)
    say(alice, "typed while offline")
    expect(log(alice).locator(".message.pending")).to_contain_text("typed while offline")
    page_stage.start()
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_have_text("Connected", timeout=45000)
    expect(log(bob).locator(".message .text")).to_contain_text(
        ["typed while offline"], timeout=20000
    )
    say(bob, "back again")
    expect(log(alice).locator(".message.other")).to_contain_text("back again")


def test_the_page_fits_a_360_px_phone_and_works_by_keyboard(browser, page_stage, room):
    page = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    page.goto(page_stage.url)
    page.keyboard.press("Tab")
    page.keyboard.type("kim")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the room's help text is not focusable: Tab goes to Room
    page.keyboard.press("Control+A")
    page.keyboard.type(room)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Connected", timeout=20000)
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 360


def test_the_page_loads_under_its_strict_content_security_policy(browser, page_stage):
    page = browser.new_context().new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    response = page.goto(page_stage.url)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("status")).to_have_text("Offline")
    assert problems == []


def test_the_page_connects_under_its_policy_which_names_no_other_server(browser, page_stage, room):
    page = browser.new_context().new_page()
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text
            and violations.append(message.text))  # fmt: skip
    response = page.goto(page_stage.url)
    policy = response.headers["content-security-policy"]
    assert "connect-src 'self';" in policy  # config.js names no API: its own host only
    page.get_by_label("Your name").fill("alice")
    page.get_by_label("Room", exact=True).fill(room)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("status")).to_have_text("Connected", timeout=20000)
    assert violations == []


def test_a_ws_link_to_another_server_is_ignored_and_said(browser, page_stage, room):
    page = browser.new_context().new_page()
    page.goto(f"{page_stage.url}?ws=wss://collector.example/steal")
    page.get_by_label("Your name").fill("alice")
    page.get_by_label("Room", exact=True).fill(room)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("status")).to_have_text("Connected", timeout=20000)
    expect(page.get_by_role("alert")).to_contain_text("Ignored ?ws=wss://collector.example")


def test_a_name_the_server_would_refuse_is_refused_in_the_form(browser, page_stage):
    page = browser.new_context().new_page()
    page.goto(page_stage.url)
    page.get_by_label("Your name").fill("ali\u200bce")
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("alert")).to_contain_text("invisible")
    expect(page.get_by_role("status")).to_have_text("Offline")


def test_right_to_left_names_and_messages_are_isolated(browser, page_stage, room):
    alice = open_chat(browser, page_stage, "alice", room)
    bob = open_chat(browser, page_stage, "\u05e9\u05dc\u05d5\u05dd", room)
    say(bob, "\u202eevil\u202c and more")
    text = log(alice).locator(".message.other .text")
    expect(text).to_have_attribute("dir", "auto")
    assert text.evaluate("element => getComputedStyle(element).unicodeBidi") == "isolate"
    sender = log(alice).locator(".message.other .sender")
    assert sender.evaluate("element => getComputedStyle(element).unicodeBidi") == "isolate"
    expect(log(alice).locator(".presence bdi")).to_have_text(["\u05e9\u05dc\u05d5\u05dd"])


def test_a_conversation_screenshot_for_the_readme(browser, page_stage, room):
    room = f"design-review-{room[1:5]}"
    alice = open_chat(browser, page_stage, "alice", room, viewport={"width": 900, "height": 640})
    bob = open_chat(browser, page_stage, "bob", room)
    expect(log(alice)).to_contain_text("bob joined")
    say(bob, "Hi alice! Is the local stage up?")
    expect(log(alice).locator(".message.other")).to_have_count(1)
    say(alice, "Yes: same handlers as on AWS, no Docker.")
    say(bob, XSS)
    expect(log(alice).locator(".message.other")).to_have_count(2)
    path = ROOT / "test-artifacts" / "conversation.png"  # docs/screenshot.png is a copy
    alice.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


def test_the_page_lists_who_is_in_the_room_and_keeps_it_current(browser, page_stage, room):
    alice = open_chat(browser, page_stage, "alice", room)
    members = alice.get_by_role("list", name="Who is in the room")
    expect(members).to_have_text("alice")
    bob = open_chat(browser, page_stage, "bob", room)
    expect(members.get_by_role("listitem")).to_have_text(["alice", "bob"])
    expect(alice.locator("#member-count")).to_have_text("2")
    bob.context.close()
    expect(members.get_by_role("listitem")).to_have_text(["alice"], timeout=15000)
    expect(log(alice)).to_contain_text("bob left")


def test_another_member_with_my_name_is_not_shown_as_me(browser, page_stage, room):
    me = open_chat(browser, page_stage, "alice", room)
    namesake = open_chat(browser, page_stage, "alice", room)
    say(namesake, "I am the other alice")
    theirs = log(me).locator(".message", has_text="I am the other alice")
    expect(theirs.locator(".sender")).to_have_text("alice")  # not "alice (you)"
    expect(theirs).to_have_class(re.compile(r"\bother\b"))
    say(me, "and I am me")
    expect(log(me).locator(".message.own .sender")).to_have_text("alice (you)")
