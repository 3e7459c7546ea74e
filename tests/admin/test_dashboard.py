"""The dashboard's server-side charts: real counts, titles, table fallbacks, no script."""

from __future__ import annotations

import re

from hub.admin.charts import horizontal_bars, nice_max, stacked_bars
from hub.persistence.db import utcnow
from hub.persistence.models.registers import DoctorRegistration, VerificationCheck
from tests.admin.conftest import ConsoleFor
from tests.flows.conftest import Browser, RelyingParty, RunningHub


def test_dashboard_counts_sign_ins_per_network_and_verification_outcomes(
        admin_hub: RunningHub, doctor_browser: Browser, console_for: ConsoleFor) -> None:
    rp = RelyingParty(admin_hub, admin_hub.client(client_name="Chart <Network> & Co"))
    for _ in range(3):
        rp.sign_in(Browser(admin_hub), admin_hub.doctor().email)
    doctor = admin_hub.doctor()
    now = utcnow()
    with admin_hub.hub.db.session() as s:
        reg = DoctorRegistration(doctor_id=doctor.id, register="dk-sst", number="ABC12", country="DK",
                                 profession="physician", status="mismatch", checked_at=now)
        s.add(reg)
        s.flush()
        s.add(VerificationCheck(registration_id=reg.id, checked_at=now, status="mismatch"))
    page = console_for("auditor").get("/admin/")
    assert page.status_code == 200 and "<script" not in page.text
    text = page.text
    signins = text.split('aria-labelledby="signins-h"')[1].split("</section>")[0]
    assert '<svg class="chart"' in signins and '<title id="signins-title">Sign-ins per network' in signins
    assert "Chart &lt;Network&gt; &amp; Co" in signins and "<Network>" not in signins
    table = signins.split('id="signins-table"')[1]
    today_row = re.search(rf"<th scope=\"row\">{now.date().isoformat()}</th>(.*?)</tr>", table, re.S)
    assert today_row is not None
    header = re.findall(r'<th scope="col">(.*?)</th>', table)
    column = header.index("Chart &lt;Network&gt; &amp; Co") - 1
    assert re.findall(r'<td class="num">(\d+)</td>', today_row.group(1))[column] == "3"
    outcomes = text.split('aria-labelledby="outcomes-h"')[1].split("</section>")[0]
    assert '<svg class="chart"' in outcomes and "mismatch" in outcomes and 'id="outcomes-table"' in outcomes
    links = text.split('aria-labelledby="links-h"')[1].split("</section>")[0]
    assert "do not exist in the hub yet" not in links and 'id="links-table"' in links or "No doctor" in links


def test_chart_geometry_is_proportional() -> None:
    assert [nice_max(v) for v in (0, 1, 3, 7, 10, 11, 42, 180)] == [1, 1, 5, 10, 10, 20, 50, 200]
    chart = stacked_bars("c", "t", ["a", "b"], [("x", [2, 4]), ("y", [2, 0])], "sign-ins")
    heights = [b.h for b in chart.bars]
    assert len(chart.bars) == 3 and heights[0] + heights[1] == heights[2]  # 2+2 stacked as tall as 4
    assert chart.legend == [("#0072B2", "x"), ("#E69F00", "y")]
    assert chart.summary.startswith("8 sign-ins in total; the busiest column has 4")
    bars = horizontal_bars("h", "t", [("match", 10), ("mismatch", 5)], "checks").bars
    assert bars[0].w == 2 * bars[1].w
