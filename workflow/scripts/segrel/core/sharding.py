"""Which items of a test set (or of a generation job) one shard job handles."""

from __future__ import annotations


def shard_samples(samples: list, shard: int, shards: int) -> list:
    """Shard ``shard`` of ``shards``: every shards-th sample, so shards have similar content.

    >>> shard_samples(list("abcde"), 1, 2)
    ['b', 'd']
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return samples[shard::shards]
