"""StreamingRefiner: causal windows equal to the network on those windows, start padding, the ring buffer, and
`handprior refine --online true`."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from handprior.body.bones import with_running_bone_lengths
from handprior.cli import main
from handprior.data.windows import cut_windows
from handprior.inference.refine import Refiner
from handprior.inference.streaming import StreamingRefiner

ATOL = 1e-4  # mm; batch 1 against a batch of windows


@pytest.fixture(scope="module")
def refiner(checkpoint: Path) -> Refiner:
    return Refiner.from_checkpoint(checkpoint, device="cpu")


def _stream(stream: StreamingRefiner, sequence: np.ndarray) -> np.ndarray:
    return np.stack([stream.push(frame) for frame in sequence])


def test_each_frame_is_the_last_frame_of_its_causal_window(refiner: Refiner, hand) -> None:
    sequence = hand(40).astype(np.float32)
    stream = StreamingRefiner(refiner)
    T = stream.window
    streamed = _stream(stream, sequence)
    seq = torch.from_numpy(sequence)
    starts = torch.arange(len(seq) - T + 1)
    with torch.no_grad():
        offline = refiner.model.run_net(cut_windows(seq, starts, T)).joints[:, -1].numpy()  # (W,21,3)
    np.testing.assert_allclose(streamed[T - 1 :], offline, atol=ATOL)
    assert np.abs(streamed - sequence).max() > 0.1  # the network changes the frames


def test_the_start_is_padded_with_the_first_frame(refiner: Refiner, hand) -> None:
    sequence = torch.from_numpy(hand(30, seed=3).astype(np.float32))
    stream = StreamingRefiner(refiner, window=9)
    for t, frame in enumerate(sequence[:9]):
        refined = stream.push(frame)
        window = torch.cat([sequence[:1].expand(8 - t, 21, 3), sequence[: t + 1]])  # (9,21,3)
        torch.testing.assert_close(stream.current_window(), window)
        with torch.no_grad():
            expected = refiner.model.run_net(window[None]).joints[0, -1]
        torch.testing.assert_close(refined, expected, atol=ATOL, rtol=0)


def test_the_ring_buffer_is_reused_and_the_window_is_a_view(refiner: Refiner, hand) -> None:
    sequence = hand(50, seed=4).astype(np.float32)
    stream = StreamingRefiner(refiner, window=7)
    buffer = stream._buffer
    pointer = buffer.data_ptr()
    for n, frame in enumerate(sequence, start=1):
        out = stream.push(frame)
        window = stream.current_window()
        assert window.is_contiguous() and window.shape == (7, 21, 3)
        assert pointer <= window.data_ptr() < pointer + buffer.numel() * buffer.element_size()
        np.testing.assert_array_equal(window[-min(n, 7) :].numpy(), sequence[max(0, n - 7) : n])
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (21, 3)
    assert stream._buffer is buffer and buffer.data_ptr() == pointer and stream.frames_seen == 50


def test_reset_starts_a_new_sequence_and_bad_frames_are_refused(refiner: Refiner, hand) -> None:
    first, second = hand(12, seed=5).astype(np.float32), hand(12, seed=6).astype(np.float32)
    stream = StreamingRefiner(refiner)
    _stream(stream, first)
    stream.reset()
    again = _stream(stream, second)
    np.testing.assert_allclose(again, _stream(StreamingRefiner(refiner), second), atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(21, 3\)"):
        stream.push(np.zeros((20, 3)))
    with pytest.raises(RuntimeError, match="no frame"):
        StreamingRefiner(refiner).current_window()
    with pytest.raises(TypeError, match="checkpoint path"):
        StreamingRefiner(object())


def test_refine_sequence_returns_mano_parameters_per_frame(refiner: Refiner, checkpoint: Path, hand) -> None:
    sequence = torch.from_numpy(hand(30, seed=7).astype(np.float32))
    out = StreamingRefiner(str(checkpoint), device="cpu").refine_sequence(sequence)
    assert out["joints"].shape == (30, 21, 3) and out["theta"].shape == (30, 48) and out["beta"].shape == (30, 10)
    np.testing.assert_allclose(out["joints"].numpy(), _stream(StreamingRefiner(refiner), sequence.numpy()), atol=1e-6)


def test_online_refine_command(tmp_path: Path, checkpoint: Path, refiner: Refiner, hand, capsys) -> None:
    sequence = hand(35, seed=8)
    np.savez(tmp_path / "seq.npz", pred=sequence)
    args = ["refine", "--ckpt", str(checkpoint), "--device", "cpu", "--input", str(tmp_path / "seq.npz")]
    main([*args, "--output", str(tmp_path / "online.npz"), "--online", "true"])
    assert "causal window of 27 frames" in capsys.readouterr().out
    main([*args, "--output", str(tmp_path / "offline.npz")])
    with np.load(tmp_path / "online.npz") as online, np.load(tmp_path / "offline.npz") as offline:
        streamed = _stream(StreamingRefiner(refiner), sequence.astype(np.float32))
        np.testing.assert_allclose(online["refined"], streamed, atol=1e-3)
        assert np.abs(online["refined"] - offline["refined"]).max() > 1e-3  # offline windows see the future


@pytest.mark.slow
def test_a_compiled_stream_gives_the_eager_frames(refiner: Refiner, hand) -> None:
    sequence = hand(12, seed=5).astype(np.float32)
    eager = _stream(StreamingRefiner(refiner, window=9), sequence)
    compiled = _stream(StreamingRefiner(refiner, window=9, compile=True), sequence)  # the ring buffer's views
    np.testing.assert_allclose(compiled, eager, atol=ATOL)


def test_a_lag_returns_the_frame_lag_frames_back_seeing_its_future(refiner: Refiner, hand) -> None:
    sequence = torch.from_numpy(hand(30, seed=7).astype(np.float32))
    T, lag = 9, 3
    stream = StreamingRefiner(refiner, window=T, lag=lag)
    streamed = torch.stack([stream.push_tensor(frame).clone() for frame in sequence])
    starts = torch.arange(len(sequence) - T + 1)
    with torch.no_grad():
        windows = refiner.model.run_net(cut_windows(sequence, starts, T)).joints  # (W,T,21,3)
    # push n (n >= T-1) is frame n - lag, at position T-1-lag of the window that ends at n
    np.testing.assert_allclose(streamed[T - 1 :].numpy(), windows[:, T - 1 - lag].numpy(), atol=ATOL)
    whole = stream.refine_sequence(sequence)["joints"]  # (L,21,3): frame f from the push of f + lag
    assert whole.shape == sequence.shape
    np.testing.assert_allclose(whole[T - 1 - lag : len(sequence) - lag].numpy(), windows[:, T - 1 - lag].numpy(),
                               atol=ATOL)  # fmt: skip
    np.testing.assert_allclose(whole[-lag:].numpy(), windows[-1, T - lag :].numpy(), atol=ATOL)  # the flush
    with pytest.raises(ValueError, match="lag"):
        StreamingRefiner(refiner, window=T, lag=T)


def test_online_refine_command_with_a_lag(tmp_path: Path, checkpoint: Path, refiner: Refiner, hand, capsys) -> None:
    sequence = hand(35, seed=9)
    np.savez(tmp_path / "seq.npz", pred=sequence)
    args = ["refine", "--ckpt", str(checkpoint), "--device", "cpu", "--input", str(tmp_path / "seq.npz")]
    main([*args, "--output", str(tmp_path / "lag.npz"), "--online", "true", "--lag", "4"])
    assert "read 4 frames back" in capsys.readouterr().out
    expected = StreamingRefiner(refiner, lag=4).refine_sequence(torch.from_numpy(sequence.astype(np.float32)))
    with np.load(tmp_path / "lag.npz") as lagged:
        np.testing.assert_allclose(lagged["refined"], expected["joints"].numpy(), atol=1e-3)
    for bad, message in ((["--lag", "2"], "add --online"), (["--online", "true", "--lag", "27"], r"\[0, 26\]")):
        with pytest.raises(SystemExit):
            main([*args, "--output", str(tmp_path / "bad.npz"), *bad])
        assert re.search(message, capsys.readouterr().err)
        assert not (tmp_path / "bad.npz").exists()


@pytest.mark.parametrize("lag", [0, 3])
def test_running_bones_give_the_stream_one_skeleton_learnt_causally(refiner: Refiner, hand, lag: int) -> None:
    sequence = torch.as_tensor(hand(frames=40), dtype=torch.float32)
    free = StreamingRefiner(refiner.model, lag=lag).refine_sequence(sequence)["joints"]
    running = StreamingRefiner(refiner.model, lag=lag, bones="running")
    streamed = running.refine_sequence(sequence)["joints"]
    torch.testing.assert_close(streamed, with_running_bone_lengths(free), rtol=0, atol=1e-3)
    running.reset()
    pushed = torch.stack([running.push_tensor(frame) for frame in sequence])
    torch.testing.assert_close(pushed[lag:], streamed[: len(sequence) - lag], rtol=0, atol=0)
    with pytest.raises(ValueError, match="free or running"):
        StreamingRefiner(refiner.model, bones="sequence")
