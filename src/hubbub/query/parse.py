"""The query language: text → syntax tree (a small recursive-descent parser).

    query  := or
    or     := and ("OR" and)*
    and    := unary (["AND"] unary)*          juxtaposition means AND
    unary  := ("NOT" | "-") unary | near
    near   := atom ("NEAR/" n atom)?          both sides words or phrases
    atom   := "(" or ")" | field | "phrase" | word | word*

Operators are upper case (``and``/``or``/``not`` in lower case are searched as words). A field is
``name:value`` with a known name (see ``FIELDS``); its value is parsed here, so that every malformed
query, whatever part of it is wrong, fails in ``parse`` with the column where the problem starts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hubbub.errors import BadParameter
from hubbub.query.text import chunks, fold

TEXT_FIELDS = ("lang", "platform", "kind", "dataset", "sentiment", "hashtag", "domain", "url", "author", "topic")
NUMBER_FIELDS = ("likes", "reposts", "replies", "quotes", "views", "engagement")
FIELDS = (*TEXT_FIELDS, "date", *NUMBER_FIELDS)
KINDS = ("post", "reply", "repost", "quote", "comment")
SENTIMENTS = {"negative": "negative", "neg": "negative", "neutral": "neutral", "neu": "neutral",
              "positive": "positive", "pos": "positive"}
_AUTHOR = re.compile(r"acct_[0-9a-f]{24}")
_NEAR = re.compile(r"NEAR(?:/(.*))?", re.DOTALL)
_FIELD = re.compile(r"([A-Za-z_]+):(.*)", re.DOTALL)
_CMP = re.compile(r"(>=|<=|>|<|=)?(.*)", re.DOTALL)
MAX_NEAR = 50
MAX_DEPTH = 100  # parentheses inside parentheses; deeper is an error (the parser and compiler recurse)
MAX_TERMS = 1000  # words, phrases and fields in one query (each becomes a regular expression to compile)
MAX_COUNT = 2**63 - 1  # counts are int64
_SURROGATE = re.compile("[\ud800-\udfff]")  # what Python makes of bytes that are not UTF-8
_SHOWN = 60  # characters of the query shown on each side of the caret


class QueryError(BadParameter):
    """A malformed query: ``message``, the 1-based ``position`` (column) and the ``query``."""

    def __init__(self, message: str, position: int, query: str = "") -> None:
        super().__init__(f"{message} (column {position})")
        self.message = message
        self.position = position
        self.query = query

    def display(self) -> str:
        """The query with a caret under the column of the problem."""
        return caret(self.query, self.position, self.message)

    def to_dict(self) -> dict[str, object]:
        return {"message": self.message, "position": self.position}


@dataclass(frozen=True)
class QueryWarning:
    """Something a valid query probably does not mean; it still runs as written. ``kind`` names the
    rule (``lowercase-operator``), ``severity`` is ``warning``; ``position`` is the 1-based column."""
    kind: str
    message: str
    position: int
    query: str = ""
    severity: str = "warning"

    def display(self) -> str:
        return caret(self.query, self.position, self.message)

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "severity": self.severity, "message": self.message, "position": self.position}


def caret(query: str, position: int, message: str) -> str:
    """``query`` with a caret and ``message`` under column ``position``: a window of the query around
    the column when it is long, control characters and invalid text shown as '�' so that the caret
    stays under its column."""
    i = position - 1
    lo, hi = max(0, i - _SHOWN), min(len(query), i + _SHOWN)
    shown = "".join("\ufffd" if _unprintable(c) else c for c in query[lo:hi])
    head, tail = ("…" if lo else ""), ("…" if hi < len(query) else "")
    pad = len(head) + sum(_width(c) for c in shown[:i - lo])
    return f"{head}{shown}{tail}\n{' ' * pad}^ {message}"


def _unprintable(c: str) -> bool:
    return c != " " and (c.isspace() or unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn"))


def _width(c: str) -> int:
    """Terminal columns of ``c``: 0 for marks and format characters, 2 for wide (CJK) ones."""
    if unicodedata.category(c) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


# -- syntax tree ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """A word (``prefix``: a trailing ``*``). ``text`` is as typed; matching folds it."""
    text: str
    prefix: bool = False
    pos: int = 0


@dataclass(frozen=True)
class Phrase:
    text: str
    pos: int = 0


@dataclass(frozen=True)
class Near:
    left: Term | Phrase
    right: Term | Phrase
    distance: int
    pos: int = 0


@dataclass(frozen=True)
class Range:
    """``lo <= x < hi``; None: unbounded (inclusive upper bounds are stored as the next value)."""
    lo: object = None
    hi: object = None


@dataclass(frozen=True)
class Field:
    name: str
    value: object  # str for text fields (``prefix`` when it ended in ``*``), Range for date/numbers
    prefix: bool = False
    pos: int = 0


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Term | Phrase | Near | Field | Not | And | Or


# -- tokens -----------------------------------------------------------------------------------
@dataclass
class _Tok:
    kind: str  # ( ) AND OR NOT NEAR PHRASE WORD FIELD END
    text: str
    pos: int  # 1-based column
    distance: int = 0
    quoted: bool = False  # FIELD with a "quoted value"


def _tokens(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
        elif c in "()":
            toks.append(_Tok(c, c, i + 1))
            i += 1
        elif c == '"':
            text, j = _quoted(q, i)
            toks.append(_Tok("PHRASE", text, i + 1))
            i = j + 1
        elif c == "-" and i + 1 < n and (q[i + 1].isalnum() or q[i + 1] in '("#') and (
                i == 0 or q[i - 1].isspace() or q[i - 1] == "("):
            toks.append(_Tok("NOT", "-", i + 1))
            i += 1
        else:
            j = i
            while j < n and not q[j].isspace() and q[j] not in '()"':
                j += 1
            word = q[i:j]
            if word.endswith(":") and j < n and q[j] == '"' and _FIELD.fullmatch(word):
                _known_field(word[:-1], i + 1, q)
                text, k = _quoted(q, j)
                toks.append(_Tok("FIELD", word + text, i + 1, quoted=True))
                i = k + 1
                continue
            toks.append(_word_token(word, i + 1, q))
            i = j
    toks.append(_Tok("END", "", n + 1))
    return toks


def _quoted(q: str, i: int) -> tuple[str, int]:
    """The text of the phrase whose opening quote is at ``i`` (``\\"`` and ``\\\\`` escaped) and the
    index of its closing quote."""
    out, j = [], i + 1
    while j < len(q):
        if q[j] == "\\" and j + 1 < len(q) and q[j + 1] in '"\\':
            out.append(q[j + 1])
            j += 2
        elif q[j] == '"':
            return "".join(out), j
        else:
            out.append(q[j])
            j += 1
    raise QueryError("unterminated phrase: missing closing '\"'", i + 1, q)


def _word_token(word: str, pos: int, q: str) -> _Tok:
    if word in ("AND", "OR", "NOT"):
        return _Tok(word, word, pos)
    m = _NEAR.fullmatch(word)
    if m:
        if m.group(1) is None:
            raise QueryError("NEAR needs a distance in words, e.g. NEAR/5", pos, q)
        d = m.group(1)
        if not (re.fullmatch(r"[0-9]{1,3}", d) and 1 <= int(d) <= MAX_NEAR):
            raise QueryError(f"NEAR distance must be a whole number between 1 and {MAX_NEAR}, e.g. NEAR/5",
                             pos, q)
        return _Tok("NEAR", word, pos, distance=int(d))
    m = _FIELD.fullmatch(word)
    if m and not m.group(2).startswith("//"):
        _known_field(m.group(1), pos, q)
        return _Tok("FIELD", word, pos)
    return _Tok("WORD", word, pos)


def _known_field(name: str, pos: int, q: str) -> None:
    if name.lower() not in FIELDS:
        raise QueryError(f"unknown field {name!r} (fields: {', '.join(FIELDS)}); "
                         "put it in quotes to search for the text", pos, q)


# -- parser -----------------------------------------------------------------------------------
class _Parser:
    def __init__(self, q: str) -> None:
        self.q = q
        self.toks = _tokens(q)
        self.i = 0
        self.depth = 0
        self.leaves = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def error(self, msg: str, tok: _Tok) -> QueryError:
        return QueryError(msg, tok.pos, self.q)

    def parse(self) -> Node:
        node = self.or_()
        t = self.peek()
        if t.kind == ")":
            raise self.error("unexpected ')' without a matching '('", t)
        if t.kind != "END":
            raise self.error(f"unexpected {t.text!r}", t)
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.peek().kind == "OR":
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while True:
            t = self.peek()
            if t.kind == "AND":
                self.take()
                items.append(self.unary())
            elif t.kind in ("NOT", "(", "PHRASE", "WORD", "FIELD"):
                items.append(self.unary())
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        negate = False
        while self.peek().kind == "NOT":  # a loop, not recursion: NOT NOT x is x
            self.take()
            negate = not negate
        node = self.near()
        return Not(node) if negate else node

    def near(self) -> Node:
        left = self.atom()
        t = self.peek()
        if t.kind != "NEAR":
            return left
        self.take()
        right = self.atom()
        for side, tok in ((left, t), (right, t)):
            if not isinstance(side, Term | Phrase):
                raise self.error("NEAR joins two words or phrases", tok)
        assert isinstance(left, Term | Phrase) and isinstance(right, Term | Phrase)
        if self.peek().kind == "NEAR":
            raise self.error("chain NEAR with AND: (a NEAR/3 b) AND (b NEAR/3 c)", self.peek())
        return Near(left, right, t.distance, t.pos)

    def atom(self) -> Node:
        t = self.take()
        if t.kind in ("PHRASE", "WORD", "FIELD"):
            self.leaves += 1
            if self.leaves > MAX_TERMS:
                raise self.error(f"more than {MAX_TERMS:,} words, phrases and fields in one query", t)
        if t.kind == "(":
            if self.depth >= MAX_DEPTH:
                raise self.error(f"nesting deeper than {MAX_DEPTH} levels of parentheses", t)
            self.depth += 1
            node = self.or_()
            self.depth -= 1
            close = self.take()
            if close.kind != ")":
                raise self.error("missing ')' to close the '(' at column " + str(t.pos), close)
            return node
        if t.kind == "PHRASE":
            if not chunks(t.text):
                raise self.error("empty phrase (nothing but spaces or accents)", t)
            return Phrase(t.text, t.pos)
        if t.kind == "WORD":
            return _term(t, self.q)
        if t.kind == "FIELD":
            return _field(t, self.q)
        if t.kind == "END":
            raise self.error("query ends where a word, phrase, field or '(' was expected", t)
        raise self.error(f"{t.text!r} where a word, phrase, field or '(' was expected", t)


def _term(t: _Tok, q: str) -> Term:
    w = t.text
    prefix = w.endswith("*")
    stem = w.rstrip("*") if prefix else w
    if "*" in stem:
        raise QueryError("'*' is only allowed at the end of a word (prefix search)", t.pos + stem.index("*"), q)
    if prefix and len(fold(stem)) < 2:
        raise QueryError("a prefix search needs at least 2 characters before '*'", t.pos, q)
    if not fold(stem):
        raise QueryError("nothing to search for: the word is only accents or other combining marks", t.pos, q)
    return Term(stem, prefix, t.pos)


def _field(t: _Tok, q: str) -> Field:
    name, _, raw = t.text.partition(":")
    name = name.lower()
    vpos = t.pos + len(name) + 1 + (1 if t.quoted else 0)
    if not raw.strip():
        raise QueryError(f"field {name}: needs a value", vpos, q)
    if name == "date":
        try:
            return Field(name, _date_range(raw, vpos, q), pos=t.pos)
        except OverflowError:
            raise QueryError("date out of range (years 1 to 9999)", vpos, q) from None
    if name in NUMBER_FIELDS:
        return Field(name, _number_range(raw, vpos, q), pos=t.pos)
    prefix = raw.endswith("*") and not t.quoted
    value = raw[:-1] if prefix else raw
    if "*" in value and not t.quoted:
        raise QueryError("'*' is only allowed at the end of a value (prefix match)", vpos + value.index("*"), q)
    if prefix and name not in ("hashtag", "url", "domain", "topic"):
        raise QueryError(f"field {name}: does not take a prefix '*'", vpos + len(value), q)
    if name == "kind":
        value = value.lower()
        if value not in KINDS:
            raise QueryError(f"kind: is one of {', '.join(KINDS)}", vpos, q)
    elif name == "sentiment":
        if value.lower() not in SENTIMENTS:
            raise QueryError("sentiment: is one of negative, neutral, positive", vpos, q)
        value = SENTIMENTS[value.lower()]
    elif name == "author":
        if not _AUTHOR.fullmatch(value):
            raise QueryError("author: takes a pseudonymous account key (acct_ and 24 hex digits); "
                             "handles are not searchable", vpos, q)
    elif name == "hashtag":
        value = value.lstrip("#")
        if not fold(value).strip():
            raise QueryError("hashtag: needs a value", vpos, q)
    elif name == "topic" and not prefix and re.fullmatch(r"-?[0-9]{1,9}", value):
        return Field(name, int(value), pos=t.pos)
    elif name == "topic" and not fold(value).strip():
        raise QueryError("topic: needs a number or a word of its label", vpos, q)
    return Field(name, value, prefix, t.pos)


def _split_range(raw: str, pos: int, q: str) -> tuple[str, str, str]:
    """(operator, first, second) of ``>=x``, ``x``, ``a..b``, ``a..``, ``..b``."""
    if ".." in raw:
        a, b = raw.split("..", 1)
        if not a and not b:
            raise QueryError("a range needs at least one bound: a..b, a.. or ..b", pos, q)
        return "..", a, b
    m = _CMP.fullmatch(raw)
    assert m is not None
    return m.group(1) or "=", m.group(2), ""


def _number_range(raw: str, pos: int, q: str) -> Range:
    op, a, b = _split_range(raw, pos, q)

    def num(s: str, at: int) -> int | None:
        if s == "" and op == "..":
            return None
        if not re.fullmatch(r"\d+", s):
            raise QueryError(f"expected a whole number, got {s[:20]!r}" + ("…" if len(s) > 20 else ""), at, q)
        if len(s.lstrip("0")) > len(str(MAX_COUNT)) or int(s) > MAX_COUNT:
            raise QueryError(f"number too large (counts go up to {MAX_COUNT})", at, q)
        return int(s)

    def after(x: int) -> int | None:  # the bound just above x (None: no count is larger)
        return x + 1 if x < MAX_COUNT else None

    at = pos + (len(op) if op != "=" or raw.startswith("=") else 0)
    x = num(a, at if op != ".." else pos)
    if op == "..":
        y = num(b, pos + len(a) + 2)
        if x is not None and y is not None and y < x:
            raise QueryError("the range ends before it starts", pos, q)
        return Range(x, None if y is None else after(y))
    assert x is not None
    if op == ">" and x == MAX_COUNT:
        raise QueryError(f"no count is larger than {MAX_COUNT}", at, q)
    return {"=": Range(x, after(x)), ">": Range(after(x), None), ">=": Range(x, None),
            "<": Range(None, x), "<=": Range(None, after(x))}[op]


def _date(s: str, at: int, q: str) -> tuple[datetime, bool]:
    """(UTC time, whether only a day was given)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            d = date.fromisoformat(s)
            return datetime(d.year, d.month, d.day, tzinfo=UTC), True
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?", s):
            t = datetime.fromisoformat(s.replace("Z", "+00:00"))
            return (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)), False
    except ValueError:
        pass
    raise QueryError(f"expected a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM (UTC), got {s!r}", at, q)


