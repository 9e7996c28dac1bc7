"""Our seam on scim2-server's ScimHandler: reads served from stored documents, writes that are
atomic under concurrency, group-membership PATCH as O(delta) row changes.

- Reads without attribute parameters (a resource, a search) take the storage's stored JSON
  documents as they are, after scim2-server parsed and validated the request: a model per
  resource cost nine tenths of a page.
- Writes check the version in the statement that writes (RFC 7644 §3.14): with If-Match, a
  concurrent change is a 412; without it, the change is read again and re-applied to the
  current resource, so a client that asked for no precondition never gets a 412.
- A Group PATCH applies its membership steps as row inserts and deletes, and its other
  operations to the group without its members; shapes it does not recognise go the stock way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar, cast

from flask import g, has_app_context
from scim2_models import (
    BulkOperation,
    Context,
    Error,
    InvalidSyntaxException,
    Mutability,
    MutabilityException,
    PatchOp,
    Resource,
    ResourceType,
    SCIMException,
)
from scim2_server.bulk import BulkPlan, BulkStep
from scim2_server.conditions import Conditions
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation
from scim2_server.storage import search_page
from scim2_server.utils import parametrize

from scim_server.scim.membership import SplitPatch, split_group_patch
from scim_server.scim.service import AccountScimService
from scim_server.storage.records import VersionConflict
from scim_server.storage.scim_storage import SqlScimStorage

T = TypeVar("T")

#: How many times a write without If-Match is re-applied after concurrent changes won the
#: race; each retry follows another writer's commit, so only a storm of writers to one
#: resource exhausts it.
WRITE_ATTEMPTS = 25


class ContentionException(SCIMException):
    """A write without a precondition kept losing the race to other writes of the resource."""

    status = 503

    def __init__(self) -> None:
        super().__init__(detail="The resource is being changed by many requests at once; retry.")


def _read_only_extensions(model: type[Resource[Any]]) -> frozenset[str]:
    """The lower-cased URNs of the model's extensions whose every attribute is readOnly."""
    return frozenset(
        urn.lower() for urn, extension in model.get_extension_models().items()
        if all(extension.get_field_annotation(name, Mutability) == Mutability.read_only
               for name in extension.model_fields if name != "schemas")
    )


def _refuse_removing_read_only_extension(model: type[Resource[Any]],
                                         patch_op: PatchOp[Any]) -> None:
    """``remove`` of an extension as a whole would unassign its attributes; when they are all
    readOnly (our account extension: the status and last activity the server keeps), RFC 7644
    §3.5.2.2 asks for a 400 ``mutability``. scim2-models lets an extension's removal take its
    readOnly attributes with it, and the server would then answer them again as they are: a
    200 that changed nothing. An ``add`` or ``replace`` of the extension with no attribute is
    a no-op and stays one; with a readOnly attribute, scim2-models answers ``mutability``."""
    read_only = _read_only_extensions(model)
    for operation in patch_op.operations or ():
        if operation.op == operation.Op.remove and str(operation.path or "").lower() in read_only:
            raise MutabilityException(
                attribute=str(operation.path),
                detail=f"'{operation.path}' holds only read-only attributes; it cannot be removed",
            )


