"""Account plans: Planka-valid unique usernames, e-mails or placeholders, roles, languages."""

from __future__ import annotations

import re

from hypothesis import given, strategies as st

from k2p.archive.index import CompanyRecords
from k2p.mapping.rules import MappingRules
from k2p.people.accounts import derive_username, plan_accounts, planka_language, unique_username

USERNAME = re.compile(r"^[a-zA-Z0-9]+((_|\.)?[a-zA-Z0-9])*$")
ADMIN_ROLE = "role-admin"


def _company(*users: dict) -> CompanyRecords:
    company = CompanyRecords()
    for user in users:
        company.users[str(user["id"])] = {"kind": "user", "id": str(user["id"]), "raw": user}
    company.space_members["9"] = [{"kind": "space_member", "id": "1", "raw": {"id": 1, "role": ADMIN_ROLE}}]
    return company


@given(st.text(max_size=80), st.integers(min_value=1, max_value=10**12))
def test_derived_usernames_always_satisfy_planka(text: str, kaiten_id: int) -> None:
    name = derive_username({"username": text}, str(kaiten_id))
    assert USERNAME.match(name) and 3 <= len(name) <= 32, name


def test_derivation_transliterates_and_folds() -> None:
    assert derive_username({"username": "Иван.Петров"}, "1") == "ivan.petrov"
    assert derive_username({"username": "josé--maría  o'neil"}, "1") == "jose_maria_o_neil"
    assert derive_username({"username": "__", "email": "Ann.Lee@x.org"}, "1") == "ann.lee"
    assert derive_username({"username": "ab"}, "77") == "ab_77"
    assert derive_username({}, "77") == "user77"
    assert len(derive_username({"username": "a" * 60}, "1")) == 32


def test_clashes_get_deterministic_suffixes_within_32_characters() -> None:
    assert unique_username("ann", {"ann"}) == "ann_2"
    assert unique_username("ann", {"ann", "ann_2"}) == "ann_3"
    long = "b" * 32
    assert unique_username(long, {long}) == "b" * 30 + "_2"


def test_plans_emails_placeholders_roles_and_languages() -> None:
    company = _company(
        {"id": 1, "full_name": "Ann Admin", "username": "ann", "email": "Ann@Example.com", "lng": "ru"},
        {"id": 2, "full_name": "Bob", "username": "ann", "email": "", "activated": False, "lng": "en"},
        {"id": 3, "full_name": "Cy", "username": "cyd", "email": "ann@example.com"},
    )
    rules = MappingRules(space_roles={ADMIN_ROLE: "admin"})
    plans = {plan.kaiten_id: plan for plan in plan_accounts(
        ["3", "2", "1"], company, rules, [{"id": "50", "username": "cyd", "email": "other@x.org", "isDeactivated": True}])}
    assert plans["1"].email == "ann@example.com" and plans["1"].role == "projectOwner"
    assert plans["1"].language == "ru-RU" and plans["2"].language == "en-US"
    assert plans["2"].placeholder_email and plans["2"].email == "kaiten-user-2@example.invalid"
    assert plans["3"].placeholder_email, "an e-mail used by another Kaiten person is not reused"
    assert (plans["1"].username, plans["2"].username, plans["3"].username) == ("ann", "ann_2", "cyd_2")
    assert plans["2"].deactivate and not plans["1"].deactivate and plans["2"].role == "boardUser"
    assert plans["1"].payload()["subscribeToCardWhenCommenting"] is False
    kept = plan_accounts(["2"], company, rules, [], kept={"2": "bobby"})
    assert kept[0].username == "bobby", "a settled username is never changed"


def test_languages() -> None:
    assert planka_language("pt") == "pt-BR" and planka_language("de_DE") == "de-DE"
    assert planka_language("uk") == "uk-UA" and planka_language("xx") is None and planka_language(None) is None


def test_an_account_with_the_kaiten_username_is_the_persons() -> None:
    company = _company({"id": 1, "full_name": "Ann", "username": "ann.lee", "email": "ann@kaiten.example"},
                       {"id": 2, "full_name": "Бoris", "username": "борис", "email": "b@kaiten.example"})
    planka = [{"id": "7", "username": "ann.lee", "email": "ann@planka.example"},
              {"id": "8", "username": "boris", "email": "someone.else@planka.example"}]
    plans = {plan.kaiten_id: plan for plan in plan_accounts(["1", "2"], company, MappingRules(), planka)}
    assert (plans["1"].username, plans["1"].email) == ("ann.lee", "ann@planka.example"), "adopted, not duplicated"
    assert plans["2"].username == "boris_2", "a transliterated clash is somebody else"
    gone = [{**planka[0], "isDeactivated": True}]
    assert plan_accounts(["1"], company, MappingRules(), gone)[0].username == "ann.lee_2"
