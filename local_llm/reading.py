"""What the local LLM reads for retrieval: cards and requests the English sentence embedder cannot.

The embedder (all-MiniLM-L6-v2) knows English only, and only what a sentence says: it does not link
"un gato naranja" to a cat, a Chinese description to a grandmother, or a "ginger Maine Coon" to a
cat. The LLM restates such text in plain English words once, and retrieval runs on that text:
- `gloss_card`: at index time, one short English line per card not in English (what it depicts, in
  everyday words, translated). Stored with the card and embedded with it.
- `name_subject`: at index time, the everyday word for what a card shows ("cat" for a Maine Coon).
  Not embedded (that moved every English card's scores): Check-in uses it to see that two cards are
  the same kind of thing when the request names only that kind ("an orange cat").
- `restate_request`: at Check-in, the request in plain English, only when the embedder cannot read
  it (words outside its vocabulary that name no card) or retrieval finds nothing convincing.
All answers are JSON-schema constrained; the card facts are user-facing text only (no paths).
"""
from __future__ import annotations

from local_llm.runtime import string_fields

GLOSS_SYSTEM = (
    "You index a user's personalized image-generation models so they can find them by plain words. "
    "Given one model's name and description, say in English what it depicts: first the everyday "
    "word for the kind of thing (for example 'dog' for a poodle, 'flower' for a tulip, 'painting "
    "style' for a style), then a short English paraphrase. Translate anything not in English. "
    "Use only facts from the name and description; if they say little, say little."
)
GLOSS_SCHEMA = string_fields(kind=40, english=200)
SUBJECT_SYSTEM = (
    "You index a user's personalized image-generation models so they can find them by plain words. "
    "Given one model's name and description, answer with the everyday English word for the kind of thing "
    "it shows: the word a person uses who does not remember the model's name (for example 'dog' for a "
    "poodle, 'flower' for a tulip, 'car' for a Mustang, 'painting style' for a style). "
    "Use only facts from the name and description."
)
SUBJECT_SCHEMA = string_fields(kind=30)
RESTATE_SYSTEM = (
    "Rewrite the user's request for a picture in plain English, in the same person. Translate it if "
    "it is in another language. Say casual or pet words with their everyday word (for example "
    "'kitty' becomes 'cat', 'grandad' becomes 'grandfather'). Keep names and made-up words exactly "
    "as written. Add nothing."
)
RESTATE_SCHEMA = string_fields(english=240)


def card_messages(system: str, facts: dict) -> list[dict]:
    from local_llm.rerank import describe_card

    return [{"role": "system", "content": system},
            {"role": "user", "content": describe_card(facts) + "\n\nReturn JSON."}]


def _words(value) -> str:
    return " ".join(str(value or "").split())


def gloss_card(llm, facts: dict, timeout_s: float | None = None) -> tuple[str, str]:
    """(kind, 'kind: english paraphrase') for one card (raises LLMError when the model fails or runs out of time)."""
    answer = llm.chat_json(card_messages(GLOSS_SYSTEM, facts), GLOSS_SCHEMA, max_tokens=96, timeout_s=timeout_s)
    kind, english = _words(answer.get("kind")), _words(answer.get("english"))
    return kind, (f"{kind}: {english}" if kind and english else (kind or english))


def name_subject(llm, facts: dict, timeout_s: float | None = None) -> str:
    """The everyday word for what one card shows ("" when the model returns nothing)."""
    answer = llm.chat_json(card_messages(SUBJECT_SYSTEM, facts), SUBJECT_SCHEMA, max_tokens=24, timeout_s=timeout_s)
    return _words(answer.get("kind"))


def restate_request(llm, request: str, timeout_s: float | None = None) -> str:
    """The request in plain English words ("" when the model returns nothing)."""
    messages = [{"role": "system", "content": RESTATE_SYSTEM}, {"role": "user", "content": request[:500]}]
    answer = llm.chat_json(messages, RESTATE_SCHEMA, max_tokens=80, timeout_s=timeout_s)
    return " ".join(str(answer.get("english", "")).split())
