"""An analyst in headless Chromium against `dialer serve`, on a made-up history of calls
(campaigns/synthetic.py): every disposition keeps its own colour whatever the filters
(success green), count axes step by whole calls, a range with no calls says "No data"
instead of empty axes, a click on a bar opens the call explorer on the calls behind it,
the comparison has a signed difference column, and the page speaks Korean once the
analyst chooses it. Screenshots in test-artifacts/browser/dashboard-charts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from campaigns import analytics
from campaigns.db import Database
from campaigns.synthetic import generate
from campaigns.users import create_user
from dialer.web.words import disposition_colour, disposition_word
from tests.support.browser import Shots, chromium, log_in, until, web_server
from tests.support.procs import call_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PASSWORD = "correct horse battery"
CALLS = 120
WEEK = "start=2026-11-10&end=2026-11-16"  # inside the made-up history (Seoul days)
NOTHING = "start=2020-01-01&end=2020-01-02"


def test_the_dashboards_charts_say_what_they_show(tmp_path: Path) -> None:
    env = call_env(tmp_path, 53700)
    env.update(DIALER_BROKER_URL="memory://", DIALER_ACD_URL="")
    (tmp_path / "data").mkdir()
    url = f"sqlite:///{tmp_path / 'data' / 'dialer.db'}"
    (a, b), _ = generate(url, CALLS)
    create_user(Database(url), "ana", PASSWORD, "analyst")

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    with web_server(tmp_path, env) as base, chromium(tmp_path) as br:
        shot = Shots(br, "dashboard-charts")

        def js(script: str) -> Any:
            return br.execute_script(script)

        def drawn(page: str) -> dict[str, Any]:
            br.get(f"{base}{page}")
            until(lambda: js("return window.dashboardDrawn === true"), 30, page)
            return dict(js("return window.dashboardReport"))

        def colours() -> dict[str, str]:
            return dict(js("return Chart.getChart('chart-over-time').data.datasets"
                           ".map(d => [d.label, d.backgroundColor])"))

        def visible(css: str) -> bool:
            return bool(br.find_element(By.CSS_SELECTOR, css).is_displayed())

        log_in(br, base, "ana", PASSWORD, f"/dashboard?campaign={a}&{WEEK}")
        until(lambda: js("return window.dashboardDrawn === true"), 30, "the charts")
        # -- fixed colours: success green, a refusal red, the same under another filter
        every = colours()
        assert every["interested"] == disposition_colour("interested") == "#067647"
        assert every["not_interested"] == disposition_colour("not_interested") == "#d92d20"
        assert len(set(every.values())) == len(every)  # no two dispositions alike
        legend = list(js("return Chart.getChart('chart-over-time').legend.legendItems"
                         ".map(i => i.text)"))
        assert disposition_word("not_interested") in legend and "not_interested" not in legend
        ticks = list(js("return Chart.getChart('chart-funnel').scales.x.ticks"
                        ".map(t => t.label)"))
        assert ticks == list(analytics.STAGES.values())  # words, not codes
        nodes = list(js("return Chart.getChart('chart-drop-off').scales.y.ticks"
                        ".map(t => t.label)"))  # the script's own names, as they are
        assert "handoff" in nodes and "Handed to an agent" not in nodes
        shot("english")
        drawn(f"/dashboard?campaign={b}&{WEEK}&disposition=not_interested")
        assert colours() == {"not_interested": every["not_interested"]}

        # -- whole calls on every count axis, even when the counts are small
        one_day = drawn(f"/dashboard?campaign={a}&start=2026-11-12&end=2026-11-12")
        assert 0 < one_day["metrics"]["attempts"] < 10
        for chart, axis in (("over-time", "y"), ("funnel", "y")):
            values = list(js(f"return Chart.getChart('chart-{chart}').scales.{axis}.ticks"
                             ".map(t => t.value)"))
            assert len(values) >= 2 and all(float(v).is_integer() for v in values), (
                chart, values)

        # -- nothing in the range: "No data", never empty axes
        none = drawn(f"/dashboard?{NOTHING}")
        assert none["metrics"]["attempts"] == 0
        assert visible("#no-calls") and visible('[data-empty="chart-funnel"]')
        assert visible('[data-empty="heatmap"]') and not visible("#heatmap")
        assert br.find_element(By.CSS_SELECTOR, '[data-empty="chart-over-time"]'
                               ).text == "No data"
        assert js("return Chart.getChart('chart-funnel') === undefined") is True
        shot("no-data")

        # -- a click on a bar: the call explorer on the calls behind it
        report = drawn(f"/dashboard?campaign={a}&{WEEK}")
        series = report["over_time"]["series"]
        code, day = max(((c, i) for c in series if c != "in progress"
                         for i in range(len(series[c]))), key=lambda ci: series[ci[0]][ci[1]])
        n = series[code][day]
        label = report["over_time"]["labels"][day]

        def click(chart: str, dataset: int, index: int) -> str:
            """Click the middle of one bar with the mouse; the address it opens."""
            canvas = br.find_element(By.ID, f"chart-{chart}")
            js(f"document.getElementById('chart-{chart}').scrollIntoView({{block: 'center'}})")
            x, y, w, h = js(f"""var c = Chart.getChart('chart-{chart}');
                var p = c.getDatasetMeta({dataset}).data[{index}].getCenterPoint();
                var r = c.canvas.getBoundingClientRect();
                return [p.x, p.y, r.width, r.height];""")
            ActionChains(br).move_to_element_with_offset(
                canvas, int(x - w / 2), int(y - h / 2)).click().perform()
            until(lambda: "/calls?" in br.current_url, 20, "the call explorer")
            return str(br.current_url)

        dataset = js("return Chart.getChart('chart-over-time').data.datasets"
                     f".findIndex(d => d.label === {code!r})")
        assert click("over-time", dataset, day) == (
            f"{base}/calls?campaign={a}&start={label}&end={label}&disposition={code}")
        assert js("return document.querySelector('[name=disposition]').value") == code
        rows = br.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        assert len(rows) == n, (len(rows), n)
        shot("clicked-through")
        drawn(f"/dashboard?campaign={a}&{WEEK}")
        assert click("funnel", 0, 4) == (  # converted: the success disposition
            f"{base}/calls?campaign={a}&start=2026-11-10&end=2026-11-16"
            "&disposition=interested")
        assert len(br.find_elements(By.CSS_SELECTOR, "#results tbody tr")) == report[
            "funnel"][4]["count"] > 0

        # -- the address bar is typed by anyone: what the filters cannot hold is ignored
        odd = drawn("/dashboard?campaign=%3Cscript%3E&start=nope&disposition=happy"
                    "&compare=-1")
        assert odd["filters"]["campaign"] is None and odd["filters"]["disposition"] is None
        assert odd["metrics"]["attempts"] == CALLS and visible("#board")
        assert not visible("#error")
        days = br.find_elements(By.CSS_SELECTOR, '[data-numbers="heatmap-days"] tbody tr')
        assert len(days) == 7  # the heatmap's text alternative, a row a weekday
        # each hour's answered share under its column, with no hovering
        shares = {td.get_attribute("data-hour"): td.text for td in br.find_elements(
            By.CSS_SELECTOR, "#heatmap tfoot td")}
        hm = odd["heatmap"]
        for i, hour in enumerate(hm["hours"]):
            n = sum(row[i] for row in hm["dialed"])
            a_ = sum(row[i] for row in hm["answered"])
            assert shares[str(hour)] == (f"{int(100 * a_ / n + 0.5)}%" if n else "–"), hour
        assert any(v != "–" for v in shares.values())

        # -- side by side: B − A with its sign and unit
        both = drawn(f"/dashboard?campaign={a}&compare={b}&{WEEK}")
        diff = {el.get_attribute("data-diff"): el.text for el in br.find_elements(
            By.CSS_SELECTOR, "#compare-table td[data-diff]")}
        d = both["compare"]["metrics"]["attempts"] - both["metrics"]["attempts"]
        assert diff["attempts"] == (f"+{d}" if d > 0 else f"−{-d}" if d else "0")
        r = both["compare"]["metrics"]["connect_rate"] - both["metrics"]["connect_rate"]
        assert diff["connect_rate"].endswith(f"{abs(r) * 100:.1f} pp")
        assert diff["connect_rate"][0] == ("+" if r > 0 else "−")
        names = [td.text for td in br.find_elements(By.CSS_SELECTOR,
                                                    "#compare-table tbody td:first-child")]
        assert "Average call length" in names and "avg_handle_s" not in br.page_source.replace(
            'data-metric="avg_handle_s"', "").replace('data-diff="avg_handle_s"', "")
        shot("compare")

        # -- in Korean, the analyst's own choice
        status = js("""return fetch('/api/me').then(r => r.json()).then(me =>
            fetch('/api/me/preferences', {method: 'PATCH', body: '{"language": "ko"}',
              headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token}}))
            .then(r => r.status)""")
        assert status == 200
        drawn(f"/dashboard?campaign={a}&{WEEK}")
        assert js("return document.documentElement.lang") == "ko"
        assert br.find_element(By.TAG_NAME, "h1").text == "캠페인 대시보드"
        ticks = list(js("return Chart.getChart('chart-funnel').scales.x.ticks"
                        ".map(t => t.label)"))
        assert ticks == ["발신", "응답", "사람 연결", "대화 참여", "성공"]
        legend = list(js("return Chart.getChart('chart-over-time').legend.legendItems"
                         ".map(i => i.text)"))
        assert "관심 있음" in legend and "Interested" not in legend
        assert colours()["interested"] == every["interested"]
        shot("korean")
        drawn(f"/dashboard?{NOTHING}")
        assert br.find_element(By.CSS_SELECTOR, '[data-empty="chart-funnel"]').text == "데이터 없음"
        shot("korean-no-data")
