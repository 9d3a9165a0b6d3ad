import http.server
import json
import threading

import numpy as np
import tensorflow as tf

import keras_t2t
from keras_t2t.data import eval_transform
from keras_t2t.export import decode_image


def test_tiny_export_answers_a_rest_body_like_the_keras_model(example, tmp_path, capsys):
    result = example("export_and_serve").main(["--tiny", "--export-dir", str(tmp_path / "tiny")])
    assert result["version_dir"] == str(tmp_path / "tiny" / "1")
    [prediction] = result["response"]["predictions"]
    image = eval_transform(decode_image(tf.constant(example("export_and_serve").drawn_jpeg())), (32, 32))
    expected = result["model"].predict(image[None], verbose=0)[0]
    np.testing.assert_allclose(prediction["probabilities"], expected, atol=1e-5)
    assert prediction["top_k_classes"] == np.argsort(-expected)[:5].tolist()
    assert len(prediction["top_k_class_names"]) == 5
    out = capsys.readouterr().out
    assert "docker run" in out and "no server" in out
    assert (tmp_path / "tiny" / "request.json").read_text() == result["body"]


def test_a_running_server_is_sent_the_body_at_its_predict_url(example, tmp_path, capsys):
    """A stand-in HTTP server answers with the SavedModel; what is checked is the client's side."""
    serve = example("export_and_serve")
    version_dir = keras_t2t.export.saved_model(
        keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), **serve.TINY_MODEL),
        str(tmp_path / "my_model"),
        warmup_requests=False,
    )
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            requests.append((self.path, body))
            answer = json.dumps(serve.answer_here(version_dir, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        result = serve.main(["--tiny", "--export-dir", str(tmp_path / "my_model"), "--server", url])
    finally:
        server.shutdown()
    [(path, body)] = requests
    assert path == "/v1/models/my_model:predict"
    assert json.loads(body)["signature_name"] == "serving_bytes"
    assert len(result["response"]["predictions"][0]["top_k_scores"]) == 5
    assert f"TF Serving at {url}" in capsys.readouterr().out
