"""A document that must run alone waits for the running ones, and holds back new ones."""

from __future__ import annotations

import threading
import time

from workers.isolation import ProcessSlots


def test_alone_waits_for_running_documents_and_new_ones_wait_for_it() -> None:
    slots = ProcessSlots()
    events: list[str] = []
    first_running = threading.Event()
    release_first = threading.Event()

    def ordinary(name: str, hold: threading.Event | None = None) -> None:
        with slots.slot(alone=False):
            events.append(f"{name} start")
            if hold is not None:
                first_running.set()
                hold.wait(5)
            events.append(f"{name} end")

    def alone() -> None:
        with slots.slot(alone=True):
            events.append("alone start")
            time.sleep(0.05)
            events.append("alone end")

    threads = [threading.Thread(target=ordinary, args=("first", release_first))]
    threads[0].start()
    assert first_running.wait(5)
    threads.append(threading.Thread(target=alone))
    threads[1].start()
    time.sleep(0.05)  # the alone one is now waiting for "first"
    threads.append(threading.Thread(target=ordinary, args=("second",)))
    threads[2].start()
    time.sleep(0.05)
    assert events == ["first start"]  # neither may start while "first" runs and "alone" waits
    release_first.set()
    for thread in threads:
        thread.join(5)
    assert events == ["first start", "first end", "alone start", "alone end", "second start", "second end"]


def test_ordinary_documents_share_the_process() -> None:
    slots = ProcessSlots()
    inside = threading.Barrier(2, timeout=5)

    def ordinary() -> None:
        with slots.slot(alone=False):
            inside.wait()  # both must be inside at once, or this times out

    threads = [threading.Thread(target=ordinary) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not inside.broken
