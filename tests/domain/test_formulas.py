"""Tests for indicator formulas: grammar, errors with columns, Decimal evaluation, round trips."""

from __future__ import annotations

import io
import itertools
import pickle
import tokenize
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mailcapture.domain import formulas
from mailcapture.domain.formulas import (
    MAX_DEPTH,
    MAX_LENGTH,
    PRECISION,
    BinaryOp,
    Component,
    Evaluation,
    Expr,
    Formula,
    FormulaError,
    Negate,
    NotAvailable,
    Number,
    parse_formula,
    single_component,
    suggest,
)

D = Decimal


def n(value: str | int) -> Number:
    return Number(Decimal(value))


def c(code: str) -> Component:
    return Component(code)


# ------------------------------------------------------------------ golden values


def test_bv8a_golden_value_is_exact_decimal_division() -> None:
    formula = parse_formula("100 * BV8a.1 / BV8a.2")
    result = formula.evaluate({"BV8a.1": D("1234"), "BV8a.2": D("1300")})
    with localcontext(Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)):
        expected = Decimal(100) * Decimal(1234) / Decimal(1300)
    assert result == Evaluation(expected, None)
    assert isinstance(result.value, Decimal)
    assert str(result.value) == "94.92307692307692307692307692307692"


def test_precision_is_at_least_28_digits_and_independent_of_global_context() -> None:
    formula = parse_formula("1 / 3")
    with localcontext(Context(prec=3)):
        value = formula.evaluate({}).value
    assert PRECISION >= 28
    assert value == Decimal("0." + "3" * PRECISION)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("8 / 4 / 2", "1"),
        ("10 - 4 - 3", "3"),
        ("2 * 3 - 4 / 2", "4"),
        ("-3 + 5", "2"),
        ("--3", "3"),
        ("-(2 + 3) * 2", "-10"),
        ("2 * -3", "-6"),
        ("10 - -2", "12"),
        ("6 × 2 ÷ 3 − 1", "3"),
        ("−4 + 1", "-3"),
        ("2 −−1", "3"),
        (".5 * 4", "2"),
        ("12.5 - 0.5", "12"),
        ("\t1\n+\u00a02 ", "3"),
        ("((((7))))", "7"),
    ],
)
def test_arithmetic_precedence_and_associativity(text: str, expected: str) -> None:
    assert parse_formula(text).evaluate({}) == Evaluation(Decimal(expected), None)


def test_left_associativity_shape() -> None:
    assert parse_formula("8 / 4 / 2").expr == BinaryOp("/", BinaryOp("/", n(8), n(4)), n(2))
    assert parse_formula("10 - 4 - 3").expr == BinaryOp("-", BinaryOp("-", n(10), n(4)), n(3))
    assert parse_formula("1 + 2 * 3").expr == BinaryOp("+", n(1), BinaryOp("*", n(2), n(3)))


def test_unary_minus_binds_tighter_than_multiplication() -> None:
    assert parse_formula("-a * b").expr == BinaryOp("*", Negate(c("a")), c("b"))
    assert parse_formula("a * -b").expr == BinaryOp("*", c("a"), Negate(c("b")))


def test_unicode_operators_are_aliases() -> None:
    assert parse_formula("a × b ÷ c − −d") == parse_formula("a * b / c - -d")
    assert str(parse_formula("a×b÷c−d")) == "a * b / c - d"


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("(NI191.1 + NI191.2) / NI191.3", {"NI191.1": "3", "NI191.2": "5", "NI191.3": "4"}, "2"),
        ("H1.1 - H1.2", {"H1.1": "10.5", "H1.2": "12"}, "-1.5"),
        ("WST1.1 / 1000", {"WST1.1": "123456"}, "123.456"),
        ("LPI_H1.1 * 2", {"LPI_H1.1": "0.25"}, "0.50"),
    ],
)
def test_register_style_formulas(text: str, values: dict[str, str], expected: str) -> None:
    result = parse_formula(text).evaluate({k: Decimal(v) for k, v in values.items()})
    assert result == Evaluation(Decimal(expected), None)


def test_codes_set_and_order() -> None:
    formula = parse_formula("(NI191.1 + NI191.2) / NI191.3 - NI191.1 + LPI_H1.1")
    assert formula.codes == frozenset({"NI191.1", "NI191.2", "NI191.3", "LPI_H1.1"})
    assert formula.ordered_codes == ("NI191.1", "NI191.2", "NI191.3", "LPI_H1.1")
    assert parse_formula("12.5 * 2").codes == frozenset()


