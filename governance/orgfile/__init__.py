"""The organisation file: policy as code (load, validate, plan, apply, export)."""
from governance.orgfile.validate import OrgFileError, load_text, validate

__all__ = ["OrgFileError", "load_text", "validate"]
