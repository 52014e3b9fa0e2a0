"""The request journal: every exchange with the mock, for users' tests to assert on.

Entries live in the store (shared by all workers) and are bounded to the
newest ``MockConfig.journal_limit`` entries and ``journal_max_bytes`` of text
per process. API keys never reach it: ``apiKey`` values
are redacted in any body, parsed or not (a refused body is kept as its raw
text: ``redact_text`` finds keys in it however the text spells them), and the
values of credential headers (``Authorization``, ``Cookie``, ``X-Api-Key``, ...:
``SECRET_HEADER``) in the request headers, whose texts are then scrubbed from
everything else kept of the exchange. Very long strings (base64 images) are
shortened so the journal stays small.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from functools import lru_cache
from typing import Any

from . import jsontext
from .ports import JournalTable
from .records import JournalEntry

REDACTED = "[redacted]"
MAX_STRING = 2048
MAX_DEPTH = 32
SHORTENED = 256  # characters kept of a string longer than MAX_STRING
ECHO_PREFIX = 8  # the shortest start of a key value kept out of a response (``Redaction``)
MAX_ECHOES = 64  # key values remembered per exchange
# Characters of text that may name a key read token by token per exchange: past
# it, such a text is hidden whole (a body made of them must not cost seconds).
TOKENIZED_LIMIT = 8192
UNREAD = "[redacted: may hold a key]"
# JSON text kept of one request or one reply: a larger one keeps an excerpt (its
# first items, or its first characters) and says what was left out. With the
# journal's entry limit, this bounds its size.
MAX_KEPT = 64 * 1024
# Request headers kept per entry: at most this many pairs and characters (names
# and values, the cut marker included); past either, a last ``[CUT, ...]`` pair
# says what was left out. Its name is no header name (brackets are not allowed in
# one), so it cannot be taken for a header that came.
MAX_HEADERS = 64
MAX_HEADER_CHARS = 8 * 1024
CUT = "[cut]"
MARKER_ROOM = 96  # characters kept free for the marker's value
MAX_HEADER_SECRETS = 256  # credential texts remembered per exchange (see MAX_ECHOES)
# Headers whose value is a credential: hidden whole, but for an authentication
# scheme it starts with (``Bearer [redacted]``). Matched in the name, any case.
SECRET_HEADER = re.compile(r"auth|key|token|secret|passw|cookie|credential|signature", re.I)
SCHEMES = frozenset(
    {"basic", "bearer", "digest", "negotiate", "ntlm", "token", "apikey", "api-key", "key",
     "hoba", "mutual", "dpop", "gnap", "vapid", "aws4-hmac-sha256", "scram-sha-1",
     "scram-sha-256", "privatetoken", "concealed"}
)  # fmt: skip
_CREDENTIAL_WORDS = re.compile(r"[\s,;=\"']+")
_PIECES = re.compile(r"[-_.:/+~]+")


class Journal:
    """Record and read the exchanges (``service.journal``)."""

    def __init__(
        self, table: JournalTable, *, limit: int = 1000, max_bytes: int = 16 << 20
    ) -> None:
        self._table = table
        self.limit = limit
        self.max_bytes = max_bytes

    def record(
        self,
        *,
        at: float,
        transport: str,
        path: str,
        status: int,
        request: Any,
        response: Any,
        fault: str | None = None,
        method: str = "POST",
        headers: Iterable[tuple[str, str]] = (),
        api_key: str | None = None,
    ) -> None:
        """``headers``: the request's (for a WebSocket frame, its upgrade request's);
        ``api_key``: the key the exchange was made with, kept out of all of it."""
        pairs = tuple(headers)
        headers_json, from_headers = prepared(pairs) if pairs else ("[]", frozenset())
        secrets = set(from_headers)
        if api_key is not None:
            _remember(api_key, secrets)
        hidden = Redaction(secrets)  # the request's key values: kept out of the rest too
        request_json = _safe_json(request, hidden)
        known = secrets | hidden.found
        if Redaction(known - from_headers).echoed(headers_json):  # a key from elsewhere
            headers_json = jsontext.dumps(safe_headers(list(pairs), Redaction(known)))
        response_json = _safe_json(response, Redaction(known, texts=False))
        self._table.append(
            at=at,
            transport=transport,
            method=method,
            path=path,
            status=status,
            fault=fault,
            request_json=request_json,
            response_json=response_json,
            headers_json=headers_json,
            keep=self.limit,
            keep_bytes=self.max_bytes,
        )

    def entries(self, *, since: int = 0, limit: int | None = None) -> list[JournalEntry]:
        """Oldest first; ``since`` an entry id, ``limit`` keeps the newest ones."""
        return self._table.entries(keep=self.limit, since=since, limit=limit)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self.entries())

    def last(self) -> JournalEntry | None:
        newest = self.entries(limit=1)
        return newest[0] if newest else None

    def for_task(self, task_uuid: str) -> list[JournalEntry]:
        """Every exchange that mentioned this taskUUID (submits and polls)."""
        wanted = task_uuid.lower()
        return [e for e in self.entries() if wanted in (u.lower() for u in e.task_uuids)]

    def unexpected_errors(self) -> list[JournalEntry]:
        """5xx answers nobody injected: should always be empty."""
        return [e for e in self.entries() if e.unexpected]

    def clear(self) -> None:
        self._table.clear()


def _safe_json(value: Any, redaction: Redaction | None = None) -> str:
    """``value`` as the JSON text to keep: redacted and shortened if need be."""
    if redaction is None:
        redaction = Redaction()
    text = jsontext.dumps(value)
    if len(text) > MAX_KEPT:
        value = excerpt(value, text)
        text = jsontext.dumps(value)
    if (
        len(text) <= MAX_STRING  # so no string in it is longer
        and text.count("[") + text.count("{") <= MAX_DEPTH  # so it nests no deeper
        and not _may_name_key(text)  # so no key, raw or parsed, is in it
        and "\\u0000" not in text  # nor one spelled with NULs (UTF-16 read as UTF-8)
        and not redaction.echoed(text)
    ):
        return text  # the usual case: redact(value) == value
    kept = jsontext.dumps(redaction.value(value))
    again = redaction.again_for(kept)
    return kept if again is None else jsontext.dumps(again.value(value))


def excerpt(value: Any, text: str) -> Any:
    """What is kept of a body or reply whose JSON ``text`` is over ``MAX_KEPT``: a
    list's first items and an item saying how many were left out, else the start of
    its text (redacted as raw text)."""
    if isinstance(value, list):
        kept: list[Any] = []
        size = 0
        for item in value:
            size += len(jsontext.dumps(item)) + 1
            if size > MAX_KEPT:
                break
            kept.append(item)
        left = len(value) - len(kept)
        note = f"[{left} more items, {len(text)} characters in all, not kept]"
        return [*kept, {"ltxmockJournal": note}]
    start = value if isinstance(value, str) else text  # a raw body, or any other JSON
    return f"{start[:MAX_KEPT]}...[{len(start)} characters in all]"


# -- request headers ---------------------------------------------------------------
def header_secrets(headers: Iterable[tuple[str, str]]) -> tuple[list[tuple[str, str]], set[str]]:
    """The headers as a list, and the texts of their credentials (to scrub elsewhere):
    each word of a credential header's value but its scheme (a cookie's names and
    values, a token), and each piece of a word (``sk-<key>``: ``<key>``)."""
    pairs = list(headers)
    found: set[str] = set()
    for name, value in pairs:
        if is_secret_header(name):
            for word in _CREDENTIAL_WORDS.split(value):
                if word.lower() in SCHEMES:
                    continue
                _remember(word, found, limit=MAX_HEADER_SECRETS)
                pieces = _PIECES.split(word)  # "sk-<key>" may be echoed as "<key>"
                for piece in pieces if len(pieces) > 1 else ():
                    _remember(piece, found, limit=MAX_HEADER_SECRETS)
    return pairs, found


def safe_headers(pairs: list[tuple[str, str]], redaction: Redaction) -> list[list[str]]:
    """The ``[name, value]`` pairs to keep: credentials hidden, every text scrubbed
    of ``redaction.known`` and of ``apiKey`` members, bounded (``MAX_HEADERS``,
    ``MAX_HEADER_CHARS``)."""
    first = pairs[:MAX_HEADERS]
    shown: list[list[str]] = []
    texts: list[str] = []  # what the redaction reads: names, and values not hidden whole
    size = 0
    for name, value in first:
        if is_secret_header(name):
            value = _hide_credential(value)
        else:
            texts.append(value)
        texts.append(name)
        shown.append([name, value])
        size += len(name) + len(value)
    joined = "\n".join(texts)
    if (  # unless all of them read as they are (the usual case, checked in one go)
        max(map(len, texts), default=0) > MAX_STRING
        or _may_name_key(joined)
        or redaction.echoed(joined)
    ):
        shown = _scrubbed(first, redaction)
        again = redaction.again_for(jsontext.dumps(shown))
        if again is not None:
            shown = _scrubbed(first, again)
        size = sum(len(name) + len(value) for name, value in shown)
    if len(pairs) <= MAX_HEADERS and size <= MAX_HEADER_CHARS:
        return shown  # the usual case
    kept: list[list[str]] = []
    size = 0
    for name, value in shown[: MAX_HEADERS - 1]:
        size += len(name) + len(value)
        if size > MAX_HEADER_CHARS - len(CUT) - MARKER_ROOM:
            break
        kept.append([name, value])
    total = sum(len(name) + len(value) for name, value in pairs)
    note = f"{len(kept)} of {len(pairs)} headers kept, {total} characters in all"
    return [*kept, [CUT, note[:MARKER_ROOM]]]


def _scrubbed(pairs: list[tuple[str, str]], redaction: Redaction) -> list[list[str]]:
    return [
        [
            redaction.string(name),
            _hide_credential(value) if is_secret_header(name) else redaction.string(value),
        ]
        for name, value in pairs
    ]


def prepared(headers: tuple[tuple[str, str], ...]) -> tuple[str, frozenset[str]]:
    """``prepared_headers``, with a content length read as a placeholder of its size
    (clients send the same headers but for it), put back into the text."""
    length = next((v for name, v in headers if name == "content-length"), None)
    if length is None or not (length.isascii() and length.isdigit() and len(length) <= 20):
        return prepared_headers(headers)
    placeholder = "\x00" * len(length)  # in no header value (HTTP forbids NUL)
    keyed = tuple((n, placeholder if n == "content-length" else v) for n, v in headers)
    text, secrets = prepared_headers(keyed)
    return text.replace(jsontext.dumps(placeholder), f'"{length}"'), secrets


@lru_cache(maxsize=64)
def prepared_headers(headers: tuple[tuple[str, str], ...]) -> tuple[str, frozenset[str]]:
    """The JSON text to keep of ``headers`` (scrubbed of their own credentials), and
    those credentials. Cached: a WebSocket sends the same upgrade headers with every
    frame, a client the same headers with every poll."""
    pairs, secrets = header_secrets(headers)
    return jsontext.dumps(safe_headers(pairs, Redaction(secrets))), frozenset(secrets)


@lru_cache(maxsize=512)  # clients send the same few names every time
def is_secret_header(name: str) -> bool:
    return SECRET_HEADER.search(name) is not None


def _hide_credential(value: str) -> str:
    """``Bearer [redacted]`` for ``Bearer <token>``; else the whole value hidden."""
    scheme, space, _ = value.strip().partition(" ")
    return f"{scheme} {REDACTED}" if space and scheme.lower() in SCHEMES else REDACTED


def redact(value: Any, *, shorten: bool = True) -> Any:
    """A copy safe to keep: ``apiKey`` values hidden, huge strings shortened (unless
    ``shorten`` is False).

    A key is a member named apiKey (in any case) at any depth; its value is
    hidden unless null. Strings (and member names) are raw text that may hold
    one too: see ``redact_text``.
    """
    return Redaction(shorten=shorten).value(value)


class Redaction:
    """One redaction pass: ``Redaction()`` for a request, collecting the key values it
    hides (``found``); ``Redaction(known=found, texts=False)`` for its response.

    A response holds no key unless it quotes the request (a validation message's
    "got ..."): it loses the request's key values, and any start of one at least
    ``ECHO_PREFIX`` long (messages shorten what they quote), wherever they are.
    It is not read as raw text (``texts``): the mock's own messages say
    "parameter apiKey: the ...", which is not a key.
    """

    def __init__(
        self, known: Collection[str] = (), *, texts: bool = True, shorten: bool = True
    ) -> None:
        self.found: set[str] = set()
        self.known = known
        self.texts = texts
        self.shorten = shorten  # strings over MAX_STRING keep their start only
        self._budget = TOKENIZED_LIMIT

    def echoed(self, text: str) -> bool:
        return any(secret[:ECHO_PREFIX] in text for secret in self.known)

    def again_for(self, kept: str) -> Redaction | None:
        """A pass that knows the keys this one found, if ``kept`` (what this pass made)
        still echoes one: a key met after a text that echoes it. Its finds join ours."""
        late = self.found - set(self.known)
        if not late or not Redaction(late).echoed(kept):
            return None
        again = Redaction(set(self.known) | self.found)
        again.found = self.found  # one set: what the second pass finds is ours too
        return again

    def value(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, dict | list) and depth > MAX_DEPTH:
            return "[nested too deeply]"
        if isinstance(value, dict):
            copy = {}
            for key, item in value.items():
                name = self.string(key) if isinstance(key, str) else key
                if isinstance(key, str) and _names_key(key) and item is not None:
                    self._collect(item, depth)
                    copy[name] = REDACTED
                else:
                    copy[name] = self.value(item, depth + 1)
            return copy
        if isinstance(value, list):
            return [self.value(item, depth + 1) for item in value]
        if isinstance(value, str):
            return self.string(value)
        return value

    def string(self, text: str) -> str:
        # Shortened first: the tokenizer then reads a bounded text, and a value cut
        # off by the shortening reads as unterminated (hidden to the end).
        suffix = ""
        if self.shorten and len(text) > MAX_STRING:
            text, suffix = text[:SHORTENED], f"...[{len(text)} characters]"
        if self.texts:
            readable = _keyed_text(text)
            if readable is not None and len(readable) > self._budget:
                return UNREAD
            if readable is not None:
                self._budget -= len(readable)
                text = _hide_values(readable, self.found)
        for secret in self.known:
            text = _scrub(text, secret)
        return text + suffix

    def _collect(self, value: Any, depth: int) -> None:
        """Remember the texts of a hidden key value (a string, or any scalar in it)."""
        if len(self.found) >= MAX_ECHOES or depth > MAX_DEPTH:
            return
        if isinstance(value, dict | list):
            for item in value.values() if isinstance(value, dict) else value:
                self._collect(item, depth + 1)
            return
        _remember(value if isinstance(value, str) else jsontext.dumps(value), self.found)


def _remember(secret: str, found: set[str] | None, *, limit: int = MAX_ECHOES) -> None:
    if found is None or len(secret) < ECHO_PREFIX or len(found) >= limit:
        return
    found.add(secret)
    if secret.isascii() and secret.isprintable() and '"' not in secret and "\\" not in secret:
        return  # JSON quotes it as it is
    quoted = jsontext.dumps(secret)[1:-1]  # as a message that quotes it in JSON shows it
    if quoted != secret:
        found.add(quoted)


def _scrub(text: str, secret: str) -> str:
    """``text`` without ``secret``, nor any start of it ``ECHO_PREFIX`` long or longer."""
    head = secret[:ECHO_PREFIX]
    at = text.find(head)
    while at >= 0:
        end = at + len(head)
        while end < len(text) and end - at < len(secret) and text[end] == secret[end - at]:
            end += 1
        text = f"{text[:at]}{REDACTED}{text[end:]}"
        at = text.find(head, at + len(REDACTED))
    return text


# -- keys in raw text -------------------------------------------------------------
# A refused body (not JSON, truncated, too large) is journaled as its text, and
# any string may hold such text. The text is read as tokens, not matched as a
# whole: a key name, spelled in any case and with any escapes (``api\u004bey``,
# ``\u0061piKey``, ``api\Key``, at any depth of escaping), in quotes of either
# kind or none; then ``:`` or ``=``, with any whitespace around; then the value,
# which is hidden: a quoted string up to its closing quote (at its own depth
# of escaping; to the end of the text if there is none), a bracketed value up
# to its closing bracket, or a bare word.


def _letter(char: str) -> str:
    """One letter of the key name: itself (any case), or escaped (\\x, \\uXXXX)."""
    codes = f"(?:{ord(char):02x}|{ord(char.upper()):02x})"
    kelvin = "|u212a" if char == "k" else ""  # K (KELVIN SIGN) lower-cases to k
    # (?<!\\): a run of backslashes is read from its start only, in one go.
    return rf"(?:{char}|(?<!\\)\\++(?:{char}|u00{codes}|x{codes}{kelvin}))"


_NAME = re.compile("".join(_letter(char) for char in "apikey"), re.IGNORECASE)
_ESCAPED_LETTER = re.compile(r"\\[apikeyux]", re.IGNORECASE)
_MARK = r"""(?:["']|u00(?:22|27)|x(?:22|27))"""  # a quotation mark, plain or escaped
_QUOTE = rf"""(?:["']|\\++{_MARK})"""
_SPACE = r"(?:\s|\\++(?:[ntrbfv]|u00(?:20|0[9ad])|x(?:20|0[9ad])))"
_AFTER_NAME = re.compile(
    rf"(?:{_QUOTE}|{_SPACE})*(?::|=|\\++(?::|=|u003[ad]|x3[ad])){_SPACE}*", re.IGNORECASE
)
# A mark and the whole run of backslashes before it.
_QUOTE_RUN = re.compile(rf"(?<!\\)(\\*+)({_MARK})", re.IGNORECASE)
_STRUCTURE = re.compile(rf"[\[\]{{}}]|(?<!\\)(\\*+)({_MARK})", re.IGNORECASE)
_STOP = rf"(?:{_MARK}|[ntrbfv\s]|u00(?:20|0[9ad])|x(?:20|0[9ad]))"
_BARE = re.compile(rf"""(?:[^\s,;&)}}\]"'\\]|\\++(?!{_STOP}))+""", re.IGNORECASE)


def redact_text(text: str, found: set[str] | None = None) -> str:
    """``text`` with the value of every key in it replaced by ``[redacted]``.

    Quotes around a quoted value are kept (``"apiKey":"[redacted]"``). UTF-16
    or UTF-32 text decoded as UTF-8 (NULs between the letters) is read without
    its NULs. ``found`` collects the hidden values.
    """
    readable = _keyed_text(text)
    return text if readable is None else _hide_values(readable, found)


def _keyed_text(text: str) -> str | None:
    """The text to read for keys (NULs dropped if that reveals one), or None: no key."""
    if "\x00" in text and _may_name_key(text.replace("\x00", "")):
        return text.replace("\x00", "")
    return text if _may_name_key(text) else None


def _hide_values(text: str, found: set[str] | None) -> str:
    pieces: list[str] = []
    kept = at = 0  # text[:kept] is in pieces; names are looked for from at
    while (name := _NAME.search(text, at)) is not None:
        after = _AFTER_NAME.match(text, name.end())
        if after is None:  # a word, not a member name
            at = name.end()
            continue
        start, end = _value(text, after.end())
        if end > start:
            pieces += (text[kept:start], REDACTED)
            _remember(text[start:end], found)
            kept = end
        at = max(end, after.end())
    return "".join(pieces) + text[kept:] if pieces else text


def _names_key(name: str) -> bool:
    """Whether a member name is the key's, spelled plainly or with escapes in its text."""
    return name.lower() == "apikey" or (
        "\\" in name and _NAME.fullmatch(name) is not None and _may_name_key(name)
    )


def _may_name_key(text: str) -> bool:
    """Whether ``text`` may spell the key name (cheap unless it escapes a letter of it)."""
    if "apikey" in text.lower():
        return True
    # Escapes can spell the name only where a backslash precedes one of its letters
    # (or u, x): a quick search that the usual \n and \" never match.
    return (
        "\\" in text and _ESCAPED_LETTER.search(text) is not None and _NAME.search(text) is not None
    )


def _value(text: str, at: int) -> tuple[int, int]:
    """Where the value that starts at ``at`` is: what to hide."""
    opening = _QUOTE_RUN.match(text, at)
    quote = _quote(opening) if opening is not None else None
    if opening is not None and quote is not None:
        closing = _closing(text, opening.end(), *quote)
        return opening.end(), closing.start() if closing is not None else len(text)
    if text.startswith(("{", "["), at):
        return at, _bracket_end(text, at)
    bare = _BARE.match(text, at)
    return at, bare.end() if bare is not None else at


def _quote(mark: re.Match[str]) -> tuple[str, int] | None:
    """The quotation mark a ``_QUOTE_RUN`` match is, and its depth of escaping
    (0: a quote of the text itself, 1: of a JSON string in it, ...); None if
    it is not a quotation mark (``u0022`` with no backslash)."""
    backslashes, spelled = len(mark.group(1)), mark.group(2)
    char = "'" if spelled[-1] in "7'" else '"'
    escape = len(spelled) > 1  # \uXXXX or \xXX: the last backslash is part of it
    depth = 0
    while True:
        if escape:
            if not backslashes:
                return None
            # odd: the escape is read here, a plain mark one level down;
            # even: pairs of backslashes become single ones, the escape stays.
            escape = backslashes % 2 == 0
        elif backslashes % 2 == 0:  # pairs of escaped backslashes: the mark ends here
            return char, depth
        backslashes //= 2
        depth += 1


def _closing(text: str, at: int, char: str, depth: int) -> re.Match[str] | None:
    """The mark that ends a string opened by ``char`` at ``depth``: the next such
    mark at that depth or an outer one (which ends every string inside it too)."""
    for mark in _QUOTE_RUN.finditer(text, at):
        quote = _quote(mark)
        if quote is not None and quote[0] == char and quote[1] <= depth:
            return mark
    return None


def _bracket_end(text: str, at: int) -> int:
    """Where the bracketed value at ``at`` ends (strings in it skipped)."""
    level = 0
    while (token := _STRUCTURE.search(text, at)) is not None:
        at = token.end()
        if token.group(2) is not None:  # a quotation mark: skip its string
            quote = _quote(token)
            if quote is not None:
                closing = _closing(text, at, *quote)
                if closing is None:
                    return len(text)
                at = closing.end()
        elif token.group() in "[{":
            level += 1
        else:
            level -= 1
            if level <= 0:
                return at
    return len(text)
