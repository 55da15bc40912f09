"""End-to-end: the dashboard works under a strict Content-Security-Policy (`default-src 'self'`):
no inline script, no inline event handler, no style attribute, no eval. The policy is added to the
page's response here, so the check holds whichever server sets it."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from .test_dashboard import LIVE, api, located, settle, wait_for

pytestmark = pytest.mark.browser

RECORD = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber} ${e.sample}`));
"""


def test_the_dashboard_runs_under_default_src_self(new_page: Any, live_server: Any) -> None:
    calls = settle(live_server)["current_active_calls"]
    tiles = urllib.parse.urlsplit(api(live_server, "/config.json")["tile_url"])
    policy = f"default-src 'self'; img-src 'self' data: {tiles.scheme}://{tiles.netloc}"
    page = new_page()
    page.add_init_script(RECORD)

    def with_policy(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": policy})

    page.route(live_server.url + "/", with_policy)
    page.goto(live_server.url + "/")
    page.wait_for_selector(LIVE, timeout=20_000)
    wait_for(page, "() => document.querySelectorAll('li.call-row').length > 0")
    # the parts that draw: clusters (their ring), stats bars, a call's details, the theme, near
    if any(located(c) for c in calls):
        page.wait_for_selector(".cluster, .cm")
    page.wait_for_selector("#stat-nature .bar-row", state="attached")
    page.locator("li.call-row button").first.click()
    page.wait_for_selector("#details .timeline .tl-item")
    page.keyboard.press("Escape")
    page.select_option("#theme", "dark")
    page.fill("#near-address", "4500 Live Oak St")
    page.click("#near-find")
    wait_for(page, "() => location.hash.includes('near=')")
    assert page.evaluate("window.__csp") == []
    widths = page.eval_on_selector_all("#stat-nature .bar-fill", "els => els.map(e => e.style.width)")
    assert widths and all(w.endswith("%") for w in widths), "sizes set through the CSSOM"
    assert page.page_errors == []
