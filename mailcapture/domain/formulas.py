"""Indicator formulas: parse, render and evaluate arithmetic over component codes.

A performance indicator such as BV8a is defined in the register as a formula over the
raw components people send in by email, e.g. ``100 * BV8a.1 / BV8a.2``. Registers are
edited by hand (and pasted from Word), so the text is treated as hostile: a hand-written
tokenizer and recursive-descent parser build a tiny AST -- never Python's ``eval``,
``compile`` or ``ast`` -- and both the input length and the nesting depth are capped so
that no register can exhaust the stack.

Grammar::

    formula := expr END
    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | primary
    primary := NUMBER | CODE | "(" expr ")"
    NUMBER  := digits ["." digits] | "." digits
    CODE    := letter {letter | digit | "." | "_"}      (not ending with ".")

``×``, ``÷`` and ``−`` are aliases of ``*``, ``/`` and ``-``. Letters and digits are
ASCII only, because component codes are keys matched byte for byte elsewhere.

Arithmetic is done in :class:`~decimal.Decimal` with a private context, because
statutory returns are compared digit for digit and binary floats would show up as
discrepancies. Results are not rounded here: rounding to an indicator's published
decimals is a presentation rule that lives with the indicator.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import TypeAlias

MAX_LENGTH = 500
"""Longest formula text accepted; real indicator formulas are a few dozen characters."""

MAX_DEPTH = 50
"""Deepest nesting of parentheses and unary minus accepted, to keep recursion bounded."""

PRECISION = 34
"""Significant digits for intermediate results (IEEE decimal128; comfortably above 28)."""

_LETTERS = frozenset(string.ascii_letters)
_DIGITS = frozenset(string.digits)
_WORD_CHARS = _LETTERS | _DIGITS | {".", "_"}
_OPERATORS = {"+": "+", "-": "-", "*": "*", "/": "/", "×": "*", "÷": "/", "−": "-"}
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_QUOTE_LIMIT = 40


class FormulaError(ValueError):
    """A formula that cannot be parsed.

    ``str()`` is a single line, prefixed with the 1-based column when there is one, so
    that a register load can list every bad formula as ``PI: column 12: unexpected ')'``.
    """

    column: int | None

    def __init__(self, reason: str, column: int | None = None) -> None:
        # Keep both parts in args so the exception pickles (and reprs) faithfully.
        super().__init__(reason, column)
        self.reason = reason
        self.column = column

    def __str__(self) -> str:
        if self.column is None:
            return self.reason
        return f"column {self.column}: {self.reason}"


# --------------------------------------------------------------------------- AST


def is_component_code(code: str) -> bool:
    """Whether ``code`` is spelled like a component code (the loader validates with this)."""
    return (
        bool(code)
        and code[0] in _LETTERS
        and all(ch in _WORD_CHARS for ch in code)
        and not code.endswith(".")
    )


@dataclass(frozen=True)
class Number:
    """A literal; always non-negative because a leading minus parses as :class:`Negate`."""

    value: Decimal

    def __post_init__(self) -> None:
        # Enforced so that every AST renders to text that parses back to the same AST.
        if not isinstance(self.value, Decimal):
            raise TypeError(f"Number needs a Decimal, not {type(self.value).__name__}")
        if not self.value.is_finite() or self.value.is_signed():
            raise ValueError(f"Number must be finite and non-negative, not {self.value}")

    def __str__(self) -> str:
        return render(self)


@dataclass(frozen=True)
class Component:
    """A reference to a raw component's reported value."""

    code: str

    def __post_init__(self) -> None:
        if not is_component_code(self.code):
            raise ValueError(f"not a component code: {self.code!r}")

    def __str__(self) -> str:
        return render(self)


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: Expr

    def __str__(self) -> str:
        return render(self)


