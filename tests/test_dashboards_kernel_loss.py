"""A page whose kernel dies during a save (issue K 9): real ``qiwidgets serve`` (Voilà and its
kernels), real Chromium, and ``kill -9`` of the page's own kernel process.

What must hold, whenever the kernel dies: the page says in words that the connection was lost
(not only Voilà's broken-link icons), shows what the visitor typed and keeps it in the browser;
after a reload it offers the text back, and saving it again stores exactly one reflection —
whether or not the first save had reached the store. Nothing typed is lost.

The server runs without warm kernels (``--pool 0``) so that each page starts a kernel of its own
with the visitor's link in its environment: a marker in the link finds the page's kernel
process among the server's children. Waits are on what the page shows or on the store, never on
fixed sleeps; the only sleeps are the 0-50 ms between the click and the kill.
"""

from __future__ import annotations

import time
import uuid

import psutil
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

from browser import PAGE_TIMEOUT, screenshot

from qiwidgets.dashboards.harness import is_kernel

LOST = "The connection to the dashboard was lost."
WAIT = 60_000  # ms: the server notices a dead kernel within a few seconds


@pytest.fixture(scope="module")
def served(store, tmp_path_factory):
    """The dashboards on the module's sample store, a kernel started for each page."""
    from qiwidgets.dashboards.harness import ServedDashboards

    server = ServedDashboards(store, pool=0, workdir=tmp_path_factory.mktemp("kernel-loss"))
    server.start()
    yield server
    server.stop()


def page_kernel(server, marker: str) -> psutil.Process:
    """The kernel process of the page whose link holds ``marker``."""
    deadline = time.monotonic() + 60
    while True:
        found = []
        for child in psutil.Process(server.proc.pid).children(recursive=True):
            try:
                if (is_kernel(child.cmdline())
                        and marker in child.environ().get("QUERY_STRING", "")):  # fmt: skip
                    found.append(child)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        if len(found) == 1:
            return found[0]
        assert time.monotonic() < deadline, f"no single kernel for the page ({found})"
        time.sleep(0.1)


def open_dashboard(visit_, server, team: str):
    """Open ``team``'s dashboard (a fresh marker in the link): the page and the marker."""
    marker = uuid.uuid4().hex
    page = visit_.open(server.url("team.ipynb", team=team, visit=marker), charts=0)
    page.wait_for_function(
        "t => (document.querySelector('.qi-team-name') || {}).textContent === t",
        arg=TEAMS[team], timeout=PAGE_TIMEOUT,
    )  # fmt: skip
    return page, marker


def shown_tab(page):
    return page.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)")


def open_reflections(visit_, server, team: str):
    """Open ``team``'s dashboard on its Reflections tab: the page, the tab and the marker."""
    page, marker = open_dashboard(visit_, server, team)
    page.locator(".lm-TabBar-tab", has_text="Reflections").first.click()
    panel = shown_tab(page)
    panel.locator("textarea[placeholder='What happened?']").wait_for(timeout=PAGE_TIMEOUT)
    return page, panel, marker


TEAMS = {"W02": "Ward 2 (Care of Older People)", "W03": "Ward 3 (Stroke)",
         "W04": "Ward 4 (Orthogeriatrics)", "W05": "Ward 5 (Respiratory)",
         "W06": "Ward 6 (Gastroenterology)",
         "W09": "Ward 9 (General Surgery)", "W10": "Ward 10 (Rehabilitation)",
         "W12": "Ward 12 (Acute Medical Unit)"}  # fmt: skip


def words_for(case: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "What happened?": f"Night huddles started on the ward ({case} {tag}).\nSecond line.",
        "What worked well?": f"Everyone knew who was at risk <b>before</b> handover ({tag}).",
    }


def type_words(panel, words: dict[str, str]) -> None:
    for placeholder, text in words.items():
        panel.locator(f"textarea[placeholder='{placeholder}']").fill(text)


def stored(db: str, team: str, words: dict[str, str]) -> list:
    from qiwidgets.store import repo

    first = words["What happened?"]
    return [r for r in repo.list_reflections(db, team) if r.what_happened == first]


def kept_texts(page) -> list[str]:
    return page.locator("#qi-connection-lost .qi-kept-text").evaluate_all(
        "els => els.map(e => e.value)"
    )