class AccountScimHandler(ScimHandler):
    storage: SqlScimStorage
    service: AccountScimService

    # -- reads --------------------------------------------------------------------------

    def query(self, request: ScimRequest) -> ScimResponse:
        """Read a resource (RFC 7644 §3.4.1). Without attribute parameters, its stored document
        is served (meta, ETag and If-None-Match as the stock path has them): one statement for
        a user and its groups, two for a group and its members."""
        if "attributes" in request.query or "excludedAttributes" in request.query:
            return super().query(request)
        with self.service.provider:
            target = self.service.route(request, Operation.query)
            if target.me:
                return super().query(request)
            resource_type = self.service.resource_type_at(cast(str, target.endpoint))
            self.service.authorize(request, target, resource_type)
            # No attribute parameter: nothing to validate or apply (RFC 7644 §3.9).
            document = self.storage.document(resource_type, cast(str, target.resource_id))
            return self.service.document_response(
                request.base_url, resource_type, document, self.service.read_conditions(request)
            )

    def search(self, request: ScimRequest) -> ScimResponse:
        """Search with GET (RFC 7644 §3.4.2). Without attribute parameters, the page's stored
        documents are served as they are (``plain_documents``)."""
        if "attributes" in request.query or "excludedAttributes" in request.query:
            return super().search(request)
        with self.service.provider:
            target = self.service.route(request, Operation.search)
            resource_types = self.service.searched_types(target.endpoint)
            authorized_types = self.service.authorized_types(request, target, resource_types)
            search_request, position = self.service.read_search_query(
                resource_types, request.query
            )
            with self.storage.plain_documents():
                page = search_page(self.storage, authorized_types, search_request, position=position)
            return self.service.plain_search_response(
                request.base_url, resource_types, page, search_request
            )

    # -- writes -------------------------------------------------------------------------

    @staticmethod
    def retrying(conditions: Conditions, attempt: Callable[[], T]) -> T:
        """Run a read-modify-write; on a version conflict, a 412 when the client sent If-Match
        (RFC 7644 §3.14), else read and apply again."""
        for _ in range(WRITE_ATTEMPTS):
            try:
                return attempt()
            except VersionConflict:
                if conditions.if_match is not None:
                    raise
        raise ContentionException

    def patch_resource(self, resource_type: ResourceType, resource_id: str,
                       patch_op: PatchOp[Any], conditions: Conditions) -> Resource[Any]:
        _refuse_removing_read_only_extension(self.service.get_model(resource_type), patch_op)
        return self.retrying(conditions, lambda: super(AccountScimHandler, self).patch_resource(
            resource_type, resource_id, patch_op, conditions))

    def replace_resource(self, resource_type: ResourceType, current: Resource[Any],
                         replacement: Resource[Any], conditions: Conditions) -> Resource[Any]:
        # The first attempt replaces the resource the stock path read; a retry reads it again.
        first = iter([current])

        def attempt() -> Resource[Any]:
            found = next(first, None) or self.storage.get(resource_type, cast(str, current.id))
            return super(AccountScimHandler, self).replace_resource(
                resource_type, found, replacement, conditions)

        # The storage writes a PUT as it writes a PATCH; its events tell them apart (RFC 9967).
        if not has_app_context():
            return self.retrying(conditions, attempt)
        g.scim_replacing = True
        try:
            return self.retrying(conditions, attempt)
        finally:
            g.scim_replacing = False

    def delete_resource(self, resource_type: ResourceType, resource_id: str,
                        conditions: Conditions) -> None:
        self.retrying(conditions, lambda: super(AccountScimHandler, self).delete_resource(
            resource_type, resource_id, conditions))

    def patch(self, request: ScimRequest) -> ScimResponse:
        """Modify a resource (RFC 7644 §3.5.2); group membership changes cost O(delta)."""
        with self.service.provider:
            target = self.service.route(request, Operation.patch)
            resource_type = self.service.resource_type_at(cast(str, target.endpoint))
            split = self._split(resource_type, request.body)
            if split is None:
                return super().patch(request)
            self.service.authorize(request, target, resource_type)
            response_parameters = self.service.read_response_parameters(
                resource_type, request.query
            )
            self.service.read_patch(resource_type, request.body, request.header("Content-Type"))
            conditions = self.service.read_conditions(request)
            group_id = cast(str, target.resource_id)
            resource = self.patch_group(resource_type, group_id, split, conditions)
            if response_parameters.attributes or response_parameters.excluded_attributes:
                resource = self.storage.get(
                    resource_type, group_id, response_parameters=response_parameters
                )
            response = self.service.patch_response(request.base_url, resource, response_parameters)
            return self.service.me_response(request, target, response)

    @staticmethod
    def _split(resource_type: ResourceType, body: bytes | dict[str, Any]) -> SplitPatch | None:
        if resource_type.name != "Group":
            return None
        try:
            document = json.loads(body) if isinstance(body, bytes | str) else body
        except ValueError:
            return None
        if not isinstance(document, dict):
            return None
        operations = next(
            (v for k, v in document.items() if k.lower() == "operations"), None
        )
        if not isinstance(operations, list):
            return None
        return split_group_patch(operations)

    def patch_group(
        self,
        resource_type: ResourceType,
        group_id: str,
        split: SplitPatch,
        conditions: Conditions,
    ) -> Resource[Any]:
        """Apply a split group PATCH: the other operations to the member-less group, the
        membership steps to the rows, as one new version of the group."""
        others = None
        if split.other_operations:
            model = self.service.get_model(resource_type)
            try:
                others = parametrize(PatchOp, model).model_validate(
                    {
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": split.other_operations,
                    },
                    scim_ctx=Context.RESOURCE_PATCH_REQUEST,
                )
            except ValueError as exc:  # already validated as a whole; defensive
                raise InvalidSyntaxException(detail=str(exc)) from exc

        def attempt() -> Resource[Any]:
            header = self.storage.get_group_header(resource_type, group_id)
            self.service.check_preconditions(header, "PATCH", conditions)
            changed = bool(others is not None and others.patch(header))
            if not changed and not split.member_changes:
                return header
            return self.storage.change_members(
                resource_type, header, split.member_changes, changed=changed
            )

        return self.retrying(conditions, attempt)

    # -- Bulk: a run of user creations is written together -------------------------------------

    #: Most consecutive user POSTs of a Bulk judged and written together.
    CREATION_RUN = 500

    def bulk(self, request: ScimRequest) -> ScimResponse:
        """Run a bulk request (RFC 7644 §3.7) as the stock handler does, step by step, each
        operation in its own SAVEPOINT, except that a run of consecutive ``POST /Users``
        without bulkId references (an IdP's full sync) is judged in order and written
        together: the same outcomes, the same rules, a few statements per run instead of a
        handful per user."""
        with self.service.provider, self.storage.in_bulk():
            self.service.route(request, Operation.bulk)
            plan = self.service.read_bulk(request.body, request.header("Content-Type"))
            if self.storage.dialect == "sqlite":
                # Begin (BEGIN IMMEDIATE) before the first operation: a database too busy to
                # give the write lock fails the whole request with a 503, not each operation.
                self.storage.session.connection()
            steps, position = plan.steps, 0
            # A reference to another operation is a value "bulkId:<id>" (RFC 7644 §3.7.2): a
            # body without that text has none, and its operations need no search for one.
            referring = b"bulkId:" in request.body
            while position < len(steps) and not plan.stopped:
                run = self._creation_run(plan, steps, position, referring=referring)
                if len(run) > 1:
                    done = self._create_run(request, plan, run)
                    position += done
                    if done:
                        continue
                else:
                    run = [steps[position]]
                # One by one, as the stock handler runs them: a single step, or a run whose
                # batch wrote nothing (a unique clash or a limit the checks could not see).
                for step in run:
                    if plan.stopped:
                        break
                    result, resource = self.run_bulk_step(request, plan, step)
                    plan.record(step, result, resource)
                    position += 1
            return self.service.bulk_response(plan)

    def _creation_run(self, plan: BulkPlan, steps: list[BulkStep], start: int, *,
                      referring: bool) -> list[BulkStep]:
        """The consecutive steps from ``start`` that are plain user POSTs."""
        run: list[BulkStep] = []
        for step in steps[start:start + self.CREATION_RUN]:
            operation = plan.operation(step)
            if (
                operation.method != BulkOperation.Method.post
                or (operation.path or "").strip("/") != "Users"
                or isinstance(operation.response, Error)
                or operation.data is None
                or (referring and plan.references(operation))
            ):
                break
            run.append(step)
        return run

    def _create_run(self, request: ScimRequest, plan: BulkPlan, run: list[BulkStep]) -> int:
        """Create the users of a run and record their outcomes; how many steps it recorded
        (0: nothing was written, the steps go through the stock path one by one)."""
        service = self.service
        try:
            user_type = service.route_bulk_operation(plan.operation(run[0]))
            if user_type is None:
                return 0
            for step in run:
                service.authorize_bulk_operation(request, plan.operation(step), user_type)
        except Exception:  # noqa: BLE001 - the stock path reports it, per operation
            return 0
        budget = None if plan.fail_on_errors is None else plan.fail_on_errors - plan.errors
        operations = [plan.operation(step) for step in run]
        try:
            with self.storage.operation():
                results = self.storage.create_users(
                    user_type, [cast(Resource[Any], op.data) for op in operations], budget=budget
                )
        except SCIMException:
            # The run's counts overran a limit that other writers reached since it was judged:
            # rolled back whole, and judged again one by one.
            return 0
        if results is None:
            return 0
        for step, operation, created in zip(run, operations, results, strict=False):
            outcome = service.bulk_outcome(request.base_url, operation)
            if isinstance(created, Exception):
                plan.record(step, service.bulk_failure(outcome, created), None)
                continue
            assert created.meta is not None and created.id is not None
            outcome["status"] = HTTPStatus.CREATED
            # What bulk_success reads from a published copy, without copying the resource.
            outcome["location"] = service.resource_location(request.base_url, user_type, created.id)
            outcome["version"] = created.meta.version if service.etag_supported else None
            plan.record(step, outcome, created)
        return len(results)

    def apply_bulk_operation(self, resource_type: ResourceType, operation: Any) -> Any:
        """Bulk PATCH on a group takes the same O(delta) path as a single PATCH (RFC 7644 §3.7)."""
        if operation.method == BulkOperation.Method.patch and resource_type.name == "Group":
            raw = operation.data.model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST)
            split = self._split(resource_type, raw)
            if split is not None:
                self.service.ensure_patch_supported()
                return self.patch_group(
                    resource_type,
                    cast(str, operation.resource_id),
                    split,
                    Conditions(if_match=operation.version),
                )
        return super().apply_bulk_operation(resource_type, operation)