def test_codes_are_case_sensitive() -> None:
    formula = parse_formula("bv8a.1 + BV8a.1")
    assert formula.codes == frozenset({"bv8a.1", "BV8a.1"})
    assert formula.evaluate({"BV8a.1": D(1)}) == Evaluation(None, "missing value for bv8a.1")


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("100 * ", "column 7: unexpected end of formula"),
        ("100 ** 2", "column 6: unexpected '*'"),
        ("BV8a.1 BV8a.2", "column 8: expected an operator before 'BV8a.2'"),
        ("__import__('os')", "column 1: unexpected character '_'"),
        ("a.", "column 1: component code 'a.' must not end with '.'"),
        ("1 + BV8a.", "column 5: component code 'BV8a.' must not end with '.'"),
        ("1..2", "column 1: malformed number '1..2'"),
        ("3 * 1.2.3", "column 5: malformed number '1.2.3'"),
        ("12.", "column 1: malformed number '12.'"),
        (".", "column 1: malformed number '.'"),
        ("2x", "column 1: malformed number '2x'"),
        ("1e5", "column 1: malformed number '1e5'"),
        ("(1 + 2", "column 1: '(' is never closed"),
        ("((1)", "column 1: '(' is never closed"),
        ("1 + (2 * (3)", "column 5: '(' is never closed"),
        ("1 + 2)", "column 6: unexpected ')'"),
        ("(1))", "column 4: unexpected ')'"),
        (")(", "column 1: unexpected ')'"),
        ("()", "column 2: unexpected ')'"),
        ("+1", "column 1: unexpected '+'"),
        ("1 +", "column 4: unexpected end of formula"),
        ("2 ^ 3", "column 3: unexpected character '^'"),
        ("50%", "column 3: unexpected character '%'"),
        ("a = b", "column 3: unexpected character '='"),
        ("max(a, b)", "column 1: functions are not supported ('max(')"),
        ("Number of households", "column 8: expected an operator before 'of'"),
        ("(1 2)", "column 4: expected an operator before '2'"),
        ("2 (3)", "column 3: expected an operator before '('"),
        ("1 * ÷ 2", "column 5: unexpected '÷'"),
        ("1 + + 2 $", "column 5: unexpected '+'"),
        ("1\x00", "column 2: unexpected character U+0000"),
        ("BV8é.1", "column 4: unexpected character 'é'"),
        ("", "formula is empty"),
        (" \t\n ", "formula is empty"),
        ("1" * (MAX_LENGTH + 1), f"formula is longer than {MAX_LENGTH} characters"),
        (
            "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
            f"column {MAX_DEPTH + 1}: nested more than {MAX_DEPTH} levels deep",
        ),
        ("-" * (MAX_DEPTH + 1) + "1", f"column {MAX_DEPTH + 1}: nested more than 50 levels deep"),
        (
            "(" * 30 + "-" * 30 + "1" + ")" * 30,
            f"column {MAX_DEPTH + 1}: nested more than {MAX_DEPTH} levels deep",
        ),
    ],
)
def test_errors_name_the_column(text: str, message: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    assert str(caught.value) == message
    if message.startswith("column "):
        assert caught.value.column == int(message.split(":")[0].removeprefix("column "))
    else:
        assert caught.value.column is None


def test_formula_error_is_a_value_error_and_pickles() -> None:
    error = FormulaError("unexpected ')'", 12)
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.column, copy.reason) == ("column 12: unexpected ')'", 12, error.reason)


def test_long_quoted_text_is_shortened() -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula("1 " + "9" * 100 + "x")
    assert len(str(caught.value)) < 100
    assert str(caught.value).endswith("…'")


