"""Planka accounts for the people of an archive, as ledger objects; and closing an import.

``user:<kaiten id>`` rows tie a Kaiten person to a Planka account, with ``origin`` in their state:
``created`` (k2p created it: it may act as that person), ``existing`` (an account with that e-mail
or username was already there and is adopted as it is) or ``mapped`` (users.csv named it). A
rerun sends nothing for a settled row; an interrupted create is reconciled by e-mail (see
:class:`k2p.planka.sync.Syncer`), so a kill never leaves two accounts for one person.

After the boards: the personal setting k2p switched off for the replay
(``subscribeToCardWhenCommenting``) is put back, acting as each created person, and people who
are deactivated in Kaiten are deactivated in Planka. Both are ledger objects done once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2p.archive.index import CompanyRecords
from k2p.mapping.members import unnamed_roles
from k2p.mapping.model import Fidelity
from k2p.mapping.rules import MappingRules
from k2p.mapping.users import MANAGER_ROLES, UserMap
from k2p.people.accounts import AccountPlan, plan_accounts
from k2p.people.acting import Actors
from k2p.people.credentials import CredentialsFile, new_password
from k2p.planka.ledger import Ledger
from k2p.planka.replay import ImportContext, guarded
from k2p.planka.sync import Spec

RESTORED_SETTINGS = {"subscribeToCardWhenCommenting": True}   # Planka's default for new accounts


@dataclass
class Provisioned:
    """Planka ids of the people, by Kaiten id, and which of the accounts k2p created."""

    ids: dict[str, str] = field(default_factory=dict)
    own: set[str] = field(default_factory=set)


@dataclass
class PeopleRun:
    """The people side of one import run: the accounts, the keys k2p may act with, the passwords."""

    plans: list[AccountPlan]
    people: Provisioned
    actors: Actors
    credentials: CredentialsFile

    def report(self, ctx: ImportContext) -> dict[str, Any]:
        """The report's ``people`` section; revokes every key the run issued."""
        return {"accounts_planned": len(self.plans), "acting_fallbacks": self.actors.fallbacks,
                "board_memberships_skipped_deactivated": ctx.skipped_deactivated,
                "keys_revoked": self.actors.revoke_all() if ctx.client is not None else 0,
                "credentials_file": str(self.credentials.path) if self.credentials.written else None,
                "passwords_written": self.credentials.written}


def start_people(ctx: ImportContext, company: CompanyRecords, rules: MappingRules, users: UserMap,
                 creating: list[str], planka_users: list[dict[str, Any]], fidelity: Fidelity, *,
                 create_users: bool, credentials_out: Path | None, sso: bool,
                 users_file: Path | None) -> tuple[UserMap, PeopleRun]:
    """Before the boards: ledger rows of the mapped people, the accounts to create (or adopt),
    and ``ctx`` set up to write as them. Returns the complete user map and the run's people."""
    record_mapped(ctx, users.mapping)
    plans = plan_accounts(creating, company, rules, planka_users,
                          kept=settled_usernames(ctx.syncer.ledger, [f"user:{kaiten_id}" for kaiten_id in creating])) \
        if create_users else []
    for role, count in sorted(unnamed_roles(company, rules).items()):
        fidelity.add("lossy", "space_roles", "role",
                     f"Kaiten space role {role} ({count} membership(s)) is not named in space_roles; "
                     f"treated as {rules.unknown_space_role!r} (see docs/MAPPING.md §8)")
    if creating and not create_users:
        fidelity.add("skipped", "users", "action",
                     f"{len(creating)} person(s) marked create in {users_file}; pass "
                     f"--create-users to create their accounts (until then they are unmapped)")
    credentials = CredentialsFile(None if sso else credentials_out)
    try:
        people = provision(ctx, plans, planka_users, credentials, fidelity, sso=sso)
    finally:
        credentials.close()
    managers = {people.ids[plan.kaiten_id] for plan in plans
                if plan.kaiten_id in people.ids and plan.role in MANAGER_ROLES}
    users = UserMap({**users.mapping, **people.ids}, company, own=people.own, managers=users.managers | managers)
    inactive = {str(user["id"]) for user in planka_users if user.get("isDeactivated")}
    actors = Actors(ctx.client, people.own, inactive=inactive)
    ctx.act_as, ctx.own, ctx.inactive = actors.client, actors.own, inactive
    return users, PeopleRun(plans, people, actors, credentials)


def settled_usernames(ledger: Ledger, keys: list[str]) -> dict[str, str]:
    """Kaiten id → username of accounts an earlier run already settled (never renamed)."""
    kept = {}
    for key in keys:
        row = ledger.get(key)
        if row is not None and row.done and row.state.get("username"):
            kept[key.split(":", 1)[1]] = str(row.state["username"])
    return kept


def record_mapped(ctx: ImportContext, mapped: dict[str, str]) -> None:
    """Ledger rows for the people users.csv maps to existing accounts (read by the fix-up)."""
    for kaiten_id, planka_id in mapped.items():
        key = f"user:{kaiten_id}"
        row = ctx.syncer.row(key)
        if ctx.syncer.dry_run or (row is not None and row.done and row.planka_id == planka_id):
            continue
        ctx.syncer.ledger.done(key, "user", planka_id, None, state={"origin": "mapped"})


