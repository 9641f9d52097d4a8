"""Authentication of the Planka simulator: sessions and JWT-shaped tokens, API keys, the terms
acceptance step, and the public routes (login, accept-terms, bootstrap, terms)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import time
import uuid
from http.cookies import SimpleCookie
from typing import Any

import orjson

from k2p.testing.planka.http import ROUTES, Ctx, Reply, forbidden, not_found, unauthorized
from k2p.testing.planka.store import Session, Store, now_iso
from k2p.testing.planka.validation import Input, is_email_or_username

TERMS = {
    "en-US": "# Terms of Service\n\nThis is the k2p Planka simulator. By using it you accept that "
             "nothing here is real.\n",
    "de-DE": "# Nutzungsbedingungen\n\nDies ist der k2p-Planka-Simulator. Nichts hiervon ist echt.\n",
}
DEFAULT_TERMS_LANGUAGE = "en-US"
TERMS_SIGNATURE = hashlib.sha256(TERMS[DEFAULT_TERMS_LANGUAGE].encode("utf-8")).hexdigest()
ACCEPT_TERMS_STEP = "accept-terms"
LANGUAGES = (
    "ar-YE", "bg-BG", "ca-ES", "cs-CZ", "da-DK", "de-DE", "el-GR", "en-GB", "en-US", "es-ES", "et-EE",
    "fa-IR", "fi-FI", "fr-FR", "hu-HU", "id-ID", "it-IT", "ja-JP", "ko-KR", "nl-NL", "pl-PL", "pt-BR",
    "pt-PT", "ro-RO", "ru-RU", "sk-SK", "sr-Cyrl-RS", "sr-Latn-RS", "sv-SE", "tr-TR", "uk-UA", "uz-UZ",
    "vi-VN", "zh-CN", "zh-TW",
)
ACCESS_TOKEN_TTL = 365 * 24 * 3600
_ALPHANUMERIC = string.ascii_letters + string.digits


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(secret: bytes, subject: str, expires_in: float) -> str:
    """An HS256 JWT shaped like Planka's (``iat``, ``exp``, ``sub``, a ``kid`` header)."""
    iat = int(time.time())
    header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": str(uuid.uuid4())}))
    payload = _b64(orjson.dumps({"iat": iat, "exp": iat + int(expires_in), "sub": subject}))
    signature = hmac.new(secret, f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_api_key(store: Store, user: dict[str, Any]) -> str:
    """Give ``user`` a new API key (replacing any previous one); only its hash is stored."""
    prefix = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(8))
    secret = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(32))
    key = f"{prefix}_{secret}"
    store.update("users", user["id"], {"apiKeyPrefix": prefix, "apiKeyHash": hash_api_key(key),
                                       "apiKeyCreatedAt": now_iso()})
    return key


def issue_access_token(sim: Any, user_id: str, session: Session | None = None) -> str:
    token = make_jwt(sim.secret, user_id, ACCESS_TOKEN_TTL)
    session = session or Session(user_id=user_id)
    session.access_token = token
    session.pending_token = None
    sim.store.sessions[token] = session
    return token


def cookies_of(headers: Any) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("Cookie") or "")
    except Exception:  # noqa: BLE001 - a malformed cookie header is simply ignored
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _active_user(store: Store, user_id: str) -> dict[str, Any] | None:
    user = store.get("users", user_id)
    return user if user and not user["isDeactivated"] else None


def _user_by_api_key(store: Store, key: str) -> dict[str, Any] | None:
    digest = hash_api_key(key)
    for user in store.tables["users"].values():
        if user["apiKeyHash"] == digest and not user["isDeactivated"]:
            return user
    return None


def _user_by_token(store: Store, token: str, http_only: str | None) -> tuple[dict[str, Any] | None, Session | None]:
    session = store.session_by_access_token(token)
    if session is None or (session.http_only_token and session.http_only_token != http_only):
        return None, None
    user = _active_user(store, session.user_id)
    return (user, session) if user else (None, None)


def authenticate(store: Store, headers: Any, downloads: bool = False) -> tuple[dict[str, Any] | None, Session | None]:
    """The ``current-user`` hook: Bearer first (a bad one is not rescued), then ``X-Api-Key``.

    For ``/attachments/*`` (``downloads``) the ``accessToken`` cookie replaces the Bearer header.
    """
    cookies = cookies_of(headers)
    if downloads:
        token = cookies.get("accessToken")
        if token:
            return _user_by_token(store, token, cookies.get("httpOnlyToken"))
    else:
        authorization = headers.get("Authorization") or ""
        if authorization.startswith("Bearer "):
            return _user_by_token(store, authorization[len("Bearer "):], cookies.get("httpOnlyToken"))
    key = headers.get("X-Api-Key")
    if key:
        return _user_by_api_key(store, key), None
    return None, None


# --- routes ------------------------------------------------------------------------------------
@ROUTES.add("GET", "/api/bootstrap", access="public")
def show_bootstrap(ctx: Ctx) -> Any:
    item: dict[str, Any] = {"oidc": None, "termsLanguages": sorted(TERMS), "version": ctx.sim.version}
    if ctx.user and ctx.user["role"] == "admin":
        item["activeUsersLimit"] = None  # customerPanelUrl is undefined by default, so absent
    return {"item": item}


