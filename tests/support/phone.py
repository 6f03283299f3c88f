"""The phone app in a browser test: logging a coordinator in, opening a form, reading what the
app keeps in IndexedDB (drafts), and the server's side of what it sent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from playwright.sync_api import Page, expect

SMALL = {"width": 360, "height": 740}
# Beside the demo township's first building (XY01-01-001, 夕阳一街1号).
WHERE = {"latitude": 24.60178, "longitude": 102.59635, "accuracy": 4}
COORDINATOR = "xieguan01"

_DRAFTS = """() => new Promise((resolve, reject) => {
  const req = indexedDB.open('doorstep');
  req.onerror = () => reject(req.error);
  req.onsuccess = () => {
    const d = req.result;
    const tx = d.transaction(['drafts', 'draftFiles'], 'readonly');
    const drafts = tx.objectStore('drafts').getAll();
    const files = tx.objectStore('draftFiles').count();
    tx.oncomplete = () => {
      resolve({ drafts: drafts.result.map((x) => ({ id: x.id, kind: x.kind, xml: x.xml,
        formId: x.formId, files: x.files })), files: files.result });
      d.close();
    };
  };
})"""


def stored_drafts(page: Page) -> dict:
    """{'drafts': [{id, kind, xml, formId, files}], 'files': n} as the app keeps them."""
    return page.evaluate(_DRAFTS)


def log_in(page: Page, url: str, password: str, username: str = COORDINATOR) -> None:
    page.goto(f"{url}/login?next=/app/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=60000)


def form_ready(page: Page) -> None:
    page.wait_for_selector(".form-initialization-status.ready", state="attached", timeout=60000)


def open_form(page: Page, name: str = "住户及人员登记") -> None:
    page.get_by_role("link", name=name).first.click()
    form_ready(page)


def answers(page: Page, label: str) -> list[str]:
    """The values of every text box under the questions labelled `label` (repeats included)."""
    boxes = page.locator(".question-container").filter(
        has=page.locator("label", has_text=label)).locator("input, textarea")
    return [boxes.nth(i).input_value() for i in range(boxes.count())]


def query(instance: Path, sql: str, *args) -> list[tuple]:
    con = sqlite3.connect(instance / "doorstep.sqlite3")
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def expect_sent(page: Page, n: int) -> None:
    expect(page.locator("li.q[data-state=sent]")).to_have_count(n, timeout=30000)


def last_submission(instance: Path) -> int:
    """The newest submission's id: what the demo (or the test's setup) already holds."""
    return query(instance, "SELECT coalesce(max(id), 0) FROM submissions")[0][0]


def households(instance: Path, after: int) -> list[tuple]:
    """(instance_id, deprecated_id) of the household submissions newer than `after`."""
    return query(instance, "SELECT s.instance_id, s.deprecated_id FROM submissions s"
                           " JOIN form_versions v ON v.id = s.form_version_id JOIN forms f"
                           " ON f.id = v.form_id WHERE f.xml_form_id = 'household'"
                           " AND s.id > ? ORDER BY s.id", after)
