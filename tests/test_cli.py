from keras_t2t.cli import main


def test_summary_prints_parameters_and_macs(capsys):
    assert main(["summary", "--model", "t2t_vit_7"]) == 0
    out = capsys.readouterr().out
    assert "4,310,222 total, 4,255,694 trainable, 54,528 fixed" in out
    assert "1.147 G" in out


def test_summary_at_another_size_and_bad_size(capsys):
    assert main(["summary", "--model", "t2t_vit_14", "--image-size", "384"]) == 0
    assert "21,691,470 total" in capsys.readouterr().out
    assert main(["summary", "--model", "t2t_vit_7", "--image-size", "100"]) == 2
    assert "multiples of 16" in capsys.readouterr().err
