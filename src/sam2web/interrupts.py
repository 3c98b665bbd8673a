"""Ctrl-C between steps, never inside one: a step that writes several files finishes before the
KeyboardInterrupt it received is raised, so the outputs agree on which steps are done."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a SIGINT that arrives inside the block and raise it as KeyboardInterrupt at its end.
    Outside the main thread (where Python cannot install handlers) the block runs unguarded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and callable(previous):
        previous(signal.SIGINT, None)  # the handler that was there (by default: raise it now)
    elif received and previous == signal.SIG_DFL:
        raise KeyboardInterrupt
