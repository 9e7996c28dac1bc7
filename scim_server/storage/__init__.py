"""Storage layer: typed SQLAlchemy models and the SCIM storage; it flushes, never commits."""
