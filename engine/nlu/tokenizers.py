"""Tokenizers: split text into tokens with character offsets."""

from __future__ import annotations

import re

from engine.nlu.component import Component
from engine.nlu.message import Message, Token

# Rasa's whitespace tokenizer drops most punctuation around words but keeps e.g. "3.5" or "o'clock".
_WORD = re.compile(r"[^\s]+")
_STRIP = re.compile(r"^[^\w#@&]+|[^\w#@&]+$")


class WhitespaceTokenizer(Component):
    name = "WhitespaceTokenizer"
    defaults = {
        "intent_tokenization_flag": False,
        "intent_split_symbol": "_",
        "token_pattern": None,
        "case_sensitive": True,
    }

    def process(self, message: Message) -> None:
        message.tokens = self.tokenize(message.text)

    def tokenize(self, text: str) -> list[Token]:
        pattern = self.options.get("token_pattern")
        if pattern:
            return [Token(m.group(0), m.start(), m.end()) for m in re.finditer(pattern, text)]
        tokens = []
        for match in _WORD.finditer(text):
            stripped = _STRIP.sub("", match.group(0))
            if not stripped:
                continue
            start = match.start() + match.group(0).index(stripped)
            word = stripped if self.options["case_sensitive"] else stripped.lower()
            tokens.append(Token(word, start, start + len(stripped)))
        return tokens
