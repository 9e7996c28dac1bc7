"""The SCIM schema description: models, resource types, configuration and the IdP-tolerant policy.

It sits in storage, the lowest layer, because the storage derives its columns from these models
and every layer above (domain, SCIM, HTTP) reads them; it describes, it serves nothing.

The schema documents of our own extension, the resource types and the ServiceProviderConfig live
in ``schemas/`` (installed as package data) and are validated when the app starts: a broken
document stops the boot with a message instead of failing the first request.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import email_validator
from pydantic import AfterValidator, Field
from scim2_models import (
    Email,
    EnterpriseUser,
    Extension,
    Group,
    ResourceType,
    Schema,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    User,
)

# Directories synced from on-premises AD use addresses such as jane@corp.local, and Okta's own
# examples use okta.local: an email here is an identifier from the IdP, not a mailbox we must
# reach, so the "special-use domain" refusal of email-validator (used by pydantic's EmailStr in
# scim2-models) would refuse real provisioning requests. Syntax is still checked.
email_validator.SPECIAL_USE_DOMAIN_NAMES = []

ACCOUNT_EXTENSION_URN = "urn:scim-server:schemas:extension:account:1.0:User"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_TYPES = ("Admin", "Member", "Viewer", "Guest")


class SchemaDocumentError(RuntimeError):
    """A document of ``schemas/`` is missing or invalid."""


def _schemas_dir() -> Path:
    packaged = resources.files("scim_server") / "schema_docs"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "schemas"


def _load(name: str) -> Any:
    path = _schemas_dir() / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaDocumentError(f"schemas/{name}: {exc}") from exc


@lru_cache(maxsize=1)
def account_extension() -> type[Extension]:
    """The model of our account extension, built from its schema document."""
    try:
        schema = Schema.model_validate(_load("account-user-extension.json"))
        model = Extension.from_schema(schema)
    except (ValueError, TypeError) as exc:
        raise SchemaDocumentError(f"schemas/account-user-extension.json: {exc}") from exc
    if str(schema.id) != ACCOUNT_EXTENSION_URN:
        raise SchemaDocumentError(
            f"schemas/account-user-extension.json must describe {ACCOUNT_EXTENSION_URN}"
        )
    return model


def _email_as_sent(value: str | None) -> str | None:
    """The syntax of an address is checked; the address is kept as sent. pydantic's EmailStr
    lower-cases the domain (Jane.Doe@Example.com → Jane.Doe@example.com), and an identity
    provider must read back exactly what it wrote; comparisons are case-insensitive anyway."""
    if value is None:
        return None
    try:
        email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    return value


class AsSentEmail(Email):
    value: Annotated[str | None, AfterValidator(_email_as_sent)] = None  # type: ignore[assignment]


class ProvisionedUser(User):  # type: ignore[type-arg]
    """The core User, publishing the account's user types as ``userType`` canonical values in
    /Schemas (RFC 7643 §2.3.1 canonicalValues), so that clients offer only types we accept,
    and keeping emails as sent."""

    user_type: str | None = Field(None, examples=list(USER_TYPES))
    emails: list[AsSentEmail] | None = None  # type: ignore[assignment]


def scim_policy() -> ScimPolicy:
    """What we tolerate because Okta and Entra ID send it (RFC 7644 §3.5.2.1 for unmatched filters)."""
    return ScimPolicy(
        remove_value_as_filter=ScimPolicy.RemoveValue.apply,
        unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
    )


def load_config(overrides: dict[str, Any] | None = None) -> ServiceProviderConfig:
    document = _load("service-provider-config.json")
    for key, value in (overrides or {}).items():
        section, _, field = key.partition(".")
        document.setdefault(section, {})[field] = value
    try:
        return ServiceProviderConfig.model_validate(document)
    except ValueError as exc:
        raise SchemaDocumentError(f"schemas/service-provider-config.json: {exc}") from exc


def build_provider(config_overrides: dict[str, Any] | None = None) -> ScimProvider:
    """Our provider: User (+ enterprise, + account extension) and Group, with the IdP policy."""
    try:
        resource_types = [ResourceType.model_validate(rt) for rt in _load("resource-types.json")]
    except ValueError as exc:
        raise SchemaDocumentError(f"schemas/resource-types.json: {exc}") from exc
    return ScimProvider(
        models=[ProvisionedUser, Group, EnterpriseUser, account_extension()],
        resource_types=resource_types,
        config=load_config(config_overrides),
        policy=scim_policy(),
    )


@lru_cache(maxsize=1)
def default_provider() -> ScimProvider:
    """Our schema description with its default configuration, for writes that do not come
    through a SCIM request (the domain's profile and email edits, the command line), so that
    they derive the same columns as a SCIM write."""
    return build_provider()
