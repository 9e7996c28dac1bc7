"""A multi-account SCIM 2.0 identity-provisioning server on a relational store."""

__version__ = "0.1.0"
