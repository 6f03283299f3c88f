"""The core nouns (docs/ARCHITECTURE.md) as models; the schema changes only through migrations/."""

from server.models.areas import Area, Assignment, Building, Round
from server.models.audit import AuditEvent
from server.models.entities import Entity, EntityVersion, RegisterConflict
from server.models.forms import Form, FormMedia, FormVersion
from server.models.submissions import Submission, SubmissionAttachment, SubmissionBlob
from server.models.users import Role, User
from server.models.visits import BuildingCoverage, Visit

__all__ = [
    "Area",
    "Assignment",
    "AuditEvent",
    "Building",
    "BuildingCoverage",
    "Entity",
    "EntityVersion",
    "Form",
    "FormMedia",
    "FormVersion",
    "RegisterConflict",
    "Role",
    "Round",
    "Submission",
    "SubmissionAttachment",
    "SubmissionBlob",
    "User",
    "Visit",
]
