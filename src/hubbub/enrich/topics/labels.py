"""Readable topic labels: class-based TF-IDF keywords per topic and per language of the topic.

Each post is tokenised in its own language (``hubbub.text.tokens``: stop words of that language
and of English, links, account keys, numbers and 1-character tokens removed; Chinese and Japanese
segmented). A token's weight in a topic's language is ``tf * log(1 + A / f)``: ``tf`` its share
of that topic-language's tokens, ``f`` its count over all topics, ``A`` the mean number of tokens
per topic (the c-TF-IDF of BERTopic). Tokens found in more than half of the topics (when there are
at least 4) say nothing about any one of them and are dropped. A language is one of the topic's
languages when it holds at least ``min_lang_share`` of the topic's posts (and 2 posts); the
label is the best 3 keywords of each of its (up to 3) main languages.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from hubbub.text.tokens import tokens

UNDETERMINED = "und"


@dataclass
class TopicWords:
    languages: list[str] = field(default_factory=list)
    keywords_by_lang: dict[str, list[str]] = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)
    label: str = ""


def topic_words(topic_ids: Sequence[int], texts: Sequence[str | None], langs: Sequence[str | None],
                n_topics: int, top: int = 8, min_lang_share: float = 0.1) -> list[TopicWords]:
    """Keywords and a label for topics ``0 .. n_topics-1`` from their member posts (ids < 0 are
    outliers: they count as background for the weights but get no label)."""
    counts: dict[tuple[int, str], Counter[str]] = {}
    posts: dict[tuple[int, str], int] = Counter()
    for t, text, lang in zip(topic_ids, texts, langs, strict=True):
        lg = lang or UNDETERMINED
        key = (int(t), lg)
        posts[key] += 1
        counts.setdefault(key, Counter()).update(tokens(text, lang))
    total: Counter[str] = Counter()
    per_topic: dict[int, set[str]] = {}
    for (t, _), c in counts.items():
        total.update(c)
        per_topic.setdefault(t, set()).update(c)
    spread: Counter[str] = Counter(w for words in per_topic.values() for w in words)
    n_classes = max(len(per_topic), 1)
    common = {w for w, n in spread.items() if n_classes >= 4 and n > n_classes / 2}
    mean_tokens = sum(total.values()) / n_classes
    out = []
    for t in range(n_topics):
        topic_posts = sum(n for (tt, _), n in posts.items() if tt == t)
        langs_here = sorted(((lg, n) for (tt, lg), n in posts.items() if tt == t
                             and n >= 2 and n >= min_lang_share * topic_posts), key=lambda p: (-p[1], p[0]))
        tw = TopicWords(languages=[lg for lg, _ in langs_here])
        for lg in tw.languages:
            c = counts[(t, lg)]
            size = sum(c.values()) or 1
            ranked = sorted((w for w in c if w not in common),
                            key=lambda w: (-(c[w] >= 2), -c[w] / size * math.log(1 + mean_tokens / total[w]), w))
            if ranked:
                tw.keywords_by_lang[lg] = ranked[:top]
        tw.keywords = _interleave(list(tw.keywords_by_lang.values()), top)
        tw.label = " / ".join(", ".join(words[:3]) for words in list(tw.keywords_by_lang.values())[:3])
        out.append(tw)
    return out


def _interleave(lists: list[list[str]], top: int) -> list[str]:
    """Round-robin over the languages' ranked keywords, without repeats."""
    out: list[str] = []
    for rank in range(max((len(x) for x in lists), default=0)):
        for words in lists:
            if rank < len(words) and words[rank] not in out:
                out.append(words[rank])
    return out[:top]
