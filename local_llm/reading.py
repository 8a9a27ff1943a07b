"""What the local LLM reads for retrieval: cards and requests the English sentence embedder cannot.

The embedder (all-MiniLM-L6-v2) knows English only, and only what a sentence says: it does not link
"un gato naranja" to a cat, a Chinese description to a grandmother, or a "ginger Maine Coon" to a
cat. The LLM restates such text in plain English words once, and retrieval runs on that text:
- `gloss_card`: at index time, one short English line per card (what it depicts, in everyday
  words, translated when needed). Stored with the card and embedded with it.
- `restate_request`: at Check-in, the request in plain English, only when the embedder cannot read
  it (words outside its vocabulary that name no card) or retrieval finds nothing convincing.
Both answers are JSON-schema constrained; the card facts are user-facing text only (no paths).
"""
from __future__ import annotations

GLOSS_SYSTEM = (
    "You index a user's personalized image-generation models so they can find them by plain words. "
    "Given one model's name and description, say in English what it depicts: first the everyday "
    "word for the kind of thing (for example 'dog' for a poodle, 'flower' for a tulip, 'painting "
    "style' for a style), then a short English paraphrase. Translate anything not in English. "
    "Use only facts from the name and description; if they say little, say little."
)
GLOSS_SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "maxLength": 40},
        "english": {"type": "string", "maxLength": 200},
    },
    "required": ["kind", "english"],
}
RESTATE_SYSTEM = (
    "Rewrite the user's request for a picture in plain English, in the same person. Translate it if "
    "it is in another language. Say casual or pet words with their everyday word (for example "
    "'kitty' becomes 'cat', 'grandad' becomes 'grandfather'). Keep names and made-up words exactly "
    "as written. Add nothing."
)
RESTATE_SCHEMA = {
    "type": "object",
    "properties": {"english": {"type": "string", "maxLength": 240}},
    "required": ["english"],
}


def gloss_messages(facts: dict) -> list[dict]:
    from local_llm.rerank import describe_card

    return [{"role": "system", "content": GLOSS_SYSTEM},
            {"role": "user", "content": describe_card(facts) + "\n\nReturn JSON."}]


def gloss_card(llm, facts: dict, timeout_s: float | None = None) -> str:
    """'kind: english paraphrase' for one card (raises LLMError when the model fails or runs out of time)."""
    answer = llm.chat_json(gloss_messages(facts), GLOSS_SCHEMA, max_tokens=96, timeout_s=timeout_s)
    kind = " ".join(str(answer.get("kind", "")).split())
    english = " ".join(str(answer.get("english", "")).split())
    return f"{kind}: {english}" if kind and english else (kind or english)


def restate_request(llm, request: str, timeout_s: float | None = None) -> str:
    """The request in plain English words ("" when the model returns nothing)."""
    messages = [{"role": "system", "content": RESTATE_SYSTEM}, {"role": "user", "content": request[:500]}]
    answer = llm.chat_json(messages, RESTATE_SCHEMA, max_tokens=80, timeout_s=timeout_s)
    return " ".join(str(answer.get("english", "")).split())
