"""bxtui: a keyboard-driven terminal debugger for Docker BuildKit builds."""

import time as _time

#: perf_counter() when the package was first imported (start-up figures for benchmarks).
STARTED = _time.perf_counter()
