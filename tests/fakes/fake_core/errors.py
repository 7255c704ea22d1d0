# Copyright 2026 The exordos_mail authors
# SPDX-License-Identifier: Apache-2.0
"""restalchemy error bodies: {"type", "code", "message"} as Core sends them."""


class RestError(Exception):
    """An error answer: the HTTP status and the restalchemy body."""

    def __init__(self, code, type_, message):
        super().__init__(message)
        self.code = code
        self.type = type_
        self.message = message

    def body(self):
        return {"type": self.type, "code": self.code, "message": self.message}


def not_found(model, uuid):
    return RestError(
        404,
        "NotFoundError",
        "Can't found record in storage for model (<class '%s'>) and filters "
        "({'uuid': <UUIDFilter: %s>})." % (model, uuid),
    )


def validation(message):
    return RestError(400, "ValidationErrorException", message)


def field_permission(name):
    return RestError(403, "FieldPermissionError",
                     "Permission denied for field %s." % name)


def forbidden(message="Forbidden."):
    return RestError(403, "Forbidden", message)


def conflict(uuid):
    return RestError(409, "ConflictException",
                     "Record with id %s already exists." % uuid)


def unauthorized(message="Invalid auth token."):
    return RestError(401, "InvalidAuthTokenError", message)


def not_allowed():
    return RestError(405, "UnsupportedMethod", "Method not allowed.")
