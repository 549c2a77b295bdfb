"""InterWild / HaMeR outputs -> predictions files -> a prepared store."""

import numpy as np
import pytest
from official_fixtures import hand_motion, write_interhand26m

from handprior.body.joints import mirror_x
from handprior.data.prepare.commands import convert_hamer_predictions, prepare_interhand26m
from handprior.data.prepare.converters import convert_interwild
from handprior.data.prepare.interhand26m import SCHEME, format_key
from handprior.data.prepare.predictions import load_predictions, read_npz
from handprior.data.store import SequenceStore
from handprior.errors import HandpriorInputError


def test_interwild_outputs_become_wrist_relative_predictions_that_prepare_joins(tmp_path):
    expected = write_interhand26m(tmp_path / "ih")
    right, left = expected[("test", "0266_dh_pray", "400030", "right")], expected[("test", "0266_dh_pray", "400030", "left")]
    paths = [f"/datasets/InterHand2.6M/{format_key(('test', 0, '0266_dh_pray', '400030', f))}" for f in right["frames"]]
    shift = np.array([0.1, 0.2, 0.3])  # InterWild's virtual-camera position is not metric: it must not matter
    np.savez(tmp_path / "iw.npz", img_path=np.array(paths), rmano_joint_cam=right["gt"] / 1000 + shift,
             lmano_joint_cam=left["gt"] / 1000 - shift)  # fmt: skip
    out = convert_interwild(tmp_path / "iw.npz", tmp_path / "pred.npz")
    table = load_predictions(out, SCHEME)
    assert table.root_relative and table.source == "interwild" and len(table.joints) == 2 * len(paths)
    assert np.allclose(table.joints[:, 0], 0)
    prepare_interhand26m(root=str(tmp_path / "ih"), out=str(tmp_path / "out"), predictions=str(out), split="test",
                         progress=False)  # fmt: skip
    store = SequenceStore.open(tmp_path / "out" / "test")
    assert store.meta["root_relative"] and np.allclose(store.gt[:, 0], 0) and np.allclose(store.pred[:, 0], 0)
    valid = np.asarray(store.valid)  # (N,21): the fixture's partly annotated hands; masked gt is a placeholder
    assert not valid.all() and np.allclose(store.pred[valid], store.gt[valid], atol=1e-2)  # same hands, both
    # wrist-relative, left ones mirrored


def test_hamer_left_hands_are_unmirrored_and_translation_is_optional(tmp_path):
    rng = np.random.default_rng(0)
    joints = hand_motion(rng, 4) / 1000  # (4,21,3) m, right hands as HaMeR predicts them
    right = np.array([1, 0, 1, 0])
    cam_t = rng.normal(0, 0.1, size=(4, 3)) + [0, 0, 0.6]
    np.savez(tmp_path / "hamer.npz", img_path=np.array([f"a/{i}.jpg" for i in range(4)]), right=right,
             pred_keypoints_3d=joints, pred_cam_t_full=cam_t)  # fmt: skip
    relative = read_npz(convert_hamer_predictions(input=str(tmp_path / "hamer.npz"), output=str(tmp_path / "r.npz")))
    assert relative["hands"].tolist() == ["right", "left", "right", "left"] and bool(relative["root_relative"])
    wrist_relative = joints - joints[:, :1]
    assert np.allclose(relative["joints"][0], wrist_relative[0], atol=1e-6)
    assert np.allclose(relative["joints"][1], mirror_x(wrist_relative[1]), atol=1e-6)
    absolute = read_npz(convert_hamer_predictions(input=str(tmp_path / "hamer.npz"), output=str(tmp_path / "a.npz"),
                                                  use_translation=True))  # fmt: skip
    assert not bool(absolute["root_relative"]) and str(absolute["units"]) == "m"
    assert np.allclose(absolute["joints"][1], mirror_x(joints[1]) + cam_t[1], atol=1e-6)


def test_converters_reject_incomplete_outputs(tmp_path):
    np.savez(tmp_path / "x.npz", img_path=np.array(["a.jpg"]), rmano_joint_cam=np.zeros((1, 21, 3)))
    with pytest.raises(HandpriorInputError, match=r"x.npz: missing \['lmano_joint_cam'\]"):
        convert_interwild(tmp_path / "x.npz", tmp_path / "o.npz")
    np.savez(tmp_path / "h.npz", img_path=np.array(["a.jpg"]), right=np.array([2]), pred_keypoints_3d=np.zeros((1, 21, 3)))
    with pytest.raises(HandpriorInputError, match="'right' must hold one 0/1 per row"):
        convert_hamer_predictions(input=str(tmp_path / "h.npz"), output=str(tmp_path / "o.npz"))
