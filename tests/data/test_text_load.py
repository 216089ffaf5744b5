import numpy as np
import pytest

from tests.data import fakes
from tests.data import text_fakes
from tfl.config import DataConfig
from tfl.data import detect_task
from tfl.data import load_text_data


@pytest.mark.parametrize(
    "source, task",
    [
        ("reviews.csv", "text"),
        ("reviews.TSV", "text"),
        ("data/reviews.jsonl", "text"),
        ("tweets", "text"),
        ("digits", "image"),
        ("tfds:imdb_reviews", "text"),
        ("tfds:ag_news_subset", "text"),
        ("tfds:glue/mrpc", "text"),
        ("tfds:mnist", "image"),
        ("tfds:cifar10", "image"),
    ],
    ids=["csv", "tsv_any_case", "jsonl", "tweets", "digits", "tfds_imdb", "tfds_ag_news",
         "tfds_glue_config", "tfds_mnist", "tfds_cifar10"],
)
def test_detect_task(source, task, tmp_path):
    assert detect_task(source, tfds_data_dir=str(tmp_path)) == task


def test_detect_task_of_a_folder_is_image(tmp_path):
    fakes.write_id_images(tmp_path, {"a": 1, "b": 1})

    assert detect_task(str(tmp_path)) == "image"


@pytest.mark.parametrize(
    "source, error, message",
    [
        (None, ValueError, "data.source is not set. Give a folder .*, a .csv/.tsv/.jsonl text file"),
        ("missing/", FileNotFoundError, "data.source not found: missing/"),
        ("tfds:imdb_reviewz", ValueError, "Unknown TFDS data set 'imdb_reviewz'.*Close matches: .*imdb_reviews"),
    ],
    ids=["unset", "missing", "unknown_tfds"],
)
def test_detect_task_errors(source, error, message):
    with pytest.raises(error, match=message):
        detect_task(source)


def test_detect_task_of_another_file_type_is_an_error(tmp_path):
    path = text_fakes.write(tmp_path / "data.json", "[]")

    with pytest.raises(ValueError, match=r"Cannot tell what data .*data.json holds: it is a file, but not "
                                         r"\.csv, \.tsv, \.jsonl"):
        detect_task(path)


def test_file_source_uses_the_text_fields(tmp_path):
    train = text_fakes.write(tmp_path / "train.tsv", "q\tp\ttags\nthe cat\ta dog\tx|y\na dog\tthe cat\ty\n")
    held_out = text_fakes.write(tmp_path / "val.tsv", "q\tp\ttags\na cat\tthe dog\tx\n")
    config = DataConfig(source=train, validation_source=held_out, text_column="q", text_pair_column="p",
                        label_column="tags", label_separator="|", batch_size=1)

    data = load_text_data(config, text_fakes.preprocessor(16))

    assert data.multi_label and data.text_pairs and data.class_names == ("x", "y")
    assert (data.num_train, data.num_validation) == (2, 1)
    np.testing.assert_array_equal(data.validation_labels, [[1, 0]])
    assert data.truncated == {"train": 0, "validation": 0}


def test_file_source_skips_bad_rows_with_skip_bad_files(tmp_path):
    path = text_fakes.write(tmp_path / "data.csv", "text,label\na,x\nb,y\nc,x\nd,y\n,x\n")

    data = load_text_data(DataConfig(source=path, skip_bad_files=True, validation_split=0.5), None)

    assert data.skipped_rows == (f"{path} line 6: empty text",)


def test_tfds_source_finds_its_text_feature_with_the_default_text_column(tmp_path, tfds_mock):
    config = DataConfig(source="tfds:imdb_reviews", tfds_data_dir=str(tmp_path))
    with tfds_mock(num_examples=6):
        data = load_text_data(config, None)

    assert data.class_names == ("neg", "pos") and data.num_train == 6


def test_tfds_source_with_a_named_text_column(tmp_path, tfds_mock):
    config = DataConfig(source="tfds:ag_news_subset", tfds_data_dir=str(tmp_path), text_column="title")
    with tfds_mock(num_examples=40):
        data = load_text_data(config, None)

    assert data.class_names == ("World", "Sports", "Business", "Sci/Tech")


def test_tweets_source(monkeypatch):
    from tfl.data import load

    tweets = load.load_tweets()
    every = slice(None, None, 500)  # the file is grouped by topic and sentiment
    monkeypatch.setattr(load, "load_tweets", lambda: type(tweets)(
        tweets.texts[every], tweets.labels[every], tweets.confidences[every], tweets.dropped))

    data = load_text_data(DataConfig(source="tweets", validation_split=0.25), None)

    assert data.class_names == ("negative", "neutral", "positive")
    assert data.num_train + data.num_validation == 67


@pytest.mark.parametrize(
    "config, message",
    [
        (DataConfig(), "data.source is not set"),
        (DataConfig(source="tweets", validation_source="v.csv"), "for file sources only"),
        (DataConfig(source="tfds:imdb_reviews", validation_source="v.csv"), "data.tfds_validation_split"),
        (DataConfig(source="tfds:imdb_reviews", label_separator="|"), "label_separator splits label cells"),
        (DataConfig(source="digits"), "'digits' holds images, not text"),
    ],
    ids=["no_source", "tweets_with_validation_source", "tfds_with_validation_source",
         "tfds_with_label_separator", "image_source"],
)
def test_bad_text_source_is_an_error(config, message):
    with pytest.raises(ValueError, match=message):
        load_text_data(config, None)