def test_limits_are_inclusive() -> None:
    deepest = "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    assert parse_formula(deepest).evaluate({}) == Evaluation(D(1), None)
    assert parse_formula("-" * MAX_DEPTH + "1").evaluate({}).value == D(1)
    chain = "10" + "+1" * ((MAX_LENGTH - 2) // 2)
    assert len(chain) == MAX_LENGTH
    assert parse_formula(chain).evaluate({}).value == D(10 + (MAX_LENGTH - 2) // 2)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        parse_formula(b"1 + 2")  # type: ignore[arg-type]


def test_module_never_uses_eval_compile_or_ast() -> None:
    source = Path(formulas.__file__).read_text(encoding="utf-8")
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    banned = {"eval", "exec", "compile", "ast", "__import__", "literal_eval", "getattr"}
    # Attribute access such as re.compile is fine; a bare name or an import is not.
    used = {
        token.string
        for previous, token in itertools.pairwise(tokens)
        if token.type == tokenize.NAME and token.string in banned and previous.string != "."
    }
    assert used == set()


# --------------------------------------------------------------------- evaluation


def test_missing_value_absent_or_none_names_first_in_order() -> None:
    formula = parse_formula("100 * BV8a.1 / BV8a.2")
    assert formula.evaluate({"BV8a.1": D(1)}) == Evaluation(None, "missing value for BV8a.2")
    assert formula.evaluate({"BV8a.1": D(1), "BV8a.2": None}) == Evaluation(
        None, "missing value for BV8a.2"
    )
    assert formula.evaluate({}) == Evaluation(None, "missing value for BV8a.1")


def test_not_available_names_code_and_reason() -> None:
    formula = parse_formula("100 * BV8a.1 / BV8a.2")
    values = {"BV8a.1": D(1), "BV8a.2": NotAvailable("system migration\n  in progress")}
    assert formula.evaluate(values) == Evaluation(
        None, "BV8a.2 not available: system migration in progress"
    )
    values["BV8a.2"] = NotAvailable("  ")
    assert formula.evaluate(values).reason == "BV8a.2 not available: no reason given"


@pytest.mark.parametrize(
    ("text", "values", "reason"),
    [
        ("100 * BV8a.1 / BV8a.2", {"BV8a.1": "5", "BV8a.2": "0"}, "division by zero (BV8a.2 is 0)"),
        ("BV8a.1 / BV8a.2", {"BV8a.1": "0", "BV8a.2": "0.00"}, "division by zero (BV8a.2 is 0)"),
        (
            "X / (H1.1 - H1.2)",
            {"X": "1", "H1.1": "7", "H1.2": "7"},
            "division by zero (H1.1 - H1.2 is 0)",
        ),
        ("X / -(A*B)", {"X": "1", "A": "0", "B": "3"}, "division by zero (-(A * B) is 0)"),
        ("X / A * B", {"X": "1", "A": "0", "B": "3"}, "division by zero (A is 0)"),
        ("1 / 0", {}, "division by zero (0 is 0)"),
    ],
)
def test_division_by_zero_names_divisor(text: str, values: dict[str, str], reason: str) -> None:
    result = parse_formula(text).evaluate({k: Decimal(v) for k, v in values.items()})
    assert result == Evaluation(None, reason)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1 / 0 + MISSING", "division by zero (0 is 0)"),
        ("MISSING / 0", "missing value for MISSING"),
        ("NA + MISSING", "NA not available: later"),
        ("MISSING + NA", "missing value for MISSING"),
        ("ZERO / (MISSING - 1)", "missing value for MISSING"),
        ("(1 / ZERO) / NA", "division by zero (ZERO is 0)"),
        ("A / (1 / ZERO)", "division by zero (ZERO is 0)"),
    ],
)
def test_first_problem_in_evaluation_order(text: str, reason: str) -> None:
    values = {"ZERO": D(0), "A": D(1), "NA": NotAvailable("later")}
    assert parse_formula(text).evaluate(values) == Evaluation(None, reason)


def test_values_are_not_rounded() -> None:
    long_value = Decimal("1234.567890123456789012345678901234567890123")
    assert single_component("BV8a.1").evaluate({"BV8a.1": long_value}).value == long_value
    assert str(parse_formula("-A").evaluate({"A": long_value}).value) == "-" + str(long_value)
    assert parse_formula("0.125").evaluate({}).value.as_tuple().exponent == -3  # type: ignore[union-attr]


def test_negative_zero_is_normalised() -> None:
    value = parse_formula("-A").evaluate({"A": D("0.0")}).value
    assert value == 0
    assert value is not None and not value.is_signed()


def test_overflow_and_non_finite_values_are_reasons_not_exceptions() -> None:
    huge = {"A": Decimal("9E+999999")}
    assert parse_formula("A * A").evaluate(huge) == Evaluation(None, "result too large to compute")
    assert parse_formula("A + 1").evaluate({"A": Decimal("NaN")}) == Evaluation(
        None, "invalid value for A: NaN"
    )
    assert parse_formula("A").evaluate({"A": Decimal("-Infinity")}).reason == (
        "invalid value for A: -Infinity"
    )


def test_float_values_are_refused() -> None:
    with pytest.raises(TypeError, match="must be a Decimal"):
        parse_formula("A + 1").evaluate({"A": 0.1})  # type: ignore[dict-item]


def test_evaluation_has_exactly_one_of_value_and_reason() -> None:
    with pytest.raises(ValueError):
        Evaluation(None, None)
    with pytest.raises(ValueError):
        Evaluation(D(1), "also a reason")


# -------------------------------------------------- codes, suggestions, single comp


