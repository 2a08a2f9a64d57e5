"""Continuation tokens: what storage hands out comes back unchanged; anything else is refused."""

from __future__ import annotations

import pytest

from common.continuation import InvalidTokenError, decode_token, encode_token


def test_a_position_round_trips_and_is_url_safe() -> None:
    position = {"PartitionKey": "scan/?+", "RowKey": None}
    token = encode_token(position)
    assert token is not None and "=" not in token and "/" not in token and "+" not in token
    assert decode_token(token) == position


def test_no_position_is_no_token() -> None:
    assert encode_token(None) is None and encode_token({}) is None
    assert decode_token(None) is None and decode_token("") is None


@pytest.mark.parametrize("token", ["not base64!", "WzFd", "eyJhIjogMX0", "e30x"])
def test_a_token_we_did_not_hand_out_is_refused(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        decode_token(token)  # garbage, a JSON list, a number value, trailing bytes
