"""Fixtures for the form lifecycle and entity registry tests: submissions stored as ingest
leaves them, the township forms published."""

from __future__ import annotations

import hashlib

import pytest

from server.extensions import db
from server.models import Submission


@pytest.fixture
def store_submission(app):
    """Store a submission row for a form version (XML kept by the test, as the processor
    receives it from the submission store)."""
    from server.services.forms import lifecycle as service

    def factory(xml: bytes, xml_form_id: str, submitter=None, deprecated_id=None) -> Submission:
        from forms.instance import read_instance

        version = service.find_version(xml_form_id, None)
        assert version is not None, f"{xml_form_id} is not published"
        info = read_instance(xml)
        sub = Submission(
            instance_id=info.instance_id,
            form_version_id=version.id,
            submitter_id=submitter.id if submitter is not None else None,
            xml_sha256=hashlib.sha256(xml).hexdigest(),
            xml_size=len(xml),
            storage_key=f"test/{info.instance_id}",
            deprecated_id=deprecated_id,
        )
        db.session.add(sub)
        db.session.flush()
        return sub

    return factory


@pytest.fixture
def township_published(app):
    from server.services.forms import lifecycle as service

    versions = service.publish_township()
    db.session.commit()
    return {v.form.xml_form_id: v for v in versions}

