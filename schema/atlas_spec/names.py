"""Name rules of the spec language, as annotated string types with clear errors.

Each name type checks its pattern in a validator that raises a `bad_name` error saying
what the name is for and what it should look like, and advertises the same pattern in
the JSON Schema so editors flag it too.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

SERVICE_NAME = r"^[a-z][a-z0-9-]*$"
PASCAL_NAME = r"^[A-Z][A-Za-z0-9]*$"
UPPER_SNAKE = r"^[A-Z][A-Z0-9_]*$"
LOWER_NAME = r"^[a-z][a-z0-9_-]*$"
SNAKE_NAME = r"^[a-z][a-z0-9_]*$"
FIELD_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
# Message types are wire values shared with existing services, so any identifier is accepted.
TYPE_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
FIELD_PATH = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$"
HANDLER_REF = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"

# Field names that would shadow pydantic's own attributes in the generated models.
_RESERVED_FIELD_PREFIXES = ("model_",)


def _name_check(pattern: str, what: str, example: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise PydanticCustomError(
                "bad_name",
                "`{value}` is not a valid {what} name",
                {"value": value, "what": what, "expected": f"{example} (pattern {pattern})"},
            )
        return value

    return AfterValidator(check)


def _check_field_name(value: str) -> str:
    if (
        not re.match(FIELD_NAME, value)
        or keyword.iskeyword(value)
        or value.startswith(_RESERVED_FIELD_PREFIXES)
    ):
        raise PydanticCustomError(
            "bad_name",
            "`{value}` is not a valid field name",
            {
                "value": value,
                "expected": "a Python identifier that is not a keyword nor starts with `model_`, "
                "like `party_id`",
            },
        )
    return value


def _check_field_path(value: str) -> str:
    if not re.match(FIELD_PATH, value):
        raise PydanticCustomError(
            "bad_name",
            "`{value}` is not a field path",
            {"value": value, "expected": "field names joined by dots, like `party_id` or `owner.id`"},
        )
    return value


def _check_handler_ref(value: str) -> str:
    if not re.match(HANDLER_REF, value):
        raise PydanticCustomError(
            "bad_handler_ref",
            "`{value}` is not a handler reference",
            {"value": value, "expected": "`dotted.module:function`, like `parties_logic.commands:create`"},
        )
    return value


ServiceName = Annotated[
    str,
    _name_check(SERVICE_NAME, "service", "lower-kebab like `parties`"),
    Field(json_schema_extra={"pattern": SERVICE_NAME}),
]
ModelName = Annotated[
    str,
    _name_check(PASCAL_NAME, "model", "PascalCase like `Party`"),
    Field(json_schema_extra={"pattern": PASCAL_NAME}),
]
MessageName = Annotated[
    str,
    _name_check(PASCAL_NAME, "message", "PascalCase like `PartyCommand`"),
    Field(json_schema_extra={"pattern": PASCAL_NAME}),
]
TopicToken = Annotated[
    str,
    _name_check(UPPER_SNAKE, "topic token", "UPPER_SNAKE like `EVENT_TOPIC_PARTY_STATUS`"),
    Field(json_schema_extra={"pattern": UPPER_SNAKE}),
]
MessageType = Annotated[
    str,
    _name_check(TYPE_NAME, "message type", "an identifier, usually UPPER_SNAKE like `CREATED`"),
    Field(json_schema_extra={"pattern": TYPE_NAME}),
]
RegistryName = Annotated[
    str,
    _name_check(LOWER_NAME, "registry", "lower snake or kebab like `parties`"),
    Field(json_schema_extra={"pattern": LOWER_NAME}),
]
IndexName = Annotated[
    str,
    _name_check(LOWER_NAME, "index", "lower snake or kebab like `member`"),
    Field(json_schema_extra={"pattern": LOWER_NAME}),
]
LockName = Annotated[
    str,
    _name_check(LOWER_NAME, "lock", "lower snake or kebab like `party`"),
    Field(json_schema_extra={"pattern": LOWER_NAME}),
]
TableName = Annotated[
    str,
    _name_check(SNAKE_NAME, "table", "lower snake like `notes`"),
    Field(json_schema_extra={"pattern": SNAKE_NAME}),
]
TaskName = Annotated[
    str,
    _name_check(LOWER_NAME, "task", "lower snake or kebab like `expire_invites`"),
    Field(json_schema_extra={"pattern": LOWER_NAME}),
]
SagaName = Annotated[
    str,
    _name_check(LOWER_NAME, "saga", "lower snake or kebab like `item_trade`"),
    Field(json_schema_extra={"pattern": LOWER_NAME}),
]
StepName = Annotated[
    str,
    _name_check(LOWER_NAME, "saga step", "lower snake or kebab like `reserve_item`"),
    Field(json_schema_extra={"pattern": LOWER_NAME}),
]
FieldName = Annotated[
    str, AfterValidator(_check_field_name), Field(json_schema_extra={"pattern": FIELD_NAME})
]
HandlerRef = Annotated[
    str, AfterValidator(_check_handler_ref), Field(json_schema_extra={"pattern": HANDLER_REF})
]
FieldPath = Annotated[
    str, AfterValidator(_check_field_path), Field(json_schema_extra={"pattern": FIELD_PATH})
]
