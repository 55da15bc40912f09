"""The collector pause around a poll (dallas_calls.gcpause): off inside, back as it was after,
nested and threaded holders alike; a big change's survivors frozen, an ordinary poll's not."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from dallas_calls import gcpause
from dallas_calls.gcpause import FREEZE_ABOVE, collector_paused


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.unfreeze()
    if was:
        gc.enable()
    else:
        gc.disable()


def test_off_inside_and_on_again_after() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested
            assert not gc.isenabled()
        assert not gc.isenabled(), "the outer holder still holds it"
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_on_again_only_when_the_last_thread_leaves() -> None:
    gc.enable()
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with collector_paused():
            entered.set()
            release.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    assert entered.wait(5)
    with collector_paused():
        pass
    assert not gc.isenabled(), "the other thread still holds a pause"
    release.set()
    other.join(5)
    assert gc.isenabled()
    assert gcpause._state["holders"] == 0


def test_on_again_after_an_exception() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a failed poll")
    assert gc.isenabled()


def test_a_big_change_is_frozen_an_ordinary_one_is_not() -> None:
    gc.enable()
    gc.collect()
    gc.unfreeze()
    before = gc.get_freeze_count()
    with collector_paused():
        small = [[i] for i in range(1_000)]  # an ordinary poll's survivors
    assert gc.get_freeze_count() == before
    with collector_paused():
        big = [[i] for i in range(FREEZE_ABOVE + 10_000)]
    assert gc.get_freeze_count() >= before + FREEZE_ABOVE, "a first snapshot's survivors frozen"
    frozen = gc.get_freeze_count()
    del big  # frozen objects are still freed when nothing refers to them
    assert gc.get_freeze_count() < frozen - FREEZE_ABOVE
    assert small
