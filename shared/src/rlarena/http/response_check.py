"""Whether a JSON answer is what its route declares (VALIDATE_RESPONSES): the check that keeps the
response models, and so the OpenAPI document, from drifting away from the handlers."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from rlarena.http.operation import Content, Operation, Ref, resolved

JSON = "application/json"


def json_model(operation: Operation, status: int) -> type[BaseModel] | None:
    """The model declared for a JSON answer with `status`, if any."""
    answer: object = operation.responses.get(status)
    if isinstance(answer, Content):
        answer = answer.media.get(JSON)
    if isinstance(answer, Ref) or (isinstance(answer, type) and issubclass(answer, BaseModel)):
        return resolved(answer)
    return None


def response_problem(operation: Operation, status: int, text: str) -> str | None:
    """What is wrong with the JSON `text` answered with `status` (None if nothing): an undeclared
    status or a body its model refuses. Field paths only: the values may be anybody's data."""
    if status not in operation.responses:
        return f"{operation.operation_id} declares no {status} answer"
    model = json_model(operation, status)
    if model is None:
        answer = operation.responses[status]
        if isinstance(answer, Content) and JSON in answer.media:
            return None  # a JSON schema given as such (free-form documents), checked by schemathesis
        return f"{operation.operation_id} declares no JSON body for {status}"
    try:
        model.model_validate_json(text, strict=True)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_context=False, include_input=False)
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in problems[:5])
        return f"{operation.operation_id} {status} does not match {model.__name__}: {where}"
    return None
