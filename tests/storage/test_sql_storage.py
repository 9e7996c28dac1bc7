"""What the SQL storage adds to the contract: accounts, the membership seam, projections,
filters compiled to SQL, escaping, index use, and the user status mapping. Each runs on SQLite
and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from scim2_models import (
    InvalidCursorException,
    InvalidValueException,
    NotFoundException,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
    UniquenessException,
)
from scim2_server.utils import parametrize
from sqlalchemy.orm import Session

from scim_server.storage import models as m
from scim_server.storage.members import MemberChange
from scim_server.storage.schema import ACCOUNT_EXTENSION_URN
from scim_server.storage.scim_storage import SqlScimStorage

from .conftest import StatementLog


@pytest.fixture
def user_type(provider: ScimProvider) -> ResourceType:
    return next(rt for rt in provider.resource_types if rt.name == "User")


@pytest.fixture
def group_type(provider: ScimProvider) -> ResourceType:
    return next(rt for rt in provider.resource_types if rt.name == "Group")


@pytest.fixture
def User(provider: ScimProvider, user_type: ResourceType) -> Any:  # noqa: N802
    return provider.model_for(user_type)


@pytest.fixture
def Group(provider: ScimProvider, group_type: ResourceType) -> Any:  # noqa: N802
    return provider.model_for(group_type)


def search(storage: SqlScimStorage, rt: ResourceType, model: Any, **parameters: Any) -> Any:
    request = parametrize(SearchRequest, model)(**parameters)
    return storage.search([rt], request)


def names(page: Any) -> list[str]:
    return sorted(
        r.user_name if hasattr(r, "user_name") else r.display_name for r in page.resources
    )


# --- accounts -------------------------------------------------------------------------------


def test_another_account_sees_nothing(
    make_storage, accounts, user_type, group_type, User, Group
) -> None:
    """A resource of another account is not found, not listed, not a conflict, not a member."""
    mine, theirs = make_storage(accounts[0]), make_storage(accounts[1])
    alice = mine.create(user_type, User(user_name="alice"))

    with pytest.raises(NotFoundException):
        theirs.get(user_type, alice.id)
    with pytest.raises(NotFoundException):
        theirs.update(user_type, User(id=alice.id, user_name="x"))
    with pytest.raises(NotFoundException):
        theirs.delete(user_type, alice.id)
    assert search(theirs, user_type, User).total == 0
    assert search(theirs, user_type, User, filter=f'id eq "{alice.id}"').total == 0
    theirs.create(user_type, User(user_name="ALICE"))  # same userName, other account: no conflict
    with pytest.raises(InvalidValueException, match=alice.id):
        theirs.create(group_type, Group(display_name="g", members=[{"value": alice.id}]))
    assert mine.get(user_type, alice.id).user_name == "alice"


def test_group_display_name_is_unique_per_account(
    storage, group_type, Group, session: Session
) -> None:
    storage.create(group_type, Group(display_name="Admins"))
    with pytest.raises(UniquenessException):
        storage.create(group_type, Group(display_name="admins"))
    # The session is still usable after the refusal.
    assert session.execute(sa.select(sa.func.count()).select_from(m.Group)).scalar_one() == 1


# --- users: status, password, deletion --------------------------------------------------------


def test_active_maps_to_the_status_and_password_is_hashed(
    storage, user_type, User, session
) -> None:
    user = storage.create(user_type, User(user_name="bob", active=False, password="s3cret-Pass"))
    row = session.get(m.User, user.id)
    assert row.status == "inactive"
    assert row.password_hash and row.password_hash != "s3cret-Pass"
    assert "password" not in row.data and "s3cret" not in str(row.search)
    read = storage.get(user_type, user.id)
    assert read.password is None
    assert read.active is False
    assert getattr(read, "AccountUser").status == "inactive"

    row.status = "pending"  # the domain invites; an IdP's update keeps it pending
    session.flush()
    read = storage.get(user_type, user.id)
    read.active = True
    storage.update(user_type, read)
    assert session.get(m.User, user.id).status == "pending"
    assert storage.get(user_type, user.id).active is False
    assert (
        search(
            storage, user_type, User, filter=f'{ACCOUNT_EXTENSION_URN}:status eq "Pending"'
        ).total
        == 1
    )


def test_a_deleted_user_is_invisible_and_leaves_its_groups(
    storage, user_type, group_type, User, Group, session
) -> None:
    alice = storage.create(user_type, User(user_name="alice", emails=[{"value": "a@x.example"}]))
    group = storage.create(group_type, Group(display_name="g", members=[{"value": alice.id}]))
    storage.delete(user_type, alice.id)

    row = session.get(m.User, alice.id)
    assert (row.status, row.user_name_key, row.email) == ("deleted", None, None)
    with pytest.raises(NotFoundException):
        storage.get(user_type, alice.id)
    assert search(storage, user_type, User).total == 0
    after = storage.get(group_type, group.id)
    assert after.members is None
    assert after.meta.version != group.meta.version


# --- groups: the membership seam and projections ----------------------------------------------


@pytest.fixture
def crowd(storage, user_type, User, session) -> list[str]:
    """300 users, inserted directly: the seam's cost must not depend on how they got there."""
    ids = [m.new_id() for _ in range(300)]
    session.execute(
        sa.insert(m.User),
        [
            {
                "id": i,
                "account_id": storage.account,
                "user_name": f"u{n}",
                "user_name_key": f"u{n}",
                "data": {"userName": f"u{n}"},
                "search": {"userName": f"u{n}"},
            }
            for n, i in enumerate(ids)
        ],
    )
    return ids