def assert_says_lost(page, words: dict[str, str] | None, *, unconfirmed: bool) -> None:
    """The page says in words that its connection is lost, with the typed text (or none)."""
    banner = page.locator("#qi-connection-lost")
    banner.get_by_text(LOST).wait_for(timeout=WAIT)
    assert banner.get_attribute("role") == "alert"
    assert banner.get_by_role("button", name="Reload the page").is_visible()
    if words is None:
        assert kept_texts(page) == []
        assert "Everything you saved before is stored" in banner.inner_text()
        return
    assert "What you typed is kept below" in banner.inner_text()
    assert sorted(kept_texts(page)) == sorted(words.values())
    assert "Reflections › What happened?" in banner.inner_text()
    # typed text is shown as text, never as markup
    assert banner.locator("b").count() == 0
    if unconfirmed:
        assert "was not confirmed" in banner.inner_text()


def save_again_after_reload(visit_, server, team: str, words: dict[str, str],
                            shot: str | None = None) -> str:  # fmt: skip
    """Reload (the same browser), put the kept text back, save: returns the confirmation.
    The page opens on its first tab: putting the text back opens the Reflections tab."""
    page, _ = open_dashboard(visit_, server, team)
    offer = page.locator("#qi-connection-offer")
    offer.get_by_text("You have unsaved text from before the connection was lost").wait_for(
        timeout=WAIT
    )
    if shot:
        screenshot(page, shot)
    assert sorted(offer.locator(".qi-kept-text").evaluate_all("els => els.map(e => e.value)")) \
        == sorted(words.values())  # fmt: skip
    offer.get_by_role("button", name="Put it back").click()
    page.locator(".qi-put-back-done").wait_for(timeout=WAIT)
    assert page.locator(".lm-TabBar-tab.lm-mod-current").inner_text().strip() == "Reflections"
    panel = shown_tab(page)
    for placeholder, text in words.items():
        assert panel.locator(f"textarea[placeholder='{placeholder}']").input_value() == text
    panel.get_by_role("button", name="Save reflection").click()
    ok = panel.locator(".qi-status-ok[data-qi-saved]")
    ok.wait_for(timeout=WAIT)
    # a confirmed save forgets the browser's copy: a later reload offers nothing
    page.wait_for_function(
        "() => !Object.keys(localStorage).some(k => k.startsWith('qiwidgets.unsaved'))",
        timeout=WAIT,
    )
    assert not visit_.errors, visit_.errors
    return ok.inner_text()


# --- the kernel dies before the save reaches the store ------------------------------------------


def test_a_kernel_killed_before_the_save_loses_nothing(served, visit, store):
    """Stopped, then killed, as the visitor presses Save: the save never reaches the store.
    The page says so in words and keeps the text; after a reload the text is put back and
    saved once."""
    v = visit()
    page, panel, marker = open_reflections(v, served, "W02")
    words = words_for("before")
    type_words(panel, words)
    kernel = page_kernel(served, marker)
    kernel.suspend()  # SIGSTOP: the click's message waits in the kernel's socket
    panel.get_by_role("button", name="Save reflection").click()
    kernel.kill()  # SIGKILL
    assert_says_lost(page, words, unconfirmed=True)
    assert page.locator(".qi-status-ok").count() == 0
    assert stored(store, "W02", words) == []
    # declared dead, not restarted (a restarted kernel would hold memory for no page)
    assert served.wait_for_output("restart failed", timeout=30)
    assert not [line for line in served.output if "restarting kernel" in line]
    screenshot(page, "kernel-lost.png")
    # the dead page's text boxes still hold the words too
    assert panel.locator("textarea[placeholder='What happened?']").input_value() \
        == words["What happened?"]  # fmt: skip

    said = save_again_after_reload(v, served, "W02", words, shot="kernel-lost-offer.png")
    assert "Reflection saved" in said
    assert len(stored(store, "W02", words)) == 1


# --- the save reaches the store, the kernel dies before the page hears of it --------------------


