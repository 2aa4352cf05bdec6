"""People on ``qiwidgets serve`` (issue H): a personal link opens its person's pages, and the
kernel and the store, not the page, decide what they may read and change.

Real ``qiwidgets serve`` (Voilà, warm kernels), real Chromium, a sample store with people and
links made as the operator would (``qiwidgets.store.people``). What a person's browser receives
is read from the websocket frames themselves, so "not shown" means "never sent".
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from browser import PAGE_TIMEOUT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT = 60_000  # ms
#: Names of the sample's teams that a member of Ward 5 has no business seeing.
OTHER_TEAMS = ("Ward 1 (Acute Medicine)", "Ward 2 (Care of Older People)",
               "Ward 12 (Acute Medical Unit)")  # fmt: skip
PEOPLE = {  # key: (name, role, team)
    "sam@trust.nhs.uk": ("Sam Jones", "member", "W05"),
    "val@trust.nhs.uk": ("Val Okoro", "viewer", "W05"),
    "kit@trust.nhs.uk": ("Kit Reyes", "member", "W02"),
    "lee@trust.nhs.uk": ("Lee Chan", "programme_lead", None),
}


@pytest.fixture(scope="module")
def links(store):
    """Each person's link secret (people added, roles granted, links made)."""
    from qiwidgets.store import people
    from qiwidgets.store.db import dispose_engines

    db = f"sqlite:///{store}"
    secrets = {}
    for key, (name, role, team) in PEOPLE.items():
        people.add_person(db, key, name)
        people.grant(db, key, role, team=team)
        secrets[key] = people.create_link(db, key)[1]
    dispose_engines()
    return secrets


def link_url(server, secret: str, page: str = "team.ipynb", **params: str) -> str:
    return server.url(page, token=False, access=secret, **params)


def received_frames(page) -> list[str]:
    """Every websocket frame the page receives from now on (text and binary, as text)."""
    frames: list[str] = []

    def on_ws(ws):
        ws.on(
            "framereceived",
            lambda payload: frames.append(
                payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            ),
        )

    page.on("websocket", on_ws)
    return frames


def kernel_id(page) -> str:
    return page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
    )


def cookie_header(visit_) -> dict[str, str]:
    """The headers a script would send with this browser's cookies (and its XSRF token)."""
    cookies = {c["name"]: c["value"] for c in visit_.context.cookies()}
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if "_xsrf" in cookies:
        headers["X-XSRFToken"] = cookies["_xsrf"]
    return headers


def http_status(url: str, method: str, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def ws_status(url: str, headers: dict[str, str]) -> str:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(url, additional_headers=headers, open_timeout=20):
            return "open"
    except InvalidStatus as exc:
        return f"refused {exc.response.status_code}"


def team_choices(page) -> list[str]:
    """The names in the page's team picker."""
    options = page.locator(".qi-team-dashboard select").first.locator("option").all_inner_texts()
    return [o.replace("\xa0", " ") for o in options]


def open_tab(page, title: str):
    page.locator(".lm-TabBar-tab", has_text=title).first.click()
    return page.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)")


def save_reflection(page, words: str) -> str:
    """Type a reflection and save it: what the page then says."""
    panel = open_tab(page, "Reflections")
    box = panel.locator("textarea[placeholder='What happened?']")
    box.wait_for(timeout=PAGE_TIMEOUT)
    box.fill(words)
    panel.get_by_role("button", name="Save reflection").click()
    said = panel.locator(".qi-status-ok[data-qi-saved], .qi-status-problem")
    said.first.wait_for(timeout=WAIT)
    return said.first.inner_text()


def reflections_saying(db: str, team: str, words: str) -> list:
    from qiwidgets.store import repo

    return [r for r in repo.list_reflections(db, team) if r.what_happened == words]


