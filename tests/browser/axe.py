"""axe-core (the npm package pinned in tests/browser/package-lock.json) run inside a page.

The console's Content-Security-Policy allows no script at all, so axe is not added as a
``<script>`` tag (the page would refuse it): its source is evaluated through the DevTools
protocol (``page.evaluate``), which a page's CSP does not govern. The page under test keeps
its real, strict policy, so an inline style or script slipped into a template still breaks in
the browser as it would for a user.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
AXE_SCRIPT = HERE / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")  # impacts that fail a test; minor and moderate are printed


@cache
def axe_source() -> str:
    if not AXE_SCRIPT.is_file():
        raise AssertionError(
            f"axe-core is not installed ({AXE_SCRIPT} is missing): run "
            f"`npm ci` in {HERE} (.ci/run does)")
    return AXE_SCRIPT.read_text()


def axe_violations(page) -> list[dict]:  # noqa: ANN001 - a playwright Page
    """Every axe violation on the page as it stands (WCAG 2.x A and AA rules, best practices)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html,
                                      summary: n.failureSummary}))}));
    }""")


def describe(violations: list[dict]) -> str:
    """Violations as a person reads them: rule, impact, what to fix, and where."""
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:10]:
            lines.append(f"    at {node['target']}")
            lines.append(f"       {node['html'][:200]}")
            for detail in (node["summary"] or "").splitlines():
                lines.append(f"       {detail}")
        if len(v["nodes"]) > 10:
            lines.append(f"    ... and {len(v['nodes']) - 10} more elements")
    return "\n".join(lines)


def assert_accessible(page, name: str) -> list[dict]:  # noqa: ANN001
    """No serious or critical violation on ``page``; returns the lesser ones (printed)."""
    violations = axe_violations(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    lesser = [v for v in violations if v["impact"] not in BLOCKING]
    if lesser:
        print(f"axe, {name} (not failing):\n{describe(lesser)}")
    assert not blocking, (f"axe found serious or critical problems on {name} "
                          f"({page.url}):\n{describe(blocking)}")
    return lesser
