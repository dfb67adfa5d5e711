"""lmpx: the runtime of a PyTorch package exported by `lmpc export --pytorch` (generated; do not edit).

model.py (Llama, HF tensor names, lmp's safetensors + config.json), attention.py (sdpa / flex /
flex-compiled), masks.py (mask_mods, BlockMask), positions.py (RoPE scalings, ALiBi), data.py
(shards, bucket batch sampler), curriculum.py + rng.py (lmp's schedule, sfc32), schedule.py (LR),
trainer.py (train.py, torchrun + FSDP2), sampling.py (generate.py's sampler chain)."""


class LmpxError(RuntimeError):
    """An error with an lmp code; train.py and generate.py print it as `error CODE: message` (exit 2)."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
