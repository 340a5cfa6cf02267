"""Every write: validate, change, bump the policy revision, append the audit row, commit."""