@dataclass(frozen=True)
class BinaryOp:
    """One of ``+ - * /`` (always stored in its ASCII spelling)."""

    op: str
    left: Expr
    right: Expr

    def __post_init__(self) -> None:
        if self.op not in _PRECEDENCE:
            raise ValueError(f"unknown operator {self.op!r}")

    def __str__(self) -> str:
        return render(self)


Expr: TypeAlias = Number | Component | Negate | BinaryOp

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_UNARY_PRECEDENCE = 3
_ATOM_PRECEDENCE = 4


# ----------------------------------------------------------------------- rendering


def render(expr: Expr) -> str:
    """Canonical text with ASCII operators and only the parentheses the AST needs.

    Canonical so that the same formula always looks the same in reports and error
    messages, whatever spacing or redundant brackets the register used.
    """
    match expr:
        case Number(value):
            return format(value, "f")
        case Component(code):
            return code
        case Negate(operand):
            return "-" + _wrap(operand, _precedence(operand) < _UNARY_PRECEDENCE)
        case BinaryOp(op, left, right):
            level = _PRECEDENCE[op]
            # Operators are left-associative, so an equal-precedence right operand
            # needs brackets: a - (b - c) and a + (b + c) must keep their shape.
            left_text = _wrap(left, _precedence(left) < level)
            right_text = _wrap(right, _precedence(right) <= level)
            return f"{left_text} {op} {right_text}"
    raise TypeError(f"not a formula node: {expr!r}")


def _precedence(expr: Expr) -> int:
    if isinstance(expr, BinaryOp):
        return _PRECEDENCE[expr.op]
    if isinstance(expr, Negate):
        return _UNARY_PRECEDENCE
    return _ATOM_PRECEDENCE


def _wrap(expr: Expr, needs_parens: bool) -> str:
    text = render(expr)
    return f"({text})" if needs_parens else text


# ----------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "code", "op", "(", ")" or "end"
    text: str  # as written, for error messages
    column: int  # 1-based
    op: str = ""  # ASCII operator for kind "op"


def _tokenize(text: str) -> Iterator[_Token]:
    """Yield the tokens of ``text``, then an ``end`` token at column ``len(text) + 1``.

    Lazy, so that the parser reports the leftmost problem first: ``max(a, b)`` is
    about the function call, not the comma further on.
    """
    index = 0
    while index < len(text):
        char = text[index]
        column = index + 1
        if char.isspace():
            index += 1
            continue
        if char in _LETTERS or char in _DIGITS or char == ".":
            end = _scan_word(text, index)
            yield _word_token(text[index:end], column)
            index = end
        elif char in _OPERATORS:
            yield _Token("op", char, column, _OPERATORS[char])
            index += 1
        elif char in "()":
            yield _Token(char, char, column)
            index += 1
        else:
            raise FormulaError(f"unexpected character {_show_char(char)}", column)
    yield _Token("end", "", len(text) + 1)


def _scan_word(text: str, start: int) -> int:
    """Index just past the run of code characters at ``start``.

    Numbers and codes are scanned with the same greedy rule so that ``1..2``, ``2x`` or
    ``1e5`` are reported as one malformed token rather than as confusing pieces.
    """
    end = start
    while end < len(text) and text[end] in _WORD_CHARS:
        end += 1
    return end


def _word_token(word: str, column: int) -> _Token:
    if word[0] in _LETTERS:
        if word.endswith("."):
            raise FormulaError(f"component code {_quote(word)} must not end with '.'", column)
        return _Token("code", word, column)
    if not _NUMBER_RE.fullmatch(word):
        raise FormulaError(f"malformed number {_quote(word)}", column)
    return _Token("number", word, column)


def _show_char(char: str) -> str:
    return f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"


def _quote(text: str) -> str:
    """Quote user text for a one-line message, shortened and with control characters escaped."""
    shown = text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"
    return f"'{shown}'" if shown.isprintable() else repr(shown)