def provision(ctx: ImportContext, plans: list[AccountPlan], planka_users: list[dict[str, Any]],
              credentials: CredentialsFile, fidelity: Fidelity, *, sso: bool) -> Provisioned:
    """Create (or adopt) one account per plan; returns the ids. Dry run: placeholder ids."""
    result = Provisioned()
    by_email = {str(user.get("email") or "").lower(): user for user in planka_users}
    by_username = {str(user.get("username") or "").lower(): user for user in planka_users if user.get("username")}
    pending = [plan for plan in plans if not _settled(ctx, plan.key)]
    if pending and not ctx.syncer.dry_run and any(
            ctx.syncer.row(plan.key) is None and _existing(plan, by_email, by_username) is None for plan in pending):
        credentials.check_free()
    for plan in plans:
        if plan.placeholder_email:
            fidelity.add("placeholder_email", plan.key, "email",
                         f"no usable Kaiten e-mail; the account uses {plan.email}")
        planka_id, origin = _ensure(ctx, plan, by_email, by_username, credentials, sso)
        if planka_id is None and ctx.syncer.dry_run:
            planka_id = f"new:{plan.kaiten_id}"
        if planka_id is None:
            continue
        result.ids[plan.kaiten_id] = planka_id
        if origin == "created":
            result.own.add(planka_id)
    return result


def _settled(ctx: ImportContext, key: str) -> bool:
    row = ctx.syncer.row(key)
    return row is not None and row.done


def _existing(plan: AccountPlan, by_email: dict[str, dict], by_username: dict[str, dict]) -> dict | None:
    return by_email.get(plan.email) or by_username.get(plan.username)


def _ensure(ctx: ImportContext, plan: AccountPlan, by_email: dict[str, dict], by_username: dict[str, dict],
            credentials: CredentialsFile, sso: bool) -> tuple[str | None, str | None]:
    row = ctx.syncer.row(plan.key)
    if row is not None and row.done:
        ctx.tally.add("user", "unchanged")
        return row.planka_id, row.state.get("origin")
    found = _existing(plan, by_email, by_username)
    if row is None and found is not None:
        # An account of this person's e-mail or username exists and k2p did not create it.
        if not ctx.syncer.dry_run:
            ctx.syncer.ledger.done(plan.key, "user", str(found["id"]), None,
                                   state={"origin": "existing", "username": found.get("username")})
        ctx.tally.add("user", "adopted")
        return str(found["id"]), "existing"
    client = ctx.client

    def create(payload: dict[str, Any]) -> dict[str, Any]:
        assert client is not None
        password = new_password()
        credentials.add(plan.kaiten_id, plan.name, plan.username, plan.email, password)
        return client.create("/api/users", {**payload, "password": password})["item"]

    spec = Spec("user", create=create,
                find=lambda: list(client.get("/api/users").get("items", [])) if client else [],
                match=lambda item: str(item.get("email") or "").lower() == plan.email, recent_only=True)
    done = guarded(ctx, plan.key, "user", lambda: ctx.syncer.ensure(
        plan.key, None, plan.payload(), spec, state={"origin": "created", "username": plan.username, "sso": sso}))
    return (done.planka_id, "created") if done is not None else (None, None)


def finish(ctx: ImportContext, plans: list[AccountPlan], people: Provisioned, actors: Actors, *,
           whole_archive: bool, fidelity: Fidelity) -> None:
    """Put back the personal setting, then deactivate who is deactivated in Kaiten. Both wait for
    an import of the whole archive: a later ``--board`` run still replays history quietly."""
    if not whole_archive:
        if any(people.ids.get(plan.kaiten_id) in people.own for plan in plans):
            fidelity.add("deferred", "users", "subscribeToCardWhenCommenting",
                         "created accounts get Planka's default back (and deactivations are applied) "
                         "by the first import of the whole archive")
        return
    for plan in plans:
        planka_id = people.ids.get(plan.kaiten_id)
        if planka_id is None or planka_id not in people.own:
            continue
        key = f"{plan.key}:settings"
        acting = actors.client(planka_id)
        guarded(ctx, key, "user_settings", lambda key=key, acting=acting, planka_id=planka_id: ctx.syncer.ensure(
            key, planka_id, dict(RESTORED_SETTINGS),
            Spec("user_settings", create=lambda payload: acting.update(f"/api/users/{planka_id}", payload)["item"])))
    for plan in plans:
        planka_id = people.ids.get(plan.kaiten_id)
        if not plan.deactivate or planka_id is None or planka_id not in people.own:
            continue
        key = f"{plan.key}:deactivated"
        admin = ctx.client
        guarded(ctx, key, "user_deactivation", lambda key=key, planka_id=planka_id: ctx.syncer.ensure(
            key, planka_id, {"isDeactivated": True},
            Spec("user_deactivation", create=lambda payload: admin.update(f"/api/users/{planka_id}", payload)["item"])))  # type: ignore[union-attr]
