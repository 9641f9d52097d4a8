"""Which Planka accounts to create for the Kaiten team, with what e-mail, username and role.

Pure functions: the rows of users.csv that say ``create``, the archive's user records, the rules
and the usernames/e-mails already taken in Planka go in; account plans come out. The same inputs
always give the same plans, so an interrupted creation derives the same usernames again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

from k2p.archive.index import CompanyRecords
from k2p.mapping.members import space_admins
from k2p.mapping.ordering import id_order
from k2p.mapping.rules import MappingRules
from k2p.mapping.users import display_name, kaiten_users

USERNAME_MIN, USERNAME_MAX = 3, 32
USERNAME_RE = re.compile(r"^[a-zA-Z0-9]+((_|\.)?[a-zA-Z0-9])*$")   # Planka's own rule
NAME_MAX = 128
EMAIL_MAX = 256
DEACTIVATED_ROLE = 3
LANGUAGES = (
    "ar-YE", "bg-BG", "ca-ES", "cs-CZ", "da-DK", "de-DE", "el-GR", "en-GB", "en-US", "es-ES", "et-EE",
    "fa-IR", "fi-FI", "fr-FR", "hu-HU", "id-ID", "it-IT", "ja-JP", "ko-KR", "nl-NL", "pl-PL", "pt-BR",
    "pt-PT", "ro-RO", "ru-RU", "sk-SK", "sr-Cyrl-RS", "sr-Latn-RS", "sv-SE", "tr-TR", "uk-UA", "uz-UZ",
    "vi-VN", "zh-CN", "zh-TW",
)
_PREFERRED = {"en": "en-US", "pt": "pt-BR", "sr": "sr-Latn-RS", "zh": "zh-CN"}
_CYRILLIC = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґў",
    ("a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch  y  e yu ya i yi ye g u").split(" ")))
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class AccountPlan:
    """One Planka account to create (or adopt) for a Kaiten person."""

    kaiten_id: str
    key: str                      # user:<kaiten id>
    email: str                    # lowercased; a placeholder when Kaiten has none
    username: str                 # satisfies Planka's rules, unique
    name: str                     # ≤ 128
    role: str                     # admin | projectOwner | boardUser
    language: str | None
    deactivate: bool              # deactivated in Kaiten: created, used for authorship, then deactivated
    placeholder_email: bool = False

    def payload(self) -> dict[str, Any]:
        """``POST /api/users`` fields (without the password). Commenting must not subscribe
        the person while history is replayed; :mod:`k2p.people.provision` restores it."""
        body: dict[str, Any] = {"email": self.email, "username": self.username, "name": self.name,
                                "role": self.role, "subscribeToCardWhenCommenting": False}
        if self.language:
            body["language"] = self.language
        return body


def plan_accounts(kaiten_ids: Iterable[str], company: CompanyRecords, rules: MappingRules,
                  planka_users: list[dict[str, Any]], *, kept: dict[str, str] | None = None) -> list[AccountPlan]:
    """Account plans for ``kaiten_ids`` (the ``create`` rows), in Kaiten id order.

    ``kept`` holds usernames already settled by an earlier run (Kaiten id → username): they are
    reused, so a rerun never renames anybody.
    """
    users = {str(user.get("id")): user for user in kaiten_users(company)}
    by_email = {str(user.get("email") or "").lower(): user for user in planka_users if user.get("email")}
    by_username = {str(user.get("username")).lower(): user for user in planka_users if user.get("username")}
    taken = {str(user.get("username") or "").lower() for user in planka_users if user.get("username")}
    taken |= set((kept or {}).values())
    emails_used: set[str] = set()
    admins = space_admins(company, rules)
    plans = []
    for kaiten_id in sorted(set(kaiten_ids), key=id_order):
        user = users.get(kaiten_id, {})
        email, placeholder = _email(user, kaiten_id, rules, emails_used)
        emails_used.add(email)
        # The person's account already exists: the same e-mail, or exactly their Kaiten username
        # (a clash with a transliterated or shortened username is somebody else: suffixed below).
        own_name = str(user.get("username") or "").lower()
        namesake = by_username.get(own_name) if USERNAME_RE.match(own_name) else None
        existing = by_email.get(email) or (namesake if namesake and not namesake.get("isDeactivated") else None)
        if kaiten_id in (kept or {}):
            username = (kept or {})[kaiten_id]
        elif existing is not None and existing.get("username"):
            username = str(existing["username"]).lower()   # the account will be adopted as it is
            email, placeholder = str(existing.get("email") or email).lower(), False
            emails_used.add(email)
        else:
            username = unique_username(derive_username(user, kaiten_id), taken)
        taken.add(username)
        plans.append(AccountPlan(
            kaiten_id=kaiten_id, key=f"user:{kaiten_id}", email=email, username=username,
            name=(display_name(user) or f"Kaiten user {kaiten_id}")[:NAME_MAX],
            role=rules.space_admin_user_role if kaiten_id in admins else rules.new_user_role,
            language=planka_language(user.get("lng") or user.get("language")),
            deactivate=user.get("activated") is False or user.get("role") == DEACTIVATED_ROLE,
            placeholder_email=placeholder))
    return plans


def _email(user: dict[str, Any], kaiten_id: str, rules: MappingRules, used: set[str]) -> tuple[str, bool]:
    email = str(user.get("email") or "").strip().lower()
    if _EMAIL.match(email) and len(email) <= EMAIL_MAX and email not in used:
        return email, False
    return rules.placeholder_email.format(kaiten_id=kaiten_id).lower(), True


def derive_username(user: dict[str, Any], kaiten_id: str) -> str:
    """A Planka username from the Kaiten username (else e-mail local part, else name):
    transliterated to ASCII, other characters folded into single ``_``, 3–32 characters."""
    email = str(user.get("email") or "")
    for source in (user.get("username"), email.split("@")[0] if "@" in email else None, user.get("full_name")):
        if isinstance(source, str) and source.strip():
            candidate = _fold(source)
            if candidate:
                break
    else:
        candidate = ""
    if len(candidate) < USERNAME_MIN:
        candidate = (candidate + "_" if candidate else "user") + kaiten_id
    return candidate[:USERNAME_MAX].rstrip("._")


def _fold(text: str) -> str:
    ascii_text = "".join(_CYRILLIC.get(char, char) for char in text.strip().lower())
    ascii_text = unicodedata.normalize("NFKD", ascii_text).encode("ascii", "ignore").decode("ascii")
    folded = re.sub(r"[^a-z0-9.]+", "_", ascii_text)
    folded = re.sub(r"[._]{2,}", lambda match: "." if set(match.group()) == {"."} else "_", folded)
    return folded.strip("._")


def unique_username(base: str, taken: set[str]) -> str:
    """``base``, else ``base_2``, ``base_3``… (shortened to stay within 32 characters)."""
    if base not in taken:
        return base
    for number in range(2, 100_000):
        suffix = f"_{number}"
        candidate = base[:USERNAME_MAX - len(suffix)].rstrip("._") + suffix
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable: 100,000 clashing usernames")


def planka_language(value: object) -> str | None:
    """Kaiten ``lng`` (``ru``, ``en``, ``pt-BR``…) → one of Planka's language codes, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    code = value.strip().replace("_", "-")
    exact = {language.lower(): language for language in LANGUAGES}
    if code.lower() in exact:
        return exact[code.lower()]
    prefix = code.split("-")[0].lower()
    if prefix in _PREFERRED:
        return _PREFERRED[prefix]
    return next((language for language in LANGUAGES if language.lower().startswith(prefix + "-")), None)
