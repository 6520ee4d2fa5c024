"""Range checks shared by the configuration dataclasses; errors name the setting."""

from __future__ import annotations


class ConfigError(ValueError):
    """A recipe or override that does not fit the configuration schema."""


def require_at_least(minimum: float, **values: float) -> None:
    """Raise ConfigError naming the first setting below ``minimum``."""
    for key, value in values.items():
        if value < minimum:
            raise ConfigError(f"{key} must be >= {minimum}, got {value}")


def require_between_0_and_1(**values: float) -> None:
    """Raise ConfigError naming the first setting not strictly between 0 and 1."""
    for key, value in values.items():
        if not 0 < value < 1:
            raise ConfigError(f"{key} must be between 0 and 1 (exclusive), got {value}")


def require_positive(**values: float) -> None:
    """Raise ConfigError naming the first setting that is not > 0."""
    for key, value in values.items():
        if not value > 0:
            raise ConfigError(f"{key} must be > 0, got {value}")


def require_one_of(choices: tuple[str, ...], **values: str) -> None:
    """Raise ConfigError naming the first setting whose value is not one of ``choices``."""
    for key, value in values.items():
        if value not in choices:
            raise ConfigError(f"{key} must be one of {choices}, got {value!r}")
