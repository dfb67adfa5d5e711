"""The Llama of the .lmp file (lmp's runtime/model/llama.ts) with Hugging Face tensor names and
layouts (Linear weights [out, in]), loading and saving lmp's model directories
(config.json + model.safetensors), so a checkpoint moves both ways.

  x += o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))   n1 = rmsnorm(x)
  x += down_proj(silu(gate_proj(n2)) * up_proj(n2))                  n2 = rmsnorm(x)
  logits = lm_head(rmsnorm(x))  (lm_head tied to embed_tokens when tie_word_embeddings)
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import LmpxError
from .attention import AttentionContext, AttentionSettings, attend
from .positions import apply_rope, rope_cos_sin, sequence_positions


class ModelError(LmpxError):
    pass


def config_from_hf(j):
    """lmp's fromHfConfig, the shapes: what a LlamaConfig config.json must agree on with spec.json's
    model config (which builds the model; config.json itself is written back verbatim)."""
    arch = j.get("architectures")
    # lmp's saveModel writes NoPE as SmolLM3ForCausalLM and ALiBi as LmpAlibiLlamaForCausalLM, each
    # with lmp_position (runtime/model/config.ts toHfConfigForPosition); the blocks are Llama's
    own = ("LlamaForCausalLM", "SmolLM3ForCausalLM") + (("LmpAlibiLlamaForCausalLM",) if isinstance(j.get("lmp_position"), dict) else ())
    if isinstance(arch, list) and not any(a in own for a in arch):
        raise ModelError("LMP_E_CONFIG", f"config.json: architectures {arch} is not LlamaForCausalLM")
    # RoPE (rope_parameters / rope_scaling) comes from spec.json's model config, not from here
    for k in ("attention_bias", "mlp_bias"):
        if j.get(k) is True:
            raise ModelError("LMP_E_CONFIG_UNSUPPORTED", f"config.json: {k} true is not supported by this engine")
    if j.get("hidden_act", "silu") != "silu":
        raise ModelError("LMP_E_CONFIG_UNSUPPORTED", f"config.json: hidden_act {j['hidden_act']!r} is not supported by this engine")
    heads = j["num_attention_heads"]
    return {"dim": j["hidden_size"], "ffn": j["intermediate_size"], "heads": heads, "kvHeads": j.get("num_key_value_heads", heads),
            "layers": j["num_hidden_layers"], "vocab": j["vocab_size"], "tieEmbeddings": bool(j.get("tie_word_embeddings", False))}


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        # lmp: rstd in float64 of the float32 sum of squares, rounded to float32, y = x * rstd * w
        rs = torch.rsqrt(x.to(torch.float64).pow(2).mean(-1, keepdim=True) + self.eps).to(x.dtype)
        return x * rs * self.weight


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        hd = c["dim"] // c["heads"]
        self.heads, self.kv_heads, self.hd = c["heads"], c["kvHeads"], hd
        self.q_proj = nn.Linear(c["dim"], c["heads"] * hd, bias=False)
        self.k_proj = nn.Linear(c["dim"], c["kvHeads"] * hd, bias=False)
        self.v_proj = nn.Linear(c["dim"], c["kvHeads"] * hd, bias=False)
        self.o_proj = nn.Linear(c["heads"] * hd, c["dim"], bias=False)

    def forward(self, x, run, cache=None):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kv_heads, self.hd).transpose(1, 2)
        if run.rope is not None:
            q = run.rotate(q, run.rope)
            if cache is None or not cache.raw:  # a cache of unrotated keys rotates them by their slot
                k = run.rotate(k, run.rope)
        if cache is not None:
            k, v = cache.update(self, k, v)
        out = attend(q, k, v, run.ctx)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, self.heads * self.hd))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["dim"], c["ffn"], bias=False)
        self.up_proj = nn.Linear(c["dim"], c["ffn"], bias=False)
        self.down_proj = nn.Linear(c["ffn"], c["dim"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["dim"], c["normEps"])
        self.self_attn = SelfAttention(c)
        self.post_attention_layernorm = RMSNorm(c["dim"], c["normEps"])
        self.mlp = MLP(c)

    def forward(self, x, run, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), run, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Trunk(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab"], c["dim"])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["layers"])])
        self.norm = RMSNorm(c["dim"], c["normEps"])


class Run:
    """What one forward needs besides the weights: RoPE tables (model RoPE) and the attention context."""

    def __init__(self, rope, ctx):
        self.rope, self.ctx = rope, ctx

    @staticmethod
    def rotate(x, cs):
        return apply_rope(x, cs[0], cs[1])


class LlamaModel(nn.Module):
    def __init__(self, config, attention_spec):
        super().__init__()
        self.config = dict(config)
        c = self.config
        self.model = Trunk(c)
        if not c["tieEmbeddings"]:
            self.lm_head = nn.Linear(c["dim"], c["vocab"], bias=False)
        self.settings = AttentionSettings(attention_spec, c["heads"], c["kvHeads"], c["dim"] // c["heads"], c["ropeTheta"])
        self.path = "sdpa"
        self.tables = {}
        self.hf_config = None
        self.hf_files = {}

    def head_weight(self):
        return self.model.embed_tokens.weight if self.config["tieEmbeddings"] else self.lm_head.weight

    def run_for(self, positions, docs, q_offset=0, kv_len=None, key_positions=None):
        """The RoPE tables and the attention context of a batch (positions/docs [B, T])."""
        s = self.settings
        B, T = positions.shape
        KV = kv_len if kv_len is not None else T
        rope = rope_cos_sin(positions, s.head_dim, s.rope_theta, s.scaling) if s.rope_in_model else None
        in_op = None
        if s.position == "rope" and s.limit:
            in_op = key_positions if key_positions is not None else _in_op_positions(positions, docs)
        tables = self.tables.get(str(T)) if q_offset == 0 and docs is not None and KV == T else None
        ctx = AttentionContext(s, self.path, B, T, KV, docs=docs, positions=in_op, q_offset=q_offset, tables=tables, device=positions.device)
        return Run(rope, ctx)

    def hidden(self, tokens, run, cache=None):
        x = self.model.embed_tokens(tokens)
        for layer in self.model.layers:
            x = layer(x, run, cache)
        return self.model.norm(x)

    def forward(self, tokens, positions, docs):
        run = self.run_for(positions, docs)
        return F.linear(self.hidden(tokens, run), self.head_weight())

    def token_losses(self, batch):
        """Per-position cross-entropy (0 where weight is 0) and the weights."""
        logits = self(batch["tokens"], batch["positions"], batch["docs"])
        t = batch["targets"]
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t.clamp(min=0).reshape(-1), reduction="none").view_as(t)
        w = batch["weight"]
        return torch.where(w > 0, ce * w, torch.zeros_like(ce)), w

    def loss_sum(self, batch):
        loss, w = self.token_losses(batch)
        return loss.sum(), w.sum()


def _in_op_positions(positions, docs):
    """lmp's kernelPosition: RoPE with a limit positions keys by their index in the sequence, or in
    the document when the batch's positions restart per document; other layouts are refused."""
    seq = sequence_positions(docs, False)
    if torch.equal(positions, seq):
        return seq
    per_doc = sequence_positions(docs, True)
    if torch.equal(positions, per_doc):
        return per_doc
    raise ModelError("LMP_E_BATCH", "attention: RoPE with a distance limit needs position ids that count from 0 per sequence or per document")


