"""fastnn._heap: fit() keeps freed memory in the heap (glibc mallopt), once per process, opt-out by env."""
from __future__ import annotations

import os
import resource

import numpy as np
import pytest

import fastnn
from fastnn import _heap


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(_heap, "_state", None)


def test_opt_out_leaves_malloc_alone(fresh, monkeypatch):
    monkeypatch.setenv("FASTNN_RETAIN_HEAP", "0")
    called = []
    monkeypatch.setattr(_heap, "_glibc", lambda: called.append(1) or True)
    assert _heap.retain_freed_memory() is False
    assert called == []


def test_no_glibc_is_a_no_op(fresh, monkeypatch):
    monkeypatch.delenv("FASTNN_RETAIN_HEAP", raising=False)
    monkeypatch.setattr(_heap, "_glibc", lambda: False)
    assert _heap.retain_freed_memory() is False


@pytest.mark.skipif(not _heap._glibc(), reason="glibc only")
def test_reallocating_freed_arrays_does_not_fault_pages_back_in(fresh, monkeypatch):
    monkeypatch.delenv("FASTNN_RETAIN_HEAP", raising=False)
    assert _heap.retain_freed_memory() is True
    assert _heap.retain_freed_memory() is True  # idempotent
    def churn():  # a "step": 24 MiB of 3 MiB activations allocated, written, freed
        arrays = [np.ones(3 << 18, np.float32) for _ in range(8)]
        del arrays
    churn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        churn()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 5 * (24 << 20) // 4096 // 10  # far below one fault per page per step


def test_fit_calls_it(monkeypatch):
    calls = []
    monkeypatch.setattr(_heap, "retain_freed_memory", lambda: calls.append(1) or False)
    model = fastnn.keras.Sequential([fastnn.keras.layers.Dense(3)])
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 2), np.float32), np.ones((4, 3), np.float32), epochs=1, verbose=0)
    assert calls == [1]
