"""DexYCB fixture (subject/sequence folders, labels npz, YAML with !!python/tuple) -> s0 stores."""

import numpy as np
import pytest
import yaml
from official_fixtures import DEX_SERIALS, DEX_SUBJECTS, write_dexycb

from handprior.body.joints import mirror_x
from handprior.body.standin import write_standin
from handprior.data.prepare.commands import prepare_dexycb
from handprior.data.prepare.dexycb import format_key, parse_key, s0_split
from handprior.data.prepare.files import read_yaml
from handprior.data.prepare.geometry import mirror_axis_angle
from handprior.data.prepare.predictions import write_predictions
from handprior.data.store import SequenceStore
from handprior.errors import HandpriorInputError


@pytest.fixture(scope="module")
def dex(tmp_path_factory):
    root = tmp_path_factory.mktemp("dexycb")
    expected = write_dexycb(root)
    prepare_dexycb(root=str(root), out=str(root / "out"), progress=False)
    return root, expected


def test_s0_split_rule():
    assert [s0_split(0, i) for i in range(5)] == ["train"] * 4 + ["val"]
    assert s0_split(1, 9) == "val" and s0_split(2, 4) == "test" and s0_split(9, 99) == "test" and s0_split(5, 3) == "train"


def test_s0_stores_counts_sides_and_mano_omission(dex):
    root, _ = dex
    train, val, test = (SequenceStore.open(root / "out" / s) for s in ("train", "val", "test"))
    assert train.num_sequences == 26 and train.num_frames == 24 * 10 - 2
    assert train.meta["prepare"]["dropped"] == {"no ground truth": 1, "no hand in frame (joint_3d = -1)": 1}
    assert val.num_sequences == 4 and {n.split("/")[0] for n in val.meta["names"]} == set(DEX_SUBJECTS[:2])
    assert test.num_sequences == 2 and test.meta["sides"] == ["left", "left"]
    assert not test.has_mano and "PCA" in test.meta["mano"]["reason"] and not test.meta["mano"]["available"]
    assert train.meta["split_scheme"] == "s0" and train.meta["subjects"] == list(DEX_SUBJECTS)


def test_metres_to_mm_and_left_hands_mirrored(dex):
    root, expected = dex
    for split in ("train", "test"):
        store = SequenceStore.open(root / "out" / split)
        for s, name in enumerate(store.meta["names"]):
            subject, sequence, serial = name.split("@")[0].split("/")
            if not isinstance(expected.get((subject, sequence, serial)), dict):
                continue
            entry = expected[(subject, sequence, serial)]
            rows, first = store.sequence(s), store.meta["first_frames"][s]
            gt = entry["gt"][first : first + rows.stop - rows.start]
            assert np.allclose(store.gt[rows], mirror_x(gt) if entry["side"] == "left" else gt, atol=1e-2), name


def test_yaml_reader_accepts_python_tuples_but_nothing_unsafe(dex, tmp_path):
    root, _ = dex
    extrinsics = read_yaml(root / "calibration" / "extrinsics_20200702_151821" / "extrinsics.yml")
    assert extrinsics["extrinsics"]["apriltag"] == (1, 0, 0, 0.1, 0, 1, 0, 0.2, 0, 0, 1, 0.9)
    evil = tmp_path / "evil.yml"
    evil.write_text("x: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(HandpriorInputError, match="evil.yml: annotation file is not valid YAML"):
        read_yaml(evil)
    with pytest.raises(yaml.YAMLError):
        yaml.load(evil.read_text(), Loader=yaml.SafeLoader)


def test_predictions_keyed_by_colour_image(dex, tmp_path):
    root, expected = dex
    subject, sequence = DEX_SUBJECTS[2], f"{DEX_SUBJECTS[2][:8]}_{141754 + 4:06d}"
    entry = expected[(subject, sequence, DEX_SERIALS[0])]
    keys = [format_key((subject, sequence, DEX_SERIALS[0], f)) for f in range(10)]
    path = write_predictions(tmp_path / "p.npz", keys, entry["gt"] / 1000, "m", ["left"] * 10, source="hamer")
    prepare_dexycb(root=str(root), out=str(tmp_path / "o"), predictions=str(path), split="test", progress=False)
    store = SequenceStore.open(tmp_path / "o" / "test")
    assert store.num_sequences == 1 and np.allclose(store.pred, store.gt, atol=1e-2) and store.meta["estimator"] == "hamer"
    assert parse_key(keys[3]) == (subject, sequence, DEX_SERIALS[0], 3)
    wrong_hand = write_predictions(tmp_path / "w.npz", keys, entry["gt"] / 1000, "m", ["right"] * 10)
    with pytest.raises(HandpriorInputError, match="none of the 10 predictions"):
        prepare_dexycb(root=str(root), out=str(tmp_path / "w"), predictions=str(wrong_hand), split="test", progress=False)


def test_mano_ground_truth_from_pca_with_a_model_file(dex, tmp_path):
    root, expected = dex
    for side in ("right", "left"):
        write_standin(tmp_path / "mano" / f"MANO_{side.upper()}.npz", side)
    prepare_dexycb(root=str(root), out=str(tmp_path / "o"), split="test", mano_model=str(tmp_path / "mano"),
                   progress=False)  # fmt: skip
    store = SequenceStore.open(tmp_path / "o" / "test")
    assert store.has_mano and store.meta["mano"]["flat_hand_mean"] is False and "left_hand_betas" in store.meta["mano"]
    components = np.load(tmp_path / "mano" / "MANO_LEFT.npz")["hands_components"]
    subject, sequence = DEX_SUBJECTS[2], f"{DEX_SUBJECTS[2][:8]}_{141754 + 4:06d}"
    pose_m = expected[(subject, sequence, DEX_SERIALS[0])]["pose_m"]  # (F,51) left hand, camera frame
    theta = np.concatenate([pose_m[:, :3], pose_m[:, 3:48] @ components], axis=1)
    rows = store.sequence(store.meta["names"].index(f"{subject}/{sequence}/{DEX_SERIALS[0]}"))
    assert np.allclose(store.gt_theta[rows], mirror_axis_angle(theta), atol=1e-4)
    assert np.allclose(store.gt_beta[rows], expected[f"{subject}_left"], atol=1e-6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HandpriorInputError, match="no MANO model for the left hand"):
        prepare_dexycb(root=str(root), out=str(tmp_path / "x"), split="test", mano_model=str(tmp_path / "empty"),
                       progress=False)  # fmt: skip
