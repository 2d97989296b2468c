"""The API contract: `@contract` validates a route's input and documents it (spectree).

The OpenAPI 3.1 document at `GET /api/openapi.json` is generated from the pydantic models of
`app.http.api.schemas` through the routes' `@contract` decorators; see that module for how to
annotate a route. spectree builds the document and validates the input; `_finish` adds what it
cannot say (the security scheme, path parameter types, optional bodies, non-JSON answers).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from flask import Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from spectree import Response as Responses
from spectree import SpecTree
from spectree.plugins.flask_plugin import FlaskPlugin

from app.errors import ValidationFailed
from app.http.api.params import MAX_ID
from app.http.api.schemas import ErrorBody

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

TITLE = "SessionHub API"
VERSION = "1.0.0"
CALENDAR = "text/calendar"

#: path parameters by name: every `<name>` of an /api route must be listed here
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "session_id": {"type": "string", "format": "uuid"},
    "coach_id": {"type": "string", "format": "uuid"},
    "connection_id": {"type": "string", "format": "uuid"},
    "endpoint_id": {"type": "string", "format": "uuid"},
    "delivery_id": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
    "message_id": {
        "type": "string",
        "pattern": r"^([0-9]{1,10}|msg_[A-Za-z0-9_-]{1,60})$",
        "description": "the id of the log entry, or its msg_id",
    },
    "job_id": {"type": "string", "minLength": 1, "maxLength": 200},
}

_ERRORS = {
    400: "Invalid input: `field` names the parameter or body field at fault",
    401: "No API key, or an unknown or revoked one",
    403: "Not allowed now (the reason is in `error`)",
    404: "No such resource (`field` names the id)",
    409: "Contradicts the current state",
    410: "Over: it can no longer be used",
    413: "The request body is too large",
    429: "Too many requests: retry after the Retry-After header",
    503: "A dependency (database or job queue) is down: retry after Retry-After",
}


def _field(loc: Iterable[int | str]) -> str:
    """pydantic's error location as a dotted path: ('rules', 0, 'end') → rules[0].end."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def _refuse(
    req: Any, resp: Any, err: Exception | None, instance: Any, adapter: Any
) -> None:  # spectree's before-hook signature
    """A request that does not match its model: 400 in the hub's error shape."""
    if err is None:
        return
    if not isinstance(err, ValidationError):  # pragma: no cover - pydantic is the only adapter
        raise ValidationFailed("the request is not valid", field="body")
    if request.method not in ("GET", "DELETE") and not isinstance(
        request.get_json(silent=True), dict
    ):  # spectree reads a missing, broken or non-object body as {}
        raise ValidationFailed("the request body must be a JSON object", field="body")
    first = err.errors(include_url=False)[0]
    field = _field(first["loc"])
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    message = str(first["msg"])
    raise ValidationFailed(f"{field}: {message[:1].lower()}{message[1:]}{more}", field=field)


class _Plugin(FlaskPlugin):
    """spectree's Flask plugin; answers pass through, checked against the document in tests."""

    def validate_response(
        self,
        resp: Any,
        resp_model: Responses | None,
        skip_validation: bool,
        force_resp_serialize: bool,
    ) -> tuple[Response, None]:
        response = current_app.make_response(resp)
        hub = current_app.extensions.get("sessionhub")
        if hub is None or not hub.settings.testing or resp_model is None:
            return response, None
        model = resp_model.find_model(response.status_code)
        if model is None or not response.is_json:
            return response, None
        try:
            cast(type[BaseModel], model).model_validate_json(response.get_data())
        except ValidationError as err:
            # only under test: a route that breaks its own contract fails loudly
            log.error("response breaks the contract: %s", err)
            refused = jsonify(
                {"error": "contract", "message": f"the response breaks the contract: {err}"}
            )
            refused.status_code = 500
            return refused, None
        return response, None


spec = SpecTree(
    backend=_Plugin,
    title=TITLE,
    version=VERSION,
    mode="strict",
    annotations=False,
    page_templates={},
    validation_error_status=400,
    validation_error_model=ErrorBody,
    before=_refuse,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
)

#: answers every operation can give: no or a bad key; over the per-key rate limit
#: (app/http/limits.py); the database or queue down
ALWAYS = (401, 429, 503)

