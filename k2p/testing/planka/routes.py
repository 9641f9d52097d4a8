"""Request dispatch of the Planka simulator: route match, the auth gate (policies run before input
validation), input validation, then the handler under the store lock."""

from __future__ import annotations

import traceback
from typing import Any

# Importing the handler modules registers their routes on ROUTES.
from k2p.testing.planka import attachments as planka_attachments  # noqa: F401
from k2p.testing.planka import auth as planka_auth  # noqa: F401
from k2p.testing.planka import boards as planka_boards  # noqa: F401
from k2p.testing.planka import card_content as planka_card_content  # noqa: F401
from k2p.testing.planka import cards as planka_cards  # noqa: F401
from k2p.testing.planka import custom_fields as planka_custom_fields  # noqa: F401
from k2p.testing.planka import notifications as planka_notifications  # noqa: F401
from k2p.testing.planka import projects as planka_projects  # noqa: F401
from k2p.testing.planka import users as planka_users  # noqa: F401
from k2p.testing.planka.auth import authenticate
from k2p.testing.planka.http import ROUTES, ApiError, Ctx, Reply, Upload, not_found, server_error, unauthorized
from k2p.testing.planka.validation import InputCrash, ValidationFailed, bad_request_body, validate

SPA_HTML = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <base href="/" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="description" content="PLANKA is an open source project management software" />
    <title>PLANKA</title>
  </head>
  <body>
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
  </body>
</html>
"""
for _method, _pattern, _access in (
        ("PATCH", "/api/config", "admin"), ("POST", "/api/config/test-smtp", "admin"),
        ("GET", "/api/webhooks", "admin"), ("POST", "/api/webhooks", "admin"),
        ("PATCH", "/api/webhooks/{id}", "admin"), ("DELETE", "/api/webhooks/{id}", "admin"),
        ("POST", "/api/users/{userId}/notification-services", "user"),
        ("POST", "/api/boards/{boardId}/notification-services", "user"),
        ("PATCH", "/api/notification-services/{id}", "user"),
        ("POST", "/api/notification-services/{id}/test", "user"),
        ("DELETE", "/api/notification-services/{id}", "user")):
    ROUTES.stub(_method, _pattern, access=_access)


def spa_page() -> Reply:
    return Reply(200, raw=SPA_HTML.encode("utf-8"), content_type="text/html; charset=utf-8")


def error_reply(error: ApiError) -> Reply:
    """The response for an :class:`ApiError` (JSON envelope, or Sails' plain-text 500)."""
    if error.text is not None:
        return Reply(error.status, raw=error.text.encode("utf-8"), content_type="text/plain; charset=utf-8")
    return Reply(error.status, error.payload())


def _fallback(sim: Any, method: str, path: str) -> Reply:
    """Unknown routes: GET falls through to the SPA, other methods get a bare 404."""
    if method in ("GET", "HEAD") and path != "/swagger.json":
        if sim.v1 and path == "/api/config":
            return Reply(200, {"item": {"oidc": None, "allowAllToCreateProjects": False}})
        return spa_page()
    return Reply(404, {"code": "E_NOT_FOUND"})


def dispatch(sim: Any, method: str, path: str, headers: Any, query: dict[str, Any],
             body: dict[str, Any], files: list[Upload]) -> Reply:
    """Answer one request; the reply body is serialised while the store lock is still held."""
    lookup_method = "GET" if method == "HEAD" else method
    found = ROUTES.match(lookup_method, path)
    if sim.v1 and path in ("/api/bootstrap", "/api/config"):
        found = None
    if found is None:
        return _fallback(sim, method, path)
    route, path_params = found
    store = sim.store
    with store.lock:
        user, session = authenticate(store, headers, downloads=route.access == "download")
    principal = user["id"] if user else None
    try:
        _check_access(route.access, user, session)
        inputs = validate(route.inputs, {**query, **body, **path_params}, query)
    except ApiError as error:
        return _with_principal(error_reply(error), principal)
    except ValidationFailed as failed:
        return _with_principal(Reply(400, bad_request_body(method, path, failed.problems)), principal)
    except InputCrash:
        return _with_principal(error_reply(server_error()), principal)
    with store.lock:
        ctx = Ctx(sim, store, method, path, inputs, user, session, headers, files)
        try:
            result = route.handler(ctx)
            reply = result if isinstance(result, Reply) else Reply(200, result)
            reply.committed = method not in ("GET", "HEAD")
        except ApiError as error:
            reply = error_reply(error)
        except Exception:  # noqa: BLE001 - a simulator bug must surface as a 500, not a hang
            sim.errors.append(traceback.format_exc())
            reply = error_reply(server_error())
        reply.raw = reply.body()
    return _with_principal(reply, principal)


def _with_principal(reply: Reply, principal: str | None) -> Reply:
    reply.principal = principal
    return reply


def _check_access(access: str, user: dict[str, Any] | None, session: Any) -> None:
    """Planka's policies: is-authenticated (401), then is-admin / is-admin-or-project-owner /
    is-session, which all answer a bare 404."""
    if access == "public":
        return
    if user is None:
        raise unauthorized()
    if access == "admin" and user["role"] != "admin":
        raise not_found()
    if access == "admin_or_owner" and user["role"] not in ("admin", "projectOwner"):
        raise not_found()
    if access == "session" and session is None:
        raise not_found()
