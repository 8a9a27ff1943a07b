"""The llama.cpp runtime: one model loaded once per process, chat-template aware, constrained output only.

`llama_cpp` is imported inside `get_llm`, so importing this module costs nothing. Two ways to ask:
- `yes_logodds(messages)`: evaluate the chat prompt and read log P(yes) - log P(no) from the next-token
  logits. Pointwise scoring like this avoids the strong position bias small models show when they pick
  from a list. Prompts that share a prefix (same system text and request) reuse its KV cache.
- `chat_json(messages, schema)`: a chat completion whose output is constrained by a JSON schema
  (llama.cpp grammar), parsed with `json.loads`; nothing free-form is ever scraped with regexes.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from local_llm.models import Progress, resolve_model_path

log = logging.getLogger(__name__)

N_CTX = 2048
_CACHE: dict[str, "LocalLLM"] = {}
_LOCK = threading.Lock()


class LLMError(RuntimeError):
    """The model could not be loaded or could not answer."""


def string_fields(**max_lengths: int) -> dict:
    """JSON schema of an object whose fields are all required strings of at most the given lengths
    (what `LocalLLM.chat_json` constrains an answer to)."""
    return {"type": "object", "properties": {k: {"type": "string", "maxLength": n} for k, n in max_lengths.items()},
            "required": list(max_lengths)}


def physical_cores() -> int:
    """llama.cpp is fastest with one thread per physical core (hyper-threads only contend)."""
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
    except ImportError:
        n = None
    return max(1, n or os.cpu_count() or 1)


class LocalLLM:
    """A loaded GGUF chat model. Not thread-safe by itself: every call takes the instance lock."""

    def __init__(self, llama, path: Path):
        self.llama = llama
        self.path = path
        self.lock = threading.Lock()
        self._formatter = _chat_formatter(llama)
        self._yes_ids, self._no_ids = self._answer_token_ids()
        self.prompt_tps, self.gen_tps = self._measure_speed()

    def _measure_speed(self) -> tuple[float, float]:
        """Tokens per second reading a prompt and writing an answer, measured once at load on this machine:
        time budgets scale with it, so a slow laptop or busy cores get time in proportion, not a fixed 10 s."""
        probe = self.llama.tokenize(b"Describe a small red cactus in a clay pot on a sunny windowsill. " * 4)
        try:
            self.llama.reset()
            self.llama.eval(probe[:8])  # the first call allocates buffers: not part of the speed
            self.llama.reset()
            start = time.perf_counter()
            self.llama.eval(probe)
            read = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(4):
                self.llama.eval([self.llama.sample(temp=0.0)])
            write = time.perf_counter() - start
            self.llama.reset()
        except Exception as exc:  # a model that cannot be probed keeps the callers' own budgets
            log.debug("LLM speed not measured: %s", exc)
            return float("inf"), float("inf")
        return len(probe) / max(read, 1e-3), 4 / max(write, 1e-3)

    def budget_s(self, messages: list[dict], max_tokens: int, floor_s: float) -> float:
        """Seconds one answer may take: 2.5x what this machine's measured speed predicts, at least the caller's
        floor and at most 6x it (a stalled model still gives up)."""
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) / 3.5  # ~chars per token
        expected = prompt_tokens / self.prompt_tps + max_tokens / self.gen_tps
        return min(max(floor_s, 2.5 * expected), 6 * floor_s)

    # --- prompts -----------------------------------------------------------------------
    def format_chat(self, messages: list[dict]) -> str:
        """The prompt text the model's own chat template makes, ending where the assistant answers."""
        if self._formatter is not None:
            return self._formatter(messages=messages).prompt
        # no template in the file: ChatML, which most small instruct models (Qwen, SmolLM) use
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + "<|im_start|>assistant\n"

    def _answer_token_ids(self) -> tuple[list[int], list[int]]:
        def first_ids(words):
            ids = set()
            for w in words:
                toks = self.llama.tokenize(w.encode("utf-8"), add_bos=False, special=False)
                if toks:
                    ids.add(toks[0])
            return sorted(ids)

        return first_ids(["yes", "Yes", " yes", " Yes", "YES"]), first_ids(["no", "No", " no", " No", "NO"])

    # --- scoring -----------------------------------------------------------------------
    def yes_logodds(self, messages: list[dict]) -> float:
        """log P(yes) - log P(no) for the assistant's first token (positive: the model says yes)."""
        prompt = self.format_chat(messages)
        tokens = self.llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        if len(tokens) >= self.llama.n_ctx():
            raise LLMError(f"prompt of {len(tokens)} tokens does not fit the context ({self.llama.n_ctx()})")
        with self.lock:
            logits = self._eval_reusing_prefix(tokens)
        logits = logits.astype(np.float64)
        top = logits.max()
        logz = top + np.log(np.exp(logits - top).sum())
        yes = np.logaddexp.reduce(logits[self._yes_ids] - logz)
        no = np.logaddexp.reduce(logits[self._no_ids] - logz)
        return float(yes - no)

    def _eval_reusing_prefix(self, tokens: list[int]) -> np.ndarray:
        """Evaluate tokens, keeping the KV cache of the prefix shared with the previous prompt."""
        llama = self.llama
        done = list(llama.eval_tokens) if hasattr(llama, "eval_tokens") else []
        prefix = 0
        for a, b in zip(done, tokens[:-1]):
            if a != b:
                break
            prefix += 1
        if prefix == 0:
            llama.reset()
        else:
            llama.n_tokens = prefix
        llama.eval(tokens[prefix:])
        # without logits_all llama-cpp-python keeps no scores; the context still holds the last row
        return np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).copy()

    # --- constrained generation ----------------------------------------------------------
    def chat_json(self, messages: list[dict], schema: dict, max_tokens: int = 96,
                  timeout_s: float | None = None) -> dict:
        """A chat answer constrained to `schema` (llama.cpp grammar from the JSON schema), as a dict.

        `timeout_s` bounds the wall time: tokens are streamed and generation stops (LLMError) once it
        passes, so a slow or overloaded machine falls back instead of keeping the user waiting.
        """
        if timeout_s is not None:
            timeout_s = self.budget_s(messages, max_tokens, timeout_s)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        pieces: list[str] = []
        with self.lock:
            stream = self.llama.create_chat_completion(
                messages=messages, temperature=0.0, max_tokens=max_tokens, stream=True,
                response_format={"type": "json_object", "schema": schema},
            )
            for chunk in stream:
                pieces.append(chunk["choices"][0].get("delta", {}).get("content") or "")
                if deadline is not None and time.monotonic() > deadline:
                    stream.close()
                    raise LLMError(f"model answer took longer than {timeout_s:g} s")
        text = "".join(pieces)
        try:
            value = json.loads(text)
        except ValueError as exc:  # only when max_tokens cut the object short
            raise LLMError(f"model output is not complete JSON ({exc}): {text[:80]!r}") from exc
        if not isinstance(value, dict):
            raise LLMError(f"model output is not a JSON object: {text[:80]!r}")
        return value

    def close(self) -> None:
        """Free the native model and context."""
        with self.lock:
            close = getattr(self.llama, "close", None)
            if close:
                close()


