"""Need-to-Know: minimum-necessary access governance for care providers."""
from governance.app import create_app
from governance.extension import Governance

__all__ = ["Governance", "create_app"]
