"""Benchmarks of the SCIM server at identity-provider scale, beside the reference server (issue 6)."""