# -------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent with one token of lookahead; ``_depth`` bounds the recursion."""

    def __init__(self, tokens: Iterator[_Token]) -> None:
        self._tokens = tokens
        self._current = next(tokens)
        self._previous: _Token | None = None
        self._depth = 0

    def parse(self) -> Expr:
        expr = self._expr()
        token = self._peek()
        if token.kind != "end":
            raise self._not_after_operand(token)
        return expr

    def _peek(self) -> _Token:
        return self._current

    def _advance(self) -> _Token:
        """Consume the current token; never called on ``end``, so the stream is not exhausted."""
        self._previous, self._current = self._current, next(self._tokens)
        return self._previous

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FormulaError(f"nested more than {MAX_DEPTH} levels deep", token.column)

    def _expr(self) -> Expr:
        left = self._term()
        while self._peek().op in ("+", "-"):
            op = self._advance().op
            left = BinaryOp(op, left, self._term())
        return left

    def _term(self) -> Expr:
        left = self._unary()
        while self._peek().op in ("*", "/"):
            op = self._advance().op
            left = BinaryOp(op, left, self._unary())
        return left

    def _unary(self) -> Expr:
        token = self._peek()
        if token.op != "-":
            return self._primary()
        self._advance()
        self._enter(token)
        operand = self._unary()
        self._depth -= 1
        return Negate(operand)

    def _primary(self) -> Expr:
        token = self._peek()
        if token.kind == "end":
            raise FormulaError("unexpected end of formula", token.column)
        if token.kind not in ("number", "code", "("):
            raise FormulaError(f"unexpected {_quote(token.text)}", token.column)
        self._advance()
        if token.kind == "number":
            return Number(Decimal(token.text))
        if token.kind == "code":
            return Component(token.text)
        return self._parenthesised(token)

    def _parenthesised(self, opening: _Token) -> Expr:
        self._enter(opening)
        inner = self._expr()
        closing = self._peek()
        if closing.kind == "end":
            raise FormulaError("'(' is never closed", opening.column)
        if closing.kind != ")":
            raise self._not_after_operand(closing)
        self._advance()
        self._depth -= 1
        return inner

    def _not_after_operand(self, token: _Token) -> FormulaError:
        """The error for ``token`` following a complete operand where an operator belongs."""
        if token.kind == ")":
            return FormulaError("unexpected ')'", token.column)
        previous = self._previous
        if token.kind == "(" and previous is not None and previous.kind == "code":
            return FormulaError(
                f"functions are not supported ({_quote(previous.text + '(')})", previous.column
            )
        return FormulaError(f"expected an operator before {_quote(token.text)}", token.column)


