"""Small Dockerfiles for the breakpoint tests."""

from __future__ import annotations

from pathlib import Path

#: Step 3 creates /file; ``{token}`` makes step 2 run for real (no earlier cache).
FOUR_STEPS = (
    "FROM busybox:local\n"
    "RUN echo {token} > /one\n"
    "RUN touch /file\n"
    "RUN echo last > /last\n")


def four_steps(directory: Path, token: str) -> Path:
    """Write :data:`FOUR_STEPS` as ``directory``/Dockerfile; its path."""
    dockerfile = directory / "Dockerfile"
    dockerfile.write_text(FOUR_STEPS.format(token=token))
    return dockerfile
