"""Drive the trial Hub of jupyterhub_config.py with Chromium and print what a visitor gets.

Run with the qiwidgets environment's Python while the Hub runs; exits 1 if a check fails.
"""

import sys
import time

from playwright.sync_api import sync_playwright

from qiwidgets.dashboards.harness import launch_chromium

HUB = "http://127.0.0.1:8000"
SERVICE = HUB + "/services/qi-dashboards/voila/render/"
DRAWN = "n => document.querySelectorAll(\".qi-vl[data-drawn='yes'] svg\").length >= n"
failed = []


def check(ok: bool, what: str) -> None:
    print(("ok     " if ok else "FAILED ") + what, flush=True)
    if not ok:
        failed.append(what)


def login(context, user: str):
    page = context.new_page()
    page.goto(HUB + "/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "trial-password")
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    return page


with sync_playwright() as p:
    browser = launch_chromium(p)
    page = browser.new_context().new_page()
    page.goto(SERVICE + "team.ipynb?team=W03")
    check(page.url.startswith(HUB + "/hub/login"), "a visitor who is not logged in gets the login")

    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    hosts = set()
    context.on("request", lambda r: hosts.add(r.url.split("/")[2]) if "://" in r.url else None)
    page = login(context, "alice")
    t0 = time.perf_counter()
    page.goto(SERVICE + "team.ipynb?team=W03", wait_until="commit", timeout=180_000)
    page.wait_for_function(DRAWN, arg=3, timeout=180_000)
    check(
        "Ward 3" in page.locator(".qi-team-name").inner_text(),
        f"alice opens Ward 3's dashboard, 3 charts drawn ({time.perf_counter() - t0:.1f} s)",
    )
    page.locator(".lm-TabBar-tab", has_text="Reflections").first.click()
    panel = page.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden)")
    panel.locator("textarea[placeholder='What happened?']").fill("Saved through JupyterHub")
    panel.get_by_role("button", name="Save reflection").click()
    panel.locator(".qi-status-ok").filter(has_text="Reflection saved").wait_for(timeout=60_000)
    check(True, "alice saves a reflection (the widgets' websocket works through both proxies)")
    page.goto(SERVICE + "programme.ipynb", wait_until="commit")
    page.wait_for_function(DRAWN, arg=2, timeout=180_000)
    link = page.locator("a", has_text="Ward 5").first
    link.click()
    page.wait_for_function(DRAWN, arg=3, timeout=180_000)
    check(
        page.url.startswith(SERVICE + "team.ipynb") and "team=W05" in page.url,
        "the programme dashboard's team link opens that team's page under the prefix",
    )
    check(hosts == {"127.0.0.1:8000"}, f"every request went to the Hub: {sorted(hosts)}")
    context.close()

    page = login(browser.new_context(), "bob")
    response = page.goto(SERVICE + "team.ipynb?team=W03")
    check(
        response.status == 403 and "permission" in page.inner_text("body"),
        "bob, outside the group, gets the Hub's 403",
    )
    browser.close()

sys.exit(1 if failed else 0)