def test_a_member_s_link_opens_their_team_and_nothing_of_another(served, links, visit):
    """A member's link shows their team; asking for another team by its address shows theirs
    with a notice; no other team's name reaches the browser (frames included), not even in
    the team picker, although the warm kernel had built its page for the programme's first
    team (Ward 1) before the member arrived."""
    v = visit()
    frames = received_frames(v.page)
    page = v.open(link_url(served, links["sam@trust.nhs.uk"]), charts=1)
    assert page.locator(".qi-team-name").inner_text() == "Ward 5 (Respiratory)"
    assert team_choices(page) == ["Ward 5 (Respiratory)"]

    page = v.open(link_url(served, links["sam@trust.nhs.uk"], team="W02"), charts=1)
    assert page.locator(".qi-team-name").inner_text() == "Ward 5 (Respiratory)"
    page.get_by_text("There is no team 'W02' that you can open").wait_for(timeout=WAIT)
    # a team that does not exist reads the same: nothing tells a team exists
    page = v.open(link_url(served, links["sam@trust.nhs.uk"], team="NOPE"), charts=1)
    page.get_by_text("There is no team 'NOPE' that you can open").wait_for(timeout=WAIT)

    seen = page.content() + "".join(frames)
    assert frames, "no websocket frame was recorded"
    for name in OTHER_TEAMS:
        assert name not in seen
    assert links["sam@trust.nhs.uk"] not in "".join(frames)
    assert not v.errors, v.errors


def test_another_visitor_cannot_reach_a_page_s_kernel(served, links, visit):
    """Knowing a page's kernel id is not enough: another person's browser (and the operator)
    is refused the kernel's websocket, its model and its shutdown; its own visitor is not."""
    owner, other = visit(), visit()
    owner.open(link_url(served, links["sam@trust.nhs.uk"]), charts=1)
    kid = kernel_id(owner.page)
    other.open(link_url(served, links["kit@trust.nhs.uk"]), charts=1)
    assert other.page.locator(".qi-team-name").inner_text() == "Ward 2 (Care of Older People)"

    theirs, mine = cookie_header(other), cookie_header(owner)
    ws = f"ws://127.0.0.1:{served.port}/api/kernels/{kid}/channels?session_id={uuid.uuid4()}"
    api = f"{served.base}/api/kernels/{kid}"
    assert ws_status(ws, theirs) == "refused 403"
    assert http_status(api, "GET", theirs) == 403
    assert http_status(api, "DELETE", theirs) == 403
    assert http_status(f"{served.base}/voila/api/shutdown/{kid}", "POST", theirs) == 403
    operator = {}  # the server's token: a different visitor too
    assert ws_status(f"{ws}&token={served.token}", operator) == "refused 403"
    # the page's own visitor reaches it, and the page still works
    assert http_status(api, "GET", mine) == 200
    assert ws_status(ws, mine) == "open"
    assert owner.page.locator(".qi-team-name").inner_text() == "Ward 5 (Respiratory)"


@contextlib.contextmanager
def kernel_messages(ws_url: str, headers: dict[str, str]):
    """A connection to a kernel's websocket as a script in a browser would open it: ``send``
    a Jupyter message (shell channel); ``until`` a received message holds, what was received."""
    from websockets.sync.client import connect

    session = uuid.uuid4().hex

    def send(msg_type: str, content: dict) -> str:
        msg_id = uuid.uuid4().hex
        conn.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "session": session,
                       "username": "script", "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "content": content, "channel": "shell",
            "buffers": []}))  # fmt: skip
        return msg_id

    def until(found, timeout: float = 30) -> list[dict]:
        import time

        seen, end = [], time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                raw = conn.recv(timeout=max(0.1, end - time.monotonic()))
            except TimeoutError:
                break
            msg = json.loads(raw) if isinstance(raw, str) else None
            if msg is not None:
                seen.append(msg)
                if found(msg):
                    return seen
        raise AssertionError(f"no such message among {len(seen)} received")

    with connect(ws_url, additional_headers=headers, open_timeout=20, ping_interval=None) as conn:
        yield send, until


