""""One residence per person" finds the person by an index, and old records get their key."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from server.extensions import db
from server.models import Entity
from server.services.register import residence as register
from tests.support.app import make_app

ID = "11010519491231002X"


def test_lookup_uses_the_natural_key_index(app):
    db.session.add(Entity(dataset="persons", uuid="p1", properties={"id_number": ID},
                          natural_key=ID))
    db.session.commit()
    assert register.person_by_id_number(ID.lower()).uuid == "p1"  # normalised before lookup
    query = sa.select(Entity.id).where(Entity.dataset == "persons", Entity.natural_key == ID)
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        plan = " ".join(str(row) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "ix_entities_dataset_natural_key" in plan


def test_migration_backfills_the_key_of_existing_persons(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        directory = app.config["MIGRATIONS_DIR"]
        upgrade(directory=directory, revision="0004")
        with db.engine.begin() as conn:
            for uuid, dataset, props in [("p1", "persons", {"id_number": ID}),
                                         ("p2", "persons", {"name": "无证件"}),
                                         ("h1", "households", {"id_number": "not a key here"})]:
                conn.execute(
                    sa.text("INSERT INTO entities (dataset, uuid, label, properties, version, "
                            "deleted, created_at, updated_at) VALUES (:d, :u, '', :p, 1, 0, "
                            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                    {"d": dataset, "u": uuid, "p": json.dumps(props)},
                )
        upgrade(directory=directory)
        keys = dict(db.session.execute(sa.select(Entity.uuid, Entity.natural_key)).all())
        assert keys == {"p1": ID, "p2": None, "h1": None}
        db.session.remove()
        downgrade(directory=directory, revision="0004")
        db.engine.dispose()
