"""A faithful, in-process simulator of the Planka 2.1.1 REST API.

Start it with ``with PlankaSimulator() as sim:`` and talk to ``sim.url`` with any HTTP client. It
reproduces the behaviour an importer meets on a real server, checked against a live Planka 2.1.1:
the auth gate before validation, the terms-acceptance login step, API keys, the framework's
400 envelope and problem strings, the 1 MB body limit, parent-404 / 403 / 409 / 422 rules, Planka's
position normalisation, the hidden archive and trash lists, multipart uploads, and the reads an
importer verifies with.

Fault injection for resilience tests: ``faults`` (a :class:`~k2p.testing.loopback.FaultPlan` or the
richer :class:`PlankaFaultPlan`) and ``hooks.on_mutation`` (see :class:`PlankaHooks`).

Notifications are created as Planka creates them (see :mod:`k2p.testing.planka.notifications`).
``smtp=True`` poses as a Planka with SMTP configured (``SMTP_HOST``): every e-mail it would send
is appended to ``outbox`` (:class:`~k2p.testing.planka.notifications.Email`) instead.

Standalone: ``python -m k2p.testing.planka.sim [--port N] [--no-terms] [--smtp] [--idle-timeout 600]``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import secrets
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from k2p.testing.loopback import FaultPlan, LoopbackServer, RequestLog, SimHandler, Simulator
from k2p.testing.planka.auth import TERMS_SIGNATURE, generate_api_key, issue_access_token
from k2p.testing.planka.http import BodyRejected, Reply, parse_body, parse_qs_nested, server_error
from k2p.testing.planka.notifications import Email
from k2p.testing.planka.routes import dispatch, error_reply
from k2p.testing.planka.store import Store
from k2p.testing.planka.users import create_user

DEFAULT_ADMIN_PASSWORD = "k2p-Simulated-Admin-2024!"
MUTATING_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_ERROR_BODIES = {
    500: ("Internal Server Error", "text/plain; charset=utf-8"),
    502: ("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    503: ("<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html"),
    504: ("<html><body><h1>504 Gateway Time-out</h1></body></html>", "text/html"),
}

MutationHook = Callable[[int, str, str, str], "str | None"]


@dataclass
class PlankaFaultPlan(FaultPlan):
    """A :class:`FaultPlan` that also separates drops before and after the commit.

    One seeded roll per request picks, in this order of probability bands:

    * ``error_rate`` → an ``error_statuses`` answer (default 500/502/503), nothing committed;
    * ``drop_rate`` → mutating requests commit, then the connection drops; reads just drop;
    * ``drop_before_commit_rate`` → the connection drops before the request is processed;
    * ``drop_after_commit_rate`` → the request is processed (and committed), then dropped;
    * ``truncate_rate`` → the request is processed (and committed), then half of the answer is
      sent under its full ``Content-Length`` and the connection closes.

    ``mutating_only`` limits faults to mutating ``/api`` requests (logins and reads stay clean).
    """

    drop_before_commit_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    mutating_only: bool = False

    def bands(self) -> tuple[tuple[str, float], ...]:
        """Adds ``"drop_before"`` and ``"drop_after"`` to the base outcomes."""
        return (*super().bands(), ("drop_before", self.drop_before_commit_rate),
                ("drop_after", self.drop_after_commit_rate))

    def error_status(self) -> int:
        with self._lock:
            return self._rng.choice(self.error_statuses)


class PlankaHooks:
    """Test callbacks, called synchronously in the request's handler thread.

    ``on_mutation(seq, method, path, phase)`` runs for every mutating ``/api`` request (logins and
    terms routes excluded). ``seq`` numbers those requests from 1; ``phase`` is ``"received"``
    (before anything is committed) or ``"committed"`` (after a successful commit, before the
    response is written; not called when the request failed). Returning ``"drop"`` closes the
    connection without an answer — before the commit in the first phase, after it in the second.
    """

    def __init__(self) -> None:
        self.on_mutation: MutationHook | None = None

    def clear(self) -> None:
        self.on_mutation = None

    def fire(self, seq: int, method: str, path: str, phase: str) -> str | None:
        callback = self.on_mutation
        return callback(seq, method, path, phase) if callback else None


def is_mutating(method: str, path: str) -> bool:
    return method in MUTATING_METHODS and path.startswith("/api/") and not path.startswith("/api/access-tokens")


class PlankaRequestHandler(SimHandler):
    """HTTP front of the simulator: faults, body limit, hooks, then :func:`dispatch`."""

    server_version = "k2p-planka-sim"

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    def _serve(self) -> None:
        sim: PlankaSimulator = self.server.sim  # type: ignore[attr-defined]
        sim.touch()
        method, path = self.command, self.url_path
        mutating = is_mutating(method, path)
        decision = sim.draw_fault(mutating)
        content_type = self.headers.get("Content-Type") or ""
        if decision == "error":
            self.read_body()
            status = sim.fault_status()
            text, kind = _ERROR_BODIES.get(status, ("Error", "text/plain"))
            self._log(sim, status, mutating, None, "fault:error")
            return self.send_text(status, text, kind)
        if decision == "drop_before" or (decision == "drop" and not mutating):
            self.read_body()
            self._log(sim, 0, mutating, None, "fault:drop")
            return self.drop_connection()
        is_multipart = content_type.lower().startswith("multipart/")
        raw = self.read_body(None if is_multipart else sim.body_limit)
        try:
            if raw is None:
                raise BodyRejected("body over the limit")
            body, files = parse_body(content_type, raw)
        except BodyRejected:
            self._log(sim, 400, mutating, None, "body rejected")
            return self.send_bytes(400, b"", None)   # Sails sends no Content-Type here
        seq = sim.next_mutation_seq() if mutating else 0
        if mutating and sim.hooks.fire(seq, method, path, "received") == "drop":
            self._log(sim, 0, mutating, None, "hook:drop-before-commit")
            return self.drop_connection()
        try:
            reply = dispatch(sim, method, path, self.headers, parse_qs_nested(self.url_query), body, files)
        except Exception:  # noqa: BLE001 - a simulator bug must answer 500, not kill the connection
            sim.errors.append(traceback.format_exc())
            reply = error_reply(server_error())
        verdict = None
        if mutating and reply.committed and 200 <= reply.status < 300:
            verdict = sim.hooks.fire(seq, method, path, "committed")
        if verdict == "drop" or decision in ("drop", "drop_after"):
            self._log(sim, reply.status, mutating, reply.principal, "dropped-after-processing")
            return self.drop_connection()
        if decision == "truncate":
            self._log(sim, reply.status, mutating, reply.principal, "truncated-after-processing")
            headers = {**reply.headers, **({"Content-Type": reply.content_type} if reply.content_type else {})}
            return self.send_truncated(reply.status, reply.body(), headers)
        # Logged before answering, so a client that got its response always finds the entry.
        self._log(sim, reply.status, mutating, reply.principal, "")
        self._send_reply(reply)

    def _send_reply(self, reply: Reply) -> None:
        try:
            self.send_bytes(reply.status, reply.body(), reply.content_type, reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _log(self, sim: "PlankaSimulator", status: int, mutating: bool, principal: str | None, note: str) -> None:
        sim.request_log.add(method=self.command, path=self.url_path, query=self.url_query, status=status,
                            origin="planka", principal=principal, mutating=mutating, note=note,
                            had_authorization=bool(self.headers.get("Authorization") or self.headers.get("X-Api-Key")))


class PlankaSimulator(Simulator):
    """The Planka 2.1.1 simulator server (also poses as 1.x for version detection with ``v1=True``).

    ``faults`` may be swapped at runtime; ``hooks`` holds test callbacks; ``request_log`` records every
    request (never a secret); ``store`` is the in-memory state, for debugging only. ``smtp`` (may be
    switched at runtime) and ``outbox``: see the module docstring.
    """

    name = "Planka"

    def __init__(self, *, admin_email: str = "admin@example.com", admin_username: str = "admin",
                 admin_password: str = DEFAULT_ADMIN_PASSWORD, admin_name: str = "Admin",
                 require_terms: bool = True, version: str = "2.1.1", v1: bool = False,
                 faults: FaultPlan | None = None, body_limit: int = 1_048_576,
                 max_upload_size: int | None = None, idle_timeout: float | None = None, port: int = 0,
                 smtp: bool = False) -> None:
        self.admin_email = admin_email.lower()
        self.admin_username = admin_username.lower()
        self.admin_password = admin_password
        self.require_terms = require_terms
        self.version = version
        self.v1 = v1
        self.faults = faults
        self.body_limit = body_limit
        self.max_upload_size = max_upload_size
        self.smtp = smtp
        self.outbox: list[Email] = []
        self.pending_token_ttl: float = 600.0
        self.secret = secrets.token_bytes(32)
        self.store = Store(initialized=not require_terms)
        self.request_log = RequestLog()
        self.hooks = PlankaHooks()
        self.errors: list[str] = []
        self._sequence = itertools.count(1)
        self._sequence_lock = threading.Lock()
        self._fault_rng = random.Random(0)
        self.admin_id = self.add_user(email=admin_email, username=admin_username, name=admin_name,
                                      role="admin", password=admin_password)
        self._server = LoopbackServer(PlankaRequestHandler, self, port=port, idle_timeout=idle_timeout)

    # --- lifecycle --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    def _servers(self) -> list[LoopbackServer]:
        return [self._server]

    # --- direct helpers (no HTTP) -----------------------------------------------------------------
    def add_user(self, *, email: str, username: str | None = None, name: str = "User",
                 role: str = "boardUser", password: str = DEFAULT_ADMIN_PASSWORD, **extra: Any) -> str:
        """Seed a user; returns its id. Terms count as accepted only when ``require_terms`` is off."""
        with self.store.lock:
            user = create_user(self.store, email=email, username=username, name=name, role=role,
                               password=password, termsSignature=None if self.require_terms else TERMS_SIGNATURE,
                               **extra)
        return user["id"]

    def user_id(self, user: str) -> str:
        """Resolve a username, email or id to the user's id (``KeyError`` when unknown)."""
        wanted = user.lower()
        with self.store.lock:
            for record in self.store.tables["users"].values():
                if wanted in (record["id"], record["email"], record["username"]):
                    return record["id"]
        raise KeyError(user)

    def create_api_key(self, user: str) -> str:
        """Return a fresh ``X-Api-Key`` for ``user`` (username, email or id), replacing any old key."""
        with self.store.lock:
            return generate_api_key(self.store, self.store.tables["users"][self.user_id(user)])

    def create_access_token(self, user: str) -> str:
        """Return a Bearer token for ``user`` without the login and terms steps."""
        with self.store.lock:
            return issue_access_token(self, self.user_id(user))

    def mutation_count(self) -> int:
        """Mutating ``/api`` requests that reached request processing (injected faults excluded)."""
        return self.request_log.count(lambda item: item.mutating and not item.note.startswith("fault:"))

    # --- fault plumbing ---------------------------------------------------------------------------
    def draw_fault(self, mutating: bool) -> str:
        plan = self.faults
        if plan is None:
            return "ok"
        plan.delay()
        if getattr(plan, "mutating_only", False) and not mutating:
            return "ok"
        return plan.draw()

    def fault_status(self) -> int:
        plan = self.faults
        if isinstance(plan, PlankaFaultPlan):
            return plan.error_status()
        with self._sequence_lock:
            return self._fault_rng.choice((500, 502, 503))

    def next_mutation_seq(self) -> int:
        with self._sequence_lock:
            return next(self._sequence)


def main(argv: list[str] | None = None) -> int:
    """Run a standalone simulator until Ctrl-C or the idle timeout."""
    parser = argparse.ArgumentParser(prog="python -m k2p.testing.planka.sim", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-terms", action="store_true", help="users count as having accepted the terms")
    parser.add_argument("--smtp", action="store_true", help="pose as SMTP-configured; e-mails go to the outbox")
    parser.add_argument("--idle-timeout", type=float, default=600.0, help="seconds without requests before exiting")
    parser.add_argument("--admin-email", default="admin@example.com")
    parser.add_argument("--admin-password", default=DEFAULT_ADMIN_PASSWORD)
    args = parser.parse_args(argv)
    sim = PlankaSimulator(port=args.port, require_terms=not args.no_terms, idle_timeout=args.idle_timeout or None,
                          admin_email=args.admin_email, admin_password=args.admin_password, smtp=args.smtp)
    sim.start()
    print(f"Planka simulator (2.1.1) listening on {sim.url}")
    print(f"admin: {sim.admin_email} / username {sim.admin_username} / password {sim.admin_password}")
    sys.stdout.flush()
    try:
        sim.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