@ROUTES.add("GET", "/api/terms", {"language": Input()}, access="public")
def show_terms(ctx: Ctx) -> Any:
    language = ctx.get("language")
    if language not in TERMS:
        language = DEFAULT_TERMS_LANGUAGE
    return {"item": {"language": language, "content": TERMS[language], "signature": TERMS_SIGNATURE}}


@ROUTES.add("GET", "/api/config", access="admin")
def show_config(ctx: Ctx) -> Any:
    """SMTP configured through the environment (``smtp=True``) hides every SMTP field."""
    if ctx.sim.smtp:
        return {"item": {}}
    return {"item": {"smtpHost": None, "smtpPort": None, "smtpName": None, "smtpSecure": False,
                     "smtpTlsRejectUnauthorized": True, "smtpUser": None, "smtpPassword": None,
                     "smtpFrom": None}}


def _handle_steps(ctx: Ctx, user: dict[str, Any], http_only: bool) -> Any:
    """``access-tokens/handle-steps``: instance initialisation, terms, then the access token."""
    store = ctx.store
    if not store.initialized:
        if user["role"] != "admin":
            raise forbidden("Admin login required to initialize instance")
        if user["termsSignature"]:
            store.initialized = True
    session = Session(user_id=user["id"], http_only_token=str(uuid.uuid4()) if http_only else None)
    headers = {"Set-Cookie": f"httpOnlyToken={session.http_only_token}; Path=/; HttpOnly; SameSite=Strict"} \
        if http_only else {}
    if ctx.sim.require_terms and user["termsSignature"] != TERMS_SIGNATURE:
        pending = make_jwt(ctx.sim.secret, ACCEPT_TERMS_STEP, ctx.sim.pending_token_ttl)
        session.pending_token = pending
        session.pending_expires_at = time.time() + ctx.sim.pending_token_ttl
        store.sessions[pending] = session
        raise forbidden("Terms acceptance required", step=ACCEPT_TERMS_STEP, pendingToken=pending)
    return Reply(200, {"item": issue_access_token(ctx.sim, user["id"], session)}, headers=headers)


@ROUTES.add("POST", "/api/access-tokens", {
    "emailOrUsername": Input(required=True, max_length=256, custom=is_email_or_username),
    "password": Input(required=True, max_length=256),
    "withHttpOnlyToken": Input("boolean"),
}, access="public")
def create_access_token(ctx: Ctx) -> Any:
    wanted = ctx.get("emailOrUsername").lower()
    user = next((u for u in ctx.store.tables["users"].values()
                 if not u["isDeactivated"] and wanted in (u["email"], u["username"])), None)
    if user is None:
        raise unauthorized("Invalid credentials")
    if user["isSsoUser"]:
        raise forbidden("Use single sign-on")
    if not hmac.compare_digest(str(user["password"]), ctx.get("password")):
        raise unauthorized("Invalid credentials")
    return _handle_steps(ctx, user, bool(ctx.get("withHttpOnlyToken")))


def _pending_session(ctx: Ctx, token: str) -> Session | None:
    session = ctx.store.session_by_pending_token(token)
    if session is None:
        return None
    http_only = cookies_of(ctx.headers).get("httpOnlyToken")
    if session.http_only_token and session.http_only_token != http_only:
        return None
    return session


@ROUTES.add("POST", "/api/access-tokens/accept-terms", {
    "pendingToken": Input(required=True, max_length=1024),
    "signature": Input(required=True, min_length=64, max_length=64),
    "initialLanguage": Input(is_in=LANGUAGES, allow_null=True),
}, access="public")
def accept_terms(ctx: Ctx) -> Any:
    store = ctx.store
    session = _pending_session(ctx, ctx.get("pendingToken"))
    if session is None or session.pending_expires_at < time.time():
        raise unauthorized("Invalid pending token")
    if ctx.get("signature") != TERMS_SIGNATURE:
        raise forbidden("Invalid signature")
    user = _active_user(store, session.user_id)
    if user is None:
        raise unauthorized("Invalid pending token")
    values: dict[str, Any] = {"termsSignature": ctx.get("signature"), "termsAcceptedAt": now_iso()}
    if not user["language"] and ctx.get("initialLanguage"):
        values["language"] = ctx.get("initialLanguage")
    store.update("users", user["id"], values)
    if not store.initialized:
        if user["role"] != "admin":
            raise forbidden("Admin login required to initialize instance")
        store.initialized = True
    del store.sessions[ctx.get("pendingToken")]
    return {"item": issue_access_token(ctx.sim, user["id"], session)}


@ROUTES.add("POST", "/api/access-tokens/revoke-pending-token",
            {"pendingToken": Input(required=True, max_length=1024)}, access="public")
def revoke_pending_token(ctx: Ctx) -> Any:
    session = _pending_session(ctx, ctx.get("pendingToken"))
    if session is None:
        raise not_found("Pending token not found")
    session.deleted = True
    return {"item": None}


@ROUTES.add("DELETE", "/api/access-tokens/me", access="session")
def delete_access_token(ctx: Ctx) -> Any:
    assert ctx.session is not None
    ctx.session.deleted = True
    return {"item": ctx.session.access_token}


ROUTES.stub("POST", "/api/access-tokens/exchange-with-oidc", access="public")
ROUTES.stub("POST", "/api/access-tokens/debug-oidc", access="public")
