"""Provisioning from the LDAP directory: users and their role assignments (contract section 8)."""
