"""What Check-in asks the local LLM: does each option fit (pointwise), and how to word the question.

Cards reach this module as plain dicts of user-facing facts (name, trigger, description, tags,
version, created, base model, kind) — never paths or ids — so nothing internal can leak into a
question. The LLM never picks from a numbered list: small models pick the first item far too
often, so every option is scored on its own (yes/no log-odds) and the decision is made from those
scores. The question is a JSON-schema-constrained completion and is checked to name every option.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from local_llm.runtime import string_fields

FIT_SYSTEM = (
    "You help a user pick one of their personalized image-generation models. "
    "Given what the user asked for and one model's details, answer only yes or no: "
    "would the user want this model for this request? Answer no if the request is about a "
    "different subject or style, or if it excludes this model."
)
QUESTION_SYSTEM = (
    "You help a user pick one of their personalized image-generation models. Several of their "
    "models fit the request. Write one short, friendly question (at most 25 words) asking which "
    "one they mean, naming every option exactly as written. Do not mention files or ids."
)
QUESTION_SCHEMA = string_fields(question=160)
FIT_THRESHOLD = 0.0  # log-odds above which an option counts as a fit


@dataclass
class RerankDecision:
    """The LLM's verdict over the options: choose one, ask, or none fits; `scores` are yes/no log-odds."""

    action: str  # choose | ask | none
    index: int | None
    scores: list[float]


def describe_card(facts: dict) -> str:
    """One card as a few labelled lines (only fields that have a value)."""
    lines = [f"Name: {facts.get('name') or 'unnamed'}"]
    if facts.get("trigger"):
        lines.append(f"Trigger word: {facts['trigger']}")
    if facts.get("description"):
        lines.append(f"Description: {facts['description'][:300]}")
    if facts.get("tags"):
        lines.append("Tags: " + ", ".join(facts["tags"][:8]))
    kind = {"lora": "LoRA", "textual_inversion": "embedding", "checkpoint": "checkpoint"}.get(facts.get("kind"), "")
    if kind:
        lines.append(f"Type: {kind}")
    return "\n".join(lines)


def fit_messages(request: str, facts: dict) -> list[dict]:
    # the request comes first so that the prompts for several cards share a cached prefix
    return [
        {"role": "system", "content": FIT_SYSTEM},
        {"role": "user", "content": f"Request: {request}\n\nModel:\n{describe_card(facts)}\n\nDoes this model fit the request? Answer yes or no."},
    ]


def fit_scores(llm, request: str, cards: list[dict], timeout_s: float | None = None) -> list[float]:
    """Yes/no log-odds per card, each judged on its own (no list, so no position bias).

    With `timeout_s`, raises LLMError when the cards are not all judged in time (a partial
    verdict would favour the cards that happened to come first).
    """
    from local_llm.runtime import LLMError

    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    scores = []
    for facts in cards:
        if deadline is not None and time.monotonic() > deadline:
            raise LLMError(f"judging {len(cards)} options took longer than {timeout_s:g} s")
        scores.append(llm.yes_logodds(fit_messages(request, facts)))
    return scores


def rerank(llm, request: str, cards: list[dict], threshold: float = FIT_THRESHOLD) -> RerankDecision:
    """choose (exactly one option fits), ask (several fit) or none (no option fits)."""
    scores = fit_scores(llm, request, cards)
    fits = [i for i, s in enumerate(scores) if s > threshold]
    if len(fits) == 1:
        return RerankDecision("choose", fits[0], scores)
    if not fits:
        return RerankDecision("none", None, scores)
    return RerankDecision("ask", None, scores)


def judge_fit(llm, request: str, cards: list[dict], threshold: float = FIT_THRESHOLD,
              timeout_s: float | None = None) -> list[bool]:
    return [s > threshold for s in fit_scores(llm, request, cards, timeout_s)]


def write_question(llm, request: str, option_names: list[str], timeout_s: float | None = None) -> str | None:
    """One short question naming every option; None when the model's question leaves one out."""
    if len(option_names) < 2:
        raise ValueError("a clarification question needs at least two options")
    listed = "\n".join(f"- {name}" for name in option_names)
    messages = [
        {"role": "system", "content": QUESTION_SYSTEM},
        {"role": "user", "content": f"Request: {request}\nOptions:\n{listed}\n\nReturn JSON with the question."},
    ]
    answer = llm.chat_json(messages, QUESTION_SCHEMA, max_tokens=64, timeout_s=timeout_s)
    question = " ".join(str(answer.get("question", "")).split())
    if not question or not all(name.lower() in question.lower() for name in option_names):
        return None
    if "/" in question or "\\" in question or ".safetensors" in question.lower():
        return None
    return question
