"""Rules for user accounts, independent of HTTP and SQL."""

from __future__ import annotations

import re

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,50}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


def normalise_email(email: str) -> str:
    return email.strip().lower()


def username_problem(username: str) -> str | None:
    if not USERNAME_PATTERN.match(username):
        return "must be 3-50 characters: letters, digits, '_', '.' or '-'"
    return None


def email_problem(email: str) -> str | None:
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        return "must be a valid email address"
    return None


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    return None