def _chat_formatter(llama):
    """A Jinja2 formatter from the chat template stored in the GGUF, or None when it has none."""
    template = (getattr(llama, "metadata", None) or {}).get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def token_text(token_id):
        if token_id is None or token_id < 0:
            return ""
        return llama.detokenize([token_id], special=True).decode("utf-8", errors="ignore")

    return Jinja2ChatFormatter(template=template, eos_token=token_text(llama.token_eos()),
                               bos_token=token_text(llama.token_bos()), add_generation_prompt=True)


def load_llm(model_path: str | os.PathLike | None = None, progress: Progress | None = None,
             n_threads: int | None = None) -> LocalLLM:
    """Load a GGUF (explicit path, settings, or the verified default) into a new LocalLLM."""
    path = resolve_model_path(model_path, progress)
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise LLMError("llama-cpp-python is not installed; Check-in runs on retrieval alone") from exc
    try:
        llama = Llama(model_path=str(path), n_ctx=N_CTX, n_threads=n_threads or physical_cores(),
                      n_threads_batch=n_threads or physical_cores(), n_batch=256, logits_all=False,
                      verbose=False, seed=0)
    except Exception as exc:  # llama.cpp raises ValueError/RuntimeError on a bad file
        raise LLMError(f"cannot load LLM model {path}: {exc}") from exc
    return LocalLLM(llama, path)


def get_llm(model_path: str | os.PathLike | None = None, progress: Progress | None = None) -> LocalLLM:
    """The process-wide LocalLLM for this model path: loaded on first use, then reused."""
    path = resolve_model_path(model_path, progress)  # cheap once the default is assembled and stamped
    key = str(path.resolve())
    with _LOCK:
        llm = _CACHE.get(key)
        if llm is None:
            llm = load_llm(path, progress)
            _CACHE[key] = llm
        return llm


def release_all() -> None:
    """Close every cached model (tests, app shutdown)."""
    with _LOCK:
        for llm in _CACHE.values():
            llm.close()
        _CACHE.clear()