def test_a_crafted_widget_message_cannot_open_another_team(served, links, visit, store):
    """A script in a member's own browser can talk to their page's kernel directly. Asking every
    widget for its state finds the team picker, which holds the member's team only; setting it
    to another team's place is refused in the kernel (logged for the operator, not shown), the
    page stays on the member's team, nothing of another team is sent, and a save still lands in
    the member's team."""
    v = visit()
    frames = received_frames(v.page)
    page = v.open(link_url(served, links["sam@trust.nhs.uk"]), charts=1)
    kid = kernel_id(page)
    ws = f"ws://127.0.0.1:{served.port}/api/kernels/{kid}/channels?session_id={uuid.uuid4()}"
    with kernel_messages(ws, cookie_header(v)) as (send, until):
        send("comm_info_request", {"target_name": "jupyter.widget"})
        (info,) = [m for m in until(lambda m: m["msg_type"] == "comm_info_reply")
                   if m["msg_type"] == "comm_info_reply"]  # fmt: skip
        for comm_id in info["content"]["comms"]:
            send("comm_msg", {"comm_id": comm_id, "data": {"method": "request_state"}})

        def is_picker(m: dict) -> bool:
            state = m["content"].get("data", {}).get("state", {}) if m["msg_type"] == "comm_msg" else {}
            return state.get("_model_name") == "DropdownModel" and "Ward 5 (Respiratory)" in (
                state.get("_options_labels") or ())  # fmt: skip

        picker = next(m for m in until(is_picker) if is_picker(m))
        assert picker["content"]["data"]["state"]["_options_labels"] == ["Ward 5 (Respiratory)"]
        crafted = {"method": "update", "state": {"index": 1}, "buffer_paths": []}
        for index in (1, 3, 11):  # other teams' places in the programme's picker
            crafted["state"]["index"] = index
            last = send("comm_msg", {"comm_id": picker["content"]["comm_id"], "data": crafted})
        # each echoed back refused: no traceback to the browser, one line in the server's log
        replies = until(lambda m: m["msg_type"] == "status" and m["content"].get(
            "execution_state") == "idle" and m["parent_header"].get("msg_type") == "comm_msg" and
            m["parent_header"].get("msg_id") == last)  # fmt: skip
        assert not [m for m in replies if m["msg_type"] == "error"]
        refused = "Refused a widget message from link:"
        assert served.wait_for_output(refused, count=3, timeout=60), "".join(served.output[-20:])
    assert "Invalid selection" in "".join(served.output)
    assert page.locator(".qi-team-name").inner_text() == "Ward 5 (Respiratory)"
    words = f"Still our ward ({uuid.uuid4().hex[:8]})"
    assert save_reflection(page, words) == "✓ Reflection saved."
    assert len(reflections_saying(f"sqlite:///{store}", "W05", words)) == 1
    seen = page.content() + "".join(frames)
    for name in OTHER_TEAMS:
        assert name not in seen
    assert "Traceback" not in seen and not v.errors, v.errors


def test_leaving_a_page_stops_its_kernel(served, links, visit):
    """Voilà's page stops its kernel when it is left (a POST with the ``_xsrf`` cookie, which
    the page handler now sets): before, every kernel stayed until it was culled."""
    v = visit()
    v.open(link_url(served, links["sam@trust.nhs.uk"]), charts=1)
    kid = kernel_id(v.page)
    v.page.goto("about:blank")
    assert served.wait_for_output(f"Kernel shutdown: {kid}", timeout=60), "".join(
        served.output[-20:])  # fmt: skip


def test_a_viewer_reads_but_cannot_save(served, links, visit, store):
    """Refused by the store, said in the page, logged for the operator (not sent to the page)."""
    v = visit()
    frames = received_frames(v.page)
    page = v.open(link_url(served, links["val@trust.nhs.uk"]), charts=1)
    assert page.locator(".qi-team-name").inner_text() == "Ward 5 (Respiratory)"
    words = f"A viewer tries to write ({uuid.uuid4().hex[:8]})"
    said = save_reflection(page, words)
    assert "may look at Ward 5 (Respiratory)'s records but not change them" in said
    assert reflections_saying(f"sqlite:///{store}", "W05", words) == []
    logged = "Refused while saving the reflection: Val Okoro may look at"
    assert served.wait_for_output(logged, timeout=30)
    assert not [f for f in frames if "Refused while" in f]