#: models by name: the name is the component's name in the document
_MODELS: dict[str, type[BaseModel]] = {}

#: per operationId: whether a body is optional and which success answer is not JSON
_EXTRA: dict[str, dict[str, Any]] = {}


def contract(
    responses: dict[int, type[BaseModel] | None],
    *,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    query: type[BaseModel] | None = None,
    errors: Iterable[int] = (),
    tag: str,
    content_type: str | None = None,
    links: dict[str, tuple[str, dict[str, str]]] | None = None,
) -> Callable[[F], F]:
    """Validate the route's body and query against models, and describe its answers.

    `links` are OpenAPI links of the success answer: name → (operationId, {parameter: runtime
    expression}), e.g. `{"GetCoach": ("get_coach", {"coach_id": "$response.body#/id"})}`.
    """

    def decorate(func: F) -> F:
        operation = func.__name__
        if operation in _EXTRA:
            raise ValueError(f"two API routes are named {operation}: operation ids must differ")
        for model in (body, query, *responses.values()):
            if model is not None and _MODELS.setdefault(model.__name__, model) is not model:
                raise ValueError(f"two models are named {model.__name__}: component names clash")
        codes: dict[str, Any] = {f"HTTP_{code}": model for code, model in responses.items()}
        wanted = {*ALWAYS, *errors}
        if body is not None:
            wanted |= {400, 413}
        if query is not None:
            wanted.add(400)
        for code in sorted(wanted):
            codes[f"HTTP_{code}"] = (ErrorBody, _ERRORS[code])
        _EXTRA[operation] = {
            "body_required": body_required,
            "content_type": content_type,
            "refuses_input": 400 in wanted,
            "links": links or {},
        }
        decorated = spec.validate(
            json=body,
            query=query,
            resp=Responses(**codes),
            tags=[tag],
            operation_id=operation,
        )(func)
        return cast(F, decorated)

    return decorate


_document: dict[str, Any] | None = None


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every /api route (built once, from the app's URL map)."""
    global _document  # noqa: PLW0603 - built once per process, the routes never change
    if _document is None:
        _document = _finish(copy.deepcopy(spec.spec))
    return _document


def _finish(doc: dict[str, Any]) -> dict[str, Any]:
    """What spectree does not say: security, path parameter types, optional bodies, .ics."""
    doc["info"]["description"] = (
        "The platform's API to SessionHub. Every operation needs an API key: "
        "`Authorization: Bearer shk_…`. Errors are JSON `{error, message, field?}`."
    )
    doc.setdefault("components", {})["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "shk_…",
            "description": "An API key (`sessionhub api-key create`)",
        }
    }
    doc["security"] = [{"apiKey": []}]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            extra = _EXTRA.get(op["operationId"], {})
            if not extra.get("refuses_input"):
                op["responses"].pop("400", None)  # spectree adds it to every operation
            for parameter in op.get("parameters", []):
                if parameter["in"] == "path":
                    if parameter["name"] not in PATH_PARAMETERS:
                        raise ValueError(f"{method.upper()} {path}: type the path parameter")
                    parameter["schema"] = dict(PATH_PARAMETERS[parameter["name"]])
                    # an id that is not a UUID (or a number) is refused before any lookup
                    if "format" in parameter["schema"] or parameter["schema"]["type"] != "string":
                        op["responses"].setdefault(
                            "400", {**op["responses"]["401"], "description": _ERRORS[400]}
                        )
            if "requestBody" in op:
                op["requestBody"]["required"] = extra.get("body_required", True)
            success = min(code for code in op["responses"] if code.startswith("2"))
            if extra.get("links"):
                op["responses"][success]["links"] = {
                    name: {"operationId": target, "parameters": parameters}
                    for name, (target, parameters) in extra["links"].items()
                }
            content_type = extra.get("content_type")
            if content_type:
                for code, answer in op["responses"].items():
                    if code.startswith("2"):
                        answer["content"] = {content_type: {"schema": {"type": "string"}}}
    known = {op["operationId"] for ops in doc["paths"].values() for op in ops.values()}
    for ops in doc["paths"].values():
        for op in ops.values():
            for answer in op["responses"].values():
                for name, link in answer.get("links", {}).items():
                    if link["operationId"] not in known:
                        raise ValueError(f"link {name} names no operation")
    return doc