def load_weights(model, directory):
    """Load lmp's model directory (config.json + model.safetensors; F32/F16/BF16) into `model`."""
    from safetensors.torch import load_file

    cfg_path = os.path.join(directory, "config.json")
    if not os.path.isdir(directory):
        raise ModelError("LMP_E_MODEL_DIR", f"checkpoint directory {directory} does not exist")
    try:
        with open(cfg_path, encoding="utf-8") as f:
            hf = json.load(f)
        cfg = config_from_hf(hf)
    except (OSError, ValueError, KeyError) as e:
        raise ModelError("LMP_E_CONFIG", f"{cfg_path}: {e}")
    for k, v in cfg.items():
        if v != model.config[k]:
            raise ModelError("LMP_E_WEIGHTS", f"{directory}: {k} {v} in config.json vs {model.config[k]} in the model")
    model.hf_config = hf  # written back verbatim into checkpoints (lmp's own config.json)
    # a Hugging Face tokenizer's files beside the weights go beside each checkpoint too (save_weights)
    model.hf_files = {}
    for name in TOKENIZER_FILES:
        if os.path.isfile(os.path.join(directory, name)):
            with open(os.path.join(directory, name), "rb") as f:
                model.hf_files[name] = f.read()
    tensors = load_file(os.path.join(directory, "model.safetensors"))
    own = model.state_dict()
    with torch.no_grad():
        for name, p in own.items():
            t = tensors.get(name)
            if t is None:
                raise ModelError("LMP_E_WEIGHTS", f"{directory}: model.safetensors has no tensor '{name}'")
            if tuple(t.shape) != tuple(p.shape):
                raise ModelError("LMP_E_WEIGHTS", f"{directory}: tensor '{name}' has shape {list(t.shape)}, config expects {list(p.shape)}")
            p.copy_(t.to(torch.float32))
    return model


def write_atomic(path, data):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def save_weights(directory, tensors, hf_config, files=None):
    """lmp's saveModel: config.json + model.safetensors (F32, HF names), each written atomically.
    config.json is the one the weights were loaded from (lmp's, RoPE parameters and the recorded
    tokenizer, lmp_tokenizer, included); `files` ({name: bytes}: a Hugging Face tokenizer's files
    read beside those weights, load_weights) are written beside them, as lmp's saveModel copies them."""
    from safetensors.torch import save

    os.makedirs(directory, exist_ok=True)
    full = {k: v.detach().to(torch.float32).contiguous().cpu() for k, v in tensors.items()}
    write_atomic(os.path.join(directory, "model.safetensors"), save(full, metadata={"format": "pt"}))
    hf = dict(hf_config, torch_dtype="float32")
    for name, data in (files or {}).items():
        write_atomic(os.path.join(directory, name), data)
    write_atomic(os.path.join(directory, "config.json"), (json.dumps(hf, indent=2) + "\n").encode())
