"""Single-tensor optimizer steps, formula-for-formula torch.optim (float64 oracles).

Every function returns new arrays and never mutates its inputs.
"""
import numpy as np

__all__ = ["sgd_step", "adam_step", "adamw_step"]


def _f64(x):
    return None if x is None else np.array(x, dtype=np.float64)  # copy


def sgd_step(param, grad, momentum_buf=None, *, lr, momentum=0.0, dampening=0.0,
             weight_decay=0.0, nesterov=False, maximize=False, step=None):
    """torch.optim.SGD for one tensor -> (new_param, new_momentum_buf).

        g = -grad if maximize else grad;  g += weight_decay * param
        momentum != 0:
            buf = g                                   (first step: buf is None or step == 1)
            buf = momentum * buf + (1 - dampening) * g  (later steps; note: no dampening at init)
            g = g + momentum * buf if nesterov else buf
        param = param - lr * g
    new_momentum_buf is None when momentum == 0.
    """
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    p, g = _f64(param), _f64(grad)
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    buf = None
    if momentum != 0:
        if momentum_buf is None or step == 1:
            buf = g.copy()
        else:
            buf = momentum * _f64(momentum_buf) + (1.0 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return p - lr * g, buf


def _adam(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
          amsgrad, max_exp_avg_sq, maximize, decoupled):
    if step < 1:
        raise ValueError("step counts from 1 (the value after this update)")
    p, g = _f64(param), _f64(grad)
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:  # AdamW: shrink the parameter, the gradient is untouched
            p = p * (1.0 - lr * weight_decay)
        else:  # Adam: L2 term folded into the gradient
            g = g + weight_decay * p
    m = beta1 * _f64(exp_avg) + (1.0 - beta1) * g
    v = beta2 * _f64(exp_avg_sq) + (1.0 - beta2) * g * g
    bias_correction1 = 1.0 - beta1 ** step
    bias_correction2 = 1.0 - beta2 ** step
    step_size = lr / bias_correction1
    vmax = None
    if amsgrad:
        prev = np.zeros_like(v) if max_exp_avg_sq is None else _f64(max_exp_avg_sq)
        vmax = np.maximum(prev, v)
        denom = np.sqrt(vmax) / np.sqrt(bias_correction2) + eps
    else:
        denom = np.sqrt(v) / np.sqrt(bias_correction2) + eps
    return p - step_size * m / denom, m, v, vmax


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999,
              eps=1e-8, weight_decay=0.0, amsgrad=False, max_exp_avg_sq=None,
              maximize=False):
    """torch.optim.Adam for one tensor (step = the step count after this update, from 1)
    -> (new_param, new_exp_avg, new_exp_avg_sq, new_max_exp_avg_sq or None).

        g += weight_decay * param
        m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
        vmax = max(vmax, v) if amsgrad
        param -= lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)
    Note eps is added AFTER dividing sqrt(v) by sqrt(bias_correction2), as torch does.
    The buffers start at zero (pass zeros at step 1).
    """
    return _adam(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                 amsgrad, max_exp_avg_sq, maximize, decoupled=False)


def adamw_step(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999,
               eps=1e-8, weight_decay=1e-2, amsgrad=False, max_exp_avg_sq=None,
               maximize=False):
    """torch.optim.AdamW for one tensor: param *= (1 - lr * weight_decay) first, then the
    Adam update without the L2 term.  Same returns as adam_step.  Default
    weight_decay is torch's 1e-2."""
    return _adam(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                 amsgrad, max_exp_avg_sq, maximize, decoupled=True)