def test_a_member_s_save_is_signed_with_their_name(served, links, visit, store):
    from qiwidgets.store import people

    v = visit()
    page = v.open(link_url(served, links["sam@trust.nhs.uk"]), charts=1)
    words = f"Huddles at 2 pm ({uuid.uuid4().hex[:8]})"
    assert save_reflection(page, words) == "✓ Reflection saved."
    (saved,) = reflections_saying(f"sqlite:///{store}", "W05", words)
    assert saved.updated_by_id == people.get_person(f"sqlite:///{store}", "sam@trust.nhs.uk").id


def test_the_programme_page_is_for_the_programme_lead(served, links, visit):
    member = visit()
    page = member.open(link_url(served, links["sam@trust.nhs.uk"], "programme.ipynb"), charts=0)
    refused = page.locator(".qi-refused")
    refused.wait_for(timeout=WAIT)
    assert "may not see the whole programme: that is for the programme lead" in (
        refused.inner_text())  # fmt: skip
    assert page.locator(".qi-programme-dashboard").count() == 0

    lead = visit()
    page = lead.open(link_url(served, links["lee@trust.nhs.uk"], "programme.ipynb"), charts=1)
    text = page.locator(".qi-programme-dashboard").inner_text()
    assert "Ward 2 (Care of Older People)" in text and "Ward 12 (Acute Medical Unit)" in text
    # and every team's own page
    page = lead.open(link_url(served, links["lee@trust.nhs.uk"], team="W12"), charts=1)
    assert page.locator(".qi-team-name").inner_text() == "Ward 12 (Acute Medical Unit)"
    assert len(team_choices(page)) == 12


def test_a_revoked_link_stops_at_once(served, store, visit):
    """Revoked while the page is open: the next save is refused and nothing stored; the link
    and the browser's login cookie no longer open anything, and the page says why."""
    from qiwidgets.store import people

    db = f"sqlite:///{store}"
    key = "ana@trust.nhs.uk"
    people.add_person(db, key, "Ana Silva")
    people.grant(db, key, "member", team="W05")
    secret = people.create_link(db, key)[1]
    v = visit()
    page = v.open(link_url(served, secret), charts=1)
    assert page.locator(".qi-team-name").inner_text() == "Ward 5 (Respiratory)"

    assert people.revoke_links(db, key) == 1
    words = f"Saved after the link was revoked ({uuid.uuid4().hex[:8]})"
    said = save_reflection(page, words)
    assert "Your access link no longer works (revoked or expired): nothing was saved" in said
    assert reflections_saying(db, "W05", words) == []

    # whichever request of the page meets the refusal first forgets the login cookie (here one
    # to the API); the browser's next page still says why, and so does the link itself
    assert page.request.get(f"{served.base}/api/kernels/{kernel_id(page)}").status == 403
    assert "qiwidgets-link-refused" in {c["name"] for c in v.context.cookies()}
    for url in (served.url("team.ipynb", token=False), link_url(served, secret)):
        response = page.goto(url)
        assert response.status == 403, url
        assert "it may have been revoked or it may have expired" in page.inner_text("body")


def test_an_unknown_link_is_refused_in_words(served, visit):
    v = visit()
    response = v.page.goto(link_url(served, "not-a-link-" + uuid.uuid4().hex))
    assert response.status == 403
    assert v.page.locator("h1").inner_text() == "You do not have access to this page"
    assert "Ask your programme lead for a new link." in v.page.inner_text("body")


