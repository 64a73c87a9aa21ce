"""Conventions of BuildKit's progress display (``util/progress/progressui``) that bxtui keeps."""

from __future__ import annotations

from typing import Final

#: progressui treats an error ending with this text as a cancellation.
CANCELED_SUFFIX: Final = "context canceled"
