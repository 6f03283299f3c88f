"""Every template compiles, and every page a role's home menu offers opens on the demo township."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Role, User
from server.services import demo


def test_every_template_compiles(app):
    names = [n for n in app.jinja_env.list_templates() if n.endswith(".html")]
    assert len(names) > 10
    for name in names:
        app.jinja_env.get_template(name)  # raises TemplateSyntaxError


@pytest.fixture
def demo_accounts(app) -> dict[str, str]:
    return {username: password for username, _, password in demo.load_demo(buildings=300)}


@pytest.mark.parametrize("role", list(Role))
def test_home_menu_pages_open_for_each_role(app, demo_accounts, role):
    username = db.session.scalar(sa.select(User.username).where(User.role == role.value))
    client = app.test_client()
    client.post("/login", data={"username": username, "password": demo_accounts[username]})
    home = client.get("/").get_data(as_text=True)
    links = re.findall(r'<li><a class="button" href="([^"]+)"', home)
    assert links, "the home page offers nothing"
    for lang in ("zh_CN", "en"):
        for link in links:
            response = client.get(f"{link}?lang={lang}")
            assert response.status_code == 200, (link, lang, response.status_code)
