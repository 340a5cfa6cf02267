"""All tables of Need-to-Know, one module per domain."""
from governance.models.apikeys import ApiKey
from governance.models.audit import AuditEvent, AuditHead
from governance.models.cases import Enrollment, Involvement, Participant
from governance.models.catalog import (
    Bundle,
    CasbinRule,
    ConsoleGrantEdit,
    DirectoryGroupRole,
    Field,
    Partner,
    Program,
    Purpose,
    Role,
)
from governance.models.consent import Consent
from governance.models.directory import DirectorySync, RoleAssignment, User
from governance.models.disclosure import Disclosure
from governance.models.elevation import Escalation, Override
from governance.models.notification import Notification
from governance.models.reviews import ReviewCampaign, ReviewItem
from governance.models.state import PolicyChange, PolicyState
from governance.models.uploads import OrgFileUpload

__all__ = [
    "ApiKey", "AuditEvent", "AuditHead", "Bundle", "CasbinRule", "Consent", "ConsoleGrantEdit",
    "DirectoryGroupRole",
    "DirectorySync", "Disclosure", "Enrollment", "Escalation", "Field", "Involvement",
    "Notification", "Override",
    "OrgFileUpload", "Participant", "Partner",
    "PolicyChange", "PolicyState", "Program", "Purpose", "ReviewCampaign", "ReviewItem", "Role",
    "RoleAssignment", "User",
]
