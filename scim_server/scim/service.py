"""Our seams on scim2-server's ScimService: account-bound authorization, /Me, domain errors.

scim2-server owns the protocol (validation, PATCH semantics, ETags, Bulk, paging, error
bodies); this subclass only adds what an account-scoped server needs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Union, cast

from pydantic_core import from_json
from scim2_models import (
    BulkRequest,
    BulkResponse,
    Context,
    Error,
    ForbiddenException,
    InvalidValueException,
    ListResponse,
    NotFoundException,
    PatchOp,
    Reference,
    Resource,
    ResourceType,
    ResponseParameters,
    SCIMException,
    ScimProvider,
    SearchRequest,
    UnauthorizedException,
)
from scim2_models import Path as ScimPath
from scim2_server.conditions import Conditions
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Target
from scim2_server.service import ScimService
from scim2_server.storage import SearchPage
from scim2_server.utils import parametrize

from scim_server.db import unavailable
from scim_server.domain.errors import DomainError, InvalidInput, NotFound, RuleViolation, Severity
from scim_server.domain.tokens import Principal
from scim_server.scim import quirks

# pydantic appends a documentation link to its messages: not for an API client.
_PYDANTIC_NOISE = re.compile(r"\n\s*For further information visit \S+")

# The largest LIMIT/OFFSET both engines take (a signed 64-bit integer); past it the driver or
# the server fails, so a startIndex or count beyond it is refused instead of answered 500.
MAX_PAGE_NUMBER = 2**63 - 1

# RFC 7644 §3.12 scimType for each family of rule refusal.
_SCIM_TYPES = {Severity.INVALID: "invalidValue", Severity.FORBIDDEN: None, Severity.CONFLICT: None}


# Rules that refuse a value another resource already has: RFC 7644 §3.12's "uniqueness".
_UNIQUENESS_RULES = frozenset({"email.taken", "user.exists"})


def scim_exception_of(error: DomainError) -> SCIMException:
    """Turn a domain error into the SCIM error a client sees; the rule id leads the detail."""
    if isinstance(error, RuleViolation):
        refusal = SCIMException(detail=f"{error.rule}: {error.message}")
        refusal.status = error.severity.value
        refusal.scim_type = _SCIM_TYPES[error.severity]  # type: ignore[assignment]
        if error.rule in _UNIQUENESS_RULES:
            refusal.scim_type = "uniqueness"  # type: ignore[assignment]
        return refusal
    if isinstance(error, NotFound):
        return NotFoundException(detail=error.message)
    if isinstance(error, InvalidInput):
        exc = SCIMException(detail=error.message)
        exc.status = 400
        exc.scim_type = "invalidValue"
        return exc
    exc = SCIMException(detail=error.message)
    exc.status = 400
    return exc


class AccountScimService(ScimService):
    """A ScimService whose subject is a :class:`~scim_server.auth.Principal` (a SCIM token)."""

    def __init__(self, provider: ScimProvider, *, secret: str | bytes | None = None,
                 account_id: Callable[[], str] | None = None) -> None:
        super().__init__(provider, secret=secret)
        self._message_types = self._hold_message_types()
        self._account_id = account_id

    def _hold_message_types(self) -> list[Any]:
        """Build once, and keep alive, the message classes the service parametrises per request.

        pydantic caches parametrised generics in a weak-valued mapping, so a class nobody holds
        is collected and rebuilt on a later request: a fifth of the time of a lookup went to
        rebuilding ListResponse/SearchRequest classes (profile in bench/RESULTS.md). Holding them
        makes every request a cache hit; the classes are the ones scim2-server would build."""
        models = self.get_models()
        every: Any = Union[tuple(models)]  # noqa: UP007
        held: list[Any] = [
            parametrize(ListResponse, every),
            parametrize(SearchRequest, every),
            parametrize(BulkRequest, every),
            parametrize(BulkResponse, every),
        ]
        for model in models:
            held += [
                parametrize(SearchRequest, Union[(model,)]),  # noqa: UP007
                parametrize(PatchOp, model),
                parametrize(ResponseParameters, model),
            ]
        return held

    def authorize(self, request: ScimRequest, target: Target, resource_type: ResourceType) -> None:
        """Only SCIM tokens reach the SCIM endpoints (RFC 7644 §2)."""
        subject = request.subject
        if not isinstance(subject, Principal):
            raise UnauthorizedException(detail="A SCIM bearer token is required")
        if subject.kind != "scim":
            raise ForbiddenException(detail="This token is not a SCIM token")

    def me_target(self, request: ScimRequest) -> tuple[ResourceType, str]:
        """/Me is the user the SCIM token was issued to (RFC 7644 §3.11)."""
        subject = request.subject
        if not isinstance(subject, Principal):
            raise UnauthorizedException(detail="A SCIM bearer token is required")
        if subject.user_id is None or subject.user_status in (None, "deleted"):
            raise NotFoundException(detail="This token is not bound to a user")
        return self.get_resource_type("User"), subject.user_id

    def bulk_failure(self, outcome: dict[str, Any], exception: Exception) -> dict[str, Any]:
        """A database fault (unreachable, a lock or statement timeout) fails the whole Bulk
        with a 503, not the operation: the operations after it would meet it too, and the
        request's transaction is rolled back, so the client retries the Bulk as it was."""
        if unavailable(exception) is not None:
            raise exception
        return super().bulk_failure(outcome, exception)

    def error_response(self, exception: Exception) -> ScimResponse:
        """A 503 (the database busy, a resource under a storm of writes) says when to retry."""
        response = super().error_response(exception)
        if response.status == HTTPStatus.SERVICE_UNAVAILABLE:
            response.headers["Retry-After"] = "1"
        return response

    def publish(self, base_url: str, resource: Resource[Any]) -> Resource[Any]:
        """``ScimService.publish`` in place: the storage hands every request resources of its
        own, read or written for it, so the deep copy that protects a shared stored resource
        would only cost (a tenth of a PATCH)."""
        assert resource.meta is not None and resource.id is not None
        update: dict[str, Any] = {
            "location": self.resource_location(
                base_url, self.get_resource_type_of(resource), resource.id
            )
        }
        if not self.etag_supported:
            update["version"] = None
        resource.meta = resource.meta.model_copy(update=update)
        self._publish_references(base_url, resource)
        return resource

    def _publish_references(self, base_url: str, resource: Resource[Any]) -> None:
        """``ScimService._publish_references`` with the reference attributes of each model
        found once, not walked and resolved again for every resource."""
        locate = self.reference_locator(base_url)
        for path, sub in _reference_paths(type(resource)):
            if sub is None:
                path.set(resource, locate(path.get(resource)), strict=False)
                continue
            entries = path.get(resource)
            for entry in entries if isinstance(entries, list) else [entries]:
                if entry is not None:
                    setattr(entry, sub, locate(getattr(entry, sub)))

    @staticmethod
    def error_of(exception: Exception) -> Error:
        """Domain refusals become SCIM errors; anything unexpected is a bare 500 (no traceback)."""
        if isinstance(exception, DomainError):
            exception = scim_exception_of(exception)
        error = ScimService.error_of(exception)
        if error.detail:
            error.detail = _PYDANTIC_NOISE.sub("", error.detail)
        return error

    def read_search(self, resource_types: list[ResourceType], payload: Any) -> tuple[Any, Any]:
        """A search (RFC 7644 §3.4.3) whose body holds U+0000 is refused like any other write."""
        if quirks.holds_nul(payload):
            raise InvalidValueException(detail="Strings may not contain the NUL character (U+0000)")
        return super().read_search(resource_types, payload)

    def _bound_count(self, search_request: SearchRequest[Any]) -> None:
        for name, value in (("startIndex", search_request.start_index),
                            ("count", search_request.count)):
            if value is not None and value > MAX_PAGE_NUMBER:
                raise InvalidValueException(detail=f"{name} may be at most {MAX_PAGE_NUMBER}")
        super()._bound_count(search_request)

    def _query_digest(  # type: ignore[override]
        self, resource_types: list[ResourceType], search_request: SearchRequest[Any]
    ) -> str:
        """The query a cursor belongs to includes the account: the cursor is sealed (AES-GCM)
        with its query, so another account's token opening it fails as ``invalidCursor``
        (RFC 9865) instead of paging its own rows from a position it never issued."""
        digest = ScimService._query_digest(resource_types, search_request)
        if self._account_id is None:
            return digest
        bound = f"{self._account_id()}\n{digest}".encode()
        return hashlib.sha256(bound).hexdigest()[:32]

    def _known_schemas(self) -> frozenset[str]:
        known = getattr(self, "_known", None)
        if known is None:
            known = frozenset(str(schema.id).lower() for schema in self.provider.schemas)
            known |= {
                "urn:ietf:params:scim:api:messages:2.0:patchop",
                "urn:ietf:params:scim:api:messages:2.0:bulkrequest",
                "urn:ietf:params:scim:api:messages:2.0:searchrequest",
            }
            self._known = known
        return known

    def read_body(self, model: Any, body: bytes, content_type: str | None, scim_ctx: Context) -> Any:
        """Validate a body after rewriting the IdP quirks the models do not absorb (see quirks)."""
        self.ensure_json(content_type)
        try:
            document = from_json(body)
        except ValueError:
            document = None  # let the stock path report the syntax error
        if document is not None and quirks.holds_nul(document):
            # PostgreSQL text and jsonb cannot hold U+0000; refuse it on every engine alike.
            raise InvalidValueException(detail="Strings may not contain the NUL character (U+0000)")
        if document is not None:
            quirks.note(quirks.applied(document, self._known_schemas()))
        if document is not None and quirks.normalise(document, self._known_schemas()):
            body = json.dumps(document).encode()
        return super().read_body(model, body, content_type, scim_ctx)

    def reference_locator(self, base_url: str) -> Callable[[Any], Any]:
        """``reference_location`` for many references of one response: one call per endpoint,
        not per reference (same URLs; a group of 100,000 members is 100,000 references)."""
        prefixes: dict[str, str] = {}

        def locate(reference: Any) -> Any:
            if not isinstance(reference, str):
                return reference
            folder, slash, resource_id = reference.partition("/")
            if not slash or "/" in resource_id or ":" in folder or not folder:
                return self.reference_location(base_url, reference)
            if folder not in prefixes:
                prefixes[folder] = self.reference_location(
                    base_url, f"{folder}/\x00"
                ).removesuffix("\x00")
            return prefixes[folder] + resource_id

        return locate

    def document_response(
        self,
        base_url: str,
        resource_type: ResourceType,
        document: dict[str, Any],
        conditions: Conditions,
    ) -> ScimResponse:
        """``query_response`` for a stored document (``SqlScimStorage.document``): the same
        200 with its ETag and Content-Location, or 304 (RFC 7644 §3.4.1, §3.14)."""
        version = document["meta"]["version"] if self.etag_supported else None
        if not conditions.check(version, "GET"):
            # RFC 9110 §15.4.5: a 304 carries the ETag a 200 would have
            return ScimResponse(HTTPStatus.NOT_MODIFIED, None, {"ETag": version} if version else {})
        location = self._locate(base_url, resource_type, document)
        _locate_references(document, self.reference_locator(base_url))
        headers = {"Content-Location": location}
        if version:
            headers["ETag"] = version
        return ScimResponse(HTTPStatus.OK, document, headers)

    def _locate(self, base_url: str, resource_type: ResourceType, document: dict[str, Any]) -> str:
        """Give a stored document its ``meta.location`` (in the model's place, before the
        version), and drop the version when ETags are not supported; returns the location."""
        meta = document["meta"]
        location = self.resource_location(base_url, resource_type, document["id"])
        version = meta.pop("version")
        meta["location"] = location
        if self.etag_supported:
            meta["version"] = version
        return location

    def plain_search_response(
        self,
        base_url: str,
        resource_types: list[ResourceType],
        page: SearchPage,
        search_request: SearchRequest[Any],
    ) -> ScimResponse:
        """``search_response`` for a page of plain documents (``SqlScimStorage.plain_documents``):
        the same ListResponse (RFC 7644 §3.4.2), with each document's location and references
        made URLs as ``publish`` makes them, without a model per resource."""
        by_cursor = search_request.cursor is not None
        if not by_cursor and page.total is None:
            raise ValueError("The storage gave no total for a search paged by index")
        locate = self.reference_locator(base_url)
        by_name = {str(rt.name): rt for rt in resource_types}
        resources = []
        for item in page.resources:
            document = cast(dict[str, Any], item)
            self._locate(base_url, by_name[document["meta"]["resourceType"]], document)
            _locate_references(document, locate)
            resources.append(document)
        # In the order of the ListResponse model, so the JSON is the stock path's to the byte.
        body: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": page.total,
        }
        if not by_cursor:
            body["startIndex"] = search_request.start_index
        body["itemsPerPage"] = len(resources)
        if by_cursor and search_request.count != 0:
            for key, position in (("nextCursor", page.next), ("previousCursor", page.previous)):
                sealed = self._seal(resource_types, search_request, position)
                if sealed is not None:
                    body[key] = sealed
        body["Resources"] = resources
        return ScimResponse(HTTPStatus.OK, body)

    def patch_response(
        self,
        base_url: str,
        resource: Resource[Any],
        response_parameters: ResponseParameters[Any],
    ) -> ScimResponse:
        """PATCH on a User answers 200 with the user, as Okta expects (RFC 7644 §3.5.2 allows
        both); on a Group it answers 204 unless attributes are asked for, so that a
        membership change never serialises a large group."""
        if resource.meta is not None and resource.meta.resource_type == "User":
            return self.resource_response(
                self.publish(base_url, resource),
                Context.RESOURCE_REPLACEMENT_RESPONSE,
                response_parameters,
                status=HTTPStatus.OK,
            )
        return super().patch_response(base_url, resource, response_parameters)


