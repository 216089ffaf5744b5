"""`plan_run`: every decision of a run made from the config, before any data is read."""

import pytest

from tests.small_backbone import SMALL_BACKBONE
from tfl.config import Config
from tfl.config import Stage
from tfl.run_plan import plan_run


def _config(**model):
    return Config.from_dict({"data": {"source": "digits"}, "model": {"backbone": SMALL_BACKBONE, **model}})


def test_the_plan_resolves_task_size_and_default_stages():
    config = _config(weights=None, image_size=32)
    plan = plan_run(config)

    assert (plan.task, plan.image_size, plan.fine_tune) == ("image", (32, 32), False)
    assert plan.stages == (Stage("all", 5, 1e-3, train_batchnorm=True),)
    assert tuple(plan.config.model.image_size) == (32, 32) and tuple(plan.config.train.stages) == plan.stages
    assert plan.requested is config and config.train.stages is None  # as given: what a resumed run must match


def test_fine_tune_is_decided_by_the_model_later_and_a_backbone_without_weights_skips_the_check():
    plan = plan_run(_config(weights=None).replace(**{"train.plan": "fine_tune"}))

    assert plan.fine_tune and plan.stages is None and plan.pretrained is False


def test_a_stage_name_the_backbone_lacks_fails_before_any_data(monkeypatch):
    import tfl.data

    monkeypatch.setattr(tfl.data, "load_data", lambda *a, **k: pytest.fail("data was read"))
    config = _config().replace(**{"train.stages": [Stage("conv9", 1, 1e-3)]})

    with pytest.raises(ValueError, match="conv9"):
        plan_run(config)


@pytest.mark.parametrize(
    "model, task, probe",
    [
        pytest.param({}, "image", True, id="image"),
        pytest.param({"fusion": {"mode": "weighted"}}, "image", False, id="weighted fusion"),
        pytest.param({"fusion": {"mode": "concat"}}, "image", False, id="concat fusion"),
        pytest.param({"pooling": "lstm"}, "text", False, id="lstm pooling"),
        pytest.param({"pooling": "mean"}, "text", True, id="mean pooling"),
    ],
)
def test_the_default_plan_starts_with_head_epochs_where_layers_train_with_the_head(model, task, probe):
    config = Config.from_dict(
        {"task": task, "data": {"source": "digits" if task == "image" else "tweets"},
         "model": {"backbone": SMALL_BACKBONE, "weights": "imagenet", **model}, "train": {"epochs": 3}}
    )
    first = plan_run(config).stages[0]
    assert first == (Stage("none", linear_probe=True) if probe else Stage("none", 3, 1e-3))


def test_a_model_the_rule_lets_be_probed_can_be_and_the_others_cannot(tmp_path):
    """`head_can_be_probed` (from the config) against the built model's own answer."""
    from tests.text_fakes import tiny_encoder_folder
    from tfl.config import FusionConfig
    from tfl.config import ModelConfig
    from tfl.model import build_model
    from tfl.train import cache_decision
    from tfl.train import head_can_be_probed

    encoder = tiny_encoder_folder(tmp_path / "tiny")
    cases = [
        (ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), "image"),
        (ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, fusion=FusionConfig("weighted")), "image"),
        (ModelConfig(encoder=encoder, sequence_length=8, pooling="lstm"), "text"),
        (ModelConfig(encoder=encoder, sequence_length=8, pooling="mean"), "text"),
    ]
    for config, task in cases:
        model = build_model(config, ["a", "b"], task=task)
        probed = cache_decision(model, Stage("none", linear_probe=True)).use
        assert head_can_be_probed(config, task) == probed, (config.pooling, config.fusion.mode)


def test_the_default_plan_of_a_pretrained_weighted_fusion_model_trains(tmp_path):
    """It started with a linear probe, which a learnable fusion layer rules out: the run failed at stage 1."""
    from tests.train.helpers import tiny_image_data
    from tfl.backbones import build_backbone
    from tfl.backbones import save_backbone
    from tfl.model import build_model
    from tfl.train import fit_stages

    weights = save_backbone(build_backbone(SMALL_BACKBONE, weights=None, image_size=32), tmp_path / "b.weights.h5")
    plan = plan_run(_config(weights=str(weights), image_size=32, fusion={"mode": "weighted"}).replace(
        **{"train.epochs": 1}))
    data = tiny_image_data(n=8, batch_size=4)
    model = build_model(plan.config.model, data.class_names)
    mixing = model.fusion.mixing_logits.numpy().copy()

    history = fit_stages(model, data, plan.stages, verbose=0)

    assert [(record.unfreeze, record.linear_probe) for record in history.stages] == [("none", None), ("top 2", None)]
    assert not (model.fusion.mixing_logits.numpy() == mixing).all()  # the fusion weight trained with the head
