"""The folder of a `tfl.tune` search: what it holds, and when a search in it continues.

    best.yaml        the best config (`tfl train --config best.yaml` reruns it)
    trials.json      every trial: values, plan, scores, seconds; the default first
    default.json     the config's own plan, scored on the same split
    search.yaml      the config searched (a resumed search must match it)
    search.json      the search's own settings: tuner, objective, max_unfreeze,
                     max_epochs (a resumed search must match them too)
    keras_tuner/     KerasTuner's state, one folder per trial (with its config.yaml)
    feature_cache/   the backbone's features, shared by the trials
"""

import json
import os
import shutil

from tfl.config import Config
from tfl.io import write_json
from tfl.io import write_text

PROJECT = "keras_tuner"


def search_settings(tuner, objective, max_unfreeze, max_epochs):
    """The settings a continued search must share with the one it continues (`search.json`)."""
    return {"tuner": tuner, "objective": objective, "max_unfreeze": max_unfreeze, "max_epochs": max_epochs}


# How a setting of the search is given on the command line, for the message that refuses a change.
SETTING_FLAGS = {"tuner": "--tuner", "objective": "--objective", "max_unfreeze": "--max-unfreeze",
                  "max_epochs": "--max-epochs"}


def prepare_search_folder(folder, searched, overwrite, settings):
    """Creates `folder` or checks that its search is of `searched` with the same
    `settings`; returns `searched` with the shared feature cache in the folder
    (unless it has its own)."""
    recorded = os.path.join(folder, "search.yaml")
    recorded_settings = os.path.join(folder, "search.json")
    if overwrite and os.path.isdir(folder):
        for name in ("search.yaml", "search.json", "default.json", "best.yaml", "trials.json"):
            if os.path.exists(os.path.join(folder, name)):
                os.remove(os.path.join(folder, name))
        if os.path.isdir(os.path.join(folder, PROJECT)):
            shutil.rmtree(os.path.join(folder, PROJECT))
    elif os.path.isfile(recorded) and Config.from_yaml(recorded) != searched:
        raise ValueError(
            f"{folder} holds a search of another config ({recorded}). Continue it with the same config, "
            "or start over with overwrite=True (--overwrite), or give another output folder."
        )
    elif os.path.isfile(recorded_settings):
        with open(recorded_settings, encoding="utf-8") as f:
            before = json.load(f)
        changed = [key for key in settings if key in before and before[key] != settings[key]]
        if changed:
            differences = "; ".join(
                f"{key}={before[key]!r} there, {settings[key]!r} now ({SETTING_FLAGS[key]})" for key in changed
            )
            raise ValueError(
                f"{folder} holds a search with other settings: {differences}. KerasTuner would continue it in its "
                "own search space and objective, not the new ones. Continue it with the same settings, start over "
                "with overwrite=True (--overwrite), or give another output folder."
            )
    os.makedirs(folder, exist_ok=True)
    write_text(recorded, searched.to_yaml())
    write_json(recorded_settings, settings)
    if searched.train.feature_cache_dir is None:
        searched = searched.replace(**{"train.feature_cache_dir": os.path.join(folder, "feature_cache")})
    return searched


def write_results(folder, best_config, trials):
    """`best.yaml` and `trials.json` (each trial's row without its config object)."""
    write_text(os.path.join(folder, "best.yaml"), best_config.to_yaml())
    write_json(os.path.join(folder, "trials.json"), [{k: v for k, v in row.items() if k != "config"} for row in trials])
