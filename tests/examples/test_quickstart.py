import numpy as np
from PIL import Image

from keras_t2t.data import eval_transform


def test_tiny_quickstart_classifies_a_file(example, tmp_path, capsys):
    path = tmp_path / "picture.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(path)
    result = example("quickstart").main([str(path), "--tiny"])
    best = result["predictions"]
    assert len(best) == 5
    scores = [score for _, _, score in best]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1
    out = capsys.readouterr().out
    assert "Total params" in out  # the summary
    wnid, name, score = best[0]
    assert f"{score:.4f}  {name} ({wnid})" in out and wnid.startswith("n")
    # The paper's evaluation transform, applied by the classifier's preprocessor.
    expected = result["model"](eval_transform(np.asarray(Image.open(path)), (32, 32))[None])
    np.testing.assert_allclose(score, np.max(expected), rtol=1e-5)


def test_tiny_quickstart_without_a_file_draws_its_picture(example, capsys):
    quickstart = example("quickstart")
    assert quickstart.drawn_image().std() > 20
    assert len(quickstart.main(["--tiny"])["predictions"]) == 5
