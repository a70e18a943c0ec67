"""Vector arithmetic on the page is genzoo.explore.arithmetic's, with the attribute classifier's verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from genzoo_testing.explore_server import pixels_of

from genzoo.explore import arithmetic as arith
from genzoo.explore.server import arithmetic_tool
from genzoo.metrics.attributes import AttributeTraining, load_attribute_classifier


@pytest.fixture(scope="module")
def vae_run(client):
    run = client.app.state.explore.runs[0]
    dataset, _ = arithmetic_tool.training_split(run)
    quick = load_attribute_classifier(dataset, {}, training=AttributeTraining(steps=15, batch_size=32), cache=False)
    run.cache["attribute-classifier"] = quick.classifier  # a few steps: the tests check the plumbing, not the judge
    return run


def test_the_options_offer_the_datasets_attributes_and_its_default(client, vae_run):
    options = client.post("/api/runs/0/arithmetic-options", json={}).json()
    assert options["attributes"]["colour"][:3] == ["red", "green", "blue"] and "circle" in options["attributes"]["shape"]
    assert options["default"] == "red,circle - red,square + blue,square" and options["source"] == "encode" and options["matched"]
    assert client.post("/api/runs/1/arithmetic-options", json={}).json()["source"] == "classify"  # a GAN, and shapes has attributes


def test_a_result_is_the_librarys_with_one_verdict_per_image(client, vae_run):
    body = {"expression": "circle - square + square", "exemplars": 2, "results": 4, "seed": 3, "matched": False}
    answer = client.post("/api/runs/0/arithmetic", json=body).json()
    assert [term["sign"] for term in answer["terms"]] == ["+", "-", "+"] and [term["name"] for term in answer["terms"]] == ["circle", "square", "square"]
    assert all(len(term["exemplars"]) == 2 and term["mean"] for term in answer["terms"])
    dataset, preprocessor = arithmetic_tool.training_split(vae_run)
    classifier = vae_run.cache["attribute-classifier"]
    expected = arith.latent_arithmetic(vae_run.model, body["expression"], dataset=dataset, preprocessor=preprocessor, classifier=classifier,
                                       exemplars=2, results=4, seed=3, matched=False)
    shown = [pixels_of(item["image"]) for item in answer["results"]]
    assert all(np.array_equal(image, expected.results[k, 0].numpy()) for k, image in enumerate(shown))
    assert answer["expected"] == {"shape": "circle"}
    verdicts = arith.result_verdicts(classifier, expected.results, {"shape": "circle"})
    assert [item["verdict"] for item in answer["results"]] == verdicts
    assert answer["verdict_note"] == f"attribute classifier: {sum(verdicts)} of 4 results show circle"
    assert all(item["seen"].count(" ") == 4 for item in answer["results"])  # shape colour size x y


def test_an_unknown_concept_is_one_400_line(client, vae_run):
    response = client.post("/api/runs/0/arithmetic", json={"expression": "purple,circle - circle + square", "matched": False})
    assert response.status_code == 400
    assert response.json()["error"].startswith("unknown concept 'purple': use key=value or one of")
    bad = client.post("/api/runs/0/arithmetic", json={"expression": "circle -", "matched": False})
    assert bad.status_code == 400 and bad.json()["error"] == "expression 'circle -' ends with an operator: add the concept after it"