def test_adding_members_costs_the_delta(
    storage, group_type, Group, crowd, statements: StatementLog
) -> None:
    """PATCH add of 100 members to a 200-member group reads none of the 200 (RFC 7644 §3.5.2.1)."""
    group = storage.create(group_type, Group(display_name="big"))
    change(storage, group_type, group.id, MemberChange("add", crowd[:200]))
    header = storage.get_group_header(group_type, group.id)
    statements.statements.clear()

    # 50 already there, 100 new
    storage.change_members(group_type, header, [MemberChange("add", crowd[150:300])],
                           changed=False)

    assert len(statements.statements) <= 5
    for statement in statements.statements:
        if "group_members" in statement and statement.lstrip().upper().startswith("SELECT"):
            # Only the ids sent are read, never the whole group.
            assert "member_id IN" in statement.replace('"', "")
    header = storage.get_group_header(group_type, group.id)
    assert header.members is None
    assert header.meta.version != group.meta.version
    whole = storage.get(group_type, group.id)
    assert len(whole.members) == 300
    assert {m_.type for m_ in whole.members} == {"User"}


def test_membership_seam_skips_unknown_ids_and_removes_only_those(
    storage, group_type, Group, crowd
) -> None:
    group = storage.create(group_type, Group(display_name="g"))
    # Unknown ids are skipped and reported, never inserted (PATCH add, RFC 7644 §3.5.2.1).
    assert storage.members.add(group.id, [crowd[0], "nope"]) == ["nope"]
    assert [x.value for x in storage.get(group_type, group.id).members] == [crowd[0]]
    change(storage, group_type, group.id, MemberChange("add", crowd[:5]))
    before = storage.get_group_header(group_type, group.id).meta.version
    change(storage, group_type, group.id, MemberChange("remove", crowd[:2]))
    assert sorted(x.value for x in storage.get(group_type, group.id).members) == sorted(crowd[2:5])
    # A membership change moves the version once (RFC 7644 §3.14).
    after = storage.get_group_header(group_type, group.id).meta.version
    assert after == f'W/"{int(before[3:-1]) + 1}"'
    change(storage, group_type, group.id, MemberChange("clear"))
    assert storage.get(group_type, group.id).members is None


def change(storage, group_type, group_id: str, step: MemberChange) -> None:
    header = storage.get_group_header(group_type, group_id)
    storage.change_members(group_type, header, [step], changed=False)


def test_renaming_a_group_header_keeps_its_members_unread(
    storage, group_type, Group, crowd, statements
) -> None:
    group = storage.create(
        group_type, Group(display_name="g", members=[{"value": i} for i in crowd[:20]])
    )
    header = storage.get_group_header(group_type, group.id)
    header.display_name = "renamed"
    statements.statements.clear()

    updated = storage.update_group_header(group_type, header, expected_version=header.meta.version)

    assert updated.display_name == "renamed" and updated.meta.version != header.meta.version
    assert not [s for s in statements.statements if "group_members" in s]
    assert len(storage.get(group_type, group.id).members) == 20


@pytest.mark.parametrize(
    "parameters", [{"excludedAttributes": "members"}, {"attributes": "displayName,externalId"}]
)
def test_a_response_without_members_loads_none(
    storage, group_type, Group, crowd, statements, parameters
) -> None:
    """Entra's ``excludedAttributes=members`` must not read a 100,000-member group."""
    group = storage.create(
        group_type, Group(display_name="g", members=[{"value": i} for i in crowd[:50]])
    )
    statements.statements.clear()
    projection = parametrize(ResponseParameters, Group).model_validate(parameters)

    read = storage.get(group_type, group.id, response_parameters=projection)
    page = search(storage, group_type, Group, **parameters)

    assert read.members is None and page.resources[0].members is None
    assert not [s for s in statements.statements if "group_members" in s]