# ---------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class NotAvailable:
    """A component its updater reported as "not available", with the reason they gave."""

    reason: str


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating a formula: a value, or the reason there is none.

    A missing input is an everyday state (the month's figures are not in yet), not an
    exception, so it is returned as data that reports and chasers can show verbatim.
    """

    value: Decimal | None
    reason: str | None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.reason is None):
            raise ValueError("an Evaluation has exactly one of value and reason")


Values: TypeAlias = Mapping[str, Decimal | NotAvailable | None]


class _NoValue(Exception):
    """Internal: stops evaluation at the first problem, carrying its reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_ARITHMETIC: dict[str, Callable[[Context, Decimal, Decimal], Decimal]] = {
    "+": Context.add,
    "-": Context.subtract,
    "*": Context.multiply,
    "/": Context.divide,
}


def _new_context() -> Context:
    """A fresh context per evaluation: Decimal contexts carry mutable flags."""
    return Context(
        prec=PRECISION,
        rounding=ROUND_HALF_EVEN,
        traps=[InvalidOperation, DivisionByZero, Overflow],
    )


def _evaluate(expr: Expr, values: Values, context: Context) -> Decimal:
    """Evaluate left to right, depth first, so the first problem reported is deterministic."""
    match expr:
        case Number(value):
            return value
        case Component(code):
            return _lookup(code, values)
        case Negate(operand):
            # copy_negate is exact; the context's minus() would round to PRECISION.
            return _evaluate(operand, values, context).copy_negate()
        case BinaryOp(op, left, right):
            left_value = _evaluate(left, values, context)
            right_value = _evaluate(right, values, context)
            if op == "/" and right_value.is_zero():
                raise _NoValue(f"division by zero ({render(right)} is 0)")
            return _ARITHMETIC[op](context, left_value, right_value)
    raise TypeError(f"not a formula node: {expr!r}")


def _lookup(code: str, values: Values) -> Decimal:
    value = values.get(code)
    if value is None:
        raise _NoValue(f"missing value for {code}")
    if isinstance(value, NotAvailable):
        given = " ".join(value.reason.split()) or "no reason given"
        raise _NoValue(f"{code} not available: {given}")
    if not isinstance(value, Decimal):
        # A float here would silently reintroduce binary rounding; fail loudly instead.
        raise TypeError(f"value for {code} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise _NoValue(f"invalid value for {code}: {value}")
    return value


# ------------------------------------------------------------------------- formula


@dataclass(frozen=True)
class Formula:
    """A parsed indicator formula.

    Equality and hashing use the AST only, so ``100*A/B`` equals ``100 * A / B``.
    """

    text: str = field(compare=False)
    expr: Expr
    codes: frozenset[str] = field(init=False, compare=False)
    ordered_codes: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        ordered = tuple(dict.fromkeys(_codes_in_order(self.expr)))
        object.__setattr__(self, "ordered_codes", ordered)
        object.__setattr__(self, "codes", frozenset(ordered))

    def __str__(self) -> str:
        return render(self.expr)

    def evaluate(self, values: Values) -> Evaluation:
        """Compute the value from component values, or say why it cannot be computed.

        Only the first problem in evaluation order is reported, so that a chaser names
        one concrete thing to fix.
        """
        try:
            result = _evaluate(self.expr, values, _new_context())
        except _NoValue as problem:
            return Evaluation(None, problem.reason)
        except Overflow:
            return Evaluation(None, "result too large to compute")
        except DecimalException as error:
            return Evaluation(None, f"arithmetic error ({type(error).__name__})")
        if result.is_zero():
            result = result.copy_abs()  # never publish "-0"
        return Evaluation(result, None)

    def check_codes(self, known: Iterable[str]) -> list[str]:
        """The codes not in ``known``, in order of appearance, for register load errors."""
        known_codes = set(known)
        return [code for code in self.ordered_codes if code not in known_codes]


def _codes_in_order(expr: Expr) -> Iterator[str]:
    match expr:
        case Component(code):
            yield code
        case Negate(operand):
            yield from _codes_in_order(operand)
        case BinaryOp(_, left, right):
            yield from _codes_in_order(left)
            yield from _codes_in_order(right)


def parse_formula(text: str) -> Formula:
    """Parse an indicator formula; anything outside the grammar raises :class:`FormulaError`."""
    if not isinstance(text, str):
        raise TypeError(f"formula must be a str, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise FormulaError("formula is empty")
    return Formula(text, _Parser(_tokenize(text)).parse())


def single_component(code: str) -> Formula:
    """The formula of an indicator without one: it takes its single component's value."""
    if not is_component_code(code):
        raise FormulaError(f"{_quote(code)} is not a component code")
    return Formula(code, Component(code))


def suggest(code: str, known: Iterable[str]) -> str | None:
    """A known code the author probably meant by ``code``, or None.

    Matching is case-sensitive everywhere else; this exists so a load error can say
    "did you mean BV8a.1?" for ``bv8a.1`` or ``BV8a1``. Returns None when ``code`` is
    itself known (nothing to correct) or nothing is close enough.
    """
    candidates = sorted(set(known))
    if code in candidates:
        return None
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    folded = code.casefold()
    if folded in by_folded:
        return by_folded[folded]
    matches = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=0.6)
    return by_folded[matches[0]] if matches else None
