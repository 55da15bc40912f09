"""End-to-end: the dashboard and /docs work under the Content-Security-Policy, offline (every
request off this machine is refused by the page fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from .test_dashboard import LIVE

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


def test_the_dashboard_runs_under_its_content_security_policy(page: Any, live_server: Any) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    live_server.advance()
    page.goto(live_server.url + "/")
    page.wait_for_selector(LIVE, timeout=20_000)
    page.wait_for_selector(".cm[data-incident]", timeout=20_000)  # markers (inline-styled clusters)
    page.wait_for_selector("#stat-division .bar-fill", state="attached", timeout=10_000)
    # the bars are sized by style attributes in their markup: the policy lets them apply
    assert page.evaluate("document.querySelector('#stat-division .bar-fill').style.width").endswith("%")
    page.evaluate("window.__sameDocument = true")
    page.fill("#f-q", "zzzz-no-such-call")
    page.press("#f-q", "Enter")  # the filter form must not submit (its handler is not inline)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__sameDocument") is True
    assert "?" not in page.url.split("#")[0]
    assert page.evaluate("window.__csp") == []
    assert page.page_errors == []


def test_docs_render_offline_from_the_local_swagger_ui(page: Any, live_server: Any) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(live_server.url + "/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    operations = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent)")
    assert "/current-calls/" in "".join(operations) and len(operations) >= 10
    page.click(".opblock-summary-path >> text=/stats")
    page.wait_for_selector(".responses-table", timeout=10_000)
    assert page.evaluate("window.__csp") == []
    assert page.page_errors == []
