"""The archive's list (on every meeting page) and a report's page read the kept reports'
names and dates, not the kept pages, workbooks and PDFs themselves (a year of a township's
reports is hundreds of PDFs); a download reads only its own."""

from __future__ import annotations

import sqlalchemy as sa

from server.extensions import db
from tests.support.app import PASSWORD


def _statements(client, url: str) -> tuple[object, list[str]]:
    sent: list[str] = []

    def keep(conn, cursor, statement, *args):
        sent.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", keep)
    try:
        response = client.get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", keep)
    assert response.status_code == 200
    return response, [s for s in sent if "archived_reports" in s]


def test_the_archive_list_reads_no_kept_report(plan, client):
    assert client.post("/login", data={"username": "boss", "password": PASSWORD}).status_code \
        == 302
    made = [client.post("/reports/meeting", data={"kind": "xun", "area": "T", "period": p})
            .headers["Location"] for p in ("2016-10-1", "2016-10-2")]
    _page, reads = _statements(client, "/reports/meeting?kind=xun&area=T&period=2016-10-3")
    assert reads and not any(f"archived_reports.{c}" in s for s in reads
                             for c in ("html", "xlsx", "pdf")), reads
    page, reads = _statements(client, made[0])
    assert 'id="areas"' in page.text  # the kept body, shown
    assert not any("archived_reports.pdf" in s or "archived_reports.xlsx" in s for s in reads)
    pdf, reads = _statements(client, made[1] + ".pdf")
    assert pdf.data.startswith(b"%PDF")
    assert not any("archived_reports.xlsx" in s for s in reads)
