"""HanCo fixture (meta.json + per-frame xyz/calib/shape, metres) -> stores: sid split, 8 views, drops."""

import numpy as np
import pytest
from official_fixtures import write_hanco

from handprior.data.prepare.commands import prepare_hanco
from handprior.data.prepare.hanco import format_key, parse_key
from handprior.data.prepare.predictions import write_predictions
from handprior.data.store import SequenceStore
from handprior.errors import HandpriorInputError


@pytest.fixture(scope="module")
def hanco(tmp_path_factory):
    root = tmp_path_factory.mktemp("hanco")
    expected = write_hanco(root)
    prepare_hanco(root=str(root), out=str(root / "out"), train_sequences=3, test_sequences=2, progress=False)
    return root, expected


def test_first_and_last_sequences_form_the_splits(hanco):
    root, _ = hanco
    train, test = SequenceStore.open(root / "out" / "train"), SequenceStore.open(root / "out" / "test")
    assert train.num_sequences == 24 and train.num_frames == 3 * 8 * 12 and train.meta["sequence_ids"] == [0, 2]
    assert test.meta["sequence_ids"] == [3, 4] and test.num_frames == 8 * 4 + 8 * 12
    assert test.meta["prepare"]["dropped"] == {"no MANO fit": 8, "no ground truth": 8}
    assert test.lengths[:3].tolist() == [2, 1, 1] and set(test.meta["sides"]) == {"right"}
    assert "unused_sequences" not in test.meta
    assert test.meta["mano"]["available"] and test.meta["mano"]["flat_hand_mean"] is False


def test_metres_become_camera_frame_millimetres(hanco):
    root, expected = hanco
    store = SequenceStore.open(root / "out" / "train")
    for s, name in enumerate(store.meta["names"]):
        sid, camera = int(name[:4]), int(name.split("cam")[1])
        rows = store.sequence(s)
        assert np.allclose(store.gt[rows], expected[(sid, camera)]["gt"], atol=1e-3), name
        assert np.allclose(store.gt_theta[rows], expected[(sid, camera)]["theta"], atol=1e-5), name


def test_predictions_from_any_rgb_folder_without_hands(hanco, tmp_path):
    root, expected = hanco
    keys = [f"/data/HanCo/rgb_merged/0004/cam2/{f:08d}.jpg" for f in range(12)]
    path = write_predictions(tmp_path / "p.npz", keys, expected[(4, 2)]["gt"] / 1000 + 0.002, "m")
    summary = prepare_hanco(root=str(root), out=str(tmp_path / "o"), predictions=str(path), split="test",
                            train_sequences=3, test_sequences=2, progress=False)  # fmt: skip
    assert summary["predictions"]["matched_kept_frames"] == 12
    store = SequenceStore.open(tmp_path / "o" / "test")
    assert store.meta["names"] == ["0004/cam2"] and np.allclose(store.pred, store.gt + 2.0, atol=1e-2)
    assert parse_key(format_key((1300, 7, 12))) == (1300, 7, 12) and parse_key("xyz/0001/00000001.json") is None


def test_unused_sequences_are_reported_and_wrong_units_rejected(hanco, tmp_path):
    root, _ = hanco
    summary = prepare_hanco(root=str(root), out=str(tmp_path / "o"), train_sequences=2, test_sequences=2,
                            cameras=[0], progress=False)  # fmt: skip
    assert summary["splits"]["train"]["sequences"] == 2
    assert "1 sequence ids lie in neither split" in SequenceStore.open(tmp_path / "o" / "test").meta["unused_sequences"]
    # xyz written in mm instead of metres: caught by the hand-size check, naming the annotations.
    wrong = tmp_path / "mm"
    write_hanco(wrong, lengths=(4, 4), unit_scale=1000.0)
    with pytest.raises(HandpriorInputError, match="meta.json: hanco train ground truth.*look like not millimetres"):
        prepare_hanco(root=str(wrong), out=str(tmp_path / "u"), train_sequences=1, test_sequences=1, progress=False)