def test_a_personal_link_works_again_after_a_restart(store, links, visit, tmp_path):
    """A person's link is their bookmark: a server started again (a new login-cookie secret,
    new kernels) opens their page from the same link."""
    from qiwidgets.dashboards.harness import ServedDashboards

    for run in ("first", "second"):
        with ServedDashboards(store, pool=0, workdir=tmp_path / run) as served:
            v = visit()
            page = v.open(link_url(served, links["kit@trust.nhs.uk"]), charts=1)
            assert page.locator(".qi-team-name").inner_text() == "Ward 2 (Care of Older People)"


#: Jupyter's own routes, which no one reaches through the dashboards (docs/security.md).
JUPYTER_ROUTES = ["/api/kernels", "/api/contents", "/api/contents/team.ipynb", "/api/terminals",
                  "/api/sessions", "/voila/api/contents", "/voila/api/contents/team.ipynb",
                  "/voila/files/team.ipynb", "/files/team.ipynb", "/tree", "/lab",
                  "/api/kernels/00000000-0000-0000-0000-000000000000"]  # fmt: skip


def test_no_jupyter_route_answers_a_person_or_the_operator(served, links, visit):
    """With a person's login cookie, or with the operator's token, Jupyter's kernel, contents,
    files, terminals and tree routes answer 403 or 404; the root and the tree list nothing."""
    v = visit()
    v.open(link_url(served, links["lee@trust.nhs.uk"]), charts=1)
    person = cookie_header(v)
    for path in JUPYTER_ROUTES:
        for headers, query in ((person, ""), ({}, f"?token={served.token}")):
            for method in ("GET", "POST", "DELETE"):
                code = http_status(f"{served.base}{path}{query}", method, headers)
                assert code in (403, 404, 405), (path, method, query, code)
    for path in ("/", "/voila/tree", "/voila/tree/"):
        req = urllib.request.Request(f"{served.base}{path}", headers=person)
        with urllib.request.urlopen(req, timeout=60) as resp:  # followed to the team page
            assert urllib.parse.urlsplit(resp.url).path == "/voila/render/team.ipynb"


@pytest.mark.postgres
def test_people_on_a_postgresql_store(pg_server, visit, tmp_path):
    """The same rules on the store of a multi-user deployment: a member does not get another
    team by its address, a viewer cannot save, and nothing is written."""
    from qiwidgets.dashboards.harness import ServedDashboards
    from qiwidgets.store import people
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    url = pg_server.create_database()
    try:
        init_db(url)
        load_sample(url)
        secrets = {}
        for key, role in (("ann", "member"), ("bo", "viewer")):
            people.add_person(url, key, key.title())
            people.grant(url, key, role, team="W06")
            secrets[key] = people.create_link(url, key)[1]
        dispose_engines()
        with ServedDashboards(url, pool=1, workdir=tmp_path / "pg") as served:
            v = visit()
            page = v.open(link_url(served, secrets["ann"], team="W07"), charts=1)
            assert page.locator(".qi-team-name").inner_text() == "Ward 6 (Gastroenterology)"
            assert team_choices(page) == ["Ward 6 (Gastroenterology)"]
            assert "Ward 7 (" not in page.content()
            viewer = visit()
            page = viewer.open(link_url(served, secrets["bo"]), charts=1)
            words = f"A viewer on PostgreSQL ({uuid.uuid4().hex[:8]})"
            assert "but not change them" in save_reflection(page, words)
            assert reflections_saying(url, "W06", words) == []
            assert "Traceback" not in "".join(served.output)
    finally:
        dispose_engines()
        pg_server.drop_database(url)


def test_no_link_secret_reaches_a_log_or_a_kernel(served, links):
    """Run last in this module (after every visit above): the server's log shows
    ``access=[secret]``, and no kernel's environment holds a secret."""
    import psutil

    log = "".join(served.output)
    assert "access=[secret]" in log
    for secret in links.values():
        assert secret not in log
    for child in psutil.Process(served.proc.pid).children(recursive=True):
        try:
            environ = json.dumps(child.environ())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        for secret in links.values():
            assert urllib.parse.quote(secret) not in environ and secret not in environ