@functools.cache
def _reference_paths(model: type[Resource[Any]]) -> list[tuple[Any, str | None]]:
    """The attributes of a model holding references to other resources (not external or URI
    ones), as ``ScimService._publish_references`` finds them: (path of the attribute or of its
    complex parent, sub-attribute name or None)."""
    found: list[tuple[Any, str | None]] = []
    for path in parametrize(ScimPath, model).iter_paths(target_type=[Reference]):
        binding = path.resolve()
        assert binding is not None
        reference_types = set(getattr(binding.target_type, "__reference_types__", ()))
        if not reference_types or reference_types & {"external", "uri"}:
            continue
        if binding.sub_field_name is None:
            found.append((path, None))
            continue
        head = f"{path.schema}:{path.parts[0]}" if path.schema else path.parts[0]
        found.append((ScimPath(head), binding.sub_field_name))
    return found


def _locate_references(document: dict[str, Any], locate: Callable[[Any], Any]) -> None:
    """Make URLs of the ``$ref`` of a plain document's complex values (groups, members,
    manager; core attributes and extension ones), as ``ScimService.publish`` does."""
    for key, value in document.items():
        if key.startswith("urn:") and isinstance(value, dict):
            _locate_references(value, locate)
        elif isinstance(value, dict):
            if "$ref" in value:
                value["$ref"] = locate(value["$ref"])
        elif isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict) and "$ref" in entry:
                    entry["$ref"] = locate(entry["$ref"])