def _date_range(raw: str, pos: int, q: str) -> Range:
    op, a, b = _split_range(raw, pos, q)
    if op == "..":
        lo = _date(a, pos, q)[0] if a else None
        hi = None
        if b:
            t, day = _date(b, pos + len(a) + 2, q)
            hi = t + timedelta(days=1) if day else t + timedelta(microseconds=1)
        if lo is not None and hi is not None and hi <= lo:
            raise QueryError("the range ends before it starts", pos, q)
        return Range(lo, hi)
    t, day = _date(a, pos + (len(op) if op != "=" or raw.startswith("=") else 0), q)
    end = t + (timedelta(days=1) if day else timedelta(microseconds=1))  # the day, or the exact time
    return {"=": Range(t, end), ">": Range(end, None), ">=": Range(t, None),
            "<": Range(None, t), "<=": Range(None, end)}[op]


def parse(query: str) -> Node | None:
    """The syntax tree of ``query`` (None for an empty query: everything). Raises ``QueryError``."""
    if not isinstance(query, str):
        raise TypeError("query must be a string")
    bad = _SURROGATE.search(query)
    if bad:
        raise QueryError("not valid UTF-8 text here (a byte that is not part of a character)", bad.start() + 1, query)
    if not query.strip():
        return None
    return _Parser(query).parse()


