"""Our seam on scim2-server's ScimHandler: group-membership PATCH as O(delta) row changes.

The stock handler reads the whole resource, applies the PATCH in memory and writes it back,
which costs O(group size) for a membership change. For Groups we apply membership steps as
row inserts/deletes through the storage's membership seam, and the other operations to the
group without its members. Anything we do not recognise goes through the stock path.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, cast

from scim2_models import (
    BulkOperation,
    Context,
    Error,
    InvalidSyntaxException,
    PatchOp,
    Resource,
    ResourceType,
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
from scim_server.storage.scim_storage import SqlScimStorage


class AccountScimHandler(ScimHandler):
    storage: SqlScimStorage
    service: AccountScimService

    def query(self, request: ScimRequest) -> ScimResponse:
        """Read a resource (RFC 7644 §3.4.1). A Group read without attribute parameters is
        published without its members through the stock path (meta, ETag, If-None-Match), and
        its members are added as plain JSON: a model per member would cost O(members) in
        pydantic validation, copying and serialisation."""
        target = self.service.match(request)
        with self.service.provider:
            resource_type = (
                self.service.get_resource_type_by_endpoint(target.endpoint or "")
                if not target.me
                else None
            )
        if (
            resource_type is None
            or resource_type.name != "Group"
            or "attributes" in request.query
            or "excludedAttributes" in request.query
        ):
            return super().query(request)
        with self.service.provider:
            target = self.service.route(request, Operation.query)
            self.service.authorize(request, target, resource_type)
            response_parameters = self.service.read_response_parameters(
                resource_type, request.query
            )
            group_id = cast(str, target.resource_id)
            with self.storage.operation():
                header = self.storage.get_group_header(resource_type, group_id)
                members = self.storage.member_entries(resource_type, group_id)
            response = self.service.query_response(
                request.base_url, header, response_parameters, self.service.read_conditions(request)
            )
            if response.body is not None and members:
                # One reference_location per endpoint, not per member: same URLs, O(1) parsing.
                locate = self.service.reference_locator(request.base_url)
                for entry in members:
                    entry["$ref"] = locate(entry["$ref"])
                response.body["members"] = members
            return response

    def search(self, request: ScimRequest) -> ScimResponse:
        """Search with GET (RFC 7644 §3.4.2). Without attribute parameters, the page's stored
        documents are served as they are (``plain_documents``): validating, copying and
        serialising a model per resource took nine tenths of a page of 100 users."""
        if "attributes" in request.query or "excludedAttributes" in request.query:
            return super().search(request)
        with self.service.provider:
            target = self.service.route(request, Operation.search)
            resource_types = self.service.searched_types(target.endpoint)
            authorized_types = self.service.authorized_types(request, target, resource_types)
            search_request, position = self.service.read_search_query(
                resource_types, request.query
            )
            # No SAVEPOINT (``storage.operation``): a search writes nothing to roll back.
            with self.storage.plain_documents():
                page = search_page(self.storage, authorized_types, search_request, position=position)
            return self.service.plain_search_response(
                request.base_url, resource_types, page, search_request
            )

    def patch(self, request: ScimRequest) -> ScimResponse:
        """Modify a resource (RFC 7644 §3.5.2); group membership changes cost O(delta)."""
        with self.service.provider:
            target = self.service.route(request, Operation.patch)
            resource_type = self.service.resource_type_at(cast(str, target.endpoint))
            self.service.authorize(request, target, resource_type)
            response_parameters = self.service.read_response_parameters(
                resource_type, request.query
            )
            patch_op = self.service.read_patch(
                resource_type, request.body, request.header("Content-Type")
            )
            conditions = self.service.read_conditions(request)
            split = self._split(resource_type, request.body)
            with self.storage.operation():
                if split is None:
                    resource = self.patch_resource(
                        resource_type, cast(str, target.resource_id), patch_op, conditions
                    )
                else:
                    resource = self.patch_group(
                        resource_type, cast(str, target.resource_id), split, conditions
                    )
                    if response_parameters.attributes or response_parameters.excluded_attributes:
                        resource = self.storage.get(
                            resource_type,
                            cast(str, target.resource_id),
                            response_parameters=response_parameters,
                        )
            response = self.service.patch_response(
                request.base_url, resource, response_parameters
            )
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
        """Apply a split group PATCH: other attributes on the member-less group, then the rows."""
        header = self.storage.get_group_header(resource_type, group_id)
        assert header.meta is not None
        self.service.check_preconditions(header, "PATCH", conditions)
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
            if others.patch(header):
                header = self.storage.update_group_header(
                    resource_type, header, expected_version=header.meta.version
                )
        for change in split.member_changes:
            if change.kind == "add":
                self.storage.add_members(resource_type, group_id, change.ids, change.displays)
            elif change.kind == "remove":
                self.storage.remove_members(resource_type, group_id, change.ids)
            else:
                self.storage.clear_members(resource_type, group_id)
        if split.member_changes:
            # Each step already moved the version under the row lock: just read the new meta.
            header = self.storage.get_group_header(resource_type, group_id)
        return header

    # -- Bulk: a run of user creations is written together -------------------------------------

    #: Most consecutive user POSTs of a Bulk judged and written together.
    CREATION_RUN = 500

    def bulk(self, request: ScimRequest) -> ScimResponse:
        """Run a bulk request (RFC 7644 §3.7) as the stock handler does, step by step, except
        that a run of consecutive ``POST /Users`` without bulkId references (an IdP's full
        sync) is judged in order and written in one flush: the same outcomes, the same rules,
        one query per step of the run instead of a dozen per user."""
        with self.service.provider:
            self.service.route(request, Operation.bulk)
            plan = self.service.read_bulk(request.body, request.header("Content-Type"))
            if self.storage.session.get_bind().dialect.name == "sqlite":
                # Begin (BEGIN IMMEDIATE) before the first operation: a database too busy to
                # give the write lock fails the whole request with a 503, not each operation.
                self.storage.session.connection()
            steps, position = plan.steps, 0
            while position < len(steps) and not plan.stopped:
                run = self._creation_run(plan, steps, position)
                if len(run) > 1:
                    done = self._create_run(request, plan, run)
                    position += done
                    if done:
                        continue
                else:
                    run = [steps[position]]
                # One by one, as the stock handler runs them: a single step, or a run whose
                # batch wrote nothing (a unique clash the checks could not see).
                for step in run:
                    if plan.stopped:
                        break
                    result, resource = self.run_bulk_step(request, plan, step)
                    plan.record(step, result, resource)
                    position += 1
            return self.service.bulk_response(plan)

    def _creation_run(self, plan: BulkPlan, steps: list[BulkStep], start: int) -> list[BulkStep]:
        """The consecutive steps from ``start`` that are plain user POSTs."""
        run: list[BulkStep] = []
        for step in steps[start:start + self.CREATION_RUN]:
            operation = plan.operation(step)
            if (
                operation.method != BulkOperation.Method.post
                or (operation.path or "").strip("/") != "Users"
                or isinstance(operation.response, Error)
                or operation.data is None
                or plan.references(operation)
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
        with self.storage.operation():
            results = self.storage.create_users(
                user_type, [cast(Resource[Any], op.data) for op in operations], budget=budget
            )
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
