"""The core nouns (docs/ARCHITECTURE.md) as models; the schema changes only through migrations/."""

from server.models.areas import Area, Assignment, Building
from server.models.audit import AuditEvent
from server.models.entities import Entity, EntityVersion, RegisterConflict
from server.models.forms import Form, FormMedia, FormVersion
from server.models.rentals import (
    RentalInspection,
    RentalLandlord,
    RentalRectification,
    RentalUnit,
)
from server.models.reports import ArchivedReport, AssessmentWeight
from server.models.rounds import Phase, Round, RoundArea, RoundForm, RoundJob
from server.models.submissions import (
    ReviewDecision,
    Submission,
    SubmissionAttachment,
    SubmissionBlob,
)
from server.models.users import ApiToken, DeviceLink, Role, User
from server.models.visits import (
    BuildingCoverage,
    CoverageChange,
    CoverageCount,
    CoverageDayCount,
    CoverageDayMove,
    CoverageStep,
    DataVersion,
    ReportDayCount,
    ReportDayMove,
    ReportMark,
    Visit,
)

__all__ = [
    "ApiToken",
    "ArchivedReport",
    "Area",
    "AssessmentWeight",
    "Assignment",
    "AuditEvent",
    "Building",
    "BuildingCoverage",
    "CoverageChange",
    "CoverageCount",
    "CoverageDayCount",
    "CoverageDayMove",
    "CoverageStep",
    "DataVersion",
    "DeviceLink",
    "Entity",
    "EntityVersion",
    "Form",
    "FormMedia",
    "FormVersion",
    "Phase",
    "RegisterConflict",
    "RentalInspection",
    "RentalLandlord",
    "RentalRectification",
    "RentalUnit",
    "ReportDayCount",
    "ReportDayMove",
    "ReportMark",
    "ReviewDecision",
    "Role",
    "Round",
    "RoundArea",
    "RoundForm",
    "RoundJob",
    "Submission",
    "SubmissionAttachment",
    "SubmissionBlob",
    "User",
    "Visit",
]
