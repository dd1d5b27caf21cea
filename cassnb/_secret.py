"""Passwords held so that they cannot leak: a :class:`Secret` shows as ``********`` everywhere.

A password lives in a ``Secret`` from the first cassnb call that receives it, so reprs, logs, error messages and
the locals of traceback frames (``%xmode Verbose``, debuggers, crash reports) show the mask; only the
authenticator that answers the server's challenge reads the value. A ``Secret`` cannot be pickled, so it never
travels in a task graph or a saved object by accident.
"""

from __future__ import annotations

import os
from typing import Any

from cassandra.auth import AuthProvider, PlainTextAuthenticator

__all__ = ("MASK", "Secret", "SecretAuthProvider")

MASK = "********"


class Secret:
    """A string that only :meth:`reveal` gives back."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a password must be a str, got {type(value).__name__}")
        self._value = value

    @classmethod
    def of(cls, value: str | Secret | None) -> Secret | None:
        """``value`` as a Secret (unchanged if it is one already); None stays None."""
        return value if value is None or isinstance(value, Secret) else cls(value)

    @classmethod
    def from_env(cls, variable: str) -> Secret | None:
        """The password held in the environment variable ``variable``; None when it is not set.

        The one place cassnb reads a password from the environment (the CLI's and the magics'
        ``--password-env``, ``CASSNB_PASSWORD``).
        """
        value = os.environ.get(variable)
        return None if value is None else cls(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __reduce__(self) -> Any:
        raise TypeError("a cassnb Secret cannot be pickled: pass the name of an environment variable instead")


class SecretAuthProvider(AuthProvider):  # type: ignore[misc]
    """``PlainTextAuthProvider`` for a :class:`Secret`: the password is read only to answer the server."""

    def __init__(self, username: str, password: Secret) -> None:
        self.username = username
        self._password = password

    def new_authenticator(self, host: Any) -> PlainTextAuthenticator:
        return PlainTextAuthenticator(self.username, self._password.reveal())

    def __repr__(self) -> str:
        return f"<SecretAuthProvider username={self.username!r} password={MASK}>"
