import pytest

from scorer_core.auth.ratelimit import Rate, counter_key, parse_rate, window_end


def test_reference_vector() -> None:
    rate = parse_rate("125/15m")
    assert rate == Rate(125, 900)
    assert window_end("abcd1234", 900, 1760700000) == 1760700026
    assert (
        counter_key("abcd1234", rate, 1760700000)
        == ":1:rl:0f5c6d6d1d7e5e2b21acac4c133c6cca43e70c16725fdf322267107463ec11ac"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3/30seconds", Rate(3, 30)), ("2/15m", Rate(2, 900)), ("10/h", Rate(10, 3600)), ("5", None)],
)
def test_parse_rate(text: str, expected: Rate | None) -> None:
    if expected is None:
        with pytest.raises(AttributeError):
            parse_rate(text)
    else:
        assert parse_rate(text) == expected


def test_one_second_window_is_now() -> None:
    assert window_end("abc", 1, 1234) == 1234


def test_window_end_is_never_in_the_past() -> None:
    for now in range(1760700000, 1760700000 + 1800, 37):
        end = window_end("abcd1234", 900, now)
        assert now <= end < now + 900
