"""The training hot path does its math in fastnn kernels: the Python layer (Tensor, autograd
Functions, nn, optim) may move, reshape and allocate arrays but never calls NumPy/CuPy math.
A source scan keeps it that way; each allowed use below is not on a gradient path."""
from __future__ import annotations

import re
from pathlib import Path

import fastnn

ROOT = Path(fastnn.__file__).parent
FILES = (["tensor.py"] + [f"autograd/{n}.py" for n in ("basic", "nn_ops", "rnn_ops", "shape", "engine", "function")]
         + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "nn").glob("*.py"))
         + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "optim").glob("*.py")))
MATH = re.compile(r"\b(?:np|xp|numpy|cupy|_xp\([^)]*\))\.(exp|log|log1p|sqrt|tanh|sum|mean|max|min|matmul|dot|einsum|"
                  r"maximum|minimum|add|multiply|subtract|divide|power|abs|clip|square|var|std|prod|tensordot|"
                  r"linalg|argmax|cumsum)\b")
ALLOWED = {
    ("tensor.py", "argmax"),   # integer result, not differentiable
    ("tensor.py", "cumsum"),   # split sizes (Python ints)
    ("nn/init.py", "prod"),    # fan-in from a shape
    ("nn/init.py", "linalg"),  # orthogonal_ init, once, on the host
}


def test_no_array_math_in_the_python_layer():
    offenders = []
    for rel in FILES:
        for lineno, line in enumerate((ROOT / rel).read_text().splitlines(), 1):
            for m in MATH.finditer(line):
                if (rel, m.group(1)) not in ALLOWED:
                    offenders.append(f"{rel}:{lineno}: {line.strip()}")
    assert not offenders, "array math outside fastnn kernels:\n" + "\n".join(offenders)


def test_every_kernel_op_is_routed_and_pending_ops_are_listed():
    from fastnn.autograd import kernels as K

    assert set(K.pending_ops()) <= set(K._F32)
    for name in K._F32:
        assert name in K._F64, f"{name} has no float64 oracle route (gradient checks need one)"
