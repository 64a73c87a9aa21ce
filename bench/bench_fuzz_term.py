"""Fuzz the terminal emulator adapter with a million hostile chunks (issue 8, item 5).

Chunks mix random bytes, truncated and malformed CSI/OSC/DCS/APC sequences, huge
parameters, split UTF-8, control characters and plain text; every 1,000 chunks the
emulator is resized (a storm of random sizes, including 1x1), scrolled, captured and read
(dirty rows, rows, cursor, modes, replies), as the pane does.  Any exception or an invariant
broken (size, cursor inside the screen) is counted; the run fails if one happens.
Deterministic: ``--seed``.

    .venv/bin/python bench/bench_fuzz_term.py [--chunks 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui.ui.term import create_emulator

PIECES = [
    b"\x1b[", b"\x1b]", b"\x1bP", b"\x1b_", b"\x1b[?", b"\x1b[>", b"\x9b", b"\x1b(0",
    b"\x1b[38;2;", b"\x1b[48;5;", b"\x1b]8;;", b"\x1b]52;c;", b"\x07", b"\x1b\\", b"\x1bc",
    b"\x1b[6n", b"\x1b[c", b"\x1b[?1049h", b"\x1b[?1049l", b"\x1b[?2004h", b"\x1b[r",
    b"\x1b[999999999;999999999H", b"\x1b[1;1r", b"\x1b[2J", b"\x1b[3J", b"\x1b[K",
    b"\x1b[?25l", b"\x1b[?25h", b"\x1b[L", b"\x1b[M", b"\x1b[99999@", b"\x1b[99999P",
    "é".encode(), "漢".encode(), "🙂".encode(), "e\u0301".encode(), b"\xf0\x9f", b"\x98\x82",
    b"\xff\xfe", b"\xc0\x80", b"\r\n", b"\n", b"\t", b"\b", b"\x00", b"\x7f", b";", b"0",
    b"65535", b"-1", b"m", b"H", b"h", b"l", b"abc def ", b"x" * 300,
]


def chunk(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.15:
        return rng.randbytes(rng.randint(1, 64))
    parts = [rng.choice(PIECES) for _ in range(rng.randint(1, 8))]
    data = b"".join(parts)
    if rng.random() < 0.3:  # cut anywhere: split sequences and UTF-8
        data = data[: rng.randint(0, len(data))]
    return data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    emu = create_emulator(80, 24)
    cols, rows = 80, 24
    errors = 0
    fed = 0
    resizes = 0
    t0 = time.perf_counter()
    try:
        for i in range(args.chunks):
            data = chunk(rng)
            fed += len(data)
            try:
                emu.feed(data)
                if i % 1000 == 999:
                    cols, rows = rng.choice([(1, 1), (2, 1), (80, 24), (300, 100),
                                             (rng.randint(1, 250), rng.randint(1, 80))])
                    emu.resize(cols, rows)
                    resizes += 1
                    emu.scroll_by(rng.randint(-50, 50))
                    if emu.capture():
                        for y in sorted(emu.dirty_rows())[:rows]:
                            emu.row(y)
                        emu.clear_dirty()
                    cur = emu.cursor
                    assert emu.size == (cols, rows), (emu.size, cols, rows)
                    assert 0 <= cur.x <= cols and 0 <= cur.y < rows, (cur, cols, rows)
                    emu.modes  # noqa: B018 - read like the pane does
                    emu.take_replies()
                    emu.scroll_to_bottom()
            except Exception as exc:
                errors += 1
                if errors <= 5:
                    print(f"chunk {i}: {type(exc).__name__}: {exc} for {data!r}")
    finally:
        emu.close()
    dt = time.perf_counter() - t0
    print(f"{args.chunks:,} chunks ({fed / 1e6:.1f} MB), {resizes:,} resize/read rounds in "
          f"{dt:.1f} s ({args.chunks / dt:,.0f} chunks/s, {fed / dt / 1e6:.1f} MB/s): "
          f"{errors} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