def test_check_codes_returns_unknown_in_order_of_appearance() -> None:
    formula = parse_formula("(Z1 + A1) / B1 + Z1 * bv8a.1")
    assert formula.check_codes(["A1", "BV8a.1"]) == ["Z1", "B1", "bv8a.1"]
    assert formula.check_codes(iter(["Z1", "A1", "B1", "bv8a.1"])) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("bv8a.1", "BV8a.1"),
        ("BV8a1", "BV8a.1"),
        ("NI191.4", "NI191.1"),
        ("QQQ", None),
        ("BV8a.1", None),
    ],
)
def test_suggest_close_match(code: str, expected: str | None) -> None:
    assert suggest(code, ["BV8a.1", "BV8a.2", "NI191.1", "H1.1"]) == expected


def test_single_component_takes_its_value() -> None:
    formula = single_component("LPI_H1.1")
    assert formula.codes == frozenset({"LPI_H1.1"})
    assert str(formula) == "LPI_H1.1"
    assert formula == parse_formula("LPI_H1.1")
    assert formula.evaluate({"LPI_H1.1": D("3.50")}) == Evaluation(D("3.50"), None)
    assert formula.evaluate({}) == Evaluation(None, "missing value for LPI_H1.1")


@pytest.mark.parametrize("code", ["", "1A", "a.", " A", "A B", "A+B", "_x", "Aé"])
def test_single_component_rejects_non_codes(code: str) -> None:
    with pytest.raises(FormulaError, match="is not a component code"):
        single_component(code)


# ---------------------------------------------------------------- canonical text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("100*BV8a.1/BV8a.2", "100 * BV8a.1 / BV8a.2"),
        ("((1+2))*3", "(1 + 2) * 3"),
        ("(1-2)-3", "1 - 2 - 3"),
        ("1-(2-3)", "1 - (2 - 3)"),
        ("1-(2+3)", "1 - (2 + 3)"),
        ("1+(2+3)", "1 + (2 + 3)"),
        ("(1*2)+3", "1 * 2 + 3"),
        ("a/(b*c)", "a / (b * c)"),
        ("(a/b)*c", "a / b * c"),
        ("-(1)", "-1"),
        ("-(a*b)", "-(a * b)"),
        ("(-a)*b", "-a * b"),
        ("a-(-b)", "a - -b"),
        ("- - a", "--a"),
        ("2×3÷4−5", "2 * 3 / 4 - 5"),
        (".5 + 0.50 + 007", "0.5 + 0.50 + 7"),
    ],
)
def test_canonical_rendering(text: str, canonical: str) -> None:
    formula = parse_formula(text)
    assert str(formula) == canonical
    assert parse_formula(canonical) == formula


def test_formula_equality_ignores_spelling_but_keeps_text() -> None:
    tight, spaced = parse_formula("100*A/B"), parse_formula(" 100 * A / B ")
    assert tight == spaced
    assert hash(tight) == hash(spaced)
    assert (tight.text, spaced.text) == ("100*A/B", " 100 * A / B ")
    assert parse_formula("A - B - C") != parse_formula("A - (B - C)")


def test_nodes_reject_values_that_cannot_round_trip() -> None:
    with pytest.raises(ValueError):
        Number(Decimal(-1))
    with pytest.raises(ValueError):
        Number(Decimal("NaN"))
    with pytest.raises(TypeError):
        Number(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Component("1a")
    with pytest.raises(ValueError):
        BinaryOp("^", n(1), n(2))
    assert str(Number(Decimal("1E+3"))) == "1000"


# ------------------------------------------------------------ property-based tests

CODE_POOL = ["BV8a.1", "BV8a.2", "NI191.1", "LPI_H1.1", "x"]

any_codes = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("abcxyzABCXYZ"),
    st.text(alphabet="abzAZ09._", max_size=8),
).filter(lambda code: not code.endswith("."))

literals = st.decimals(
    min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False
).map(lambda value: Number(value.copy_abs()))


def trees(codes: st.SearchStrategy[str]) -> st.SearchStrategy[Expr]:
    leaves = literals | codes.map(Component)
    return st.recursive(
        leaves,
        lambda children: (
            st.builds(Negate, children)
            | st.builds(BinaryOp, st.sampled_from("+-*/"), children, children)
        ),
        max_leaves=12,
    )


def tree_depth(expr: Expr) -> int:
    if isinstance(expr, Negate):
        return 1 + tree_depth(expr.operand)
    if isinstance(expr, BinaryOp):
        return 1 + max(tree_depth(expr.left), tree_depth(expr.right))
    return 0


EXACT = Context(prec=10_000)  # negation is exact in the formula language