def test_members_and_groups_filters(storage, user_type, group_type, User, Group) -> None:
    alice = storage.create(user_type, User(user_name="alice"))
    bob = storage.create(user_type, User(user_name="bob"))
    inner = storage.create(group_type, Group(display_name="inner", members=[{"value": bob.id}]))
    outer = storage.create(
        group_type, Group(display_name="outer", members=[{"value": alice.id}, {"value": inner.id}])
    )

    assert names(search(storage, group_type, Group, filter=f'members.value eq "{alice.id}"')) == [
        "outer"
    ]
    assert names(search(storage, group_type, Group, filter=f'members[value eq "{bob.id}"]')) == [
        "inner"
    ]
    assert names(search(storage, group_type, Group, filter='members[type eq "group"]')) == ["outer"]
    assert names(
        search(storage, group_type, Group, filter=f'members.$ref eq "Groups/{inner.id}"')
    ) == ["outer"]
    assert names(search(storage, group_type, Group, filter="not (members pr)")) == []
    assert names(search(storage, user_type, User, filter=f'groups.value eq "{outer.id}"')) == [
        "alice"
    ]
    assert names(search(storage, user_type, User, filter='groups[display eq "INNER"]')) == ["bob"]
    assert storage.get(user_type, bob.id).groups[0].value == inner.id


# --- filters compiled to SQL --------------------------------------------------------------------


@pytest.fixture
def people(storage, user_type, User) -> None:
    for payload in [
        {
            "userName": "a_b",
            "externalId": "ABC",
            "emails": [{"value": "A@X.example", "type": "work"}],
        },
        {
            "userName": "axb",
            "externalId": "abc",
            "emails": [
                {"value": "a@y.example", "type": "home"},
                {"value": "b@x.example", "type": "work", "primary": True},
            ],
        },
        {"userName": "100%", "displayName": "Zoë", "emails": [{"value": "c@x.example"}]},
    ]:
        storage.create(user_type, User.model_validate(payload))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('emails[type eq "work" and value co "@x"]', ["a_b", "axb"]),
        ('emails[type eq "work" and value eq "b@X.example"]', ["axb"]),
        ('emails[type eq "home" and value co "@x"]', []),
        ('emails.value eq "c@x.example"', ["100%"]),
        ('emails eq "a@x.example"', ["a_b"]),
        ('emails[primary eq true and value ew ".example"]', ["axb"]),
        ('not (emails[type eq "work"])', ["100%"]),
        ('emails.type ne "work"', ["100%"]),
    ],
)
def test_value_paths_compile_to_exists(
    storage, user_type, User, people, expression, expected, session
) -> None:
    sql = str(storage.matching(user_type, expression).compile(session.get_bind()))
    assert "EXISTS" in sql or " IN " in sql
    assert names(search(storage, user_type, User, filter=expression)) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName sw "a_"', ["a_b"]),  # "_" is not a wildcard
        ('userName co "%"', ["100%"]),  # nor "%"
        ('userName ew "0%"', ["100%"]),
        # caseExact: even SQLite's ASCII-folding LIKE must not match "abc".
        ('externalId co "B"', ["a_b"]),
        ('externalId eq "abc"', ["axb"]),
        ('displayName eq "ZOË"', ["100%"]),  # the comparison key lowers beyond ASCII
        ('userName gt "a_b"', ["axb"]),  # code-point order: "_" (0x5F) < "x" (0x78), "1" < "a"
    ],
)
def test_like_is_escaped_and_case_rules_hold(
    storage, user_type, User, people, expression, expected
) -> None:
    assert names(search(storage, user_type, User, filter=expression)) == expected


def test_a_bad_cursor_position_is_refused(storage, user_type, User, people) -> None:
    request = parametrize(SearchRequest, User)(cursor="", count=1)
    for position in [
        {"d": "sideways", "k": None, "i": "x"},
        "garbage",
        {"d": "next", "k": 3, "i": "x"},
    ]:
        with pytest.raises(InvalidCursorException):
            storage.search([user_type], request, position=position)


# --- the lookups identity providers make use indexes --------------------------------------------

