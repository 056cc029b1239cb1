"""validators.bounds: a value satisfies a bound only when it is finite and every limit holds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.bounds import Bound, is_finite_number, is_number

FAST = settings(max_examples=100, deadline=None)

NOT_NUMBERS = [None, True, False, np.bool_(True), "0.1", "nan", b"1", [0.1], {"x": 0.1}, 1j]
NON_FINITE = [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf"), float("-inf")]


# -- strict vs non-strict -------------------------------------------------------------------

@pytest.mark.parametrize(
    "bound, inside, outside",
    [
        (Bound(lt=0.01), [0.0, 0.00999, -5.0], [0.01, 0.02]),
        (Bound(le=0.01), [0.0, 0.01], [0.010000000000000002, 1.0]),
        (Bound(gt=0.66), [0.6600000000000001, 1.0], [0.66, 0.5]),
        (Bound(ge=0.65), [0.65, 0.9], [0.6499999999999999, 0.0]),
        (Bound(ge=0.0, le=0.15), [0.0, 0.15, 0.07], [-1e-300, 0.15000000000000002]),
        (Bound(gt=0.0, lt=0.15), [1e-300, 0.1499], [0.0, 0.15]),
        (Bound(ge=0.0, le=0.0), [0.0, -0.0], [5e-324, -5e-324]),
        (Bound(le=0), [0, 0.0, -1], [1, 5e-324]),  # a bound of 0 is a bound, not "unset"
        (Bound(ge=0), [0, 1], [-1, -5e-324]),
    ],
)
def test_strict_and_non_strict_limits(bound, inside, outside):
    for value in inside:
        assert bound.contains(value), (bound, value)
    for value in outside:
        assert not bound.contains(value), (bound, value)


@pytest.mark.parametrize("bound", [Bound(lt=0.3), Bound(le=0.3), Bound(gt=0.3), Bound(ge=0.3),
                                   Bound(ge=0.0, le=1.0), Bound(gt=-1e308, lt=1e308)])
@pytest.mark.parametrize("value", NON_FINITE + NOT_NUMBERS, ids=repr)
def test_nan_inf_none_bool_str_never_contained(bound, value):
    assert bound.contains(value) is False


@pytest.mark.parametrize("value", NON_FINITE + NOT_NUMBERS, ids=repr)
def test_no_bound_still_refuses_non_numbers(value):
    # Even the empty bound (no limit at all) never accepts NaN, inf or a non-number.
    assert Bound().contains(value) is False


def test_numpy_scalars_are_numbers():
    bound = Bound(ge=0.0, le=1.0)
    assert bound.contains(np.float32(0.5))
    assert bound.contains(np.float64(1.0))
    assert bound.contains(np.int64(1))
    assert not bound.contains(np.float64(1.5))
    assert is_number(np.float64(1.0)) and not is_number(np.bool_(True)) and not is_number(True)
    assert not is_finite_number(np.float64("nan"))


# -- mask agrees with contains --------------------------------------------------------------

limits = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-12, max_value=12),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 5e-324]),
)


@st.composite
def bounds(draw):
    lower = draw(st.sampled_from([None, "gt", "ge"]))
    upper = draw(st.sampled_from([None, "lt", "le"]))
    kwargs = {}
    a, b = sorted([draw(limits), draw(limits)])
    if lower and upper and (a == b and (lower == "gt" or upper == "lt")):
        b = a + 1.0
    if lower:
        kwargs[lower] = a
    if upper:
        kwargs[upper] = b
    return Bound(**kwargs)


@FAST
@given(bound=bounds(), xs=st.lists(values, max_size=30))
def test_mask_agrees_with_contains(bound, xs):
    mask = bound.mask(np.asarray(xs, dtype=np.float64))
    assert mask.dtype == np.bool_
    assert mask.tolist() == [bound.contains(x) for x in xs]


@FAST
@given(bound=bounds(), x=values)
def test_contains_is_the_conjunction_of_the_limits(bound, x):
    expected = math.isfinite(x)
    if bound.gt is not None:
        expected = expected and x > bound.gt
    if bound.ge is not None:
        expected = expected and x >= bound.ge
    if bound.lt is not None:
        expected = expected and x < bound.lt
    if bound.le is not None:
        expected = expected and x <= bound.le
    assert bound.contains(x) is expected


def test_mask_of_empty_array_is_empty():
    assert Bound(le=1.0).mask(np.array([])).size == 0


# -- construction errors --------------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs",
    [{"ge": 0.5, "le": 0.1}, {"gt": 0.5, "lt": 0.1}, {"gt": 0.1, "le": 0.1}, {"ge": 0.1, "lt": 0.1},
     {"gt": 0.1, "lt": 0.1}, {"ge": 1, "le": 0}],
)
def test_empty_interval_is_refused(kwargs):
    with pytest.raises(ValueError, match="no value can satisfy"):
        Bound(**kwargs)


def test_point_interval_is_allowed():
    assert Bound(ge=0.1, le=0.1).contains(0.1)


@pytest.mark.parametrize("kwargs, match", [
    ({"gt": 0.0, "ge": 0.0}, "at most one lower bound"),
    ({"lt": 1.0, "le": 1.0}, "at most one upper bound"),
])
def test_both_lower_or_both_upper_keys_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Bound(**kwargs)


@pytest.mark.parametrize("key", ["gt", "ge", "lt", "le"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "0.1", True, None, 10 ** 400],
                         ids=["nan", "inf", "-inf", "str", "bool", "none", "huge-int"])
def test_limit_must_be_a_finite_number(key, value):
    if value is None:
        assert Bound(**{key: value}).is_empty
        return
    with pytest.raises(ValueError, match=f"bound {key}"):
        Bound(**{key: value})


def test_from_mapping_ignores_other_keys_and_as_dict_round_trips():
    b = Bound.from_mapping({"ge": 0.0, "le": 0.15, "column": "volatility"})
    assert b == Bound(ge=0.0, le=0.15)
    assert b.as_dict() == {"ge": 0.0, "le": 0.15}
    assert Bound.from_mapping(b.as_dict()) == b


def test_lower_upper_and_is_empty():
    assert Bound().is_empty and Bound().lower is None and Bound().upper is None
    assert Bound(gt=1).lower == ("gt", 1) and Bound(ge=1).lower == ("ge", 1)
    assert Bound(lt=1).upper == ("lt", 1) and Bound(le=1).upper == ("le", 1)


# -- describe: exact, never rounded ----------------------------------------------------------

@pytest.mark.parametrize(
    "bound, name, text",
    [
        (Bound(lt=0.01), "x", "x < 0.01"),
        (Bound(le=0.01), "x", "x <= 0.01"),
        (Bound(gt=0.66), "observed", "observed > 0.66"),
        (Bound(ge=0.65), "observed", "observed >= 0.65"),
        (Bound(ge=0.0, le=0.15), "volatility", "0.0 <= volatility <= 0.15"),
        (Bound(gt=0, lt=1), "x", "0 < x < 1"),
        (Bound(gt=0.0, le=0.1), "x", "0.0 < x <= 0.1"),
        (Bound(ge=0.0, lt=0.5), "x", "0.0 <= x < 0.5"),
        (Bound(lt=0.123456789012345), "x", "x < 0.123456789012345"),
        (Bound(le=1e-12), "x", "x <= 1e-12"),
        (Bound(ge=0.6499999999999999), "x", "x >= 0.6499999999999999"),
        (Bound(), "x", "no bound"),
    ],
)
def test_describe_is_exact(bound, name, text):
    assert bound.describe(name) == text


@FAST
@given(a=limits)
def test_describe_round_trips_the_limit(a):
    text = Bound(le=a).describe("x")
    assert text.startswith("x <= ")
    assert float(text[len("x <= "):]) == a


def test_describe_of_numpy_scalar_limits_reads_like_the_spec():
    # numpy 2 reprs scalars as np.float64(0.15); a report must read "0.15".
    assert Bound(le=np.float64(0.15)).describe("x") == "x <= 0.15"
    assert Bound(ge=np.int64(0), lt=np.float32(0.5)).describe("x") == "0 <= x < 0.5"
