"""Nothing enters the catalog that cannot travel: every pipeline converts to ONNX and agrees."""

from __future__ import annotations

import numpy as np
import pytest

from mlcycle.deploy import onnx_export
from mlcycle.models import catalog, model_input
from tests.training_data import classification_frame, regression_frame

CASES = [(task, name) for task in ("classification", "regression")
         for name in catalog.names(task)]


# The first and the last choice of every listed parameter: both ends of each switch (such as
# whether a neighbour model scales its inputs) must travel.
@pytest.mark.parametrize(("task", "name"), CASES)
@pytest.mark.parametrize("pick", [0, -1], ids=["first", "last"])
def test_catalog_pipeline_runs_in_onnxruntime_like_scikit_learn(
    task: str, name: str, pick: int
) -> None:
    if task == "classification":
        data, target = classification_frame(400), "label"
        dictionary = [
            {"name": "x1", "kind": "numeric", "role": "feature"},
            {"name": "x2", "kind": "numeric", "role": "feature"},
            {"name": "plan", "kind": "categorical", "role": "feature"},
            {"name": "flag", "kind": "boolean", "role": "feature"},
        ]
    else:
        data, target = regression_frame(400), "price"
        dictionary = [
            {"name": "size", "kind": "numeric", "role": "feature"},
            {"name": "rooms", "kind": "numeric", "role": "feature"},
            {"name": "area", "kind": "categorical", "role": "feature"},
        ]
    signature = model_input.infer(dictionary, target, task)
    inputs = model_input.frame(data, signature)
    y = model_input.target_values(data, signature)
    entry = catalog.get(name, task)
    params = {
        k: (v[pick] if isinstance(v, list) else v.rvs(random_state=0))
        for k, v in entry.space.items()
    }
    pipeline = catalog.pipeline(entry, signature, seed=0, params=params).fit(inputs, y)

    session = onnx_export.session(onnx_export.to_onnx(pipeline, signature))
    # Rows the model has not seen, with a category it never met.
    unseen = model_input.frame(data.head(50), signature)
    column = signature.categorical[0]
    unseen = unseen.with_columns(unseen[column].set(unseen[column].is_first_distinct(), "new"))
    outputs = session.run(None, onnx_export.feeds(unseen, signature))
    if task == "classification":
        assert (outputs[0] == pipeline.predict(unseen)).all()
        np.testing.assert_allclose(outputs[1], pipeline.predict_proba(unseen), atol=1e-4)
    else:
        np.testing.assert_allclose(
            outputs[0].ravel(), pipeline.predict(unseen), rtol=1e-4, atol=1e-3
        )
