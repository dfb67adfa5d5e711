"""lmp's LR schedule (runtime/model/train.ts lrAt): linear warm-up to the peak over `warmup`
steps, then constant, linear or cosine decay to finalFraction * peak at the last step."""
import math


def lr_at(step, total, peak, warmup, decay, final_fraction):
    """LR at a 1-based step of `total` steps."""
    if warmup > 0 and step <= warmup:
        return peak * step / warmup
    if decay == "constant":
        return peak
    span = max(1, total - warmup)
    p = min(1.0, max(0.0, (step - warmup) / span))
    if decay == "linear":
        return peak * (1 - (1 - final_fraction) * p)
    return peak * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * p)))
