"""The local decoder's loop detection (``agora.backends.decoder.looped``) on token lists."""

from __future__ import annotations

import random

from agora.backends.decoder import LOOP_TOKENS, looped


def test_a_block_repeated_twice_at_the_end_is_a_loop_of_its_length() -> None:
    rng = random.Random(0)
    head = [rng.randrange(1000) for _ in range(50)]
    block = [rng.randrange(1000, 2000) for _ in range(40)]
    assert looped(head + block + block) == 40
    assert looped(head + block + block[:-1]) == 0  # not yet twice


def test_a_short_period_is_caught_once_a_block_of_the_shortest_length_repeats() -> None:
    loop = [7, 8, 9] * 30  # period 3: the shortest block at least LOOP_TOKENS long that repeats is 33 tokens
    assert looped([1, 2, *loop[: 2 * 33 - 1]]) == 0
    assert looped([1, 2, *loop[: 2 * 33]]) == 33
    assert LOOP_TOKENS <= 33


def test_text_without_an_immediate_repeat_is_not_a_loop() -> None:
    rng = random.Random(1)
    text = [rng.randrange(50_000) for _ in range(500)]
    assert looped(text) == 0
    block = text[:40]
    assert looped(block + text[100:130] + block) == 0  # the same block twice, but not in a row
    assert looped([5] * (2 * LOOP_TOKENS - 1)) == 0  # shorter than two blocks
    assert looped([]) == 0
