"""Export a T2T-ViT for TensorFlow Serving, then send it a REST predict request.

    python examples/export_and_serve.py cat.jpg --weights 81.5_T2T_ViT_14.pth.tar
    python examples/export_and_serve.py cat.jpg --weights W --server http://localhost:8501
    python examples/export_and_serve.py --tiny      # a tiny random model and a drawn image

The export goes to `--export-dir/<version>/`, the layout TF Serving watches. The request is the
JSON body TF Serving's REST API takes, `{"signature_name": "serving_bytes", "instances":
[{"image_bytes": {"b64": ...}}]}`, sent to whichever of these is available:

1. `--server URL`: a running TF Serving (REST port, usually 8501) that serves `--export-dir`;
2. `tensorflow_model_server` on PATH: started here on a free port, queried, stopped;
3. neither: the commands to run TF Serving (its binary or Docker image) are printed, and the same
   body is answered here by the exported SavedModel loaded with `tf.saved_model.load` (no keras or
   keras_t2t involved), so the response has the shape TF Serving gives, but no server ran.
"""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import tensorflow as tf

import keras_t2t

TINY_MODEL = dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, token_dim=16)


def drawn_jpeg(height: int = 96, width: int = 128) -> bytes:
    """A made-up picture as JPEG bytes: a bright disc on a colour ramp."""
    rows, cols = np.mgrid[0:height, 0:width]
    image = np.stack([cols * 255 / width, rows * 255 / height, np.full_like(rows, 96)], axis=-1)
    image[(rows - height / 2) ** 2 + (cols - width / 2) ** 2 < (height / 4) ** 2] = 240
    return tf.io.encode_jpeg(image.astype(np.uint8)).numpy()


def predict_body(images: list[bytes], signature_name: str = "serving_bytes") -> str:
    """TF Serving's REST predict body (row format) for encoded images."""
    instances = [{"image_bytes": {"b64": base64.b64encode(image).decode()}} for image in images]
    return json.dumps({"signature_name": signature_name, "instances": instances})


def post(url: str, body: str, timeout: float = 60.0) -> dict:
    """POSTs a JSON body; returns the JSON answer (TF Serving's error answers included)."""
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # 400 with {"error": ...} for a bad request
        return json.load(error)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask_local_server(export_dir: str, model_name: str, body: str, timeout: float = 120.0) -> dict:
    """Starts `tensorflow_model_server` on `export_dir`, sends `body`, stops the server."""
    port = free_port()
    command = [
        "tensorflow_model_server",
        f"--model_name={model_name}",
        f"--model_base_path={os.path.abspath(export_dir)}",
        f"--rest_api_port={port}",
        f"--port={free_port()}",
    ]
    server = subprocess.Popen(command)
    base = f"http://127.0.0.1:{port}/v1/models/{model_name}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(base, timeout=5) as response:
                    states = [v["state"] for v in json.load(response)["model_version_status"]]
                if "AVAILABLE" in states:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tensorflow_model_server did not come up: {' '.join(command)}")
            time.sleep(1)
        return post(f"{base}:predict", body)
    finally:
        server.terminate()
        server.wait()


def answer_here(saved_model_dir: str, body: str) -> dict:
    """Answers a row-format REST predict body with the SavedModel loaded by `tf.saved_model.load`.

    Only what this example sends: `instances` of named inputs, `{"b64": ...}` for bytes.
    """
    request = json.loads(body)
    signature = tf.saved_model.load(saved_model_dir).signatures[request["signature_name"]]
    rows = request["instances"]
    inputs = {
        name: tf.constant(
            [
                base64.b64decode(row[name]["b64"]) if isinstance(row[name], dict) else row[name]
                for row in rows
            ],
            dtype=spec.dtype,
        )
        for name, spec in signature.structured_input_signature[1].items()
    }
    outputs = {name: value.numpy() for name, value in signature(**inputs).items()}

    def to_json(value):
        return (
            np.vectorize(bytes.decode, otypes=[object])(value).tolist()
            if value.dtype == object
            else value.tolist()
        )

    return {
        "predictions": [
            {name: to_json(value[i]) for name, value in outputs.items()} for i in range(len(rows))
        ]
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("image", nargs="?", help="a JPEG or PNG file (default: a drawn picture)")
    parser.add_argument("--model", default="t2t_vit_14", choices=keras_t2t.list_models(), metavar="NAME")
    parser.add_argument("--weights", help="an official .pth.tar checkpoint or a Keras weights file")
    parser.add_argument(
        "--export-dir", default=None, help="TF Serving's model base folder (default serving/NAME)"
    )
    parser.add_argument("--server", help="URL of a running TF Serving REST API, e.g. http://localhost:8501")
    parser.add_argument("--tiny", action="store_true", help="a tiny random T2T-ViT at 32x32")
    args = parser.parse_args(argv)

    if args.tiny:
        model = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3), **TINY_MODEL)
    else:
        model = keras_t2t.create_model(args.model, weights=args.weights)
    export_dir = args.export_dir or os.path.join("serving", model.name)
    model_name = os.path.basename(os.path.abspath(export_dir))
    version_dir = keras_t2t.export.saved_model(model, export_dir)
    print(f"exported:   {version_dir}")

    if args.image:
        with open(args.image, "rb") as f:
            image = f.read()
    else:
        image = drawn_jpeg()
    body = predict_body([image])
    body_path = os.path.join(export_dir, "request.json")  # not a version number: TF Serving ignores it
    with open(body_path, "w") as f:
        f.write(body)

    if args.server:
        answered_by = f"TF Serving at {args.server}"
        response = post(f"{args.server.rstrip('/')}/v1/models/{model_name}:predict", body)
    elif shutil.which("tensorflow_model_server"):
        answered_by = "tensorflow_model_server, started here"
        response = ask_local_server(export_dir, model_name, body)
    else:
        base = os.path.abspath(export_dir)
        print(
            "TF Serving is not installed here. Serve the export with its binary or its Docker image:\n"
            f"  tensorflow_model_server --model_name={model_name} --model_base_path={base} "
            "--rest_api_port=8501\n"
            f"  docker run -p 8501:8501 -v {base}:/models/{model_name} -e MODEL_NAME={model_name} "
            "tensorflow/serving\n"
            "then rerun with --server http://localhost:8501, or send the request yourself:\n"
            f"  curl -d @{body_path} http://localhost:8501/v1/models/{model_name}:predict"
        )
        answered_by = "the SavedModel loaded with tf.saved_model.load in this process (no server)"
        response = answer_here(version_dir, body)

    print(f"answered by: {answered_by}")
    if "error" in response:
        print(f"error:      {response['error']}")
    else:
        best = response["predictions"][0]
        for name, score in zip(best["top_k_class_names"], best["top_k_scores"], strict=True):
            print(f"{score:.4f}  {name}")
    return {"model": model, "version_dir": version_dir, "body": body, "response": response}


if __name__ == "__main__":
    main()