class HeldSocket:
    """Relays the page's kernel websocket; while ``hold`` is set, what the server sends is
    dropped until the server says the kernel is gone (its status "restarting" or "dead"):
    the page never hears the kernel's answer to a save."""

    def __init__(self):
        self.hold = False
        self.dropped = 0

    def route(self, ws) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(lambda message: self._from_server(ws, message))
        ws.on_close(lambda code, reason: server.close(code=code, reason=reason))
        server.on_close(lambda code, reason: ws.close(code=code, reason=reason))

    def _from_server(self, ws, message) -> None:
        raw = message if isinstance(message, bytes) else message.encode()
        if self.hold and b'"restarting"' not in raw and b'"dead"' not in raw:
            self.dropped += 1
            return
        self.hold = False
        ws.send(message)


def test_a_save_stored_but_never_confirmed_is_not_stored_twice(served, visit, store):
    """The store commits the save, but the kernel dies before its "saved" reaches the page
    (the test holds the kernel's answer back, then kills the kernel): the page says the save
    was not confirmed and keeps the text; saving it again after the reload says it was
    already saved, and the store holds one reflection, not two."""
    held = HeldSocket()
    v = visit()
    v.page.route_web_socket("**/api/kernels/*/channels**", held.route)
    page, panel, marker = open_reflections(v, served, "W03")
    words = words_for("after")
    type_words(panel, words)
    kernel = page_kernel(served, marker)
    held.hold = True
    panel.get_by_role("button", name="Save reflection").click()
    deadline = time.monotonic() + 60
    while not stored(store, "W03", words):  # wait for the commit (relaying the page's messages)
        assert time.monotonic() < deadline, "the save never reached the store"
        page.wait_for_timeout(20)
    kernel.kill()
    assert held.dropped > 0  # the kernel's answer to the save (its "saved") never arrived
    assert_says_lost(page, words, unconfirmed=True)
    assert page.locator(".qi-status-ok").count() == 0
    assert len(stored(store, "W03", words)) == 1

    said = save_again_after_reload(v, served, "W03", words)
    assert "already saved" in said and "not added a second time" in said
    assert len(stored(store, "W03", words)) == 1


# --- killed 0-50 ms after the click: whatever the kernel managed, nothing is lost or doubled -----


@pytest.mark.parametrize("delay_ms", [0, 25, 50])
def test_a_kernel_killed_just_after_save_loses_and_doubles_nothing(served, visit, store,
                                                                  delay_ms):  # fmt: skip
    team = {0: "W04", 25: "W05", 50: "W06"}[delay_ms]
    v = visit()
    page, panel, marker = open_reflections(v, served, team)
    words = words_for(f"{delay_ms} ms")
    type_words(panel, words)
    kernel = page_kernel(served, marker)
    panel.get_by_role("button", name="Save reflection").click()
    time.sleep(delay_ms / 1000)
    kernel.kill()
    page.locator("#qi-connection-lost").get_by_text(LOST).wait_for(timeout=WAIT)
    confirmed = page.locator(".qi-status-ok[data-qi-saved]").count() > 0
    if confirmed:  # the page heard "saved": the store has it, nothing is waiting
        assert len(stored(store, team, words)) == 1
        assert_says_lost(page, None, unconfirmed=False)
        return
    assert_says_lost(page, words, unconfirmed=True)
    before = len(stored(store, team, words))
    assert before in (0, 1)
    said = save_again_after_reload(v, served, team, words)
    assert ("already saved" in said) == (before == 1), said
    assert len(stored(store, team, words)) == 1


def test_the_pages_kernel_dying_with_nothing_typed_says_so_in_words(served, visit):
    """No save under way, nothing typed: the page still says in words what happened."""
    v = visit()
    page, _panel, marker = open_reflections(v, served, "W09")
    page_kernel(served, marker).kill()
    assert_says_lost(page, None, unconfirmed=False)
    assert "was not confirmed" not in page.locator("#qi-connection-lost").inner_text()