# The PostgreSQL index name, or what SQLite's plan shows (it names unique constraints sqlite_autoindex_*).
LOOKUPS = [
    ("User", 'userName eq "a_b"', "uq_users_account_user_name|account_id=? AND user_name_key=?"),
    ("User", 'externalId eq "ABC"', "ix_users_account_external_id"),
    ("User", 'displayName eq "zoë"', "ix_users_account_display_name_key"),
    ("User", 'emails[type eq "work" and value eq "a@x.example"]', "ix_user_emails_account_value"),
    ("User", 'emails.value eq "a@x.example"', "ix_user_emails_account_value"),
    ("User", 'id eq "0123"', "pk_users|(id=?)|ix_users_account_visible"),
    (
        "Group",
        'displayName eq "g"',
        "uq_groups_account_display_name|account_id=? AND display_name_key=?",
    ),
    ("Group", 'members.value eq "0123"', "ix_group_members_member"),
    ("Group", 'id eq "0123"', "pk_groups|(id=?)|ix_groups_account_id"),
]


@pytest.fixture
def populated(storage, session, people) -> None:
    """An account of a realistic size, analysed, so that the planner has a reason to pick an index."""
    users = [m.new_id() for _ in range(3000)]
    session.execute(
        sa.insert(m.User),
        [
            {
                "id": i,
                "account_id": storage.account,
                "user_name": f"u{n}",
                "user_name_key": f"u{n}",
                "external_id": f"E{n}",
                "display_name": f"d{n}",
                "display_name_key": f"d{n}",
                "data": {},
                "search": {},
            }
            for n, i in enumerate(users)
        ],
    )
    session.execute(
        sa.insert(m.UserEmail),
        [
            {
                "user_id": i,
                "account_id": storage.account,
                "value_key": f"u{n}@x.example",
                "type_key": "work",
                "primary": True,
            }
            for n, i in enumerate(users)
        ],
    )
    groups = [m.new_id() for _ in range(300)]
    session.execute(
        sa.insert(m.Group),
        [
            {
                "id": i,
                "account_id": storage.account,
                "display_name": f"g{n}",
                "display_name_key": f"g{n}",
                "data": {},
                "search": {},
            }
            for n, i in enumerate(groups)
        ],
    )
    session.execute(
        sa.insert(m.GroupMember),
        [
            {"group_id": g, "member_id": u, "account_id": storage.account, "member_type": "User"}
            for n, g in enumerate(groups)
            for u in users[n * 10 : n * 10 + 10]
        ],
    )
    session.execute(sa.text("ANALYZE"))


@pytest.mark.parametrize(("kind", "expression", "index"), LOOKUPS)
def test_identity_provider_lookups_use_an_index(
    storage, session, user_type, group_type, populated, kind, expression, index
) -> None:
    query = storage.matching(user_type if kind == "User" else group_type, expression)
    bind = session.get_bind()
    sql = str(query.compile(bind, compile_kwargs={"literal_binds": True}))
    if bind.dialect.name == "postgresql":
        # Tiny tables: forbid the sequential scan so the plan shows which index can serve.
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in session.execute(sa.text("EXPLAIN " + sql)))
    else:
        plan = "\n".join(
            str(row[-1]) for row in session.execute(sa.text("EXPLAIN QUERY PLAN " + sql))
        )
    assert any(name in plan for name in index.split("|")), plan
    assert "SCAN users" not in plan and "SCAN groups" not in plan, plan


def test_a_page_at_an_offset_skips_rows_in_an_index_only(
    storage, session, user_type, User, populated
) -> None:
    """A page by index (RFC 7644 §3.4.2.4) reads the rows its offset skips from the index of
    the account's visible users alone; documents, groups and the total are computed for the
    page's rows only (PostgreSQL computes the select list of every row an OFFSET skips)."""
    executed: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        executed.append((statement, parameters))

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        page = search(storage, user_type, User, start_index=2001, count=50)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    assert len(page.resources) == 50
    (statement, parameters), = [(s, p) for s, p in executed if "OFFSET" in s.upper()]
    raw = session.connection().connection.dbapi_connection
    cursor = raw.cursor()
    if engine.dialect.name == "postgresql":
        # Tiny tables: forbid the sequential scan so the plan shows which index can serve.
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement, parameters)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
        # The offset is taken below the join (the plan's top is no Limit), and the groups are
        # computed for the page's 50 rows alone, whichever join and index of the account's
        # users the planner picks for these small, unanalysed tables.
        assert not plan.startswith("Limit"), plan
        subplan = plan[plan.index("SubPlan") :]
        (aggregate,) = re.findall(r"Aggregate \(actual rows=\d+ loops=(\d+)\)", subplan)
        assert int(aggregate) == 50, plan
        assert max(int(n) for n in re.findall(r"loops=(\d+)", subplan)) <= 50, plan
    else:
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        assert "INDEX ix_users_account_visible" in plan and "MATERIALIZE page" in plan, plan
    assert "SCAN users" not in plan, plan
