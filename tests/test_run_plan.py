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