_OPERATORS = ("AND", "OR", "NOT")
_BEFORE = ("WORD", "PHRASE", "FIELD", ")")  # tokens that end a term
_AFTER = ("WORD", "PHRASE", "FIELD", "(", "NOT")  # tokens that start one


def warnings(query: str) -> list[QueryWarning]:
    """What ``query`` probably does not mean (empty for a malformed query: its error comes first):
    ``and``/``or``/``not`` in lower (or mixed) case between two terms are words to search for, and
    ``near/3`` is too."""
    try:
        parse(query)
    except QueryError:
        return []
    if not query.strip():
        return []
    toks = _tokens(query)
    out = []
    for prev, t, nxt in zip(toks, toks[1:], toks[2:], strict=False):
        if t.kind != "WORD" or prev.kind not in _BEFORE or nxt.kind not in _AFTER:
            continue
        up = t.text.upper()
        if up in _OPERATORS or re.fullmatch(r"NEAR/[0-9]{1,2}", up):
            out.append(QueryWarning(
                "lowercase-operator", f"{t.text!r} is searched as a word: did you mean {up}? Operators are "
                f"upper case; write \"{t.text}\" in quotes to search the word", t.pos, query))
    return out


def fields_used(node: Node | None) -> set[str]:
    """Field names the tree uses, plus ``text`` when it matches words or phrases."""
    if node is None:
        return set()
    if isinstance(node, Term | Phrase | Near):
        return {"text"}
    if isinstance(node, Field):
        return {node.name}
    if isinstance(node, Not):
        return fields_used(node.item)
    assert isinstance(node, And | Or)
    out: set[str] = set()
    for it in node.items:
        out |= fields_used(it)
    return out

