"""Errors as the OpenAI API writes them: an HTTP status and {"error": {"message", "type", "param", "code"}}."""
from __future__ import annotations

from typing import Any

_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
          405: "invalid_request_error", 413: "invalid_request_error", 422: "invalid_request_error",
          499: "invalid_request_error", 503: "server_error", 500: "server_error"}


class APIError(Exception):
    """A request the server answers with an error: `status`, a message that says what to fix, the field it names."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict[str, Any]:
        """The JSON body: OpenAI's error object."""
        return {"error": {"message": self.message, "type": _TYPES.get(self.status, "invalid_request_error"),
                          "param": self.param, "code": self.code}}


def bad_field(param: str, message: str, status: int = 400, code: str = "invalid_value") -> APIError:
    """A 400 (or `status`) error naming the field `param`, its message prefixed by the field's name."""
    return APIError(status, f"{param}: {message}", param=param, code=code)