def test_a_lost_edit_of_an_earlier_reflection_goes_back_into_that_reflection(served, visit, store):
    """The visitor was changing an earlier reflection when the kernel died: after the reload,
    "Put it back" chooses that reflection again before filling in the words, so saving changes
    it instead of adding a new, half-empty one."""
    from qiwidgets.store import repo

    v = visit()
    page, panel, marker = open_reflections(v, served, "W12")
    pick = panel.locator(".qi-record-pick select")
    target = pick.locator("option").nth(1)
    target.wait_for(state="attached", timeout=WAIT)
    label = target.get_attribute("value")
    pick.select_option(value=label)
    worked = panel.locator("textarea[placeholder='What worked well?']")
    page.wait_for_function("el => el.value !== ''", arg=worked.element_handle(), timeout=WAIT)
    before = {r.id: r for r in repo.list_reflections(store, "W12")}
    edited = next(r for r in before.values()
                  if r.date.isoformat() == label.split(":")[0] and r.what_worked)  # fmt: skip
    words = f"Changed after the kernel died ({uuid.uuid4().hex[:8]})"
    worked.fill(words)
    kernel = page_kernel(served, marker)
    kernel.suspend()
    panel.get_by_role("button", name="Save reflection").click()
    kernel.kill()
    page.locator("#qi-connection-lost").get_by_text(LOST).wait_for(timeout=WAIT)
    assert kept_texts(page) == [words]

    page, _ = open_dashboard(v, served, "W12")
    offer = page.locator("#qi-connection-offer")
    offer.get_by_role("button", name="Put it back").click()
    page.locator(".qi-put-back-done").wait_for(timeout=WAIT)
    panel = shown_tab(page)
    assert panel.locator(".qi-record-pick select").input_value() == label
    assert panel.locator("textarea[placeholder='What worked well?']").input_value() == words
    # the rest of that reflection is as stored, not emptied
    happened = panel.locator("textarea[placeholder='What happened?']").input_value()
    assert happened == edited.what_happened
    panel.get_by_role("button", name="Save reflection").click()
    panel.locator(".qi-status-ok[data-qi-saved]").get_by_text("Reflection saved").wait_for(
        timeout=WAIT
    )
    after = {r.id: r for r in repo.list_reflections(store, "W12")}
    assert after.keys() == before.keys()  # changed, not added
    assert after[edited.id].what_worked == words
    assert after[edited.id].what_happened == edited.what_happened


def test_a_stored_but_unconfirmed_edit_is_not_put_into_a_new_reflection(served, visit, store):
    """The visitor changed the first answer of an earlier reflection; the store saved it but the
    page never heard (held back, then the kernel killed). After the reload that reflection is
    listed under its new words, so the kept words are not put into a new reflection: they are
    shown to compare and copy, and the store still holds the one changed reflection."""
    from qiwidgets.store import repo

    held = HeldSocket()
    v = visit()
    v.page.route_web_socket("**/api/kernels/*/channels**", held.route)
    page, panel, marker = open_reflections(v, served, "W10")
    pick = panel.locator(".qi-record-pick select")
    target = pick.locator("option").nth(1)
    target.wait_for(state="attached", timeout=WAIT)
    pick.select_option(value=target.get_attribute("value"))
    happened = panel.locator("textarea[placeholder='What happened?']")
    page.wait_for_function("el => el.value !== ''", arg=happened.element_handle(), timeout=WAIT)
    before = {r.id: r.what_happened for r in repo.list_reflections(store, "W10")}
    words = f"Rewritten before the kernel died ({uuid.uuid4().hex[:8]})"
    happened.fill(words)
    kernel = page_kernel(served, marker)
    held.hold = True
    panel.get_by_role("button", name="Save reflection").click()
    deadline = time.monotonic() + 60
    while not any(r.what_happened == words for r in repo.list_reflections(store, "W10")):
        assert time.monotonic() < deadline, "the save never reached the store"
        page.wait_for_timeout(20)
    kernel.kill()
    assert_says_lost(page, {"What happened?": words}, unconfirmed=True)

    page, _ = open_dashboard(v, served, "W10")
    offer = page.locator("#qi-connection-offer")
    offer.get_by_role("button", name="Put it back").click()
    offer.get_by_text("could not be put back").wait_for(timeout=WAIT)
    assert "changed since" in offer.inner_text()
    assert offer.locator(".qi-kept-text").evaluate_all("els => els.map(e => e.value)") == [words]
    panel = shown_tab(page)
    assert panel.locator("textarea[placeholder='What happened?']").input_value() == ""
    after = {r.id: r.what_happened for r in repo.list_reflections(store, "W10")}
    assert after.keys() == before.keys()
    assert sorted(after.values()) != sorted(before.values())
    assert sum(w == words for w in after.values()) == 1
