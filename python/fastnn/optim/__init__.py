"""fastnn.optim: SGD, Adam, AdamW on fastnn's fused in-place step kernels, and LR schedulers."""
from . import lr_scheduler  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
