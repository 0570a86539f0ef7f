"""Tiny ONNX models built at test time (the `onnx` package of the dev extra), for agents that run
them with the agent runtime's onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def linear_policy(weights: np.ndarray, bias: np.ndarray, input_name: str = "mask") -> bytes:
    """logits = input @ weights + bias (one MatMul and one Add), opset 17; the input is [1, rows of
    weights], the output "logits" [1, columns]."""
    inputs, outputs = weights.shape
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [input_name, "weights"], ["product"]),
            helper.make_node("Add", ["product", "bias"], ["logits"]),
        ],
        "policy",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, inputs])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, outputs])],
        initializer=[
            numpy_helper.from_array(weights.astype(np.float32), "weights"),
            numpy_helper.from_array(bias.astype(np.float32), "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    serialized: bytes = model.SerializeToString()
    return serialized
