"""Whole-sequence evaluation split across processes: every sequence exactly once (no DistributedSampler padding)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from torch.utils.data import DistributedSampler

from handprior.data.datamodule import SequenceShardSampler, StoreDataModule, drop_last
from handprior.errors import HandpriorInputError


@pytest.mark.parametrize(("sequences", "processes"), [(3, 2), (4, 2), (7, 3), (5, 5), (1, 1)])
def test_every_sequence_is_evaluated_exactly_once(sequences: int, processes: int) -> None:
    data = list(range(sequences))
    shards = [list(SequenceShardSampler(data, processes, rank)) for rank in range(processes)]
    assert sorted(i for shard in shards for i in shard) == data  # each once: nothing repeated, nothing left out
    assert all(len(shard) == len(SequenceShardSampler(data, processes, r)) for r, shard in enumerate(shards))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    # Lightning's default would pad: 3 sequences on 2 processes evaluate 4
    padded = [list(DistributedSampler(data, processes, rank, shuffle=False)) for rank in range(processes)]
    assert sum(map(len, padded)) == -(-sequences // processes) * processes


def test_fewer_sequences_than_processes_is_refused() -> None:
    with pytest.raises(HandpriorInputError, match="at least one sequence per process"):
        SequenceShardSampler([0], 2, 1, "test")


def test_the_datamodule_shards_only_under_several_processes() -> None:
    module = StoreDataModule()
    data = list(range(3))
    assert module._sequence_sampler(data, "val") is None  # no trainer
    module.trainer = SimpleNamespace(distributed_sampler_kwargs=None)
    assert module._sequence_sampler(data, "val") is None  # one process
    module.trainer = SimpleNamespace(distributed_sampler_kwargs={"num_replicas": 2, "rank": 1})
    assert list(module._sequence_sampler(data, "val")) == [1]


def test_training_keeps_the_last_batch_when_a_process_has_less_than_two() -> None:
    assert drop_last(20, 8) and not drop_last(8, 8)
    # 12 windows on 2 processes: 6 each, less than a batch of 8; dropping it would train nothing
    assert not drop_last(12, 8, processes=2)
    assert drop_last(20, 8, processes=2)  # 10 each: one full batch, the rest dropped