class ZeroDivisor(Exception):
    def __init__(self, divisor: Expr) -> None:
        super().__init__(divisor)
        self.divisor = divisor


def reference(expr: Expr, values: dict[str, Decimal], ctx: Context) -> Decimal:
    """A deliberately separate evaluator: isinstance dispatch and explicit context calls."""
    if isinstance(expr, Number):
        return expr.value
    if isinstance(expr, Component):
        return values[expr.code]
    if isinstance(expr, Negate):
        return EXACT.minus(reference(expr.operand, values, ctx))
    left = reference(expr.left, values, ctx)
    right = reference(expr.right, values, ctx)
    if expr.op == "+":
        return ctx.add(left, right)
    if expr.op == "-":
        return ctx.subtract(left, right)
    if expr.op == "*":
        return ctx.multiply(left, right)
    if right == 0:
        raise ZeroDivisor(expr.right)
    return ctx.divide(left, right)


pool_values = st.fixed_dictionaries(
    {
        code: st.decimals(min_value=-(10**6), max_value=10**6, places=2) | st.just(D(0))
        for code in CODE_POOL
    }
)


@given(trees(any_codes))
def test_rendered_ast_parses_back_to_same_ast(expr: Expr) -> None:
    text = formulas.render(expr)
    assume(len(text) <= MAX_LENGTH and tree_depth(expr) <= MAX_DEPTH)
    formula = parse_formula(text)
    assert formula.expr == expr
    assert str(formula) == text


@given(trees(st.sampled_from(CODE_POOL)), pool_values)
def test_evaluation_matches_reference_and_survives_round_trip(
    expr: Expr, values: dict[str, Decimal]
) -> None:
    text = formulas.render(expr)
    assume(len(text) <= MAX_LENGTH and tree_depth(expr) <= MAX_DEPTH)
    ctx = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)
    try:
        expected = Evaluation(reference(expr, values, ctx), None)
    except ZeroDivisor as zero:
        expected = Evaluation(None, f"division by zero ({zero.divisor} is 0)")
    direct = Formula(text, expr).evaluate(values)
    assert direct == expected
    assert parse_formula(text).evaluate(values) == expected


small_int_trees = st.recursive(
    st.integers(0, 99).map(lambda value: Number(Decimal(value)))
    | st.sampled_from(CODE_POOL).map(Component),
    lambda children: (
        st.builds(Negate, children)
        | st.builds(BinaryOp, st.sampled_from("+-*"), children, children)
    ),
    max_leaves=8,
)


def int_reference(expr: Expr, values: dict[str, int]) -> int:
    """Exact integer arithmetic, independent of any Decimal context."""
    if isinstance(expr, Number):
        return int(expr.value)
    if isinstance(expr, Component):
        return values[expr.code]
    if isinstance(expr, Negate):
        return -int_reference(expr.operand, values)
    left, right = int_reference(expr.left, values), int_reference(expr.right, values)
    return {"+": left + right, "-": left - right, "*": left * right}[expr.op]


@given(small_int_trees, st.fixed_dictionaries({code: st.integers(-99, 99) for code in CODE_POOL}))
def test_integer_formulas_are_exact(expr: Expr, ints: dict[str, int]) -> None:
    assume(tree_depth(expr) <= MAX_DEPTH)
    text = formulas.render(expr)
    assume(len(text) <= MAX_LENGTH)
    result = parse_formula(text).evaluate({k: Decimal(v) for k, v in ints.items()})
    assert result.reason is None
    assert result.value == int_reference(expr, ints)


def check_hostile(text: str) -> None:
    try:
        formula = parse_formula(text)
    except FormulaError as error:
        assert "\n" not in str(error)
        assert error.column is None or 1 <= error.column <= len(text) + 1
        return
    canonical = str(formula)
    assert parse_formula(canonical) == formula
    result = formula.evaluate(dict.fromkeys(formula.codes, D(1)))
    assert (result.value is None) != (result.reason is None)


@given(st.text(max_size=MAX_LENGTH + 20))
def test_hostile_text_raises_only_formula_error(text: str) -> None:
    check_hostile(text)


@given(st.text(alphabet=list("0123456789.+-*/()×÷− \tabBV_e"), max_size=MAX_LENGTH + 5))
def test_formula_like_text_raises_only_formula_error(text: str) -> None:
    check_hostile(text)


@given(st.integers(0, 2 * MAX_DEPTH), st.sampled_from(["(", "-", "(-", "-("]))
def test_deep_nesting_never_overflows_the_stack(depth: int, opener: str) -> None:
    closer = ")" * (opener.count("(") * depth)
    check_hostile(opener * depth + "1" + closer)
