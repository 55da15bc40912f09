"""axe-core (pinned in package.json, read from node_modules/: never served to users) finds no serious
or critical violation in the map, list, details, stats and analytics views, light and dark, on a desktop
(1440×900) and a phone (390×844). A screenshot of each view goes to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import ARTIFACTS
from .test_dashboard import advance_until, ids_of, open_dashboard, settle, shot, wait_for

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
BLOCKING = ("serious", "critical")


def axe_problems(page: Any) -> list[str]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
                                              resultTypes: ['violations'] });
          return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                          nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' — ' + n.failureSummary) }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: {v['nodes']}" for v in result if v["impact"] in BLOCKING
    ]


def views(page: Any, device: str, call: str) -> list[tuple[str, Any]]:
    """Open each view in turn; yield its name once it is on screen."""
    steps: list[tuple[str, Any]] = []
    if device == "phone":
        for view in ("map", "list", "stats"):
            steps.append((view, lambda v=view: page.click(f".view-toggle button[data-view='{v}']:visible")))
    else:
        steps.append(
            (
                "map-list-stats",
                lambda: page.click("#stats-toggle") if page.locator("#stats-more").is_hidden() else None,
            )
        )
    steps.append(
        (
            "details",
            lambda: (
                page.evaluate("id => window.dallasCalls.list.onSelect(id)", call),
                page.wait_for_selector("#details .timeline .tl-item"),
            ),
        )
    )
    steps.append(
        (
            "analytics",
            lambda: (
                page.keyboard.press("Escape"),
                page.click(".view-toggle button[data-view='analytics']"),
                page.wait_for_selector("#an-groups table"),
                page.click("#an-hourly summary"),
            ),
        )
    )
    return steps


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", list(SIZES))
def test_no_serious_accessibility_violations(
    new_page: Any, live_server: Any, device: str, scheme: str
) -> None:
    body = settle(live_server)
    call = max(body["current_active_calls"], key=lambda c: len(c.get("units") or []))["incident_number"]
    width, height = SIZES[device]
    page = new_page(
        width=width, height=height, color_scheme=scheme, bypass_csp=True, reduced_motion="reduce"
    )  # reduced motion: no fade is half-way when colours are measured
    open_dashboard(page, live_server)
    wait_for(page, "() => document.querySelectorAll('li.call-row').length > 0")
    page.wait_for_selector("#stat-nature .bar-row", state="attached")
    # new calls arrive: their rows are highlighted (NEW) while the views are checked
    before, after = advance_until(live_server, lambda b, a: bool(ids_of(a) - ids_of(b)))
    wait_for(
        page,
        "n => document.querySelectorAll('li.call-row.is-new').length >= n",
        len(ids_of(after) - ids_of(before)),
    )
    problems: dict[str, list[str]] = {}
    for name, show in views(page, device, call):
        show()
        shot(page, f"axe-{device}-{scheme}-{name}")
        found = axe_problems(page)
        if found:
            problems[name] = found
    report = ARTIFACTS / f"axe-{device}-{scheme}.txt"
    report.write_text(
        "\n".join(f"{view}: {p}" for view, found in problems.items() for p in found)
        or "no serious or critical violations\n"
    )
    assert problems == {}, f"see {report}"
