import numpy as np
import torch

from handprior.data.windows import cut_windows, local_window_starts, stitch_windows, training_window_starts


def test_local_starts_cover_the_sequence_and_end_at_its_end():
    starts = local_window_starts(100, 27, 9)
    assert starts[0] == 0 and starts[-1] == 100 - 27
    covered = np.zeros(100, bool)
    for s in starts:
        covered[s : s + 27] = True
    assert covered.all()


def test_short_sequence_gets_one_padded_window():
    assert local_window_starts(10, 27, 9).tolist() == [0]
    seq = torch.arange(10.0)[:, None]
    windows = cut_windows(seq, torch.tensor([0]), 27)
    assert windows.shape == (1, 27, 1)
    assert torch.all(windows[0, 10:] == 9.0)
    assert torch.equal(stitch_windows(windows, torch.tensor([0]), 10), seq)


def test_training_windows_never_cross_sequence_boundaries():
    offsets = np.array([0, 40, 50, 130])  # lengths 40, 10 (too short), 80
    starts = training_window_starts(offsets, 27, 9)
    ends = starts + 27
    seq_of_start = np.searchsorted(offsets, starts, side="right") - 1
    assert np.all(ends <= offsets[seq_of_start + 1])
    assert not np.any((starts >= 40) & (starts < 50))  # the short sequence has none


def test_stitching_recovers_a_sequence_and_averages_overlaps():
    seq = torch.randn(50, 21, 3)
    starts = torch.from_numpy(local_window_starts(50, 27, 5))
    windows = cut_windows(seq, starts, 27)
    assert torch.allclose(stitch_windows(windows, starts, 50), seq)
    # Window w adds w to every frame it covers: the stitched value is the mean index of covering windows.
    marked = windows + torch.arange(len(starts), dtype=seq.dtype)[:, None, None, None]
    stitched = stitch_windows(marked, starts, 50)
    frame = 26
    covering = [i for i, s in enumerate(starts.tolist()) if s <= frame < s + 27]
    assert torch.allclose(stitched[frame] - seq[frame], torch.tensor(float(np.mean(covering))))
